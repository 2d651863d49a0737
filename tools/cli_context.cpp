#include "cli_context.hpp"

#include <filesystem>
#include <system_error>

#include "exit_codes.hpp"
#include "modelreg/error.hpp"

namespace modelreg::cli {

ModelRegistry& Cli::registry(RegistryAccess access) {
  if (registry_) return *registry_;
  if (options.registry.empty()) {
    throw UsageError("no registry: pass --registry DIR or set MODELREG_REGISTRY");
  }
  const std::filesystem::path dir(options.registry);
  if (access == RegistryAccess::Existing) {
    // Reading or changing what is not there must not leave an empty registry behind.
    std::error_code ec;
    if (!std::filesystem::exists(dir / "registry.db", ec)) {
      throw NotFoundError("no registry in '" + options.registry +
                          "' ('modelreg register' creates one)");
    }
  }
  OpenOptions open_options;
  open_options.actor = options.actor;
  registry_.emplace(ModelRegistry::open(dir, open_options));
  return *registry_;
}

ModelRef parse_model_ref(std::string_view text) {
  ModelRef ref;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    ref.name = std::string(text);
  } else {
    ref.name = std::string(text.substr(0, colon));
    ref.version = std::string(text.substr(colon + 1));  // "" is rejected by validate_version
  }
  return ref;
}

}  // namespace modelreg::cli

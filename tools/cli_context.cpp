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
  OpenOptions open_options;
  open_options.actor = options.actor;
  // A catalog URL (postgresql://..., sqlite:..., memory:) names a shared registry; anything else
  // is the directory of an embedded one.
  const auto scheme = options.registry.find(':');
  const bool url = scheme != std::string::npos && scheme > 1 &&
                   options.registry.find('/') > scheme;  // not a path such as ./a:b or C:\x
  if (url) {
    if (options.artifacts.empty()) {
      throw UsageError("the catalog '" + options.registry +
                       "' needs --artifacts URL (s3://bucket/prefix or a directory) or "
                       "MODELREG_ARTIFACTS");
    }
    registry_.emplace(ModelRegistry::open(options.registry, options.artifacts, open_options));
    return *registry_;
  }
  if (!options.artifacts.empty()) {
    throw UsageError("--artifacts goes with a catalog URL; the registry directory '" +
                     options.registry + "' keeps its own artifacts");
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

#pragma once

// What every subcommand shares: the global options, the registry (opened on first use), the
// Audit of changes, and the action the parsed command line selected.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "modelreg/model_event.hpp"
#include "modelreg/model_registry.hpp"

namespace modelreg::cli {

// The global options (docs/cli.md).
struct GlobalOptions {
  std::string registry;   // --registry DIR|URL, or MODELREG_REGISTRY
  std::string artifacts;  // --artifacts URL, or MODELREG_ARTIFACTS (with a catalog URL)
  bool json = false;      // --json: JSON documents instead of tables
  bool quiet = false;     // --quiet: nothing on stdout for successful changes
  bool verbose = false;   // --verbose: the library's info and debug logs on stderr
  std::string actor;      // --actor: recorded with every change (default: the library's user@host)
  std::string reason;     // --reason: recorded with every change
};

// How a command needs the registry directory.
enum class RegistryAccess {
  Existing,  // it must hold a registry already (NotFoundError otherwise): reads and changes
  Create,    // it is created if needed (register, watch)
};

class Cli {
 public:
  GlobalOptions options;

  // The registry of --registry, opened on the first call (ModelRegistry::open). Throws
  // UsageError if no directory was given, NotFoundError if `access` is Existing and there is no
  // registry there, and whatever ModelRegistry::open throws.
  ModelRegistry& registry(RegistryAccess access = RegistryAccess::Existing);

  // The Audit of --actor and --reason.
  Audit audit() const { return Audit{options.actor, options.reason}; }

  // Whether a mutating command prints its result (not with --quiet).
  bool prints_changes() const { return !options.quiet; }

  // Sets what runs once the command line has been parsed (each subcommand's CLI11 callback
  // calls it), and runs it.
  void set_action(std::function<int()> action) { action_ = std::move(action); }
  bool has_action() const { return static_cast<bool>(action_); }
  int run_action() { return action_(); }

 private:
  std::optional<ModelRegistry> registry_;
  std::function<int()> action_;
};

// A "NAME[:VERSION]" argument split at its first ':' (names and versions never contain one).
struct ModelRef {
  std::string name;
  std::optional<std::string> version;
};
ModelRef parse_model_ref(std::string_view text);

}  // namespace modelreg::cli

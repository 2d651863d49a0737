// register, promote, describe, delete: the commands that change versions and models.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "key_value_args.hpp"
#include "modelreg/error.hpp"
#include "modelreg/validation.hpp"
#include "output.hpp"
#include "progress.hpp"

namespace modelreg::cli {
namespace {

struct RegisterArgs {
  std::string name;
  std::string version;
  std::string artifact;
  bool has_artifact = false;
  std::string framework;
  std::string description;
  std::vector<std::string> metrics;
  std::vector<std::string> parameters;
  std::vector<std::string> tags;
};

// The artifact's size, after checking it is a regular file, by stat() alone: opening a FIFO
// would block, and a device or directory is never an artifact.
std::uint64_t regular_file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      throw NotFoundError("artifact file '" + path + "' does not exist");
    }
    throw StorageError("cannot stat artifact file '" + path + "': " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw InvalidArgumentError("artifact '" + path + "' is not a regular file");
  }
  return static_cast<std::uint64_t>(st.st_size);
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Registers with the artifact read through a counting stream that draws a progress bar.
ModelVersion register_with_progress(Cli& cli, const RegisterArgs& args, RegisterOptions options,
                                    std::uint64_t size) {
  // O_NONBLOCK: should the path have been replaced by a FIFO since the check, open must not hang.
  FileDescriptor fd(::open(args.artifact.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    throw StorageError("cannot open artifact file '" + args.artifact +
                       "': " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw InvalidArgumentError("artifact '" + args.artifact + "' is not a regular file");
  }
  ProgressBar bar("register " + args.name + ":" + args.version, size);
  CountingInputBuf buffer(fd.get(), bar);
  std::istream in(&buffer);
  options.artifact_stream = &in;
  ModelVersion version = cli.registry(RegistryAccess::Create)
                             .register_version(args.name, args.version, options, cli.audit());
  bar.finish();
  return version;
}

int run_register(Cli& cli, const RegisterArgs& args) {
  RegisterOptions options;
  if (!args.framework.empty()) options.framework = parse_framework(args.framework);
  options.metrics = parse_metrics(args.metrics);
  options.parameters = parse_parameters(args.parameters);
  options.tags = parse_tags(args.tags);
  options.description = args.description;
  // Checked before the registry is opened, which creates it: a rejected argument leaves nothing.
  validate_model_name(args.name);
  validate_version(args.version);
  for (const auto& [key, value] : options.tags) validate_tag(key, value);
  validate_description(options.description);
  const std::uint64_t size = args.has_artifact ? regular_file_size(args.artifact) : 0;

  ModelVersion version;
  if (args.has_artifact && wants_progress(cli.options, size)) {
    version = register_with_progress(cli, args, std::move(options), size);
  } else {
    if (args.has_artifact) options.artifact_file = args.artifact;
    version = cli.registry(RegistryAccess::Create)
                  .register_version(args.name, args.version, options, cli.audit());
  }
  if (!cli.prints_changes()) return 0;
  if (cli.options.json) {
    print_json(std::cout, version_json(version));
  } else {
    std::cout << "registered " << printable(version.full_name()) << " ("
              << to_string(version.stage);
    if (version.artifact_path) std::cout << ", " << human_size(version.artifact_size);
    std::cout << ")\n";
  }
  return 0;
}

void add_register(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<RegisterArgs>();
  CLI::App* cmd = app.add_subcommand("register", "Register a new version of a model");
  cmd->add_option("name", args->name, "Model name")->required();
  cmd->add_option("version", args->version, "Version string")->required();
  CLI::Option* artifact =
      cmd->add_option("--artifact", args->artifact, "The artifact file (a regular file)")
          ->type_name("FILE");
  cmd->add_option("--framework", args->framework,
                  "sklearn, pytorch, tensorflow, onnx or custom (default)")
      ->type_name("FRAMEWORK");
  cmd->add_option("--metric", args->metrics, "A metric, KEY=NUMBER (repeatable)")
      ->type_name("KEY=VALUE");
  cmd->add_option("--param", args->parameters,
                  "A training parameter, KEY=VALUE; VALUE is JSON if it parses (repeatable)")
      ->type_name("KEY=VALUE");
  cmd->add_option("--tag", args->tags, "A tag, KEY=VALUE (repeatable)")->type_name("KEY=VALUE");
  cmd->add_option("--description", args->description, "A description")->type_name("TEXT");
  cmd->footer(example({"modelreg register fraud 3 --artifact model.onnx --framework onnx \\",
                       "    --metric auc_roc=0.97 --param lr=0.01 --tag team=risk"}));
  on_run(cmd, cli, [&cli, args, artifact] {
    args->has_artifact = artifact->count() > 0;
    return run_register(cli, *args);
  });
}

struct PromoteArgs {
  std::string name;
  std::string version;
  std::string stage;
  std::string expect_stage;
  bool has_expect = false;
};

int run_promote(Cli& cli, const PromoteArgs& args) {
  const ModelStage stage = parse_stage(args.stage);
  std::optional<ModelStage> expected;
  if (args.has_expect) expected = parse_stage(args.expect_stage);
  const std::optional<ModelVersion> version =
      cli.registry().transition_stage(args.name, args.version, stage, expected, cli.audit());
  if (!version) throw NotFoundError("version '" + args.name + ":" + args.version + "' not found");
  if (!cli.prints_changes()) return 0;
  if (cli.options.json) {
    print_json(std::cout, version_json(*version));
  } else {
    std::cout << printable(version->full_name()) << " is now in " << to_string(version->stage)
              << '\n';
  }
  return 0;
}

void add_promote(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<PromoteArgs>();
  CLI::App* cmd = app.add_subcommand(
      "promote", "Move a version to a stage (Production archives the previous one)");
  cmd->add_option("name", args->name, "Model name")->required();
  cmd->add_option("version", args->version, "Version")->required();
  cmd->add_option("stage", args->stage, "development, staging, production or archived (any case)")
      ->required();
  CLI::Option* expect =
      cmd->add_option("--expect-stage", args->expect_stage,
                      "Only if the version is in this stage now (compare-and-swap; exit 6 if not)")
          ->type_name("STAGE");
  cmd->footer(example({"modelreg promote fraud 3 Production --expect-stage staging"}));
  on_run(cmd, cli, [&cli, args, expect] {
    args->has_expect = expect->count() > 0;
    return run_promote(cli, *args);
  });
}

void add_describe(CLI::App& app, Cli& cli) {
  auto ref = std::make_shared<std::string>();
  auto text = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("describe", "Set the description of a model or a version");
  cmd->add_option("model", *ref, "NAME or NAME:VERSION")->required();
  cmd->add_option("text", *text, "The description (\"\" clears it)")->required();
  cmd->footer(example({"modelreg describe fraud:3 \"retrained on March data\""}));
  on_run(cmd, cli, [&cli, ref, text] {
    const ModelRef target = parse_model_ref(*ref);
    ModelRegistry& registry = cli.registry();
    nlohmann::json result;
    if (target.version) {
      result = version_json(
          registry.set_version_description(target.name, *target.version, *text, cli.audit()));
    } else {
      registry.set_model_description(target.name, *text, cli.audit());
      const auto model = registry.get_model(target.name);
      if (!model) throw NotFoundError("model '" + target.name + "' not found");
      result = model_summary_json(*model);
    }
    if (!cli.prints_changes()) return 0;
    if (cli.options.json) {
      print_json(std::cout, result);
    } else {
      std::cout << "described " << printable(*ref) << '\n';
    }
    return 0;
  });
}

struct DeleteArgs {
  std::string name;
  std::string version;
  bool model = false;
  bool yes = false;
};

int run_delete(Cli& cli, const DeleteArgs& args) {
  if (args.model && !args.version.empty()) {
    throw UsageError("delete: give either VERSION or --model, not both");
  }
  if (!args.model && args.version.empty()) {
    throw UsageError("delete: give VERSION, or --model to delete the whole model");
  }
  const std::string what =
      args.model ? "model '" + args.name + "'" : "version '" + args.name + ":" + args.version + "'";
  if (!args.yes) throw UsageError("refusing to delete " + what + " without --yes");
  ModelRegistry& registry = cli.registry();
  const bool deleted = args.model ? registry.delete_model(args.name, cli.audit())
                                  : registry.delete_version(args.name, args.version, cli.audit());
  if (!deleted) throw NotFoundError(what + " not found");
  if (!cli.prints_changes()) return 0;
  if (cli.options.json) {
    print_json(std::cout, nlohmann::json{{"model_name", args.name},
                                         {"version", args.model ? nlohmann::json()
                                                                : nlohmann::json(args.version)},
                                         {"deleted", true}});
  } else {
    std::cout << "deleted " << printable(what) << '\n';
  }
  return 0;
}

void add_delete(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<DeleteArgs>();
  CLI::App* cmd = app.add_subcommand(
      "delete", "Delete a version and its artifact, or (--model) a model and all its versions");
  cmd->add_option("name", args->name, "Model name")->required();
  cmd->add_option("version", args->version, "Version (omit with --model)");
  cmd->add_flag("--model", args->model, "Delete the whole model: every version, alias and tag");
  cmd->add_flag("-y,--yes", args->yes, "Confirm the deletion (required)");
  cmd->footer(example({"modelreg delete fraud 3 --yes", "modelreg delete fraud --model --yes"}));
  on_run(cmd, cli, [&cli, args] { return run_delete(cli, *args); });
}

}  // namespace

void add_change_commands(CLI::App& app, Cli& cli) {
  add_register(app, cli);
  add_promote(app, cli);
  add_describe(app, cli);
  add_delete(app, cli);
}

}  // namespace modelreg::cli

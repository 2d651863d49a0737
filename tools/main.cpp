// The modelreg command-line tool: the global options, the subcommands, and the one place where
// errors become an error line and an exit code (exit_codes.hpp, docs/cli.md).

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "cli_context.hpp"
#include "cli_logging.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "modelreg/version.hpp"

namespace modelreg::cli {
namespace {

void add_global_options(CLI::App& app, GlobalOptions& options) {
  app.add_option("--registry", options.registry,
                 "The registry directory, or the URL of a shared catalog (postgresql://...) "
                 "with --artifacts (default: $MODELREG_REGISTRY)")
      ->envname("MODELREG_REGISTRY")
      ->type_name("DIR|URL");
  app.add_option("--artifacts", options.artifacts,
                 "Where a catalog URL's artifacts are: s3://bucket/prefix or a directory "
                 "(default: $MODELREG_ARTIFACTS)")
      ->envname("MODELREG_ARTIFACTS")
      ->type_name("URL");
  app.add_flag("--json", options.json, "Print JSON instead of tables (one document per command)");
  app.add_flag("-q,--quiet", options.quiet, "Print nothing when a change succeeds");
  app.add_flag("-v,--verbose", options.verbose, "Show the library's log messages on stderr");
  app.add_option("--actor", options.actor,
                 "Who makes the change, recorded in the history (default: user@host)")
      ->type_name("NAME");
  app.add_option("--reason", options.reason, "Why, recorded in the history")->type_name("TEXT");
}

// CLI11's parse errors: --help and --version print and exit 0, the rest is a usage error.
int handle_parse_error(CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  report_error(std::string(e.what()) + " (see 'modelreg --help')");
  return static_cast<int>(ExitCode::Usage);
}

int run(int argc, char** argv) {
  Cli cli;
  CLI::App app("modelreg: register, promote, search and fetch model versions", "modelreg");
  app.fallthrough();  // global options may also follow the subcommand
  // One subcommand at most (inherited by the subcommands added below, so one per group too).
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string("modelreg ") + version_string());
  add_global_options(app, cli.options);

  add_model_commands(app, cli);
  add_change_commands(app, cli);
  add_label_commands(app, cli);
  add_query_commands(app, cli);
  add_watch_command(app, cli);

  add_maintenance_commands(app, cli);

  add_completion_command(app, cli);  // last: it describes every command added above
  app.footer(example({"export MODELREG_REGISTRY=/srv/registry", "modelreg list",
                      "modelreg show fraud --json", "modelreg <command> --help"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return handle_parse_error(app, e);
  }
  configure_logging(cli.options.verbose);
  if (!cli.has_action()) {
    // No subcommand, or a group (alias, tag, ...) without one of its own. Not CLI11's
    // require_subcommand: it would report "A subcommand is required" for a misspelt one too,
    // where CLI11 otherwise names the unexpected word.
    std::string command = "modelreg";
    for (const CLI::App* selected = &app; !selected->get_subcommands().empty();) {
      selected = selected->get_subcommands().front();
      command += " " + selected->get_name();
    }
    report_error("no command given (see '" + command + " --help')");
    return static_cast<int>(ExitCode::Usage);
  }
  const int code = cli.run_action();
  std::cout.flush();
  if (!std::cout) {
    report_error("cannot write to standard output");
    return static_cast<int>(ExitCode::Failure);
  }
  return code;
}

}  // namespace
}  // namespace modelreg::cli

int main(int argc, char** argv) {
  try {
    return modelreg::cli::run(argc, argv);
  } catch (const std::exception& e) {
    return modelreg::cli::report_exception(e);
  }
}

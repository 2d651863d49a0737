// watch: prints each event of a model as it happens (a line, or a JSON line), until SIGINT or
// SIGTERM; exits 0 then.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>

#include "cli_logging.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

namespace modelreg::cli {
namespace {

struct WatchArgs {
  std::string name;
  bool all = false;
  long poll_ms = 100;
};

std::string event_line(const ModelEvent& e) {
  std::string line = table_time(e.time) + "  #" + std::to_string(e.sequence) + "  " +
                     std::string(to_string(e.type)) + "  " + e.model_name;
  if (!e.version.empty()) line += ":" + e.version;
  if (!e.key.empty()) line += "  " + e.key;
  if (e.old_value || e.new_value) {
    line += "  " + e.old_value.value_or("-") + " -> " + e.new_value.value_or("-");
  }
  line += "  by " + e.actor;
  if (!e.reason.empty()) line += ": " + e.reason;
  return printable(line);
}

int run_watch(Cli& cli, const WatchArgs& args) {
  // SIGINT and SIGTERM are blocked in every thread (the subscription's thread, created below,
  // inherits the mask) and taken by sigwait here: the shutdown runs as ordinary code.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
    throw std::runtime_error("cannot block SIGINT and SIGTERM");
  }
  WatchOptions options;
  options.all_events = args.all;
  options.poll_interval = std::chrono::milliseconds(args.poll_ms);
  const bool json = cli.options.json;
  std::mutex output_mutex;
  std::atomic<bool> output_failed{false};
  const ModelRegistry& registry = cli.registry(RegistryAccess::Create);
  Subscription subscription = registry.watch(
      args.name,
      [&](const std::vector<ModelEvent>& events) {
        std::lock_guard<std::mutex> lock(output_mutex);
        for (const auto& event : events) {
          if (json) {
            print_json_line(std::cout, event_json(event));
          } else {
            std::cout << event_line(event) << '\n';
          }
        }
        std::cout.flush();
        if (!std::cout && !output_failed.exchange(true)) {
          ::kill(::getpid(), SIGTERM);  // nobody reads us any more: stop (sigwait below)
        }
      },
      options);
  // From here on, errors of the background polling are not thrown to us: let the library's
  // log show them.
  print_library_errors(true);
  if (!cli.options.quiet) {
    std::cerr << "modelreg: watching '" << printable(args.name) << "' (Ctrl-C to stop)"
              << std::endl;
  }
  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  subscription.cancel();
  if (output_failed) {
    report_error("cannot write to standard output");
    return static_cast<int>(ExitCode::Failure);
  }
  return 0;
}

}  // namespace

void add_watch_command(CLI::App& app, Cli& cli) {
  auto args = std::make_shared<WatchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "watch",
      "Print the events of a model as they happen (Production and alias moves; --all: every "
      "event), until interrupted");
  cmd->add_option("name", args->name, "Model name (it need not exist yet)")->required();
  cmd->add_flag("--all", args->all,
                "Every event of the model, not only Production and alias moves");
  cmd->add_option("--poll-ms", args->poll_ms, "How often to check, in milliseconds (default 100)")
      ->type_name("N");
  cmd->footer(example({"modelreg watch fraud --json"}));
  on_run(cmd, cli, [&cli, args] { return run_watch(cli, *args); });
}

}  // namespace modelreg::cli

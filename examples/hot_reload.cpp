// hot_reload: a serving process that swaps its model when another process promotes a new one.
//
//   hot_reload [registry-dir]                      the serving loop (default ./hot-reload-registry)
//   hot_reload --promote <registry-dir> <version>  what an evaluation job does: register a
//                                                  version and move the "champion" alias to it
//
// The serving loop loads the version that `models:/<model>@champion` names, watches the model
// (ModelRegistry::watch calls back on a background thread when an alias or the Production
// version moves, in this process or any other), and, when told, loads the new champion and swaps
// it in between two requests: requests never see a half-loaded model and never wait for a load.
// To show it working on its own, it starts the promoting process itself and exits once it
// serves the version that process promoted.

#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <modelreg/modelreg.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

const std::string kModel = "hot-reload-demo";
const std::string kAlias = "champion";

// A loaded model: what serving needs at hand. Immutable once loaded, shared by requests.
struct LoadedModel {
  std::string version;
  modelreg::Bytes weights;
};

// Registers `version` with an artifact and makes it the champion (and Production).
void promote(modelreg::ModelRegistry& registry, const std::string& version) {
  modelreg::RegisterOptions options;
  options.framework = modelreg::ModelFramework::Onnx;
  options.metrics.auc_roc = 0.91;
  options.artifact = modelreg::to_bytes("weights of " + kModel + ":" + version);
  registry.register_version(kModel, version, options, {"evaluation-job", "passed the gate"});
  // Compare-and-swap: if another job moved the champion since we looked, this throws
  // FailedPreconditionError instead of silently overwriting its decision.
  const auto current = registry.get_version_by_alias(kModel, kAlias);
  registry.set_alias(kModel, kAlias, version, current ? current->version : std::string(),
                     {"evaluation-job", "new champion"});
  registry.transition_stage(kModel, version, modelreg::ModelStage::Production, std::nullopt,
                            {"evaluation-job", "new champion"});
}

std::shared_ptr<const LoadedModel> load_champion(const modelreg::ModelRegistry& registry) {
  const auto uri = modelreg::ModelUri::parse("models:/" + kModel + "@" + kAlias);
  const auto version = registry.resolve(uri);
  if (!version) return nullptr;
  auto weights = registry.load_artifact(version->model_name, version->version);  // verified
  if (!weights) return nullptr;
  return std::make_shared<const LoadedModel>(LoadedModel{version->version, std::move(*weights)});
}

// Starts `program --promote dir version` and returns its process id.
pid_t start_promoter(const char* program, const std::string& dir, const std::string& version) {
  std::vector<std::string> args = {program, "--promote", dir, version};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, program, nullptr, nullptr, argv.data(), environ) != 0) {
    throw std::runtime_error(std::string("cannot start ") + program);
  }
  return pid;
}

int serve(const char* program, const std::string& dir) {
  auto registry = modelreg::ModelRegistry::open(dir);

  // A champion to start from: a new version after those a previous run left.
  const std::string first = std::to_string(registry.list_versions(kModel).size() + 1);
  const std::string next = std::to_string(registry.list_versions(kModel).size() + 2);
  promote(registry, first);

  std::mutex mutex;
  std::condition_variable changed;
  bool reload = false;
  std::shared_ptr<const LoadedModel> serving = load_champion(registry);
  std::cout << "serving " << kModel << ":" << serving->version << '\n';

  // The callback runs on the subscription's thread: keep it short, hand the work over.
  modelreg::WatchOptions options;
  options.poll_interval = std::chrono::milliseconds(50);
  modelreg::Subscription subscription = registry.watch(
      kModel,
      [&](const std::vector<modelreg::ModelEvent>& events) {
        for (const auto& event : events) {
          std::cout << "  event " << event.sequence << ": " << modelreg::to_string(event.type)
                    << ' ' << (event.key.empty() ? "" : event.key + " ") << event.version << ": "
                    << event.old_value.value_or("-") << " -> " << event.new_value.value_or("-")
                    << " (by " << event.actor << ")\n";
        }
        std::lock_guard<std::mutex> lock(mutex);
        reload = true;
        changed.notify_one();
      },
      options);

  // Another process promotes `next` while we serve.
  const auto started = std::chrono::steady_clock::now();
  const pid_t promoter = start_promoter(program, dir, next);

  const auto deadline = started + std::chrono::seconds(30);
  std::size_t requests = 0;
  while (serving->version != next) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "the new champion " << next << " was not served within 30 s\n";
      return EXIT_FAILURE;
    }
    {
      std::unique_lock<std::mutex> lock(mutex);
      // Stand-in for serving requests: each "request" uses the model it started with.
      changed.wait_for(lock, std::chrono::milliseconds(10), [&] { return reload; });
      if (!reload) {
        ++requests;
        continue;
      }
      reload = false;
    }
    if (auto loaded = load_champion(registry)) {
      serving = std::move(loaded);  // the swap: later requests use the new model
      std::cout << "swapped to " << kModel << ":" << serving->version << " after "
                << std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started)
                       .count()
                << " ms (" << requests << " requests served meanwhile)\n";
    }
  }
  int status = 0;
  waitpid(promoter, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "the promoting process failed\n";
    return EXIT_FAILURE;
  }
  std::cout << "serving " << serving->weights.size() << "-byte model " << kModel << ":"
            << serving->version << '\n';
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::string(argv[1]) == "--promote") {
      auto registry = modelreg::ModelRegistry::open(argv[2]);
      promote(registry, argv[3]);
      return EXIT_SUCCESS;
    }
    return serve(argv[0], argc > 1 ? argv[1] : "./hot-reload-registry");
  } catch (const modelreg::Error& e) {
    std::cerr << "modelreg error [" << modelreg::to_string(e.code()) << "]: " << e.what() << '\n';
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
  }
  return EXIT_FAILURE;
}

// kill -9 at random instants: a child process registers, promotes, re-stages and deletes
// versions in a registry directory, reporting each call to the parent through a pipe before it
// starts ("intent") and after it has returned ("committed"); the parent kills it with SIGKILL
// after a random delay, reopens the registry (which recovers) and checks that it is exactly the
// state of the committed calls, with the one call in flight applied either wholly or not at all,
// and that recovery left no partial file, orphaned artifact or reservation behind. Then the next
// child continues on the same directory.
//
// MODELREG_CRASH_ITERATIONS sets the number of kills (default 200); MODELREG_CRASH_SEED replays
// a schedule (the seed is printed; process timing still varies from run to run).

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <istream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "modelreg/modelreg.hpp"
#include "pseudo_random.hpp"
#include "reference_sha256.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::fork_child;
using testing::InterruptingStreamBuf;
using testing::killed_by_sigkill;
using testing::pseudo_random_bytes;
using testing::ReferenceSha256;
using testing::silence_modelreg_logging;
using testing::splitmix64;

// ---------------------------------------------------------------------------------------------
// The artifact of every version is a function of its name, so parent and child agree on it
// without passing bytes around.

constexpr std::array<const char*, 2> kModels = {"alpha", "beta"};

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

struct ArtifactPlan {
  bool present = false;
  std::size_t size = 0;
  std::uint64_t seed = 0;
};

// One version in eight has no artifact; of the others 40% are tiny (empty included), 35% are
// 16-256 KiB and 25% are 1-2.5 MiB (larger than one write buffer).
ArtifactPlan plan_artifact(std::string_view model, std::string_view version) {
  std::uint64_t state = fnv1a(std::string(model) + "/" + std::string(version));
  const std::uint64_t r = splitmix64(state);
  ArtifactPlan plan;
  plan.seed = splitmix64(state);
  plan.present = r % 8 != 0;
  const std::uint64_t size_class = (r >> 8) % 20;
  const std::uint64_t x = r >> 16;
  if (size_class < 8) {
    plan.size = static_cast<std::size_t>(x % 2048);
  } else if (size_class < 15) {
    plan.size = static_cast<std::size_t>((16 << 10) + x % (240 << 10));
  } else {
    plan.size = static_cast<std::size_t>((1 << 20) + x % (3 << 19));
  }
  return plan;
}

Bytes make_artifact(const ArtifactPlan& plan) {
  return pseudo_random_bytes(plan.size, plan.seed);
}

// ---------------------------------------------------------------------------------------------
// The protocol between child and parent: one line per write (atomic on a pipe below PIPE_BUF).
//   S                               the child has opened the registry
//   I <op> <model> <version> [arg]  the child is about to call <op>
//   C <op> <model> <version> [arg]  the call returned (committed)
//   X <message>                     the child hit an unexpected error and stops
// <op>: R register, P promote to Production, T transition to stage <arg>, D delete.

struct Operation {
  char op = 0;
  std::string model;
  std::string version;
  std::string arg;

  std::string to_string() const {
    return fmt::format("{} {} {}{}", op, model, version, arg.empty() ? "" : " " + arg);
  }
  friend bool operator==(const Operation& a, const Operation& b) {
    return a.op == b.op && a.model == b.model && a.version == b.version && a.arg == b.arg;
  }
};

std::optional<Operation> parse_operation(const std::string& text) {
  std::istringstream in(text);
  Operation operation;
  std::string op;
  if (!(in >> op >> operation.model >> operation.version) || op.size() != 1) return std::nullopt;
  operation.op = op[0];
  in >> operation.arg;
  return operation;
}

void send(int fd, const std::string& line) {
  const std::string text = line + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) ::_exit(4);
}

// The child (forked by fork_child): works on the registry until it is killed. With
// `recover_only` it only opens the registry (which recovers what the previous child left) and
// then waits to be killed.
// Half of the writers use Durability::Relaxed, whose commits must survive a process crash too.
[[noreturn]] void run_child(const fs::path& dir, int iteration, std::uint64_t seed, int fd,
                            bool recover_only = false) {
  silence_modelreg_logging();
  try {
    OpenOptions options;
    options.durability = iteration / 2 % 2 == 0 ? Durability::Full : Durability::Relaxed;
    auto registry = ModelRegistry::open(dir, options);
    send(fd, "S");
    while (recover_only) ::pause();
    std::mt19937_64 random(seed);
    for (int n = 0;; ++n) {
      Operation operation;
      operation.model = kModels[random() % kModels.size()];
      const auto versions = registry.list_versions(operation.model);
      const int dice = static_cast<int>(random() % 100);
      const int register_below = versions.size() < 3 ? 100 : versions.size() > 12 ? 25 : 50;
      if (dice < register_below) {
        operation.op = 'R';
        operation.version = fmt::format("i{}-{}", iteration, n);
      } else {
        operation.version = versions[random() % versions.size()].version;
        const int kind = dice - register_below;
        const int span = 100 - register_below;
        if (kind < span * 45 / 100) {
          operation.op = 'P';
        } else if (kind < span * 60 / 100) {
          operation.op = 'T';
          operation.arg = random() % 2 == 0 ? "staging" : "archived";
        } else {
          operation.op = 'D';
        }
      }

      send(fd, "I " + operation.to_string());
      switch (operation.op) {
        case 'R': {
          RegisterOptions registration;
          const ArtifactPlan plan = plan_artifact(operation.model, operation.version);
          if (plan.present) registration.artifact = make_artifact(plan);
          registration.metrics.accuracy = 0.5;
          registration.tags = {{"iteration", std::to_string(iteration)}};
          registry.register_version(operation.model, operation.version, registration);
          break;
        }
        case 'P':
          if (!registry.transition_stage(operation.model, operation.version,
                                         ModelStage::Production)) {
            send(fd, "X promote found no version " + operation.to_string());
            ::_exit(3);
          }
          break;
        case 'T':
          if (!registry.transition_stage(operation.model, operation.version,
                                         parse_stage(operation.arg))) {
            send(fd, "X transition found no version " + operation.to_string());
            ::_exit(3);
          }
          break;
        case 'D':
          if (!registry.delete_version(operation.model, operation.version)) {
            send(fd, "X delete found no version " + operation.to_string());
            ::_exit(3);
          }
          break;
      }
      send(fd, "C " + operation.to_string());
    }
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    send(fd, "X " + message.substr(0, 3000));
  }
  ::_exit(3);
}

// ---------------------------------------------------------------------------------------------
// The parent's model of the registry: model -> version -> stage.

using State = std::map<std::string, std::map<std::string, ModelStage>>;

State apply_operation(State state, const Operation& operation) {
  auto& versions = state[operation.model];
  switch (operation.op) {
    case 'R':
      versions[operation.version] = ModelStage::Development;
      break;
    case 'P':
      for (auto& [version, stage] : versions) {
        if (stage == ModelStage::Production) stage = ModelStage::Archived;
      }
      versions[operation.version] = ModelStage::Production;
      break;
    case 'T':
      versions[operation.version] = parse_stage(operation.arg);
      break;
    case 'D':
      versions.erase(operation.version);
      break;
  }
  if (versions.empty()) state.erase(operation.model);
  return state;
}

std::string describe_difference(const State& expected, const State& actual) {
  std::string text;
  for (const auto* model : kModels) {
    const auto e = expected.count(model) ? expected.at(model) : std::map<std::string, ModelStage>{};
    const auto a = actual.count(model) ? actual.at(model) : std::map<std::string, ModelStage>{};
    for (const auto& [version, stage] : e) {
      const auto it = a.find(version);
      if (it == a.end()) {
        text += fmt::format("  {}:{} is missing (expected {})\n", model, version, to_string(stage));
      } else if (it->second != stage) {
        text += fmt::format("  {}:{} is {} (expected {})\n", model, version, to_string(it->second),
                            to_string(stage));
      }
    }
    for (const auto& [version, stage] : a) {
      if (!e.count(version)) {
        text += fmt::format("  {}:{} is present ({}) but should not be\n", model, version,
                            to_string(stage));
      }
    }
  }
  return text;
}

// Reads a child's pipe until end of file or `deadline`; returns false on timeout.
bool read_until(int fd, std::string& buffer, Clock::time_point deadline,
                const std::function<bool(const std::string&)>& done) {
  char chunk[4096];
  while (!done(buffer)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;  // end of file
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

std::uint64_t env_seed() {
  const char* value = std::getenv("MODELREG_CRASH_SEED");
  if (value != nullptr && *value != '\0') return std::strtoull(value, nullptr, 10);
  return (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
}

class CrashTest : public ::testing::Test {
 protected:
  CrashTest() {
    // Recovery warns about every dead writer it cleans up after; that is expected here.
    silence_modelreg_logging();
  }
  ~CrashTest() override { set_logger(nullptr); }  // before temp_ removes the directory

  const fs::path& root() const { return temp_.path(); }

  // Checks the recovered registry against `expected` (what the committed calls produced) and
  // the on-disk leftovers. Returns the state the registry is in.
  State read_and_check(ModelRegistry& registry) {
    State actual;
    for (const auto* model : kModels) {
      std::size_t in_production = 0;
      for (const auto& v : registry.list_versions(model)) {
        actual[model][v.version] = v.stage;
        if (v.stage == ModelStage::Production) ++in_production;
        check_artifact(registry, v);
      }
      EXPECT_LE(in_production, 1u) << model << " has several Production versions";
      const auto production = registry.get_production_model(model);
      EXPECT_EQ(production.has_value(), in_production == 1) << model;
      EXPECT_EQ(registry.list_versions(model, ModelStage::Production).size(), in_production);
    }

    const auto pending = registry.metadata_store()->list_pending();
    EXPECT_TRUE(pending.empty()) << pending.size() << " reservations survived recovery, first "
                                 << pending.front().model_name << ":" << pending.front().version;

    // On disk: no partial file, and an artifact directory only for a visible version with an
    // artifact, holding nothing but model.bin.
    std::set<std::string> expected_paths;
    for (const auto& [model, versions] : actual) {
      for (const auto& [version, stage] : versions) {
        if (plan_artifact(model, version).present) {
          expected_paths.insert(fmt::format("{}/{}/model.bin", model, version));
        }
      }
    }
    const fs::path artifacts = root() / "registry" / "artifacts";
    for (const auto& entry : fs::recursive_directory_iterator(artifacts)) {
      const fs::path relative = entry.path().lexically_relative(artifacts);
      EXPECT_NE(entry.path().filename().string().rfind(".tmp-", 0), 0u)
          << "temporary file left after recovery: " << relative;
      const auto depth = std::distance(relative.begin(), relative.end());
      if (depth == 2) {
        EXPECT_TRUE(expected_paths.count((relative / "model.bin").generic_string()))
            << "orphaned artifact directory " << relative;
      } else if (depth == 3) {
        EXPECT_TRUE(expected_paths.count(relative.generic_string()))
            << "unexpected file " << relative;
      } else if (depth > 3) {
        ADD_FAILURE() << "unexpected entry " << relative;
      }
    }
    const auto listed = registry.store()->list_artifacts();
    EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), expected_paths);

    // Lock files of dead writers are cleaned up: only the recovering registry's own remains.
    std::size_t locks = 0;
    for (const auto& entry : fs::directory_iterator(root() / "registry" / "locks")) {
      locks += entry.path().extension() == ".lock" ? 1 : 0;
    }
    EXPECT_EQ(locks, 1u) << "lock files of dead writers pile up";
    return actual;
  }

  void check_artifact(ModelRegistry& registry, const ModelVersion& v) {
    const ArtifactPlan plan = plan_artifact(v.model_name, v.version);
    if (!plan.present) {
      EXPECT_FALSE(v.artifact_path) << v.full_name();
      EXPECT_EQ(registry.load_artifact(v.model_name, v.version), std::nullopt) << v.full_name();
      return;
    }
    EXPECT_EQ(v.artifact_path, fmt::format("{}/{}/model.bin", v.model_name, v.version));
    EXPECT_EQ(v.artifact_size, plan.size) << v.full_name();
    const Bytes expected = make_artifact(plan);
    auto& digest = digests_[v.full_name()];
    if (digest.empty()) {
      ReferenceSha256 hash;
      hash.update(expected.data(), expected.size());
      digest = hash.hex_digest();
    }
    EXPECT_EQ(v.artifact_sha256, digest) << v.full_name();
    std::optional<Bytes> loaded;
    try {
      loaded = registry.load_artifact(v.model_name, v.version);
    } catch (const std::exception& e) {
      ADD_FAILURE() << v.full_name() << ": load_artifact failed: " << e.what();
      return;
    }
    EXPECT_TRUE(loaded && *loaded == expected) << v.full_name() << ": wrong artifact bytes";
  }

  testing::TestDir temp_{"modelreg-crash"};
  std::map<std::string, std::string> digests_;
};

// ---------------------------------------------------------------------------------------------
// Deterministic kills: the artifact source itself stops the writer at a known byte.

// Waits for `pid` for up to `timeout`, then kills it; returns its wait status, or -1 if it had
// to be killed (so that a hung child never passes for one killed by the test's own SIGKILL).
int wait_or_kill(pid_t pid, std::chrono::seconds timeout) {
  const testing::ChildWait result = testing::wait_for_child(pid, Clock::now() + timeout);
  return result.timed_out ? -1 : result.status;
}

// Forks a child that opens the registry and registers model:version from a 3 MiB stream that
// kills the child after 1.5 MiB: it dies holding the reservation and a half-written temporary
// file. Returns the child's wait status.
int register_and_die_midway(const fs::path& dir, const std::string& model,
                            const std::string& version) {
  const pid_t pid = fork_child([&] {
    silence_modelreg_logging();
    try {
      auto registry = ModelRegistry::open(dir);
      InterruptingStreamBuf source(3 << 20, 3 << 19, [] { ::raise(SIGKILL); });
      std::istream in(&source);
      RegisterOptions options;
      options.artifact_stream = &in;
      registry.register_version(model, version, options);
    } catch (...) {
    }
    return 3;  // not reached unless the registration failed before its artifact
  });
  return wait_or_kill(pid, std::chrono::seconds(60));
}

std::vector<std::string> temporary_files(const fs::path& artifacts) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(artifacts)) {
    if (entry.path().filename().string().rfind(".tmp-", 0) == 0) {
      found.push_back(entry.path().lexically_relative(artifacts).generic_string());
    }
  }
  return found;
}

TEST_F(CrashTest, AWriterKilledMidRegistrationIsRolledBackByTheNextOpen) {
  const fs::path dir = root() / "registry";
  {  // The parent uses the registry first, as an application that later forks workers does.
    auto registry = ModelRegistry::open(dir);
    RegisterOptions options;
    options.artifact = to_bytes("kept");
    registry.register_version("alpha", "kept", options);
  }
  ASSERT_TRUE(killed_by_sigkill(register_and_die_midway(dir, "alpha", "doomed")));

  OpenOptions no_recovery;
  no_recovery.recover = false;
  auto registry = ModelRegistry::open(dir, no_recovery);
  // The crash left what recovery is for.
  const auto pending = registry.metadata_store()->list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].model_name, "alpha");
  EXPECT_EQ(pending[0].version, "doomed");
  EXPECT_EQ(pending[0].kind, PendingVersion::Kind::Registering);
  EXPECT_EQ(temporary_files(dir / "artifacts").size(), 1u);
  EXPECT_FALSE(registry.get_version("alpha", "doomed"));

  const RecoveryReport report = registry.recover();
  EXPECT_EQ(report.registrations_rolled_back, 1u) << "the dead writer's registration was not "
                                                     "rolled back (was it taken for our own?)";
  EXPECT_EQ(report.deletions_completed, 0u);
  EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
  EXPECT_EQ(temporary_files(dir / "artifacts"), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(dir / "artifacts" / "alpha" / "doomed"));
  EXPECT_EQ(registry.load_artifact("alpha", "kept"), to_bytes("kept"));

  // The key is free again.
  RegisterOptions options;
  options.artifact = to_bytes("second attempt");
  EXPECT_NO_THROW(registry.register_version("alpha", "doomed", options));
  EXPECT_EQ(registry.load_artifact("alpha", "doomed"), to_bytes("second attempt"));
}

TEST_F(CrashTest, RecoveryRollsBackDeadWritersAndLeavesLiveOnesAlone) {
  const fs::path dir = root() / "registry";
  {
    auto registry = ModelRegistry::open(dir);
    const RegisterOptions no_artifact;
    registry.register_version("alpha", "kept", no_artifact);
  }
  // A live writer, paused in the middle of writing its artifact.
  int paused[2], resume[2];
  ASSERT_EQ(::pipe2(paused, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(resume, O_CLOEXEC), 0);
  const pid_t live = fork_child([&] {
    ::close(paused[0]);
    ::close(resume[1]);
    silence_modelreg_logging();
    int status = 3;
    try {
      auto registry = ModelRegistry::open(dir);
      InterruptingStreamBuf source(2 << 20, 1 << 20, [&] {
        (void)!::write(paused[1], "p", 1);
        char c;
        (void)!::read(resume[0], &c, 1);
      });
      std::istream in(&source);
      RegisterOptions options;
      options.artifact_stream = &in;
      const ModelVersion v = registry.register_version("alpha", "live", options);
      status = v.artifact_size == (2u << 20) ? 0 : 4;
    } catch (...) {
      status = 5;
    }
    return status;
  });
  ASSERT_GE(live, 0);
  ::close(paused[1]);
  ::close(resume[0]);
  // Whatever happens below, the live writer does not outlive the test.
  struct KillOnExit {
    pid_t pid;
    ~KillOnExit() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } live_guard{live};
  pollfd p{paused[0], POLLIN, 0};
  char c = 0;
  ASSERT_TRUE(::poll(&p, 1, 30000) > 0 && ::read(paused[0], &c, 1) == 1)
      << "the live writer did not reach the middle of its registration";

  // A dead writer, killed in the middle of its own.
  ASSERT_TRUE(killed_by_sigkill(register_and_die_midway(dir, "alpha", "dead")))
      << "the second writer never got to write: its ModelRegistry::open blocked while the "
         "first writer was alive (same owner token and lock file?)";

  {
    auto registry = ModelRegistry::open(dir);  // recovers
    const auto pending = registry.metadata_store()->list_pending();
    ASSERT_EQ(pending.size(), 1u) << "only the live writer's reservation may remain";
    EXPECT_EQ(pending[0].version, "live");
    EXPECT_FALSE(registry.get_version("alpha", "live"));
    EXPECT_FALSE(fs::exists(dir / "artifacts" / "alpha" / "dead"));
    EXPECT_EQ(temporary_files(dir / "artifacts").size(), 1u)
        << "the live writer's temporary file must survive recovery";
  }

  // The live writer finishes as if nothing had happened.
  ASSERT_EQ(::write(resume[1], "r", 1), 1);
  ::close(resume[1]);
  ::close(paused[0]);
  const int status = wait_or_kill(live, std::chrono::seconds(60));
  live_guard.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the live writer's registration failed after recovery ran (status " << status << ")";
  auto registry = ModelRegistry::open(dir);
  const auto version = registry.get_version("alpha", "live");
  ASSERT_TRUE(version);
  EXPECT_EQ(version->artifact_size, 2u << 20);
  EXPECT_TRUE(registry.load_artifact("alpha", "live"));  // verified against its digest
  EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
  EXPECT_EQ(temporary_files(dir / "artifacts"), std::vector<std::string>{});
}

TEST_F(CrashTest, RecoveryLeavesAliveARegistryBuiltFromItsStores) {
  // A registry built from a FileModelStore and a SqliteMetadataStore, not by open(), shares the
  // directory with open()ed ones: its reservations are a live writer's to them too.
  const fs::path dir = root() / "registry";
  auto opened = ModelRegistry::open(dir);
  ModelRegistry built(std::make_shared<FileModelStore>(dir / "artifacts"),
                      std::make_shared<SqliteMetadataStore>(dir / "registry.db"));
  std::optional<RecoveryReport> report;
  std::size_t pending_during_upload = 0;
  InterruptingStreamBuf source(2 << 20, 1 << 20, [&] {
    report = opened.recover();
    // A second process opening the directory recovers too.
    pending_during_upload = ModelRegistry::open(dir).metadata_store()->list_pending().size();
  });
  std::istream in(&source);
  RegisterOptions options;
  options.artifact_stream = &in;
  const ModelVersion v = built.register_version("alpha", "1", options);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->registrations_rolled_back, 0u);
  EXPECT_EQ(pending_during_upload, 1u) << "the live registration was taken for a dead one";
  EXPECT_EQ(v.artifact_size, 2u << 20);
  EXPECT_EQ(opened.get_version("alpha", "1"), v);
  EXPECT_TRUE(opened.load_artifact("alpha", "1"));  // verified against its digest
  EXPECT_TRUE(opened.metadata_store()->list_pending().empty());
}

// ---------------------------------------------------------------------------------------------
// Random kills.

TEST_F(CrashTest, KillNineAtRandomInstantsLeavesAConsistentRecoverableRegistry) {
  const int iterations = env_int("MODELREG_CRASH_ITERATIONS", 200);
  const std::uint64_t seed = env_seed();
  std::printf("crash_test: %d kills, seed %llu (replay with MODELREG_CRASH_SEED=%llu)\n",
              iterations, static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 random(seed);
  const fs::path dir = root() / "registry";

  State state;  // what the committed calls produced
  std::map<char, int> in_flight_kills, applied_in_flight;
  int killed_before_open = 0;
  int recovery_kills = 0;
  int recovery_kills_inside_open = 0;  // killed before open() (and its recovery) returned
  RecoveryReport recovered;
  const auto started = Clock::now();

  for (int iteration = 0; iteration < iterations; ++iteration) {
    SCOPED_TRACE(fmt::format("iteration {} (seed {})", iteration, seed));
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const std::uint64_t child_seed = random();
    // Every tenth kill is timed from the fork, so that some land inside open() and recovery;
    // the others from the moment the registry is open, inside the operations.
    const bool from_fork = iteration % 10 == 0;
    const auto delay = std::chrono::microseconds(random() % 30001);
    const pid_t pid = fork_child([&]() -> int {
      ::close(fds[0]);
      run_child(dir, iteration, child_seed, fds[1]);
    });
    ASSERT_GE(pid, 0);
    ::close(fds[1]);

    std::string output;
    if (!from_fork) {
      const bool in_time = read_until(
          fds[0], output, Clock::now() + std::chrono::seconds(30), [](const std::string& out) {
            return out.find("S\n") != std::string::npos || out.find("X ") != std::string::npos;
          });
      if (!in_time) ::kill(pid, SIGKILL);
      ASSERT_TRUE(in_time) << "the child did not open the registry within 30 s";
    }
    // The random kill instant: this wait is the experiment, not a synchronisation.
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(read_until(fds[0], output, Clock::now() + std::chrono::seconds(30),
                           [](const std::string&) { return false; }));
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child stopped by itself (status " << status << "):\n"
        << output;

    // Replay what the child reported.
    std::optional<Operation> in_flight;
    bool opened = false;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
      if (line == "S") {
        opened = true;
      } else if (line.rfind("I ", 0) == 0) {
        in_flight = parse_operation(line.substr(2));
        ASSERT_TRUE(in_flight) << line;
      } else if (line.rfind("C ", 0) == 0) {
        const auto committed = parse_operation(line.substr(2));
        ASSERT_TRUE(committed && in_flight && *committed == *in_flight) << line;
        state = apply_operation(state, *committed);
        in_flight.reset();
      } else {
        FAIL() << "the child reported: " << line;
      }
    }
    if (!opened) ++killed_before_open;
    if (in_flight) ++in_flight_kills[in_flight->op];

    // Every fourth time, a second writer opens the registry, which recovers the first one's
    // leftovers, and is killed 0-10 ms after its fork: often in the middle of that recovery. It
    // changes nothing else, so the expectations stay those of the first writer.
    if (iteration % 4 == 3) {
      int recovery_fds[2];
      ASSERT_EQ(::pipe2(recovery_fds, O_CLOEXEC), 0);
      const auto recovery_delay = std::chrono::microseconds(random() % 10001);
      const pid_t recovering = fork_child([&]() -> int {
        ::close(recovery_fds[0]);
        run_child(dir, iteration, 0, recovery_fds[1], /*recover_only=*/true);
      });
      ASSERT_GE(recovering, 0);
      ::close(recovery_fds[1]);
      std::this_thread::sleep_for(recovery_delay);  // the random kill instant
      ::kill(recovering, SIGKILL);
      int recovery_status = 0;
      ASSERT_EQ(::waitpid(recovering, &recovery_status, 0), recovering);
      std::string recovery_output;
      ASSERT_TRUE(read_until(recovery_fds[0], recovery_output,
                             Clock::now() + std::chrono::seconds(30),
                             [](const std::string&) { return false; }));
      ::close(recovery_fds[0]);
      ASSERT_TRUE(WIFSIGNALED(recovery_status) && WTERMSIG(recovery_status) == SIGKILL)
          << "the recovering child stopped by itself:\n"
          << recovery_output;
      ASSERT_TRUE(recovery_output.empty() || recovery_output == "S\n")
          << "the recovering child reported: " << recovery_output;
      ++recovery_kills;
      if (recovery_output.empty()) ++recovery_kills_inside_open;
    }

    // Recovery: the plain open() on even iterations; on odd ones open without recovery and run
    // recover() explicitly, which reports what it did.
    std::optional<ModelRegistry> registry;
    try {
      if (iteration % 2 == 0) {
        registry.emplace(ModelRegistry::open(dir));
      } else {
        OpenOptions options;
        options.recover = false;
        registry.emplace(ModelRegistry::open(dir, options));
        const RecoveryReport report = registry->recover();
        recovered.registrations_rolled_back += report.registrations_rolled_back;
        recovered.deletions_completed += report.deletions_completed;
      }
    } catch (const std::exception& e) {
      FAIL() << "ModelRegistry::open after the kill failed: " << e.what();
    }
    const State actual = read_and_check(*registry);
    registry.reset();
    // Later iterations would only repeat the first inconsistency.
    ASSERT_FALSE(HasFailure()) << "stopping at the first kill that left the registry inconsistent";

    if (actual == state) continue;
    if (in_flight) {
      const State applied = apply_operation(state, *in_flight);
      if (actual == applied) {
        ++applied_in_flight[in_flight->op];
        state = applied;
        continue;
      }
    }
    FAIL() << "after the kill the registry is neither the committed state"
           << (in_flight ? " nor the committed state plus the call in flight (" +
                               in_flight->to_string() + ")"
                         : std::string())
           << ". Against the committed state:\n"
           << describe_difference(state, actual);
  }

  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  std::size_t versions = 0;
  for (const auto& [model, v] : state) versions += v.size();
  std::printf(
      "crash_test: %d kills in %lld ms; %d before open; in flight at the kill: register %d, "
      "promote %d, transition %d, delete %d; of these applied: register %d, promote %d, "
      "transition %d, delete %d; recover() (odd iterations) rolled back %zu registrations and "
      "completed %zu deletions; %d recovering writers killed, %d of them inside open(); %zu "
      "versions at the end\n",
      iterations, static_cast<long long>(elapsed), killed_before_open, in_flight_kills['R'],
      in_flight_kills['P'], in_flight_kills['T'], in_flight_kills['D'], applied_in_flight['R'],
      applied_in_flight['P'], applied_in_flight['T'], applied_in_flight['D'],
      recovered.registrations_rolled_back, recovered.deletions_completed, recovery_kills,
      recovery_kills_inside_open, versions);

  // A harness whose kills never land inside an operation proves nothing.
  if (iterations >= 100) {
    int in_flight = 0;
    for (const auto& [op, count] : in_flight_kills) in_flight += count;
    EXPECT_GE(in_flight, iterations / 4) << "too few kills landed inside an operation";
    EXPECT_GT(recovered.registrations_rolled_back + recovered.deletions_completed, 0u)
        << "no kill ever left work for recovery";
  }
}

}  // namespace
}  // namespace modelreg

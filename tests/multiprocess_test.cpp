// Several processes using one durable registry directory at once: the catalog's transactions,
// not any in-process mutex, must keep registrations unique and promotions exclusive.
//
// Every child is forked while the parent has nothing of the registry open, opens the registry
// itself, waits at a start gate so that all of them start together, and writes its outcomes to a
// file that the parent checks once every child has exited.

#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "modelreg/modelreg.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::Children;
using testing::exited_cleanly;
using testing::InterruptingStreamBuf;
using testing::killed_by_sigkill;
using testing::read_file;
using testing::read_lines;
using testing::silence_modelreg_logging;
using testing::StartGate;
using testing::TestDir;
using testing::write_outcome;

constexpr const char* kTempPrefix = "modelreg-multiprocess";

constexpr int kWriters = 4;
// How long children may take to open the registry and reach the start gate.
constexpr std::chrono::seconds kStartTimeout{30};
// How long all children of a test together may take once started.
constexpr std::chrono::seconds kRunTimeout{120};

Clock::time_point deadline_in(std::chrono::seconds timeout) {
  return Clock::now() + timeout;
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// Checks what every test leaves behind in a registry directory nobody has open.
void expect_no_leftovers(const fs::path& dir, const std::set<std::string>& artifact_paths) {
  auto registry = ModelRegistry::open(dir);
  EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
  const auto listed = registry.store()->list_artifacts();
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), artifact_paths);
  for (const auto& entry : fs::recursive_directory_iterator(dir / "artifacts")) {
    EXPECT_NE(entry.path().filename().string().rfind(".tmp-", 0), 0u)
        << "temporary file left behind: " << entry.path();
  }
}

// ---------------------------------------------------------------------------------------------
// Processes forked from a parent that has used a registry (and closed it) are independent
// writers, as prefork servers and multiprocessing workers expect. Each must get an identity of
// its own: if forked children inherit the same owner token they share one lock file, and every
// open but the first blocks on that lock for as long as the first child lives.

TEST(MultiprocessTest, ProcessesForkedAfterTheParentUsedARegistryCanAllOpenIt) {
  TestDir temp(kTempPrefix);
  const fs::path dir = temp.path() / "registry";
  {
    auto registry = ModelRegistry::open(dir);
    RegisterOptions options;
    options.artifact = to_bytes("registered by the parent");
    registry.register_version("forked", "parent", options);
  }
  StartGate gate;
  Children children;
  std::vector<pid_t> pids;
  for (int child = 0; child < 3; ++child) {
    pids.push_back(children.spawn([&, child] {
      gate.child_side();
      silence_modelreg_logging();
      auto registry = ModelRegistry::open(dir);
      // Everyone holds the registry open at the same time before anyone writes.
      gate.arrive_and_wait();
      RegisterOptions options;
      options.artifact = to_bytes(fmt::format("registered by child {}", child));
      registry.register_version("forked", fmt::format("child-{}", child), options);
      return 0;
    }));
  }
  // On failure the children blocked in open() are killed as the test ends.
  ASSERT_TRUE(gate.release(3, std::chrono::seconds(10)))
      << "children forked after the parent used a registry cannot all open it at once: the "
         "later ones block in ModelRegistry::open";
  const auto deadline = deadline_in(kRunTimeout);
  for (pid_t pid : pids) EXPECT_TRUE(exited_cleanly(children.wait(pid, deadline)));

  auto registry = ModelRegistry::open(dir);
  EXPECT_EQ(registry.list_versions("forked").size(), 4u);
  for (int child = 0; child < 3; ++child) {
    EXPECT_EQ(registry.load_artifact("forked", fmt::format("child-{}", child)),
              to_bytes(fmt::format("registered by child {}", child)));
  }
  EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
}

// ---------------------------------------------------------------------------------------------
// Several processes recovering the same dead writers at once: each dead writer's work is undone
// exactly once, and no recovering process disturbs another.

TEST(MultiprocessTest, ConcurrentRecoveryUndoesEachDeadWriterOnce) {
  TestDir temp(kTempPrefix);
  const fs::path dir = temp.path() / "registry";
  constexpr int kDead = 3;
  {
    auto registry = ModelRegistry::open(dir);
    RegisterOptions options;
    options.artifact = to_bytes("survivor");
    registry.register_version("recovered", "survivor", options);
  }
  Children children;
  for (int dead = 0; dead < kDead; ++dead) {
    const pid_t pid = children.spawn([&, dead] {
      silence_modelreg_logging();
      // Without recovery, or each would undo the previous one's registration itself.
      OpenOptions options;
      options.recover = false;
      auto registry = ModelRegistry::open(dir, options);
      InterruptingStreamBuf source(2 << 20, 1 << 20, [] { ::raise(SIGKILL); });
      std::istream in(&source);
      RegisterOptions registration;
      registration.artifact_stream = &in;
      registry.register_version("recovered", fmt::format("dead-{}", dead), registration);
      return 3;  // not reached: the source kills the process midway
    });
    const int status = children.wait(pid, deadline_in(std::chrono::seconds(60)));
    ASSERT_TRUE(killed_by_sigkill(status)) << "status " << status;
  }

  StartGate gate;
  std::vector<pid_t> recoverers;
  for (int process = 0; process < kWriters; ++process) {
    recoverers.push_back(children.spawn([&, process] {
      gate.child_side();
      silence_modelreg_logging();
      OpenOptions options;
      options.recover = false;
      std::string outcome;
      try {
        auto registry = ModelRegistry::open(dir, options);
        gate.arrive_and_wait();
        const RecoveryReport report = registry.recover();
        outcome =
            fmt::format("{} {}\n", report.registrations_rolled_back, report.deletions_completed);
      } catch (const std::exception& e) {
        outcome = fmt::format("error {}\n", one_line(e.what()));
      }
      write_outcome(temp.path() / fmt::format("recovery-{}.txt", process), outcome);
      return 0;
    }));
  }
  ASSERT_TRUE(gate.release(kWriters, kStartTimeout))
      << "not every child reached the start gate (it died or blocked in ModelRegistry::open)";
  const auto deadline = deadline_in(kRunTimeout);
  for (pid_t pid : recoverers) EXPECT_TRUE(exited_cleanly(children.wait(pid, deadline)));

  int rolled_back = 0;
  for (int process = 0; process < kWriters; ++process) {
    const auto lines = read_lines(temp.path() / fmt::format("recovery-{}.txt", process));
    ASSERT_EQ(lines.size(), 1u) << "process " << process;
    std::istringstream in(lines[0]);
    int registrations = -1, deletions = -1;
    ASSERT_TRUE(in >> registrations >> deletions) << "process " << process << ": " << lines[0];
    EXPECT_EQ(deletions, 0);
    rolled_back += registrations;
  }
  EXPECT_EQ(rolled_back, kDead) << "each dead writer's registration is rolled back exactly once";

  const RegisterOptions no_artifact;
  auto registry = ModelRegistry::open(dir);
  EXPECT_EQ(registry.list_versions("recovered").size(), 1u);
  EXPECT_EQ(registry.load_artifact("recovered", "survivor"), to_bytes("survivor"));
  for (int dead = 0; dead < kDead; ++dead) {
    EXPECT_FALSE(fs::exists(dir / "artifacts" / "recovered" / fmt::format("dead-{}", dead)));
    // The key is free again.
    EXPECT_NO_THROW(
        registry.register_version("recovered", fmt::format("dead-{}", dead), no_artifact));
  }
  expect_no_leftovers(dir, {"recovered/survivor/model.bin"});
}

// ---------------------------------------------------------------------------------------------
// (a) Concurrent registrations.

constexpr const char* kModel = "shared-model";

std::string distinct_version(int writer, int k) {
  return fmt::format("p{}.{}", writer, k);
}
std::string contested_version(int k) {
  return fmt::format("c.{}", k);
}

// Some distinct versions have an artifact (small), the others none.
std::optional<Bytes> distinct_artifact(int writer, int k) {
  if (k % 3 != 0) return std::nullopt;
  std::string text = fmt::format("artifact of {} ", distinct_version(writer, k));
  text.append(static_cast<std::size_t>((k * 37) % 4096), static_cast<char>('a' + writer));
  return to_bytes(text);
}

// Every contender writes different bytes, so the stored artifact tells who won; some are over
// 1 MiB so that losers arrive while the winner is still writing.
Bytes contested_artifact(int writer, int k, bool large) {
  std::string text = fmt::format("contested {} written by process {} ", k, writer);
  const std::size_t padding = large && k % 10 == 0 ? (std::size_t{1} << 20) + 4096u
                                                   : static_cast<std::size_t>((k * 101) % 2000);
  text.append(padding, static_cast<char>('A' + writer));
  return to_bytes(text);
}

struct RaceConfig {
  Durability durability;
  int distinct;   // per process
  int contested;  // attempted by every process
  bool large_contested;
};

// One writer's work: its distinct versions with the contested ones spread among them, in the
// same order in every process. Returns the outcome lines "<version> <ok|exists|error ...>".
std::string run_writer(const fs::path& dir, int writer, const RaceConfig& config,
                       ModelRegistry& registry) {
  std::ostringstream outcome;
  auto attempt = [&](const std::string& version, const std::optional<Bytes>& artifact) {
    RegisterOptions options;
    options.artifact = artifact;
    options.tags = {{"writer", std::to_string(writer)}};
    try {
      const ModelVersion v = registry.register_version(kModel, version, options);
      const bool consistent = v.version == version && v.model_name == kModel &&
                              v.stage == ModelStage::Development &&
                              v.artifact_size == (artifact ? artifact->size() : 0u) &&
                              v.artifact_path.has_value() == artifact.has_value();
      outcome << version << (consistent ? " ok\n" : " error inconsistent result\n");
    } catch (const AlreadyExistsError&) {
      outcome << version << " exists\n";
    } catch (const std::exception& e) {
      outcome << version << " error " << one_line(e.what()) << "\n";
    }
  };
  const int every = std::max(1, config.distinct / std::max(1, config.contested));
  int next_contested = 0;
  for (int k = 0; k < config.distinct; ++k) {
    attempt(distinct_version(writer, k), distinct_artifact(writer, k));
    if (k % every == 0 && next_contested < config.contested) {
      attempt(contested_version(next_contested),
              contested_artifact(writer, next_contested, config.large_contested));
      ++next_contested;
    }
  }
  for (; next_contested < config.contested; ++next_contested) {
    attempt(contested_version(next_contested),
            contested_artifact(writer, next_contested, config.large_contested));
  }
  (void)dir;
  return outcome.str();
}

void run_registration_race(const fs::path& root, const RaceConfig& config) {
  const fs::path dir = root / "registry";
  OpenOptions options;
  options.durability = config.durability;

  // Nothing is open in the parent: the children even create the database together.
  StartGate gate;
  Children children;
  std::vector<pid_t> writers;
  for (int writer = 0; writer < kWriters; ++writer) {
    writers.push_back(children.spawn([&, writer] {
      gate.child_side();
      silence_modelreg_logging();
      std::string outcome;
      try {
        auto registry = ModelRegistry::open(dir, options);
        gate.arrive_and_wait();
        outcome = run_writer(dir, writer, config, registry);
      } catch (const std::exception& e) {
        outcome = fmt::format("- error outside register_version: {}\n", one_line(e.what()));
        gate.arrive_and_wait();
      }
      write_outcome(root / fmt::format("outcome-{}.txt", writer), outcome);
      return 0;
    }));
  }
  const auto started = Clock::now();
  ASSERT_TRUE(gate.release(kWriters, kStartTimeout))
      << "not every writer reached the start gate (it died or blocked in ModelRegistry::open)";
  const auto deadline = deadline_in(kRunTimeout);
  for (pid_t pid : writers) EXPECT_TRUE(exited_cleanly(children.wait(pid, deadline)));
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  std::printf("%d processes registered %d versions each in %lld ms\n", kWriters,
              config.distinct + config.contested, static_cast<long long>(elapsed.count()));

  // Aggregate the outcomes.
  std::map<std::string, std::vector<int>> winners;  // contested version -> processes that won
  for (int writer = 0; writer < kWriters; ++writer) {
    SCOPED_TRACE(fmt::format("process {}", writer));
    const auto lines = read_lines(root / fmt::format("outcome-{}.txt", writer));
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(config.distinct + config.contested))
        << read_file(root / fmt::format("outcome-{}.txt", writer));
    for (const auto& line : lines) {
      const auto space = line.find(' ');
      const std::string version = line.substr(0, space);
      const std::string result = line.substr(space + 1);
      if (version.rfind("c.", 0) == 0) {
        EXPECT_TRUE(result == "ok" || result == "exists") << line;
        if (result == "ok") winners[version].push_back(writer);
      } else {
        EXPECT_EQ(result, "ok") << line;
      }
    }
  }

  // The registry holds every version exactly once, with the winner's artifact.
  auto registry = ModelRegistry::open(dir);
  const auto versions = registry.list_versions(kModel);
  EXPECT_EQ(versions.size(),
            static_cast<std::size_t>(kWriters * config.distinct + config.contested));
  std::map<std::string, ModelVersion> by_name;
  for (const auto& v : versions) {
    EXPECT_TRUE(by_name.emplace(v.version, v).second) << v.version << " is listed twice";
  }
  std::set<std::string> artifact_paths;
  for (int writer = 0; writer < kWriters; ++writer) {
    int previous_position = -1;
    for (int k = 0; k < config.distinct; ++k) {
      const std::string version = distinct_version(writer, k);
      const auto it = by_name.find(version);
      if (it == by_name.end()) {
        ADD_FAILURE() << version << " is missing";
        continue;
      }
      const auto expected = distinct_artifact(writer, k);
      EXPECT_EQ(registry.load_artifact(kModel, version), expected) << version;
      if (it->second.artifact_path) artifact_paths.insert(*it->second.artifact_path);
      EXPECT_EQ(it->second.tags.at("writer"), std::to_string(writer)) << version;
      // One process's versions are listed in the order it registered them.
      const int position = static_cast<int>(
          std::find_if(versions.begin(), versions.end(),
                       [&](const ModelVersion& v) { return v.version == version; }) -
          versions.begin());
      EXPECT_GT(position, previous_position) << version << " is listed out of order";
      previous_position = position;
    }
  }
  for (int k = 0; k < config.contested; ++k) {
    const std::string version = contested_version(k);
    const auto& won = winners[version];
    ASSERT_EQ(won.size(), 1u) << version << ": exactly one process must win, " << won.size()
                              << " did";
    const auto it = by_name.find(version);
    ASSERT_NE(it, by_name.end()) << version << " is missing";
    EXPECT_EQ(it->second.tags.at("writer"), std::to_string(won[0])) << version;
    EXPECT_EQ(registry.load_artifact(kModel, version),
              contested_artifact(won[0], k, config.large_contested))
        << version << ": the stored artifact must be the winner's, untouched by the losers";
    artifact_paths.insert(*it->second.artifact_path);
  }
  EXPECT_EQ(registry.get_latest(kModel), versions.back());
  // Each process read its clock before waiting for the others' write locks; still, the order
  // of created_at is the registration order, so both notions of "latest" agree.
  for (std::size_t i = 1; i < versions.size(); ++i) {
    EXPECT_LE(versions[i - 1].created_at, versions[i].created_at)
        << versions[i].version << " is dated before " << versions[i - 1].version
        << ", which was registered before it";
  }
  EXPECT_EQ(registry.get_model(kModel)->latest_version(), versions.back());
  EXPECT_FALSE(registry.get_production_model(kModel));
  expect_no_leftovers(dir, artifact_paths);
}

// With the default Full durability (every commit fsync'd), and with Relaxed, whose commits
// reach the WAL unsynced: the exclusivity must not depend on the durability option.
TEST(MultiprocessTest, ConcurrentRegistrationsAreUniqueFull) {
  TestDir temp(kTempPrefix);
  run_registration_race(temp.path(), {Durability::Full, 250, 50, true});
}

TEST(MultiprocessTest, ConcurrentRegistrationsAreUniqueRelaxed) {
  TestDir temp(kTempPrefix);
  run_registration_race(temp.path(), {Durability::Relaxed, 250, 50, true});
}

// ---------------------------------------------------------------------------------------------
// (b) Concurrent promotions and a reader.

constexpr const char* kPromoted = "promoted";
constexpr int kVersionsPerPromoter = 3;
constexpr int kPromotionRounds = 250;

std::string promoter_version(int promoter, int j) {
  return fmt::format("p{}-{}", promoter, j);
}

TEST(MultiprocessTest, ConcurrentPromotionsLeaveExactlyOneProductionVersion) {
  TestDir temp(kTempPrefix);
  const fs::path dir = temp.path() / "registry";
  {
    auto registry = ModelRegistry::open(dir);
    for (int promoter = 0; promoter < kWriters; ++promoter) {
      for (int j = 0; j < kVersionsPerPromoter; ++j) {
        RegisterOptions options;
        options.artifact = to_bytes(promoter_version(promoter, j));
        registry.register_version(kPromoted, promoter_version(promoter, j), options);
      }
    }
    // From here on there is always a Production version.
    ASSERT_TRUE(registry.transition_stage(kPromoted, "p0-0", ModelStage::Production));
  }

  int stop[2];
  ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
  StartGate gate;
  Children children;

  // The reader polls until the promoters are done, counting every snapshot with zero or two
  // Production versions.
  const pid_t reader = children.spawn([&] {
    gate.child_side();
    ::close(stop[1]);
    silence_modelreg_logging();
    auto registry = ModelRegistry::open(dir);
    gate.arrive_and_wait();
    long polls = 0;
    std::vector<std::string> violations;
    std::set<std::string> seen;
    auto violation = [&](const std::string& what) {
      if (violations.size() < 20) violations.push_back(fmt::format("poll {}: {}", polls, what));
    };
    std::size_t total_violations = 0;
    for (;;) {
      pollfd fd{stop[0], POLLIN, 0};
      if (::poll(&fd, 1, 0) > 0) break;
      ++polls;
      try {
        const auto production = registry.get_production_model(kPromoted);
        if (!production) {
          ++total_violations;
          violation("get_production_model returned none");
        } else {
          seen.insert(production->version);
          if (production->stage != ModelStage::Production) {
            ++total_violations;
            violation(production->version + " returned as Production is not in Production");
          }
        }
        const auto in_production = registry.list_versions(kPromoted, ModelStage::Production);
        if (in_production.size() != 1) {
          ++total_violations;
          violation(fmt::format("list_versions(Production) has {}", in_production.size()));
        }
        const auto all = registry.list_versions(kPromoted);
        const auto count = std::count_if(all.begin(), all.end(), [](const ModelVersion& v) {
          return v.stage == ModelStage::Production;
        });
        if (count != 1 || all.size() != kWriters * kVersionsPerPromoter) {
          ++total_violations;
          violation(
              fmt::format("list_versions has {} versions, {} in Production", all.size(), count));
        }
        const auto model = registry.get_model(kPromoted);
        const auto in_model = model ? std::count_if(model->versions.begin(), model->versions.end(),
                                                    [](const ModelVersion& v) {
                                                      return v.stage == ModelStage::Production;
                                                    })
                                    : 0;
        if (in_model != 1) {
          ++total_violations;
          violation(fmt::format("get_model has {} versions in Production", in_model));
        }
      } catch (const std::exception& e) {
        ++total_violations;
        violation(std::string("error: ") + one_line(e.what()));
      }
    }
    std::string outcome =
        fmt::format("polls {}\nviolations {}\ndistinct {}\n", polls, total_violations, seen.size());
    for (const auto& v : violations) outcome += v + "\n";
    write_outcome(temp.path() / "reader.txt", outcome);
    return 0;
  });

  std::vector<pid_t> promoters;
  for (int promoter = 0; promoter < kWriters; ++promoter) {
    promoters.push_back(children.spawn([&, promoter] {
      gate.child_side();
      ::close(stop[0]);
      ::close(stop[1]);
      silence_modelreg_logging();
      auto registry = ModelRegistry::open(dir);
      gate.arrive_and_wait();
      std::string errors;
      for (int round = 0; round < kPromotionRounds; ++round) {
        const std::string version = promoter_version(promoter, round % kVersionsPerPromoter);
        try {
          const auto promoted =
              registry.transition_stage(kPromoted, version, ModelStage::Production);
          if (!promoted || promoted->version != version ||
              promoted->stage != ModelStage::Production) {
            errors += version + ": transition_stage did not return it in Production\n";
          }
        } catch (const std::exception& e) {
          errors += version + ": " + one_line(e.what()) + "\n";
        }
      }
      write_outcome(temp.path() / fmt::format("promoter-{}.txt", promoter), errors);
      return 0;
    }));
  }
  ::close(stop[0]);
  const auto started = Clock::now();
  if (!gate.release(kWriters + 1, kStartTimeout)) {
    ::close(stop[1]);
    FAIL() << "not every child reached the start gate (it died or blocked in ModelRegistry::open)";
  }
  const auto deadline = deadline_in(kRunTimeout);
  for (pid_t pid : promoters) EXPECT_TRUE(exited_cleanly(children.wait(pid, deadline)));
  ::close(stop[1]);  // the reader stops at the end of file
  EXPECT_TRUE(exited_cleanly(children.wait(reader, deadline_in(std::chrono::seconds(30)))));
  std::printf(
      "%d x %d promotions in %lld ms\n", kWriters, kPromotionRounds,
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()));

  for (int promoter = 0; promoter < kWriters; ++promoter) {
    const fs::path file = temp.path() / fmt::format("promoter-{}.txt", promoter);
    ASSERT_TRUE(fs::exists(file)) << "promoter " << promoter << " did not finish";
    EXPECT_EQ(read_file(file), "") << "promoter " << promoter;
  }
  const auto reader_lines = read_lines(temp.path() / "reader.txt");
  ASSERT_GE(reader_lines.size(), 3u);
  std::printf("reader: %s, %s, %s\n", reader_lines[0].c_str(), reader_lines[1].c_str(),
              reader_lines[2].c_str());
  EXPECT_EQ(reader_lines[1], "violations 0") << read_file(temp.path() / "reader.txt");
  // The reader must really have watched the promotions happen, or it proved nothing.
  EXPECT_GE(std::stol(reader_lines[0].substr(6)), 20) << "too few polls";
  EXPECT_GE(std::stol(reader_lines[2].substr(9)), 2) << "the reader saw no promotion";

  auto registry = ModelRegistry::open(dir);
  const auto in_production = registry.list_versions(kPromoted, ModelStage::Production);
  ASSERT_EQ(in_production.size(), 1u);
  // The last promotion wins, and the last promotion is some promoter's last one.
  std::set<std::string> last_promoted;
  for (int promoter = 0; promoter < kWriters; ++promoter) {
    last_promoted.insert(promoter_version(promoter, (kPromotionRounds - 1) % kVersionsPerPromoter));
  }
  EXPECT_TRUE(last_promoted.count(in_production[0].version)) << in_production[0].version;
  EXPECT_EQ(registry.get_production_model(kPromoted), in_production[0]);
  // Every version was promoted at some point, so every other one is now Archived.
  for (const auto& v : registry.list_versions(kPromoted)) {
    if (v.version != in_production[0].version) {
      EXPECT_EQ(v.stage, ModelStage::Archived) << v.version;
    }
    EXPECT_EQ(registry.load_artifact(kPromoted, v.version), to_bytes(v.version));
  }
}

// ---------------------------------------------------------------------------------------------
// (c) Compare-and-swap promotion across processes.

constexpr int kCandidates = 20;

TEST(MultiprocessTest, CompareAndSwapPromotionHasExactlyOneWinnerAcrossProcesses) {
  TestDir temp(kTempPrefix);
  const fs::path dir = temp.path() / "registry";
  {
    auto registry = ModelRegistry::open(dir);
    const RegisterOptions no_artifact;
    registry.register_version("cas", "incumbent", no_artifact);
    registry.transition_stage("cas", "incumbent", ModelStage::Production);
    for (int r = 0; r < kCandidates; ++r) {
      const std::string version = fmt::format("cand-{}", r);
      registry.register_version("cas", version, no_artifact);
      registry.transition_stage("cas", version, ModelStage::Staging);
    }
  }
  StartGate gate;
  Children children;
  std::vector<pid_t> contenders;
  for (int process = 0; process < kWriters; ++process) {
    contenders.push_back(children.spawn([&, process] {
      gate.child_side();
      silence_modelreg_logging();
      auto registry = ModelRegistry::open(dir);
      gate.arrive_and_wait();
      std::ostringstream outcome;
      for (int r = 0; r < kCandidates; ++r) {
        const std::string version = fmt::format("cand-{}", r);
        try {
          const auto promoted = registry.transition_stage("cas", version, ModelStage::Production,
                                                          ModelStage::Staging);
          outcome << version
                  << (promoted && promoted->stage == ModelStage::Production ? " won\n"
                                                                            : " error\n");
        } catch (const FailedPreconditionError&) {
          outcome << version << " lost\n";
        } catch (const std::exception& e) {
          outcome << version << " error " << one_line(e.what()) << "\n";
        }
      }
      write_outcome(temp.path() / fmt::format("cas-{}.txt", process), outcome.str());
      return 0;
    }));
  }
  ASSERT_TRUE(gate.release(kWriters, kStartTimeout))
      << "not every child reached the start gate (it died or blocked in ModelRegistry::open)";
  const auto deadline = deadline_in(kRunTimeout);
  for (pid_t pid : contenders) EXPECT_TRUE(exited_cleanly(children.wait(pid, deadline)));

  std::map<std::string, int> wins;
  for (int process = 0; process < kWriters; ++process) {
    const auto lines = read_lines(temp.path() / fmt::format("cas-{}.txt", process));
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(kCandidates)) << "process " << process;
    for (const auto& line : lines) {
      const auto space = line.find(' ');
      const std::string result = line.substr(space + 1);
      EXPECT_TRUE(result == "won" || result == "lost") << line;
      if (result == "won") ++wins[line.substr(0, space)];
    }
  }
  for (int r = 0; r < kCandidates; ++r) {
    EXPECT_EQ(wins[fmt::format("cand-{}", r)], 1) << "cand-" << r;
  }
  auto registry = ModelRegistry::open(dir);
  // Each candidate is attempted only after the previous one left Staging, so the last one won
  // last.
  EXPECT_EQ(registry.get_production_model("cas")->version, fmt::format("cand-{}", kCandidates - 1));
  EXPECT_EQ(registry.list_versions("cas", ModelStage::Production).size(), 1u);
  EXPECT_EQ(registry.list_versions("cas", ModelStage::Archived).size(),
            static_cast<std::size_t>(kCandidates));
  EXPECT_TRUE(registry.list_versions("cas", ModelStage::Staging).empty());
}

}  // namespace
}  // namespace modelreg

// Several processes moving aliases and promoting versions in one durable registry directory,
// and watchers in other processes: the catalog's transactions, not any in-process mutex, must
// keep compare-and-swap exact, and the history (and so every watch) must see every change of
// every process, in order.
//
// Children are forked while the parent has nothing of the registry open and no thread running;
// each opens the registry itself, waits at a start gate and writes what it did to a file the
// parent reads once it has exited. A watching parent opens the registry and starts its watch
// only after forking, then opens the gate.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "alias_moves.hpp"
#include "child_process.hpp"
#include "event_printing.hpp"
#include "modelreg/modelreg.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::Children;
using testing::describe;
using testing::exited_cleanly;
using testing::read_lines;
using testing::show;
using testing::silence_modelreg_logging;
using testing::StartGate;
using testing::TestDir;
using testing::write_outcome;

constexpr const char* kTempPrefix = "modelreg-lifecycle-multiprocess";
// How long children may take to open the registry and reach the start gate.
constexpr std::chrono::seconds kStartTimeout{30};
// How long all children of a test together may take once started.
constexpr std::chrono::seconds kRunTimeout{90};
// How long a watcher may take to report what another process committed. Generous: nothing is
// timed, a watch that never reports fails the test instead of hanging it.
constexpr std::chrono::seconds kWatchTimeout{20};
constexpr std::chrono::milliseconds kPollInterval{20};

}  // namespace

namespace {

OpenOptions open_options(Durability durability, std::string actor = {}) {
  OpenOptions options;
  options.durability = durability;
  options.actor = std::move(actor);
  return options;
}

// What a watch callback was handed, batch by batch; the test thread waits on it.
class Received {
 public:
  WatchCallback callback() {
    return [this](const std::vector<ModelEvent>& events) {
      std::lock_guard<std::mutex> lock(mutex_);
      batches_.push_back(events);
      changed_.notify_all();
    };
  }

  // Waits until `done(events so far)` holds or `timeout` passes; returns whether it held.
  template <typename Predicate>
  bool wait_for(std::chrono::seconds timeout, Predicate done) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(events_locked()); });
  }

  std::vector<std::vector<ModelEvent>> batches() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
  }
  std::vector<ModelEvent> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_locked();
  }

 private:
  std::vector<ModelEvent> events_locked() const {
    std::vector<ModelEvent> all;
    for (const auto& batch : batches_) all.insert(all.end(), batch.begin(), batch.end());
    return all;
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::vector<ModelEvent>> batches_;
};

// ---------------------------------------------------------------------------------------------
// Four processes racing to move one alias with compare-and-swap: no update is lost, each
// winner's move is in the history. Each child reads the alias's target, moves it elsewhere with
// that target as the expected one, and retries a lost swap until it has won K times; the moves
// of the history then form one chain (each starting where the one before ended), and hold the
// moves each child reported as won, in its order, under its actor, exactly once.

void race_to_move_one_alias(Durability durability) {
  constexpr int kWorkers = 4;
  constexpr int kMoves = 50;
  constexpr int kVersions = 4;
  TestDir temp(kTempPrefix);
  const fs::path dir = temp.path() / "registry";
  {
    auto registry = ModelRegistry::open(dir, open_options(durability));
    for (int v = 1; v <= kVersions; ++v) registry.register_version("m", std::to_string(v));
  }
  StartGate gate;
  Children children;
  std::vector<pid_t> pids;
  for (int worker = 0; worker < kWorkers; ++worker) {
    pids.push_back(children.spawn([&, worker] {
      gate.child_side();
      silence_modelreg_logging();
      // The worker's actor comes from the registry's default, not from an Audit.
      auto registry =
          ModelRegistry::open(dir, open_options(durability, fmt::format("worker-{}", worker)));
      std::mt19937 random(static_cast<unsigned>(worker));
      gate.arrive_and_wait();
      std::string won;
      int wins = 0;
      int lost = 0;
      const auto give_up = Clock::now() + kRunTimeout;
      while (wins < kMoves) {
        if (Clock::now() > give_up) {
          std::fprintf(stderr, "worker %d won only %d moves\n", worker, wins);
          return 2;
        }
        const auto current = registry.get_version_by_alias("m", "champion");
        const std::string from = current ? current->version : "";
        std::string to;
        do {
          to = std::to_string(1 + random() % kVersions);
        } while (to == from);
        // Gives the other workers a chance to move the alias between the read and the swap.
        std::this_thread::yield();
        try {
          registry.set_alias("m", "champion", to, from);
        } catch (const FailedPreconditionError&) {
          ++lost;  // another worker moved it first: read again
          continue;
        }
        ++wins;
        won += fmt::format("{} {}\n", from.empty() ? "-" : from, to);
      }
      write_outcome(dir / fmt::format("worker-{}.moves", worker), won);
      std::printf("worker %d: %d moves won, %d lost\n", worker, wins, lost);
      std::fflush(stdout);  // the child leaves through _exit
      return 0;
    }));
  }
  ASSERT_TRUE(gate.release(kWorkers, kStartTimeout)) << "not every worker opened the registry";
  const auto deadline = Clock::now() + kRunTimeout;
  for (pid_t pid : pids) EXPECT_TRUE(exited_cleanly(children.wait(pid, deadline)));

  std::map<std::string, std::vector<std::pair<std::string, std::string>>> reported;
  for (int worker = 0; worker < kWorkers; ++worker) {
    const auto lines = read_lines(dir / fmt::format("worker-{}.moves", worker));
    ASSERT_EQ(lines.size(), kMoves + 0u) << "worker " << worker << " did not finish";
    auto& moves = reported[fmt::format("worker-{}", worker)];
    for (const auto& line : lines) {
      const auto space = line.find(' ');
      const std::string from = line.substr(0, space);
      moves.emplace_back(from == "-" ? "" : from, line.substr(space + 1));
    }
  }

  auto registry = ModelRegistry::open(dir, open_options(durability));
  const auto recorded = testing::expect_alias_moves_chained(
      registry, "m", "champion", static_cast<std::size_t>(kWorkers * kMoves));
  EXPECT_EQ(recorded, reported)
      << "the history does not hold exactly the moves each worker won, under its actor";
}

TEST(LifecycleMultiprocessTest, FourProcessesRacingToMoveOneAliasLoseNoUpdateFull) {
  race_to_move_one_alias(Durability::Full);
}

TEST(LifecycleMultiprocessTest, FourProcessesRacingToMoveOneAliasLoseNoUpdateRelaxed) {
  race_to_move_one_alias(Durability::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// A watcher in one process sees a promotion made by another process: the child promotes version
// 2 and points "champion" at it (and makes changes that do not move what serves the model, and
// changes of another model); the parent's watch reports the promotion and the alias move, with
// the child's actor, and nothing else.

TEST(LifecycleMultiprocessTest, AWatcherInOneProcessSeesAPromotionMadeByAnother) {
  TestDir temp(kTempPrefix);
  const fs::path dir = temp.path() / "registry";
  {
    auto registry = ModelRegistry::open(dir);
    registry.register_version("m", "1");
    registry.register_version("m", "2");
    registry.register_version("other", "1");
  }
  StartGate gate;
  Children children;
  const pid_t promoter = children.spawn([&] {
    gate.child_side();
    silence_modelreg_logging();
    auto registry = ModelRegistry::open(dir, open_options(Durability::Full, "promoter"));
    gate.arrive_and_wait();
    registry.set_version_tag("m", "2", "validated", "yes");  // not a serving change
    registry.transition_stage("m", "2", ModelStage::Production, std::nullopt,
                              Audit{"", "passed the canary"});
    registry.set_alias("m", "champion", "2");
    registry.transition_stage("other", "1", ModelStage::Production);  // another model
    return 0;
  });

  auto registry = ModelRegistry::open(dir);
  const std::int64_t start = registry.latest_event_sequence();
  Received received;
  WatchOptions options;
  options.poll_interval = kPollInterval;
  Subscription subscription = registry.watch("m", received.callback(), options);
  ASSERT_TRUE(gate.release(1, kStartTimeout)) << "the promoter did not open the registry";

  const auto promoted = [](const ModelEvent& e) {
    return e.type == EventType::StageChanged && e.version == "2" && e.new_value == "production";
  };
  const auto alias_moved = [](const ModelEvent& e) {
    return e.type == EventType::AliasSet && e.key == "champion" && e.version == "2";
  };
  const bool seen = received.wait_for(kWatchTimeout, [&](const std::vector<ModelEvent>& events) {
    return std::any_of(events.begin(), events.end(), promoted) &&
           std::any_of(events.begin(), events.end(), alias_moved);
  });
  EXPECT_TRUE(exited_cleanly(children.wait(promoter, Clock::now() + kRunTimeout)));
  EXPECT_TRUE(seen) << "the watch did not report the other process's promotion and alias move";
  subscription.cancel();

  const auto events = received.events();
  for (const auto& e : events) {
    EXPECT_EQ(e.model_name, "m") << describe(e);
    EXPECT_TRUE(e.changes_serving()) << "reported by default: " << describe(e);
    EXPECT_GT(e.sequence, start) << "reported though older than the watch: " << describe(e);
    EXPECT_EQ(e.actor, "promoter") << describe(e);
  }
  const auto promotion = std::find_if(events.begin(), events.end(), promoted);
  ASSERT_NE(promotion, events.end());
  EXPECT_EQ(promotion->old_value, "development");
  EXPECT_EQ(promotion->reason, "passed the canary");
  const auto move = std::find_if(events.begin(), events.end(), alias_moved);
  ASSERT_NE(move, events.end());
  EXPECT_EQ(move->old_value, std::nullopt);
  EXPECT_LT(promotion->sequence, move->sequence) << "reported out of order";
  // Exactly the serving changes of the model that the history holds since the watch began.
  std::vector<ModelEvent> serving;
  for (const auto& e : registry.history("m")) {
    if (e.sequence > start && e.changes_serving()) serving.push_back(e);
  }
  EXPECT_EQ(events, serving);
  EXPECT_EQ(registry.get_production_model("m")->version, "2");
}

// ---------------------------------------------------------------------------------------------
// A watcher sees the events of several processes in sequence order without gaps: three writers
// change one model (tags, aliases, stages) and another one at once; a watch of every event of
// the first model reports exactly its history since the watch began, in order, each event once.

TEST(LifecycleMultiprocessTest, AWatcherSeesTheEventsOfSeveralProcessesInOrderWithoutGaps) {
  constexpr int kWriters = 3;
  constexpr int kChanges = 20;  // per writer, each one recording one event of model m
  TestDir temp(kTempPrefix);
  const fs::path dir = temp.path() / "registry";
  {
    auto registry = ModelRegistry::open(dir, open_options(Durability::Relaxed));
    for (int v = 1; v <= kWriters; ++v) registry.register_version("m", std::to_string(v));
    registry.register_version("other", "1");
  }
  StartGate gate;
  Children children;
  std::vector<pid_t> pids;
  for (int writer = 0; writer < kWriters; ++writer) {
    pids.push_back(children.spawn([&, writer] {
      gate.child_side();
      silence_modelreg_logging();
      auto registry = ModelRegistry::open(
          dir, open_options(Durability::Relaxed, fmt::format("writer-{}", writer)));
      gate.arrive_and_wait();
      const std::string key = fmt::format("k{}", writer);
      // Each writer promotes nothing and moves only its own version's stage and its own alias,
      // so that every call changes something (and records exactly one event).
      const std::string own = std::to_string(writer + 1);
      const ModelStage stages[] = {ModelStage::Staging, ModelStage::Archived,
                                   ModelStage::Development};
      for (int j = 0; j < kChanges; ++j) {
        const std::string version = std::to_string(1 + j % kWriters);
        switch (j % 4) {
          case 0:
            registry.set_version_tag("m", version, key, std::to_string(j));
            break;
          case 1:
            registry.set_alias("m", fmt::format("a{}", writer), std::to_string(1 + (j / 4) % 3));
            break;
          case 2:
            registry.set_model_tag("m", key, std::to_string(j));
            registry.set_model_tag("other", key, std::to_string(j));  // not watched
            break;
          default:
            registry.transition_stage("m", own, stages[(j / 4) % 3]);
            break;
        }
      }
      return 0;
    }));
  }

  auto registry = ModelRegistry::open(dir, open_options(Durability::Relaxed));
  const std::int64_t start = registry.latest_event_sequence();
  Received received;
  WatchOptions options;
  options.poll_interval = kPollInterval;
  options.all_events = true;
  Subscription subscription = registry.watch("m", received.callback(), options);
  ASSERT_TRUE(gate.release(kWriters, kStartTimeout)) << "not every writer opened the registry";
  const auto deadline = Clock::now() + kRunTimeout;
  for (pid_t pid : pids) EXPECT_TRUE(exited_cleanly(children.wait(pid, deadline)));

  std::vector<ModelEvent> expected;
  for (const auto& e : registry.history("m")) {
    if (e.sequence > start) expected.push_back(e);
  }
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(kWriters * kChanges));
  const std::int64_t last = expected.back().sequence;
  EXPECT_TRUE(received.wait_for(kWatchTimeout, [&](const std::vector<ModelEvent>& events) {
    return !events.empty() && events.back().sequence >= last;
  })) << "the watch did not catch up with the history";
  subscription.cancel();

  const auto events = received.events();
  EXPECT_EQ(events, expected) << "the watch did not report the model's history exactly";
  std::int64_t previous = start;
  for (const auto& batch : received.batches()) {
    EXPECT_FALSE(batch.empty()) << "the callback was called with nothing";
    for (const auto& e : batch) {
      EXPECT_GT(e.sequence, previous) << "out of order: " << describe(e);
      previous = e.sequence;
    }
  }
  std::map<std::string, int> by_actor;
  for (const auto& e : events) ++by_actor[e.actor];
  for (int writer = 0; writer < kWriters; ++writer) {
    EXPECT_EQ(by_actor[fmt::format("writer-{}", writer)], kChanges) << "writer " << writer;
  }
}

}  // namespace
}  // namespace modelreg

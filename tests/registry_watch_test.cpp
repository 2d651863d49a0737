// ModelRegistry::watch over an in-memory registry and ModelRegistry::open(dir): what is reported,
// in which order, and the life of a Subscription (cancel, destruction, cancel from inside the
// callback or from two threads at once, a callback that throws). Waits use condition variables
// with generous timeouts; sleeps only keep a callback running while another thread acts, or give
// a cancelled watch the chance to misbehave.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <modelreg/modelreg.hpp>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "log_capture.hpp"
#include "registry_lifecycle_fixture.hpp"

namespace modelreg {
namespace {

using namespace std::chrono_literals;
using testing::OpenRegistryTest;
using testing::RegistryKind;
using testing::RegistryLifecycleTest;

using RegistryWatchTest = RegistryLifecycleTest;

// Far more than any poll interval here: only a watch that never delivers reaches it.
constexpr auto kPatience = 10s;
// How long a cancelled watch is given to (wrongly) call back: many poll intervals.
constexpr auto kQuiet = 300ms;

WatchOptions every(std::chrono::milliseconds interval, bool all_events = false) {
  WatchOptions options;
  options.poll_interval = interval;
  options.all_events = all_events;
  return options;
}

// Collects what a watch delivers, for the test thread to wait on.
class Collector {
 public:
  WatchCallback callback() {
    return [this](const std::vector<ModelEvent>& events) { add(events); };
  }

  void add(const std::vector<ModelEvent>& events) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++calls_;
    events_.insert(events_.end(), events.begin(), events.end());
    changed_.notify_all();
  }

  // Waits until `done` holds for the events so far; false after kPatience.
  bool wait(const std::function<bool(const std::vector<ModelEvent>&)>& done) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return done(events_); });
  }
  bool wait_for_count(std::size_t count) {
    return wait([&](const std::vector<ModelEvent>& events) { return events.size() >= count; });
  }
  // Waits for an event of `type` whose key is `key`.
  bool wait_for(EventType type, const std::string& key = {}) {
    return wait([&](const std::vector<ModelEvent>& events) {
      return std::any_of(events.begin(), events.end(),
                         [&](const ModelEvent& e) { return e.type == type && e.key == key; });
    });
  }

  std::vector<ModelEvent> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  int calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ModelEvent> events_;
  int calls_ = 0;
};

std::vector<EventType> types_of(const std::vector<ModelEvent>& events) {
  std::vector<EventType> types;
  for (const auto& e : events) types.push_back(e.type);
  return types;
}

void expect_increasing(const std::vector<ModelEvent>& events) {
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_LT(events[i - 1].sequence, events[i].sequence) << "at " << i;
  }
}

TEST_P(RegistryWatchTest, ReportsPromotionsAndAliasMovesButNotTagChanges) {
  add("fraud", "1");
  add("fraud", "2");
  add("other", "1");
  registry().transition_stage("fraud", "1", ModelStage::Production);  // before the watch
  const std::int64_t start = registry().latest_event_sequence();
  Collector collector;
  Subscription subscription = registry().watch("fraud", collector.callback(), every(5ms));
  EXPECT_TRUE(subscription.active());

  registry().set_version_tag("fraud", "1", "k", "v");
  registry().set_model_description("fraud", "d");
  registry().transition_stage("fraud", "2", ModelStage::Staging);
  registry().transition_stage("other", "1", ModelStage::Production);
  registry().set_alias("other", "champion", "1");
  registry().transition_stage("fraud", "2", ModelStage::Production);
  registry().set_alias("fraud", "champion", "2");
  registry().delete_alias("fraud", "champion");
  registry().set_alias("fraud", "done", "1");
  ASSERT_TRUE(collector.wait_for(EventType::AliasSet, "done")) << "nothing delivered";

  const auto events = collector.events();
  EXPECT_EQ(
      types_of(events),
      (std::vector<EventType>{EventType::StageChanged, EventType::StageChanged, EventType::AliasSet,
                              EventType::AliasDeleted, EventType::AliasSet}));
  for (const auto& e : events) EXPECT_EQ(e.model_name, "fraud");
  expect_increasing(events);
  // Exactly the serving events of the history after the watch began, in the same order.
  std::vector<ModelEvent> serving;
  for (const auto& e : registry().history("fraud")) {
    if (e.changes_serving() && e.sequence > start) serving.push_back(e);
  }
  EXPECT_EQ(events, serving);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].version, "1") << "the automatic archive comes first";
  EXPECT_EQ(events[0].new_value, "archived");
  EXPECT_EQ(events[1].version, "2");
  EXPECT_EQ(events[1].new_value, "production");
}

TEST_P(RegistryWatchTest, AllEventsReportsEveryChangeOfTheModelAfterTheWatchBegan) {
  add("fraud", "1");
  registry().set_version_tag("fraud", "1", "before", "x");
  const std::int64_t start = registry().latest_event_sequence();
  Collector collector;
  Subscription subscription = registry().watch("fraud", collector.callback(), every(5ms, true));
  registry().set_version_tag("fraud", "1", "k", "v");
  add("fraud", "2");
  registry().set_model_tag("fraud", "team", "risk");
  add("other", "1");
  registry().set_model_tag("fraud", "done", "yes");
  ASSERT_TRUE(collector.wait_for(EventType::ModelTagSet, "done"));

  std::vector<ModelEvent> expected;
  for (const auto& e : registry().history("fraud")) {
    if (e.sequence > start) expected.push_back(e);
  }
  EXPECT_EQ(collector.events(), expected);
  EXPECT_EQ(types_of(collector.events()),
            (std::vector<EventType>{EventType::VersionTagSet, EventType::VersionRegistered,
                                    EventType::ModelTagSet, EventType::ModelTagSet}));
}

TEST_P(RegistryWatchTest, DeliversBurstsCompletelyAndInSequenceOrder) {
  constexpr int kVersions = 6;
  constexpr int kRounds = 5;
  for (int i = 0; i < kVersions; ++i) add("fraud", std::to_string(i));
  Collector collector;
  Subscription subscription = registry().watch("fraud", collector.callback(), every(1ms));
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kVersions; ++i) {
      registry().transition_stage("fraud", std::to_string(i), ModelStage::Production);
    }
  }
  std::vector<ModelEvent> serving;
  for (const auto& e : registry().history("fraud")) {
    if (e.changes_serving()) serving.push_back(e);
  }
  // Each promotion but the first archives its predecessor: two events each.
  ASSERT_EQ(serving.size(), 2u * kVersions * kRounds - 1);
  ASSERT_TRUE(collector.wait_for_count(serving.size()))
      << collector.events().size() << " of " << serving.size();
  EXPECT_EQ(collector.events(), serving);
  expect_increasing(collector.events());
}

TEST_P(RegistryWatchTest, AWatchOfAModelThatDoesNotExistYetSeesItsFirstPromotion) {
  Collector collector;
  Subscription subscription = registry().watch("newmodel", collector.callback(), every(5ms));
  add("newmodel", "1");  // a registration in Development does not change what serves
  registry().transition_stage("newmodel", "1", ModelStage::Production);
  ASSERT_TRUE(collector.wait_for(EventType::StageChanged));
  const auto events = collector.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].model_name, "newmodel");
  EXPECT_EQ(events[0].version, "1");
  EXPECT_EQ(events[0].old_value, "development");
  EXPECT_EQ(events[0].new_value, "production");
}

TEST_P(RegistryWatchTest, DeletionsOfWhatServesAreReported) {
  add("fraud", "1", "x");
  add("fraud", "2", "y");
  registry().transition_stage("fraud", "1", ModelStage::Production);
  Collector collector;
  Subscription subscription = registry().watch("fraud", collector.callback(), every(5ms));
  ASSERT_TRUE(registry().delete_version("fraud", "2"));  // not serving: not reported
  ASSERT_TRUE(registry().delete_version("fraud", "1"));
  ASSERT_TRUE(collector.wait_for(EventType::VersionDeleted));
  add("fraud", "3");
  ASSERT_TRUE(registry().delete_model("fraud"));
  ASSERT_TRUE(collector.wait_for(EventType::ModelDeleted));
  const auto events = collector.events();
  ASSERT_EQ(types_of(events),
            (std::vector<EventType>{EventType::VersionDeleted, EventType::ModelDeleted}));
  EXPECT_EQ(events[0].version, "1");
  EXPECT_EQ(events[0].old_value, "production");
}

TEST_P(RegistryWatchTest, TheCallbackIsNeverCalledAfterCancelReturns) {
  add("fraud", "1");
  add("fraud", "2");
  std::mutex mutex;
  std::condition_variable changed;
  bool in_callback = false;
  std::atomic<bool> running{false};
  std::atomic<int> calls{0};
  Subscription subscription = registry().watch(
      "fraud",
      [&](const std::vector<ModelEvent>&) {
        running = true;
        ++calls;
        {
          std::lock_guard<std::mutex> lock(mutex);
          in_callback = true;
          changed.notify_all();
        }
        std::this_thread::sleep_for(50ms);  // still running when cancel is called
        running = false;
      },
      every(2ms));
  registry().set_alias("fraud", "champion", "1");
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kPatience, [&] { return in_callback; }));
  }
  subscription.cancel();
  EXPECT_FALSE(running) << "cancel returned while the callback was running";
  EXPECT_FALSE(subscription.active());
  const int seen = calls;
  registry().set_alias("fraud", "champion", "2");
  registry().transition_stage("fraud", "2", ModelStage::Production);
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(calls, seen);
  subscription.cancel();  // idempotent
  EXPECT_FALSE(subscription.active());
}

TEST_P(RegistryWatchTest, DestroyingOrReplacingASubscriptionStopsIt) {
  add("fraud", "1");
  Collector destroyed;
  Collector replaced;
  Collector kept;
  Subscription keep;
  EXPECT_FALSE(keep.active()) << "a default-constructed subscription is inactive";
  keep.cancel();
  {
    Subscription scoped = registry().watch("fraud", destroyed.callback(), every(2ms));
    keep = registry().watch("fraud", replaced.callback(), every(2ms));
    registry().set_alias("fraud", "first", "1");
    ASSERT_TRUE(destroyed.wait_for(EventType::AliasSet, "first"));
    ASSERT_TRUE(replaced.wait_for(EventType::AliasSet, "first"));
    keep = registry().watch("fraud", kept.callback(), every(2ms));  // cancels the one it replaces
  }
  const int destroyed_calls = destroyed.calls();
  const int replaced_calls = replaced.calls();
  registry().set_alias("fraud", "second", "1");
  ASSERT_TRUE(kept.wait_for(EventType::AliasSet, "second"));
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(destroyed.calls(), destroyed_calls);
  EXPECT_EQ(replaced.calls(), replaced_calls);
  EXPECT_TRUE(keep.active());
  Subscription moved = std::move(keep);
  EXPECT_TRUE(moved.active());
  EXPECT_FALSE(keep.active());  // NOLINT(bugprone-use-after-move): a moved-from one is inactive
}

TEST_P(RegistryWatchTest, CancelFromInsideTheCallbackStopsTheWatch) {
  add("fraud", "1");
  std::atomic<Subscription*> self{nullptr};
  std::mutex mutex;
  std::condition_variable changed;
  int calls = 0;
  bool returned_from_cancel = false;
  Subscription subscription = registry().watch(
      "fraud",
      [&](const std::vector<ModelEvent>&) {
        Subscription* mine = self.load();
        if (mine != nullptr) mine->cancel();
        std::lock_guard<std::mutex> lock(mutex);
        ++calls;
        returned_from_cancel = mine != nullptr;
        changed.notify_all();
      },
      every(2ms));
  self = &subscription;
  registry().set_alias("fraud", "champion", "1");
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kPatience, [&] { return calls > 0; }));
    EXPECT_TRUE(returned_from_cancel);
  }
  EXPECT_FALSE(subscription.active());
  registry().set_alias("fraud", "shadow", "1");
  std::this_thread::sleep_for(kQuiet);
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(calls, 1);
}

TEST_P(RegistryWatchTest, AnExceptionFromTheCallbackIsLoggedAndTheWatchGoesOn) {
  testing::LogCapture log;
  add("fraud", "1");
  Collector collector;
  std::atomic<int> calls{0};
  Subscription subscription = registry().watch(
      "fraud",
      [&](const std::vector<ModelEvent>& events) {
        if (++calls == 1) throw std::runtime_error("the callback failed on purpose");
        collector.add(events);
      },
      every(2ms));
  registry().set_alias("fraud", "first", "1");
  // The first call threw; wait until it has been made before the next change.
  for (auto deadline = std::chrono::steady_clock::now() + kPatience;
       calls == 0 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(calls, 1);
  registry().set_alias("fraud", "second", "1");
  ASSERT_TRUE(collector.wait_for(EventType::AliasSet, "second"));
  EXPECT_TRUE(subscription.active());
  subscription.cancel();
  const auto errors = log.errors();
  EXPECT_TRUE(std::any_of(errors.begin(), errors.end(),
                          [](const std::string& message) {
                            return message.find("the callback failed on purpose") !=
                                   std::string::npos;
                          }))
      << errors.size() << " errors logged";
}

TEST_P(RegistryWatchTest, TheCallbackMayCallTheRegistry) {
  add("fraud", "1", "weights");
  std::mutex mutex;
  std::condition_variable changed;
  std::optional<std::string> loaded;
  Subscription subscription = registry().watch(
      "fraud",
      [&](const std::vector<ModelEvent>&) {
        const auto bytes = registry().load_artifact(std::string_view("models:/fraud/production"));
        std::lock_guard<std::mutex> lock(mutex);
        loaded = bytes ? to_string(*bytes) : "none";
        changed.notify_all();
      },
      every(2ms));
  registry().transition_stage("fraud", "1", ModelStage::Production);
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(changed.wait_for(lock, kPatience, [&] { return loaded.has_value(); }));
  EXPECT_EQ(loaded, "weights");
}

TEST_P(RegistryWatchTest, AChangeIsSeenWithinAGenerousBoundOfThePollInterval) {
  add("fraud", "1");
  Collector collector;
  Subscription subscription = registry().watch("fraud", collector.callback(), every(50ms));
  const auto start = std::chrono::steady_clock::now();
  registry().transition_stage("fraud", "1", ModelStage::Production);
  ASSERT_TRUE(collector.wait_for(EventType::StageChanged));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_P(OpenRegistryTest, AChangeByAnotherClientOfTheCatalogIsSeen) {
  add("fraud", "1");
  Collector collector;
  Subscription subscription = registry().watch("fraud", collector.callback(), every(5ms));
  ModelRegistry other = open();
  other.transition_stage("fraud", "1", ModelStage::Production, std::nullopt,
                         Audit{"other-client", ""});
  ASSERT_TRUE(collector.wait_for(EventType::StageChanged));
  EXPECT_EQ(collector.events().at(0).actor, "other-client");
}

TEST_P(RegistryWatchTest, BadNamesOptionsAndCallbacksAreInvalid) {
  Collector collector;
  for (const auto interval : {0ms, -1ms, 3'600'001ms}) {
    EXPECT_THROW(registry().watch("fraud", collector.callback(), every(interval)),
                 InvalidArgumentError)
        << interval.count();
  }
  EXPECT_THROW(registry().watch("bad name", collector.callback()), InvalidArgumentError);
  EXPECT_THROW(registry().watch("fraud", WatchCallback{}), InvalidArgumentError);
  for (const auto interval : {1ms, 3'600'000ms}) {
    Subscription subscription = registry().watch("fraud", collector.callback(), every(interval));
    EXPECT_TRUE(subscription.active()) << interval.count();
  }
}

// The callback cancels its own subscription, and then, while it is still running, another
// thread cancels it too: that cancel() must not return before the callback has (the owner may
// destroy what the callback uses as soon as it returns).
TEST(SubscriptionTest, CancelWaitsForACallbackThatCancelledItselfToReturn) {
  ModelRegistry registry;
  registry.register_version("fraud", "1");
  std::mutex mutex;
  std::condition_variable changed;
  bool cancelled_inside = false;
  bool callback_done = false;
  Subscription subscription;
  std::atomic<Subscription*> self{nullptr};
  subscription = registry.watch(
      "fraud",
      [&](const std::vector<ModelEvent>&) {
        Subscription* mine = self.load();
        if (mine == nullptr) return;
        mine->cancel();
        {
          std::lock_guard<std::mutex> lock(mutex);
          cancelled_inside = true;
          changed.notify_all();
        }
        std::this_thread::sleep_for(100ms);  // still running when the owner cancels
        std::lock_guard<std::mutex> lock(mutex);
        callback_done = true;
        changed.notify_all();
      },
      every(1ms));
  self = &subscription;
  registry.set_alias("fraud", "champion", "1");
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kPatience, [&] { return cancelled_inside; }));
  }
  subscription.cancel();
  bool done_when_cancel_returned = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    done_when_cancel_returned = callback_done;
  }
  EXPECT_TRUE(done_when_cancel_returned)
      << "cancel() returned while the callback was still running";
  // Let the callback finish before what it uses goes.
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(changed.wait_for(lock, kPatience, [&] { return callback_done; }));
}

// --- races of cancel(), each run in a child process, so that what goes wrong there (a hang,
// an abort) fails its test and leaves the others alone ---------------------------------------

// Runs `body` in a child process; its exit status, or a failure if it hangs or dies.
void expect_child_succeeds(int (*body)()) {
  std::fflush(nullptr);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) ::_exit(body());
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + 2 * kPatience;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      FAIL() << "the race never finished: a cancel() hangs";
    }
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(WIFSIGNALED(status)) << "the race was killed by signal " << WTERMSIG(status)
                                    << " (std::terminate from a double join?)";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "exit status of the race (see its body)";
}

// Two cancel() calls on each of 200 fresh subscriptions at once. 0: every call returned; 3: one
// did not within kPatience.
int race_two_cancels() {
  ModelRegistry registry;
  registry.register_version("fraud", "1");
  struct Race {
    Subscription subscription;
    std::atomic<int> ready{0};
    std::mutex mutex;
    std::condition_variable changed;
    int returned = 0;
  };
  for (int round = 0; round < 200; ++round) {
    auto race = std::make_shared<Race>();
    race->subscription = registry.watch(
        "fraud", [](const std::vector<ModelEvent>&) {}, every(1ms));
    auto cancel = [race] {
      ++race->ready;
      while (race->ready.load() < 2) {
      }
      race->subscription.cancel();
      std::lock_guard<std::mutex> lock(race->mutex);
      ++race->returned;
      race->changed.notify_all();
    };
    std::thread a(cancel);
    std::thread b(cancel);
    std::unique_lock<std::mutex> lock(race->mutex);
    if (!race->changed.wait_for(lock, kPatience, [&] { return race->returned == 2; })) {
      a.detach();
      b.detach();
      return 3;
    }
    lock.unlock();
    a.join();
    b.join();
  }
  return 0;
}

// cancel() is documented thread-safe: two threads cancelling one subscription at once (say, a
// shutdown hook and the owner) must both return.
TEST(SubscriptionTest, CancelFromTwoThreadsAtOnceIsSafe) {
  expect_child_succeeds(race_two_cancels);
}

// The callback cancels its own subscription while another thread is (most likely) already in
// cancel(), waiting for the callback to return. 0: both returned; 4: the callback was never
// called; 5: the callback's cancel() never returned.
int cancel_inside_while_outside_cancels() {
  ModelRegistry registry;
  registry.register_version("fraud", "1");
  struct State {
    Subscription subscription;
    std::mutex mutex;
    std::condition_variable changed;
    bool in_callback = false;
    bool inner_returned = false;
  };
  for (int round = 0; round < 20; ++round) {
    State state;
    state.subscription = registry.watch(
        "fraud",
        [&state](const std::vector<ModelEvent>&) {
          {
            std::lock_guard<std::mutex> lock(state.mutex);
            if (state.in_callback) return;
            state.in_callback = true;
            state.changed.notify_all();
          }
          std::this_thread::sleep_for(30ms);  // the other thread is in cancel() by now
          state.subscription.cancel();
          std::lock_guard<std::mutex> lock(state.mutex);
          state.inner_returned = true;
          state.changed.notify_all();
        },
        every(1ms));
    registry.set_alias("fraud", "a" + std::to_string(round), "1");
    {
      std::unique_lock<std::mutex> lock(state.mutex);
      if (!state.changed.wait_for(lock, kPatience, [&] { return state.in_callback; })) return 4;
    }
    state.subscription.cancel();
    // Whoever won, the callback's own cancel() must return too (5 if it never does).
    std::unique_lock<std::mutex> lock(state.mutex);
    if (!state.changed.wait_for(lock, kPatience, [&] { return state.inner_returned; })) return 5;
  }
  return 0;
}

TEST(SubscriptionTest, CancelFromInsideTheCallbackWhileAnotherThreadCancelsIsSafe) {
  expect_child_succeeds(cancel_inside_while_outside_cancels);
}

INSTANTIATE_TEST_SUITE_P(Registries, RegistryWatchTest,
                         ::testing::ValuesIn(testing::registry_setups()),
                         [](const ::testing::TestParamInfo<testing::RegistrySetup>& setup) {
                           return setup.param.name;
                         });

}  // namespace
}  // namespace modelreg

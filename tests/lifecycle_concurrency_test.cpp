// Threads moving aliases, promoting, tagging, deleting and reading at once: afterwards every
// alias names a visible version, and the history, replayed from its first event, reproduces the
// registry exactly, each event's old value being the value the events before it left (so no
// update was lost or misrecorded). Run under ThreadSanitizer in CI.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
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
#include "concurrency_setups.hpp"
#include "event_printing.hpp"
#include "log_capture.hpp"
#include "modelreg/modelreg.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

using testing::describe;
using testing::LogCapture;
using testing::show;
using testing::TestDir;

// --- replaying the history -------------------------------------------------------------------

}  // namespace

namespace {

// The state a history describes, built event by event from the first one. Every event is
// checked against the state the events before it left: the old value it records must be the
// current one (a lost or misrecorded update shows up as a mismatch), the version, alias or tag
// it changes must exist where it should, and a model never has two Production versions after
// any event. Versions are assumed to be registered without tags or description (a registration
// event does not record them), so that tags come only from events.
class HistoryReplay {
 public:
  struct Version {
    std::string stage;
    std::map<std::string, std::string> tags;
    std::string description;
  };
  struct Model {
    std::map<std::string, Version> versions;
    std::map<std::string, Version> deleted;      // as they were, for a deletion that is undone
    std::map<std::string, std::string> aliases;  // alias -> version
    std::map<std::string, std::string> tags;
    std::string description;
  };

  void apply(const ModelEvent& e) {
    if (e.sequence <= last_sequence_) {
      problem(e, fmt::format("sequence not greater than the previous event's {}", last_sequence_));
    }
    last_sequence_ = e.sequence;
    if (e.type == EventType::VersionRegistered) {
      Model& model = models_[e.model_name];
      if (model.versions.count(e.version) != 0) problem(e, "the version is already registered");
      if (!e.new_value) problem(e, "no stage recorded");
      model.versions[e.version] = Version{e.new_value.value_or(""), {}, {}};
      check_production(e, model);
      return;
    }
    auto found = models_.find(e.model_name);
    if (found == models_.end()) return problem(e, "no such model in the replay");
    Model& model = found->second;
    if (e.type == EventType::ModelDeleted) {
      models_.erase(found);
      over_production_.erase(e.model_name);
      return;
    }
    if (e.type == EventType::VersionRestored) {
      // A failed deletion undone: the version is back as it was, in the recorded stage.
      auto deleted = model.deleted.find(e.version);
      if (deleted == model.deleted.end()) return problem(e, "restores a version never deleted");
      if (!e.key.empty() && e.new_value != "archived") {
        problem(e, "restored beside another Production version but not archived");
      }
      deleted->second.stage = e.new_value.value_or("");
      model.versions[e.version] = deleted->second;
      model.deleted.erase(deleted);
      check_production(e, model);
      return;
    }
    Version* version = nullptr;
    if (!e.version.empty()) {
      auto v = model.versions.find(e.version);
      if (v == model.versions.end()) return problem(e, "no such version in the replay");
      version = &v->second;
    }
    const auto need_version = [&] {
      if (version == nullptr) problem(e, "an event of a version without a version");
      return version != nullptr;
    };
    switch (e.type) {
      case EventType::VersionDeleted:
        if (!need_version()) return;
        expect_old(e, version->stage);
        model.deleted[e.version] = *version;
        model.versions.erase(e.version);
        for (auto alias = model.aliases.begin(); alias != model.aliases.end();) {
          if (alias->second == e.version) {
            problem(e, fmt::format("alias '{}' still names the deleted version", alias->first));
            alias = model.aliases.erase(alias);
          } else {
            ++alias;
          }
        }
        break;
      case EventType::StageChanged:
        if (!need_version()) return;
        expect_old(e, version->stage);
        if (!e.key.empty()) {
          // The automatic archive of the Production version that a promotion replaced.
          if (e.old_value != "production" || e.new_value != "archived") {
            problem(e, "an automatic archive that is not production -> archived");
          }
          if (model.versions.count(e.key) == 0) problem(e, "archived for an unknown version");
        }
        version->stage = e.new_value.value_or("");
        break;
      case EventType::AliasSet: {
        if (!need_version()) return;
        if (e.new_value != e.version) problem(e, "new_value is not the event's version");
        auto current = model.aliases.find(e.key);
        expect_old(e, current == model.aliases.end() ? std::nullopt
                                                     : std::optional<std::string>(current->second));
        model.aliases[e.key] = e.version;
        break;
      }
      case EventType::AliasDeleted: {
        auto current = model.aliases.find(e.key);
        if (current == model.aliases.end()) return problem(e, "no such alias in the replay");
        expect_old(e, current->second);
        if (e.version != current->second) problem(e, "version is not the alias's target");
        model.aliases.erase(current);
        break;
      }
      case EventType::ModelTagSet:
      case EventType::ModelTagDeleted:
        change_tag(e, model.tags);
        break;
      case EventType::VersionTagSet:
      case EventType::VersionTagDeleted:
        if (need_version()) change_tag(e, version->tags);
        break;
      case EventType::ModelDescriptionSet:
        expect_old(e, model.description, /*absent_is_empty=*/true);
        model.description = e.new_value.value_or("");
        break;
      case EventType::VersionDescriptionSet:
        if (!need_version()) return;
        expect_old(e, version->description, /*absent_is_empty=*/true);
        version->description = e.new_value.value_or("");
        break;
      case EventType::VersionRegistered:
      case EventType::VersionRestored:
      case EventType::ModelDeleted:
        break;  // handled above
    }
    check_production(e, model);
  }

  const std::map<std::string, Model>& models() const { return models_; }
  // What did not add up, one line per finding, naming the event.
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  void problem(const ModelEvent& e, const std::string& what) {
    problems_.push_back(fmt::format("{}: {}", describe(e), what));
  }

  void expect_old(const ModelEvent& e, const std::optional<std::string>& current,
                  bool absent_is_empty = false) {
    const auto recorded =
        absent_is_empty && !e.old_value ? std::optional<std::string>("") : e.old_value;
    if (recorded != current) {
      problem(e,
              fmt::format("old_value {} but the replay has {}", show(e.old_value), show(current)));
    }
  }

  void change_tag(const ModelEvent& e, std::map<std::string, std::string>& tags) {
    auto current = tags.find(e.key);
    const bool set = e.type == EventType::ModelTagSet || e.type == EventType::VersionTagSet;
    if (!set && current == tags.end()) return problem(e, "no such tag in the replay");
    expect_old(e,
               current == tags.end() ? std::nullopt : std::optional<std::string>(current->second));
    if (set) {
      if (!e.new_value) return problem(e, "a tag set to nothing");
      tags[e.key] = *e.new_value;
    } else {
      tags.erase(current);
    }
  }

  void check_production(const ModelEvent& e, const Model& model) {
    const auto production =
        std::count_if(model.versions.begin(), model.versions.end(),
                      [](const auto& version) { return version.second.stage == "production"; });
    // Reported when it starts, not again for every event until it ends.
    if (production <= 1) {
      over_production_.erase(e.model_name);
    } else if (over_production_.insert(e.model_name).second) {
      problem(e, fmt::format("{} Production versions after this event", production));
    }
  }

  std::map<std::string, Model> models_;
  std::vector<std::string> problems_;
  std::set<std::string> over_production_;  // models with more than one Production version
  std::int64_t last_sequence_ = 0;
};

// Every event of the registry, read page by page through events_after, checking that each page
// continues after the previous one.
std::vector<ModelEvent> all_events(const ModelRegistry& registry) {
  std::vector<ModelEvent> events;
  std::int64_t after = 0;
  for (;;) {
    auto page = registry.events_after(after, 500);
    if (page.empty()) break;
    EXPECT_GT(page.front().sequence, after) << "events_after returned an event it was not after";
    after = page.back().sequence;
    events.insert(events.end(), std::make_move_iterator(page.begin()),
                  std::make_move_iterator(page.end()));
  }
  EXPECT_EQ(registry.latest_event_sequence(), after);
  return events;
}

HistoryReplay replay(const std::vector<ModelEvent>& events) {
  HistoryReplay result;
  for (const auto& e : events) result.apply(e);
  return result;
}

template <typename Lines>
std::string first_lines(const Lines& lines, std::size_t count = 15) {
  std::string text;
  std::size_t shown = 0;
  for (const auto& line : lines) {
    if (shown++ == count) {
      text += fmt::format("... and {} more\n", lines.size() - count);
      break;
    }
    text += line + "\n";
  }
  return text;
}

// The first inconsistency of a model snapshot (empty if none): an alias naming a version the
// snapshot does not list, versions whose `aliases` disagree with the model's map, more than one
// Production version.
std::string inconsistency(const RegisteredModel& model) {
  std::map<std::string, std::vector<std::string>> aliases_of;
  for (const auto& [alias, version] : model.aliases) {
    if (!model.get_version(version)) {
      return fmt::format("alias '{}' of {} names {}, which is not listed", alias, model.name,
                         version);
    }
    aliases_of[version].push_back(alias);  // in the map's (sorted) order
  }
  int production = 0;
  for (const auto& v : model.versions) {
    if (v.aliases != aliases_of[v.version]) {
      return fmt::format("{} lists aliases [{}] but the model's map gives it [{}]", v.full_name(),
                         fmt::join(v.aliases, ","), fmt::join(aliases_of[v.version], ","));
    }
    production += v.stage == ModelStage::Production;
  }
  if (production > 1) return fmt::format("{} has {} Production versions", model.name, production);
  return {};
}

// Checks that the replayed state is exactly what the registry shows: the same models, versions,
// stages, version tags, aliases and model tags.
void expect_replay_matches(const ModelRegistry& registry, const HistoryReplay& replayed) {
  std::vector<std::string> replayed_models;
  for (const auto& entry : replayed.models()) replayed_models.push_back(entry.first);
  EXPECT_EQ(registry.list_models(), replayed_models);
  for (const auto& [name, state] : replayed.models()) {
    const auto model = registry.get_model(name);
    if (!model) continue;  // reported above
    std::map<std::string, std::string> stages;
    std::map<std::string, std::map<std::string, std::string>> tags;
    for (const auto& v : registry.list_versions(name)) {
      stages[v.version] = std::string(to_string(v.stage));
      tags[v.version] = v.tags;
    }
    std::map<std::string, std::string> replayed_stages;
    std::map<std::string, std::map<std::string, std::string>> replayed_tags;
    for (const auto& [version, v] : state.versions) {
      replayed_stages[version] = v.stage;
      replayed_tags[version] = v.tags;
    }
    EXPECT_EQ(stages, replayed_stages) << "stages of " << name;
    EXPECT_EQ(tags, replayed_tags) << "version tags of " << name;
    EXPECT_EQ(model->aliases, state.aliases) << "aliases of " << name;
    EXPECT_EQ(model->tags, state.tags) << "model tags of " << name;
  }
}

// Failures seen on worker threads: counted, the first few kept for the report.
class Findings {
 public:
  void add(std::string what) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (lines_.size() < 20) lines_.push_back(std::move(what));
    ++count_;
  }
  std::size_t count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  std::string report() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_lines(lines_, 20);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  std::size_t count_ = 0;
};

// Holds threads back until all of them have arrived, so that they really run at once instead
// of one after the other.
class StartLine {
 public:
  explicit StartLine(int threads) : waiting_(threads) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (--waiting_ == 0) {
      go_.notify_all();
    } else {
      go_.wait(lock, [&] { return waiting_ == 0; });
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable go_;
  int waiting_;
};

// --- registries ------------------------------------------------------------------------------

using testing::Setup;

class LifecycleConcurrencyTest : public ::testing::TestWithParam<Setup> {};

const std::array<ModelStage, 4> kStages{ModelStage::Development, ModelStage::Staging,
                                        ModelStage::Production, ModelStage::Archived};

RegisterOptions with_artifact(const std::string& model, const std::string& version) {
  RegisterOptions options;
  options.artifact = to_bytes(model + ":" + version);
  return options;
}

// A compare-and-swap that won: what it changed, to find its event by the call's reason.
struct AliasWin {
  std::string reason, model, alias, from, to;  // from "": the alias did not exist
};
struct StageWin {
  std::string reason, model, version;
  ModelStage from, to;
};

TEST_P(LifecycleConcurrencyTest,
       EightThreadsMovingAliasesPromotingAndTaggingKeepAReplayableHistory) {
  LogCapture captured;  // expected errors are logged (at info): keep them out of the output
  TestDir dir;
  ModelRegistry registry = GetParam().make(dir.path());
  constexpr int kThreads = 8;
  constexpr int kOperations = 600;
  constexpr int kVersions = 10;
  const std::vector<std::string> models{"alpha", "beta"};
  const std::vector<std::string> aliases{"champion", "challenger", "canary"};
  const std::vector<std::string> tag_keys{"owner", "quality"};
  const std::vector<std::string> tag_values{"a", "b", "c"};
  const Audit setup{"setup", "setup"};
  for (const auto& model : models) {
    for (int v = 1; v <= kVersions; ++v) {
      registry.register_version(model, std::to_string(v), with_artifact(model, std::to_string(v)),
                                setup);
    }
  }

  Findings unexpected;  // exceptions no call should throw here
  Findings violations;  // inconsistent answers of readers
  std::mutex outcomes_mutex;
  std::vector<AliasWin> alias_wins;
  std::vector<StageWin> stage_wins;
  // Reasons of calls that changed nothing (they threw, or answered false / nullopt): no event
  // may carry them.
  std::vector<std::string> no_change;
  std::atomic<int> cas_lost{0};
  std::atomic<int> deletions{0};

  StartLine start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      std::mt19937 random(static_cast<unsigned>(1000 + t));
      const auto pick = [&](const std::vector<std::string>& items) -> const std::string& {
        return items[random() % items.size()];
      };
      const std::string actor = fmt::format("thread-{}", t);
      std::vector<AliasWin> my_alias_wins;
      std::vector<StageWin> my_stage_wins;
      std::vector<std::string> my_no_change;
      for (int i = 0; i < kOperations; ++i) {
        const std::string& model = pick(models);
        const std::string version = std::to_string(1 + random() % kVersions);
        const std::string& alias = pick(aliases);
        std::string reason = fmt::format("t{}-{}", t, i);
        const Audit audit{actor, reason};
        const auto op = random() % 100;
        bool compare_and_swap = false;
        bool version_may_vanish = false;  // another thread may be deleting it
        try {
          if (op < 20) {
            version_may_vanish = true;
            if (random() % 2 == 0) {
              registry.set_alias(model, alias, version, std::nullopt, audit);
            } else {
              compare_and_swap = true;
              const auto current = registry.get_version_by_alias(model, alias);
              const std::string from = current ? current->version : "";
              std::this_thread::yield();  // a chance for others to move it meanwhile
              const ModelVersion named = registry.set_alias(model, alias, version, from, audit);
              if (named.version != version) {
                violations.add(fmt::format("set_alias to {} returned {}", version, named.version));
              }
              my_alias_wins.push_back({reason, model, alias, from, version});
            }
          } else if (op < 25) {
            if (!registry.delete_alias(model, alias, audit)) my_no_change.push_back(reason);
          } else if (op < 40) {
            const ModelStage stage = kStages[random() % kStages.size()];
            std::optional<ModelStage> expected;
            if (random() % 3 == 0) {
              const auto current = registry.get_version(model, version);
              if (current) expected = current->stage;
              std::this_thread::yield();
            }
            compare_and_swap = expected.has_value();
            const auto moved = registry.transition_stage(model, version, stage, expected, audit);
            if (!moved) {
              my_no_change.push_back(reason);
            } else if (moved->stage != stage) {
              violations.add(fmt::format("transition of {} to {} returned stage {}",
                                         moved->full_name(), to_string(stage),
                                         to_string(moved->stage)));
            } else if (expected) {
              my_stage_wins.push_back({reason, model, version, *expected, stage});
            }
          } else if (op < 52) {
            version_may_vanish = true;
            registry.set_version_tag(model, version, pick(tag_keys), pick(tag_values), audit);
          } else if (op < 58) {
            version_may_vanish = true;
            if (!registry.delete_version_tag(model, version, pick(tag_keys), audit)) {
              my_no_change.push_back(reason);
            }
          } else if (op < 64) {
            registry.set_model_tag(model, pick(tag_keys), pick(tag_values), audit);
          } else if (op < 67) {
            if (!registry.delete_model_tag(model, pick(tag_keys), audit)) {
              my_no_change.push_back(reason);
            }
          } else if (op < 69) {
            if (!registry.delete_version(model, version, audit)) {
              my_no_change.push_back(reason);
            } else {
              ++deletions;
              // Re-registered under a reason of its own: it may lose to another thread's.
              reason += "-again";
              registry.register_version(model, version, with_artifact(model, version),
                                        Audit{actor, reason});
            }
          } else {
            switch (random() % 4) {
              case 0:
              case 1: {
                const auto named =
                    random() % 2 == 0
                        ? registry.get_version_by_alias(model, alias)
                        : registry.resolve(fmt::format("models:/{}@{}", model, alias));
                if (named && (named->model_name != model ||
                              std::find(named->aliases.begin(), named->aliases.end(), alias) ==
                                  named->aliases.end())) {
                  violations.add(fmt::format("alias '{}' of {} resolved to {} with aliases [{}]",
                                             alias, model, named->full_name(),
                                             fmt::join(named->aliases, ",")));
                }
                break;
              }
              case 2: {
                const auto production = registry.get_production_model(model);
                if (production && production->stage != ModelStage::Production) {
                  violations.add(fmt::format("get_production_model returned {} in stage {}",
                                             production->full_name(),
                                             to_string(production->stage)));
                }
                break;
              }
              default: {
                const auto snapshot = registry.get_model(model);
                if (!snapshot) {
                  violations.add("get_model(" + model + ") found nothing");
                } else if (auto what = inconsistency(*snapshot); !what.empty()) {
                  violations.add("get_model: " + what);
                }
                break;
              }
            }
          }
        } catch (const FailedPreconditionError& e) {
          if (compare_and_swap) {
            ++cas_lost;
            my_no_change.push_back(reason);
          } else {
            unexpected.add(fmt::format("{}: {}", reason, e.what()));
          }
        } catch (const NotFoundError& e) {
          if (version_may_vanish) {
            my_no_change.push_back(reason);
          } else {
            unexpected.add(fmt::format("{}: {}", reason, e.what()));
          }
        } catch (const AlreadyExistsError& e) {
          // Only a re-registration may lose to another thread's (or meet its deletion).
          if (reason.size() > 6 && reason.compare(reason.size() - 6, 6, "-again") == 0) {
            my_no_change.push_back(reason);
          } else {
            unexpected.add(fmt::format("{}: {}", reason, e.what()));
          }
        } catch (const std::exception& e) {
          unexpected.add(fmt::format("{}: {}", reason, e.what()));
        }
      }
      std::lock_guard<std::mutex> lock(outcomes_mutex);
      alias_wins.insert(alias_wins.end(), my_alias_wins.begin(), my_alias_wins.end());
      stage_wins.insert(stage_wins.end(), my_stage_wins.begin(), my_stage_wins.end());
      no_change.insert(no_change.end(), my_no_change.begin(), my_no_change.end());
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(unexpected.count(), 0u) << unexpected.report();
  EXPECT_EQ(violations.count(), 0u) << violations.report();
  EXPECT_FALSE(alias_wins.empty()) << "no compare-and-swap of an alias ever won";
  EXPECT_GT(deletions.load(), 0) << "no version was ever deleted";
  EXPECT_EQ(captured.errors(), std::vector<std::string>{}) << "a caller's error logged as an error";
  std::printf("%d compare-and-swaps lost, %d versions deleted\n", cas_lost.load(),
              deletions.load());

  // (a) Every alias names a visible version, and every way of asking agrees.
  for (const auto& name : models) {
    const auto model = registry.get_model(name);
    ASSERT_TRUE(model);
    EXPECT_EQ(inconsistency(*model), "");
    for (const auto& [alias, version] : model->aliases) {
      const auto named = registry.get_version_by_alias(name, alias);
      ASSERT_TRUE(named) << alias << " of " << name << " is in the model's map only";
      EXPECT_EQ(named->version, version);
      EXPECT_TRUE(registry.get_version(name, version)) << alias << " names a hidden version";
    }
    for (const auto& alias : aliases) {
      if (model->aliases.count(alias) == 0) {
        EXPECT_FALSE(registry.get_version_by_alias(name, alias)) << alias << " of " << name;
      }
    }
    // The listing (SQLite serves it from a cache) shows the same versions, aliases included.
    EXPECT_EQ(registry.list_versions(name), model->versions) << name;
    // (c) At most one Production version at the end.
    EXPECT_LE(registry.list_versions(name, ModelStage::Production).size(), 1u);
  }

  // (b), (c), (d) The history replays to exactly this state, each event agreeing with the ones
  // before it, with strictly increasing sequences and never two Production versions.
  const auto events = all_events(registry);
  const HistoryReplay replayed = replay(events);
  EXPECT_TRUE(replayed.problems().empty())
      << replayed.problems().size() << " events disagree with the history before them:\n"
      << first_lines(replayed.problems());
  expect_replay_matches(registry, replayed);

  // Each compare-and-swap that won is in the history exactly once, as it was made; a call that
  // changed nothing recorded nothing; every event carries its caller's actor.
  std::map<std::string, std::vector<const ModelEvent*>> by_reason;
  for (const auto& e : events) {
    by_reason[e.reason].push_back(&e);
    const auto dash = e.reason.find('-');
    const std::string actor =
        e.reason == "setup" ? "setup" : "thread-" + e.reason.substr(1, dash - 1);
    EXPECT_EQ(e.actor, actor) << describe(e);
  }
  const auto events_of = [&](const std::string& reason) {
    auto found = by_reason.find(reason);
    return found == by_reason.end() ? std::vector<const ModelEvent*>{} : found->second;
  };
  for (const auto& win : alias_wins) {
    const auto recorded = events_of(win.reason);
    if (win.from == win.to) {
      EXPECT_TRUE(recorded.empty()) << win.reason << ": an alias set to where it was";
      continue;
    }
    ASSERT_EQ(recorded.size(), 1u) << win.reason << ": alias " << win.alias << " of " << win.model
                                   << " moved from '" << win.from << "' to " << win.to;
    const ModelEvent& e = *recorded.front();
    EXPECT_EQ(e.type, EventType::AliasSet) << describe(e);
    EXPECT_EQ(e.model_name, win.model) << describe(e);
    EXPECT_EQ(e.key, win.alias) << describe(e);
    EXPECT_EQ(e.old_value, win.from.empty() ? std::nullopt : std::optional<std::string>(win.from))
        << describe(e);
    EXPECT_EQ(e.new_value, win.to) << describe(e);
  }
  for (const auto& win : stage_wins) {
    int own = 0;
    for (const ModelEvent* e : events_of(win.reason)) {
      ASSERT_EQ(e->type, EventType::StageChanged) << describe(*e);
      if (e->version == win.version) {
        ++own;
        EXPECT_EQ(e->old_value, std::string(to_string(win.from))) << describe(*e);
        EXPECT_EQ(e->new_value, std::string(to_string(win.to))) << describe(*e);
      } else {
        EXPECT_EQ(e->key, win.version)
            << "only an automatic archive goes with it: " << describe(*e);
      }
    }
    EXPECT_EQ(own, win.from == win.to ? 0 : 1)
        << win.reason << ": " << win.model << ":" << win.version << " " << to_string(win.from)
        << " -> " << to_string(win.to);
  }
  for (const auto& reason : no_change) {
    const auto recorded = events_of(reason);
    EXPECT_TRUE(recorded.empty()) << reason << " changed nothing, yet recorded "
                                  << describe(*recorded.front());
  }
}

// Threads racing to move one alias with compare-and-swap, each retrying a lost one until it has
// won K times: the alias's history is a chain of exactly N*K moves, each starting where the one
// before it ended, and holds each thread's moves in the order it made them.
TEST_P(LifecycleConcurrencyTest, CompareAndSwapMovesOfOneAliasFormAnUnbrokenChain) {
  LogCapture captured;
  TestDir dir;
  ModelRegistry registry = GetParam().make(dir.path());
  constexpr int kThreads = 8;
  constexpr int kMoves = 40;
  constexpr int kVersions = 4;
  for (int v = 1; v <= kVersions; ++v) registry.register_version("m", std::to_string(v));
  registry.register_version("other", "1");

  std::vector<std::vector<std::pair<std::string, std::string>>> wins(kThreads);
  std::atomic<int> lost{0};
  std::atomic<int> errors{0};
  StartLine start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      std::mt19937 random(static_cast<unsigned>(t));
      const Audit audit{fmt::format("racer-{}", t), ""};
      // A bound on attempts, so that a registry that never lets a thread win fails the test.
      for (int attempt = 0; attempt < 200'000 && static_cast<int>(wins[t].size()) < kMoves;
           ++attempt) {
        try {
          const auto current = registry.get_version_by_alias("m", "champion");
          const std::string from = current ? current->version : "";
          std::string to;
          do {
            to = std::to_string(1 + random() % kVersions);
          } while (to == from);
          // Gives the others a chance to move the alias between the read and the swap.
          std::this_thread::yield();
          registry.set_alias("m", "champion", to, from, audit);
          wins[t].emplace_back(from, to);
          // Unrelated changes in between, which must not disturb the chain.
          if (attempt % 5 == 0) registry.set_alias("other", "champion", "1", std::nullopt, audit);
        } catch (const FailedPreconditionError&) {
          ++lost;
        } catch (const std::exception& e) {
          ADD_FAILURE() << "racer " << t << ": " << e.what();
          ++errors;
          return;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(errors.load(), 0);
  EXPECT_EQ(captured.errors(), std::vector<std::string>{})
      << "a lost compare-and-swap is logged at info";
  EXPECT_FALSE(captured.infos().empty() && lost.load() > 0) << "a lost compare-and-swap is logged";
  for (int t = 0; t < kThreads; ++t) ASSERT_EQ(wins[t].size(), kMoves + 0u) << "racer " << t;

  auto recorded = testing::expect_alias_moves_chained(registry, "m", "champion",
                                                      static_cast<std::size_t>(kThreads * kMoves));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(recorded[fmt::format("racer-{}", t)], wins[t])
        << "the moves racer " << t << " won are not in the history as it made them";
  }
  std::printf("%d compare-and-swaps lost and retried\n", lost.load());
}

// What a watch callback was handed, in order; the test thread waits on it.
class Received {
 public:
  void add(const std::vector<ModelEvent>& events) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (events.empty()) ++empty_calls_;
    events_.insert(events_.end(), events.begin(), events.end());
    changed_.notify_all();
  }
  // Waits until an event with at least `sequence` has arrived or `timeout` passes.
  bool wait_for_sequence(std::int64_t sequence, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(
        lock, timeout, [&] { return !events_.empty() && events_.back().sequence >= sequence; });
  }
  std::vector<ModelEvent> events() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  int empty_calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return empty_calls_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ModelEvent> events_;
  int empty_calls_ = 0;
};

// Two watches of one model while threads change it and another model: one of every event, one
// of the default (serving changes), whose callback calls the registry. Each reports exactly the
// model's history since it began, in order, each event once.
TEST_P(LifecycleConcurrencyTest, WatchesReportEveryEventOfTheirModelInOrderWhileThreadsChangeIt) {
  LogCapture captured;
  TestDir dir;
  ModelRegistry registry = GetParam().make(dir.path());
  constexpr int kThreads = 4;
  constexpr int kOperations = 150;
  constexpr int kVersions = 4;
  const std::vector<std::string> models{"alpha", "beta"};
  for (const auto& model : models) {
    for (int v = 1; v <= kVersions; ++v) registry.register_version(model, std::to_string(v));
  }
  const std::int64_t start = registry.latest_event_sequence();
  Received every, serving;
  std::atomic<int> callback_violations{0};
  WatchOptions all_events;
  all_events.poll_interval = std::chrono::milliseconds(5);
  all_events.all_events = true;
  Subscription every_watch = registry.watch(
      "alpha", [&](const std::vector<ModelEvent>& e) { every.add(e); }, all_events);
  WatchOptions default_events;
  default_events.poll_interval = std::chrono::milliseconds(5);
  Subscription serving_watch = registry.watch(
      "alpha",
      [&](const std::vector<ModelEvent>& e) {
        serving.add(e);
        // The contract lets a callback call the registry (no lock of it is held).
        const auto production = registry.get_production_model("alpha");
        if (production && production->stage != ModelStage::Production) ++callback_violations;
      },
      default_events);

  StartLine start_line(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start_line.arrive_and_wait();
      std::mt19937 random(static_cast<unsigned>(t));
      for (int i = 0; i < kOperations; ++i) {
        const std::string& model = models[random() % models.size()];
        const std::string version = std::to_string(1 + random() % kVersions);
        try {
          switch (random() % 4) {
            case 0:
              registry.set_alias(model, random() % 2 ? "champion" : "challenger", version);
              break;
            case 1:
              registry.transition_stage(model, version, kStages[random() % kStages.size()]);
              break;
            case 2:
              registry.set_version_tag(model, version, "note", std::to_string(i));
              break;
            default:
              registry.set_model_tag(model, "note", fmt::format("{}-{}", t, i));
              break;
          }
        } catch (const std::exception& e) {
          ADD_FAILURE() << "thread " << t << ": " << e.what();
          return;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  std::vector<ModelEvent> expected_every, expected_serving;
  for (const auto& e : registry.history("alpha")) {
    if (e.sequence <= start) continue;
    expected_every.push_back(e);
    if (e.changes_serving()) expected_serving.push_back(e);
  }
  ASSERT_FALSE(expected_serving.empty());
  const std::chrono::seconds timeout(30);  // generous: a watch that never catches up fails
  EXPECT_TRUE(every.wait_for_sequence(expected_every.back().sequence, timeout));
  EXPECT_TRUE(serving.wait_for_sequence(expected_serving.back().sequence, timeout));
  every_watch.cancel();
  serving_watch.cancel();
  EXPECT_FALSE(every_watch.active());

  EXPECT_EQ(every.events(), expected_every) << "the watch of every event missed or added some";
  EXPECT_EQ(serving.events(), expected_serving) << "the watch of serving changes missed some";
  EXPECT_EQ(every.empty_calls() + serving.empty_calls(), 0) << "a callback called with nothing";
  EXPECT_EQ(callback_violations.load(), 0);
  EXPECT_EQ(captured.errors(), std::vector<std::string>{}) << "a callback threw, or a poll failed";
}

INSTANTIATE_TEST_SUITE_P(Registries, LifecycleConcurrencyTest,
                         ::testing::ValuesIn(testing::concurrency_setups()), testing::setup_name);

// --- changes made while a deletion is in flight ----------------------------------------------

// An in-memory artifact store that runs a hook in the middle of a deletion, outside every lock
// of the registry (the registry removes artifacts without holding its mutex): the hook stands in
// for another thread acting while the deletion is in flight. It can also make that deletion fail
// with the artifact kept.
class DeletionHookStore final : public ModelStore {
 public:
  std::function<void()> during_next_delete;  // runs once, before the bytes go
  bool fail_next_delete = false;             // the next deletion fails, the artifact stays

 private:
  void save_impl(const std::string& path, std::istream& in) override {
    const auto first = path.find('/');
    inner_.save_artifact(path.substr(0, first), path.substr(first + 1, path.rfind('/') - first - 1),
                         in);
  }
  std::unique_ptr<std::istream> open_impl(const std::string& path) const override {
    return inner_.open_artifact(path);
  }
  bool delete_impl(const std::string& path) override {
    if (during_next_delete) std::exchange(during_next_delete, nullptr)();
    if (std::exchange(fail_next_delete, false)) {
      throw StorageError("injected: the artifact cannot be deleted");
    }
    return inner_.delete_artifact(path);
  }
  std::vector<std::string> list_impl() const override { return inner_.list_artifacts(); }

  InMemoryModelStore inner_;
};

struct CatalogSetup {
  std::string name;
  std::function<std::shared_ptr<MetadataStore>(const std::filesystem::path&)> make;
};

void PrintTo(const CatalogSetup& param, std::ostream* os) {
  *os << param.name;
}

class DeletionInFlightTest : public ::testing::TestWithParam<CatalogSetup> {
 protected:
  // Version 1 in Production named by "champion", version 2 in Staging; a deletion of version 1
  // during which `during_deletion` runs.
  void SetUp() override {
    store_ = std::make_shared<DeletionHookStore>();
    registry_.emplace(store_, GetParam().make(dir_.path()));
    for (const char* version : {"1", "2"}) {
      registry_->register_version("m", version, with_artifact("m", version));
    }
    registry_->transition_stage("m", "1", ModelStage::Production);
    registry_->transition_stage("m", "2", ModelStage::Staging);
    registry_->set_alias("m", "champion", "1");
  }

  // While version 1 is being deleted, the alias moves to version 2 and version 2 is promoted.
  void move_alias_and_promote_during_the_deletion() {
    store_->during_next_delete = [this] {
      EXPECT_FALSE(registry_->get_version_by_alias("m", "champion"))
          << "an alias of a version being deleted is gone for everyone";
      EXPECT_FALSE(registry_->get_production_model("m"));
      registry_->set_alias("m", "champion", "2");
      registry_->transition_stage("m", "2", ModelStage::Production);
    };
  }

  void expect_history_replays_to_the_registry() {
    const HistoryReplay replayed = replay(all_events(*registry_));
    EXPECT_TRUE(replayed.problems().empty()) << "events disagree with the history before them:\n"
                                             << first_lines(replayed.problems());
    expect_replay_matches(*registry_, replayed);
  }

  LogCapture captured_;  // the failed deletion's error is logged
  TestDir dir_;
  std::shared_ptr<DeletionHookStore> store_;
  std::optional<ModelRegistry> registry_;
};

// The history must describe what happened in an order that can be replayed: the alias leaves
// version 1 and version 2 becomes the one Production version, and the events say so.
TEST_P(DeletionInFlightTest, AliasMovedAndVersionPromotedDuringADeletionReplay) {
  move_alias_and_promote_during_the_deletion();
  EXPECT_TRUE(registry_->delete_version("m", "1"));
  EXPECT_FALSE(registry_->get_version("m", "1"));
  EXPECT_EQ(registry_->get_version_by_alias("m", "champion")->version, "2");
  EXPECT_EQ(registry_->get_production_model("m")->version, "2");
  expect_history_replays_to_the_registry();
}

// A deletion that fails brings version 1 back (archived, since version 2 was promoted
// meanwhile); the history must still replay to what the registry shows.
TEST_P(DeletionInFlightTest, AliasMovedAndVersionPromotedDuringAFailedDeletionReplay) {
  move_alias_and_promote_during_the_deletion();
  store_->fail_next_delete = true;
  EXPECT_THROW(registry_->delete_version("m", "1"), StorageError);
  ASSERT_TRUE(registry_->get_version("m", "1"));
  EXPECT_EQ(registry_->get_version("m", "1")->stage, ModelStage::Archived);
  EXPECT_EQ(registry_->get_version_by_alias("m", "champion")->version, "2");
  EXPECT_EQ(registry_->get_production_model("m")->version, "2");
  expect_history_replays_to_the_registry();
}

std::vector<CatalogSetup> catalogs() {
  std::vector<CatalogSetup> result{
      {"InMemory",
       [](const std::filesystem::path&) -> std::shared_ptr<MetadataStore> {
         return std::make_shared<InMemoryMetadataStore>();
       }},
  };
#ifdef MODELREG_HAVE_SQLITE
  result.push_back(
      {"Sqlite", [](const std::filesystem::path& dir) -> std::shared_ptr<MetadataStore> {
         SqliteOptions options;
         options.durability = Durability::Relaxed;
         return std::make_shared<SqliteMetadataStore>(dir / "registry.db", options);
       }});
#endif
  return result;
}

INSTANTIATE_TEST_SUITE_P(Catalogs, DeletionInFlightTest, ::testing::ValuesIn(catalogs()),
                         [](const ::testing::TestParamInfo<CatalogSetup>& param) {
                           return param.param.name;
                         });

}  // namespace
}  // namespace modelreg

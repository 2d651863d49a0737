// ModelRegistry's history (history, events_after) and the audit of every change (actor and
// reason, the default actor), over an in-memory registry and ModelRegistry::open(dir).

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <modelreg/modelreg.hpp>
#include <string>
#include <vector>

#include "registry_lifecycle_fixture.hpp"

namespace modelreg {
namespace {

using testing::OpenRegistryTest;
using testing::RegistryKind;
using testing::RegistryLifecycleTest;

using RegistryHistoryTest = RegistryLifecycleTest;

std::vector<EventType> types_of(const std::vector<ModelEvent>& events) {
  std::vector<EventType> types;
  for (const auto& e : events) types.push_back(e.type);
  return types;
}

// --- history ------------------------------------------------------------------------------

TEST_P(RegistryHistoryTest, HistoryOfAModelAVersionAndTheChangeFeed) {
  add("fraud", "1");
  add("fraud", "2");
  add("churn", "1");
  registry().transition_stage("fraud", "1", ModelStage::Production);
  registry().transition_stage("fraud", "2", ModelStage::Production);
  registry().set_alias("fraud", "champion", "2");
  registry().set_version_tag("fraud", "1", "k", "v");
  ASSERT_TRUE(registry().delete_version("fraud", "1"));

  EXPECT_EQ(types_of(registry().history("fraud")),
            (std::vector<EventType>{EventType::VersionRegistered, EventType::VersionRegistered,
                                    EventType::StageChanged, EventType::StageChanged,
                                    EventType::StageChanged, EventType::AliasSet,
                                    EventType::VersionTagSet, EventType::VersionDeleted}));
  const auto one = registry().history("fraud", "1");
  EXPECT_EQ(types_of(one),
            (std::vector<EventType>{EventType::VersionRegistered, EventType::StageChanged,
                                    EventType::StageChanged, EventType::VersionTagSet,
                                    EventType::VersionDeleted}));
  EXPECT_EQ(one[2].key, "2") << "archived by the promotion of 2";
  EXPECT_EQ(types_of(registry().history("churn")),
            std::vector<EventType>{EventType::VersionRegistered});
  EXPECT_TRUE(registry().history("nomodel").empty());
  EXPECT_TRUE(registry().history("fraud", "9").empty());
  EXPECT_THROW(registry().history("bad name"), InvalidArgumentError);
  EXPECT_THROW(registry().history("fraud", "../1"), InvalidArgumentError);

  // The change feed: every event once, in order, in pages of any size.
  const auto all = registry().events_after(0, kMaxSearchResults);
  ASSERT_EQ(all.size(), 9u);
  EXPECT_EQ(all.back().sequence, registry().latest_event_sequence());
  for (std::size_t limit = 1; limit <= 4; ++limit) {
    std::vector<ModelEvent> fed;
    std::int64_t after = 0;
    for (int i = 0; i < 20; ++i) {
      const auto batch = registry().events_after(after, limit);
      EXPECT_LE(batch.size(), limit);
      if (batch.empty()) break;
      fed.insert(fed.end(), batch.begin(), batch.end());
      after = batch.back().sequence;
    }
    EXPECT_EQ(fed, all) << "limit " << limit;
  }
  EXPECT_EQ(registry().events_after(all[4].sequence, 2), (std::vector<ModelEvent>{all[5], all[6]}));
  EXPECT_TRUE(registry().events_after(registry().latest_event_sequence()).empty());
  EXPECT_THROW(registry().events_after(0, 0), InvalidArgumentError);
  EXPECT_THROW(registry().events_after(0, kMaxSearchResults + 1), InvalidArgumentError);
  EXPECT_THROW(registry().events_after(-1, 10), InvalidArgumentError);
}

// --- audit --------------------------------------------------------------------------------

TEST_P(RegistryHistoryTest, EveryChangeRecordsTheGivenActorAndReason) {
  const Audit audit{"ci-bot@build-7", "nightly retrain"};
  RegisterOptions options;
  options.artifact = to_bytes("x");
  registry().register_version("fraud", "1", options, audit);
  registry().register_version("fraud", "2", options, audit);
  registry().transition_stage("fraud", "1", ModelStage::Production, std::nullopt, audit);
  registry().transition_stage("fraud", "2", ModelStage::Production, std::nullopt, audit);
  registry().set_alias("fraud", "champion", "2", std::nullopt, audit);
  registry().delete_alias("fraud", "champion", audit);
  registry().set_model_tag("fraud", "team", "risk", audit);
  registry().delete_model_tag("fraud", "team", audit);
  registry().set_model_description("fraud", "d", audit);
  registry().set_version_tag("fraud", "2", "k", "v", audit);
  registry().delete_version_tag("fraud", "2", "k", audit);
  registry().set_version_description("fraud", "2", "d", audit);
  ASSERT_TRUE(registry().delete_version("fraud", "1", audit));
  ASSERT_TRUE(registry().delete_model("fraud", audit));

  const auto history = registry().history("fraud");
  EXPECT_EQ(history.size(), 15u);
  for (const auto& event : history) {
    EXPECT_EQ(event.actor, audit.actor) << ::testing::PrintToString(event);
    EXPECT_EQ(event.reason, audit.reason) << ::testing::PrintToString(event);
  }
  EXPECT_EQ(history.back().type, EventType::ModelDeleted);
}

TEST_P(RegistryHistoryTest, AnEmptyActorIsTheRegistrysDefaultActor) {
  // The process's "user@host" unless told otherwise.
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  const passwd* entry = ::getpwuid(::geteuid());
  ASSERT_NE(entry, nullptr);
  const std::string process_actor = std::string(entry->pw_name) + "@" + host;
  EXPECT_EQ(registry().default_actor(), process_actor);

  add("fraud", "1");
  registry().set_alias("fraud", "champion", "1", std::nullopt, Audit{"", "why"});
  registry().set_default_actor("deployer");
  EXPECT_EQ(registry().default_actor(), "deployer");
  registry().transition_stage("fraud", "1", ModelStage::Staging);

  const auto history = registry().history("fraud");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].actor, process_actor);
  EXPECT_EQ(history[1].actor, process_actor);
  EXPECT_EQ(history[1].reason, "why");
  EXPECT_EQ(history[2].actor, "deployer");
  EXPECT_EQ(history[2].reason, "");

  for (const std::string& bad : {std::string(), std::string("two\nlines"), std::string(256, 'a'),
                                 std::string("\x7f"), std::string("\xc3")}) {
    EXPECT_THROW(registry().set_default_actor(bad), InvalidArgumentError) << bad;
  }
  EXPECT_EQ(registry().default_actor(), "deployer");
  EXPECT_NO_THROW(registry().set_default_actor(std::string(255, 'a')));
}

TEST_P(OpenRegistryTest, OpenOptionsActorIsTheDefaultActor) {
  registry_.reset();
  OpenOptions options;
  options.actor = "serving-deployer";
  ModelRegistry registry = open(options);
  EXPECT_EQ(registry.default_actor(), "serving-deployer");
  registry.register_version("fraud", "1");
  EXPECT_EQ(registry.history("fraud").at(0).actor, "serving-deployer");
  options.actor = "bad\tactor";
  EXPECT_THROW(open(options), InvalidArgumentError);
}

TEST_P(RegistryHistoryTest, AnInvalidActorOrReasonIsRefusedAndChangesNothing) {
  add("fraud", "1", "x");
  add("fraud", "2", "y");
  registry().set_alias("fraud", "champion", "1");
  const std::int64_t before = registry().latest_event_sequence();
  const auto snapshot = registry().get_model("fraud");
  const auto artifacts = registry().store()->list_artifacts();
  for (const Audit& audit : {Audit{"control\x01", ""}, Audit{std::string(256, 'a'), ""},
                             Audit{"ok", std::string("nul\0", 4)}, Audit{"\xff\xfe", ""}}) {
    RegisterOptions options;
    options.artifact = to_bytes("z");
    EXPECT_THROW(registry().register_version("fraud", "3", options, audit), InvalidArgumentError);
    EXPECT_THROW(
        registry().transition_stage("fraud", "1", ModelStage::Production, std::nullopt, audit),
        InvalidArgumentError);
    EXPECT_THROW(registry().set_alias("fraud", "champion", "2", std::nullopt, audit),
                 InvalidArgumentError);
    EXPECT_THROW(registry().delete_alias("fraud", "champion", audit), InvalidArgumentError);
    EXPECT_THROW(registry().set_model_tag("fraud", "k", "v", audit), InvalidArgumentError);
    EXPECT_THROW(registry().set_version_description("fraud", "1", "d", audit),
                 InvalidArgumentError);
    EXPECT_THROW(registry().delete_version("fraud", "2", audit), InvalidArgumentError);
    EXPECT_THROW(registry().delete_model("fraud", audit), InvalidArgumentError);
  }
  EXPECT_EQ(registry().latest_event_sequence(), before);
  EXPECT_EQ(registry().get_model("fraud"), snapshot);
  EXPECT_EQ(registry().store()->list_artifacts(), artifacts);
  EXPECT_EQ(registry().metadata_store()->list_pending().size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Registries, RegistryHistoryTest,
                         ::testing::ValuesIn(testing::registry_setups()),
                         [](const ::testing::TestParamInfo<testing::RegistrySetup>& setup) {
                           return setup.param.name;
                         });

}  // namespace
}  // namespace modelreg

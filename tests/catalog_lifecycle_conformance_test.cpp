// The MetadataStore conformance suite, part 2: aliases, tags and descriptions of models and
// versions, and the events each change records (metadata_store_conformance.hpp). Model deletion
// and the history as a whole are in catalog_history_conformance_test.cpp.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog_test_support.hpp"
#include "metadata_store_conformance.hpp"
#include "modelreg/error.hpp"
#include "modelreg/metadata_store.hpp"

namespace modelreg {
namespace {

using testing::at;
using testing::events_after;
using testing::expected_event;
using testing::make_version;
using testing::without_sequences;

const Audit kAudit{"alice@example", "release 42"};

// --- set_alias ----------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, SetAliasCreatesAnAliasThatEveryLookupShows) {
  add("fraud", "1");
  add("fraud", "2");
  const std::int64_t before = store().latest_event_sequence();

  const ModelVersion named =
      store().set_alias("fraud", "champion", "1", std::nullopt, at(10), kAudit);

  EXPECT_EQ(named.version, "1");
  EXPECT_EQ(named.aliases, std::vector<std::string>{"champion"});
  EXPECT_EQ(store().get_version("fraud", "1"), named);
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion"), named);
  EXPECT_TRUE(store().get_version("fraud", "2")->aliases.empty());
  const auto model = store().get_model("fraud");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->aliases, (std::map<std::string, std::string>{{"champion", "1"}}));
  EXPECT_EQ(model->versions.front(), named);
  EXPECT_EQ(without_sequences(events_after(store(), before)),
            std::vector<ModelEvent>{expected_event(EventType::AliasSet, "fraud", "1", "champion",
                                                   std::nullopt, "1", at(10), kAudit)});
}

TEST_P(MetadataStoreConformance, SetAliasMovesItAndRecordsTheVersionItNamedBefore) {
  add("fraud", "1");
  add("fraud", "2");
  store().set_alias("fraud", "champion", "1", std::nullopt, at(10));
  const std::int64_t before = store().latest_event_sequence();

  const ModelVersion moved =
      store().set_alias("fraud", "champion", "2", std::nullopt, at(20), kAudit);

  EXPECT_EQ(moved.version, "2");
  EXPECT_EQ(moved.aliases, std::vector<std::string>{"champion"});
  EXPECT_TRUE(store().get_version("fraud", "1")->aliases.empty());
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion"), moved);
  EXPECT_EQ(store().get_model("fraud")->aliases,
            (std::map<std::string, std::string>{{"champion", "2"}}));
  EXPECT_EQ(without_sequences(events_after(store(), before)),
            std::vector<ModelEvent>{expected_event(EventType::AliasSet, "fraud", "2", "champion",
                                                   "1", "2", at(20), kAudit)});
}

TEST_P(MetadataStoreConformance, SetAliasToTheVersionItNamesRecordsNothing) {
  add("fraud", "1");
  const ModelVersion named = store().set_alias("fraud", "champion", "1", std::nullopt, at(10));
  const std::int64_t before = store().latest_event_sequence();

  EXPECT_EQ(store().set_alias("fraud", "champion", "1", std::nullopt, at(20)), named);
  EXPECT_EQ(store().set_alias("fraud", "champion", "1", std::string("1"), at(30)), named);

  EXPECT_EQ(store().latest_event_sequence(), before);
  EXPECT_EQ(store().get_version("fraud", "1"), named) << "updated_at must not change either";
}

TEST_P(MetadataStoreConformance, AVersionCarriesManyAliasesSortedAndEachNamesOneVersion) {
  add("fraud", "1");
  add("fraud", "2");
  for (const char* alias : {"zeta", "alpha", "Mid", "b-2", "a_1"}) {
    store().set_alias("fraud", alias, "1", std::nullopt, at(1));
  }
  // Byte order, as std::string sorts.
  const std::vector<std::string> sorted{"Mid", "a_1", "alpha", "b-2", "zeta"};
  EXPECT_EQ(store().get_version("fraud", "1")->aliases, sorted);
  EXPECT_EQ(store().get_model("fraud")->versions.front().aliases, sorted);
  EXPECT_EQ(store().list_versions("fraud").front().aliases, sorted);

  // Moving one leaves the others in place; the alias is now on "2" only.
  store().set_alias("fraud", "alpha", "2", std::nullopt, at(2));
  EXPECT_EQ(store().get_version("fraud", "1")->aliases,
            (std::vector<std::string>{"Mid", "a_1", "b-2", "zeta"}));
  EXPECT_EQ(store().get_version("fraud", "2")->aliases, std::vector<std::string>{"alpha"});
  EXPECT_EQ(store().get_model("fraud")->aliases,
            (std::map<std::string, std::string>{
                {"Mid", "1"}, {"a_1", "1"}, {"alpha", "2"}, {"b-2", "1"}, {"zeta", "1"}}));
  // Aliases compare exactly: "mid" is not "Mid".
  EXPECT_EQ(store().get_version_by_alias("fraud", "mid"), std::nullopt);
}

TEST_P(MetadataStoreConformance, AliasesOfDifferentModelsAreIndependent) {
  add("fraud", "1");
  add("churn", "1");
  add("churn", "2");
  store().set_alias("fraud", "champion", "1", std::nullopt, at(1));
  store().set_alias("churn", "champion", "2", std::nullopt, at(2));
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion")->model_name, "fraud");
  EXPECT_EQ(store().get_version_by_alias("churn", "champion")->version, "2");
  EXPECT_TRUE(store().delete_alias("fraud", "champion", at(3)));
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion"), std::nullopt);
  EXPECT_EQ(store().get_version_by_alias("churn", "champion")->version, "2");
  EXPECT_EQ(store().get_version_by_alias("nomodel", "champion"), std::nullopt);
}

TEST_P(MetadataStoreConformance, SetAliasCompareAndSwapMovesOnlyFromTheExpectedVersion) {
  add("fraud", "1");
  add("fraud", "2");
  add("fraud", "3");
  // "" expects the alias to be absent.
  EXPECT_EQ(store().set_alias("fraud", "champion", "1", std::string(), at(1)).version, "1");
  const std::int64_t after_create = store().latest_event_sequence();

  struct Attempt {
    std::string target;
    std::string expected;
  };
  for (const Attempt& attempt :
       {Attempt{"2", ""}, Attempt{"2", "3"}, Attempt{"1", "2"}, Attempt{"3", "9"}}) {
    SCOPED_TRACE("move to " + attempt.target + " expecting '" + attempt.expected + "'");
    EXPECT_THROW(store().set_alias("fraud", "champion", attempt.target, attempt.expected, at(5)),
                 FailedPreconditionError);
    EXPECT_EQ(store().get_version_by_alias("fraud", "champion")->version, "1");
    EXPECT_EQ(store().get_version("fraud", "1")->aliases, std::vector<std::string>{"champion"});
    EXPECT_TRUE(store().get_version("fraud", "2")->aliases.empty());
    EXPECT_TRUE(store().get_version("fraud", "3")->aliases.empty());
    EXPECT_EQ(store().latest_event_sequence(), after_create) << "a lost swap records nothing";
  }
  // Expecting a version when the alias does not exist fails too.
  EXPECT_THROW(store().set_alias("fraud", "challenger", "2", std::string("1"), at(6)),
               FailedPreconditionError);
  EXPECT_EQ(store().get_version_by_alias("fraud", "challenger"), std::nullopt);
  EXPECT_EQ(store().latest_event_sequence(), after_create);

  const ModelVersion moved =
      store().set_alias("fraud", "champion", "2", std::string("1"), at(7), kAudit);
  EXPECT_EQ(moved.version, "2");
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion"), moved);
  EXPECT_EQ(without_sequences(events_after(store(), after_create)),
            std::vector<ModelEvent>{expected_event(EventType::AliasSet, "fraud", "2", "champion",
                                                   "1", "2", at(7), kAudit)});
}

TEST_P(MetadataStoreConformance, BadAndReservedAliasesAreInvalidAndChangeNothing) {
  add("fraud", "1");
  store().set_alias("fraud", "ok", "1", std::nullopt, at(1));
  const std::int64_t before = store().latest_event_sequence();
  const std::vector<std::string> bad{"latest",
                                     "LATEST",
                                     "Latest",
                                     "v1",
                                     "V12",
                                     "v007",
                                     "",
                                     std::string(256, 'a'),
                                     "a b",
                                     "a.b",
                                     "a/b",
                                     "é",
                                     std::string("a\0b", 3),
                                     "tab\t",
                                     "a@b"};
  for (const auto& alias : bad) {
    SCOPED_TRACE("alias '" + alias + "'");
    EXPECT_THROW(store().set_alias("fraud", alias, "1", std::nullopt, at(2)), InvalidArgumentError);
    EXPECT_THROW(store().set_alias("fraud", alias, "1", std::string(), at(2)),
                 InvalidArgumentError);
    EXPECT_THROW(store().delete_alias("fraud", alias, at(2)), InvalidArgumentError);
    EXPECT_THROW(store().get_version_by_alias("fraud", alias), InvalidArgumentError);
  }
  EXPECT_EQ(store().latest_event_sequence(), before);
  EXPECT_EQ(store().get_version("fraud", "1")->aliases, std::vector<std::string>{"ok"});

  // The edges of the rules are allowed: "v" alone, "v" and digits and more, 255 characters.
  for (const std::string& alias :
       {std::string("v"), std::string("V"), std::string("v1a"), std::string("latest2"),
        std::string("9"), std::string("-x"), std::string(255, 'z')}) {
    SCOPED_TRACE("alias '" + alias + "'");
    EXPECT_NO_THROW(store().set_alias("fraud", alias, "1", std::nullopt, at(3)));
    EXPECT_EQ(store().get_version_by_alias("fraud", alias)->version, "1");
  }
}

TEST_P(MetadataStoreConformance, SetAliasOnAVersionThatIsNotVisibleIsNotFound) {
  add("fraud", "1");
  add("fraud", "2");
  store().create_version(make_version("fraud", "3"), "writer-1");  // reserved
  ASSERT_TRUE(store().begin_delete("fraud", "2", "deleter").has_value());
  store().create_version(make_version("newmodel", "1"), "writer-1");  // a model not yet visible
  const std::int64_t before = store().latest_event_sequence();

  for (const auto& [model, version] : std::vector<std::pair<std::string, std::string>>{
           {"fraud", "9"}, {"fraud", "3"}, {"fraud", "2"}, {"nomodel", "1"}, {"newmodel", "1"}}) {
    SCOPED_TRACE(model + ":" + version);
    EXPECT_THROW(store().set_alias(model, "champion", version, std::nullopt, at(1)), NotFoundError);
    EXPECT_THROW(store().set_alias(model, "champion", version, std::string(), at(1)),
                 NotFoundError);
  }
  EXPECT_EQ(store().latest_event_sequence(), before);
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion"), std::nullopt);
  EXPECT_TRUE(store().get_model("fraud")->aliases.empty());
}

TEST_P(MetadataStoreConformance, CreateVersionIgnoresTheAliasesItIsGiven) {
  ModelVersion v = make_version("fraud", "1");
  v.aliases = {"champion"};
  EXPECT_TRUE(store().create_version(v).aliases.empty());
  ModelVersion reserved = make_version("fraud", "2");
  reserved.aliases = {"shadow"};
  store().create_version(reserved, "writer-1");
  EXPECT_TRUE(
      store().publish_version("fraud", "2", "writer-1", ArtifactInfo{}, at(1)).aliases.empty());
  EXPECT_TRUE(store().get_version("fraud", "1")->aliases.empty());
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion"), std::nullopt);
  EXPECT_EQ(store().get_version_by_alias("fraud", "shadow"), std::nullopt);
  EXPECT_TRUE(store().get_model("fraud")->aliases.empty());
  VersionQuery query;
  query.conditions = {where::alias("champion")};
  EXPECT_TRUE(store().search_versions(query).versions.empty());
}

TEST_P(MetadataStoreConformance, AnInvalidAuditIsRefusedAndChangesNothing) {
  add("fraud", "1");
  const std::int64_t before = store().latest_event_sequence();
  for (const Audit& audit : {Audit{std::string(256, 'a'), ""}, Audit{"bad\nactor", ""},
                             Audit{"ok", std::string("no\0nul", 6)},
                             Audit{"ok", std::string(5001, 'r')}, Audit{"\xff", ""}}) {
    EXPECT_THROW(store().set_alias("fraud", "champion", "1", std::nullopt, at(1), audit),
                 InvalidArgumentError);
    EXPECT_THROW(store().set_model_tag("fraud", "k", "v", at(1), audit), InvalidArgumentError);
    EXPECT_THROW(store().set_version_tag("fraud", "1", "k", "v", at(1), audit),
                 InvalidArgumentError);
  }
  EXPECT_EQ(store().latest_event_sequence(), before);
  EXPECT_TRUE(store().get_version("fraud", "1")->aliases.empty());
  EXPECT_TRUE(store().get_model("fraud")->tags.empty());
  // The limits themselves are allowed.
  EXPECT_NO_THROW(store().set_model_tag("fraud", "k", "v", at(1),
                                        Audit{std::string(255, 'a'), std::string(5000, 'r')}));
}

// --- delete_alias and the aliases of deleted versions --------------------------------------

TEST_P(MetadataStoreConformance, DeleteAliasRemovesItAndRecordsTheVersionItNamed) {
  add("fraud", "1");
  store().set_alias("fraud", "champion", "1", std::nullopt, at(1));
  store().set_alias("fraud", "shadow", "1", std::nullopt, at(2));
  const std::int64_t before = store().latest_event_sequence();

  EXPECT_TRUE(store().delete_alias("fraud", "champion", at(30), kAudit));

  EXPECT_EQ(store().get_version_by_alias("fraud", "champion"), std::nullopt);
  EXPECT_EQ(store().get_version("fraud", "1")->aliases, std::vector<std::string>{"shadow"});
  EXPECT_EQ(store().get_model("fraud")->aliases,
            (std::map<std::string, std::string>{{"shadow", "1"}}));
  EXPECT_EQ(without_sequences(events_after(store(), before)),
            std::vector<ModelEvent>{expected_event(EventType::AliasDeleted, "fraud", "1",
                                                   "champion", "1", std::nullopt, at(30), kAudit)});
  const std::int64_t after = store().latest_event_sequence();
  EXPECT_FALSE(store().delete_alias("fraud", "champion", at(31)));
  EXPECT_FALSE(store().delete_alias("fraud", "never", at(31)));
  EXPECT_FALSE(store().delete_alias("nomodel", "champion", at(31)));
  EXPECT_EQ(store().latest_event_sequence(), after);
}

// Expects `e` to be an event of fraud:1 recorded with kAudit between `start` and `end`.
void expect_deletion_event(const ModelEvent& e, EventType type, const std::string& key,
                           std::optional<std::string> old_value,
                           std::optional<std::string> new_value, Timestamp start, Timestamp end) {
  EXPECT_EQ(e.type, type);
  EXPECT_EQ(e.model_name, "fraud");
  EXPECT_EQ(e.version, "1");
  EXPECT_EQ(e.key, key);
  EXPECT_EQ(e.old_value, old_value);
  EXPECT_EQ(e.new_value, new_value);
  EXPECT_EQ(e.actor, kAudit.actor);
  EXPECT_EQ(e.reason, kAudit.reason);
  EXPECT_GE(e.time, start);
  EXPECT_LE(e.time, end);
}

TEST_P(MetadataStoreConformance, BeginDeleteDeletesTheAliasesAndRecordsTheDeletionAtOnce) {
  add("fraud", "1");
  add("fraud", "2");
  store().set_alias("fraud", "zeta", "1", std::nullopt, at(1));
  store().set_alias("fraud", "alpha", "1", std::nullopt, at(1));
  store().set_alias("fraud", "other", "2", std::nullopt, at(1));
  ASSERT_TRUE(store().set_stage("fraud", "1", ModelStage::Staging, std::nullopt, at(2)));
  const ModelVersion as_it_was = *store().get_version("fraud", "1");
  const std::int64_t before = store().latest_event_sequence();

  const Timestamp start = std::chrono::system_clock::now();
  EXPECT_EQ(store().begin_delete("fraud", "1", "deleter", kAudit), as_it_was)
      << "the version as it was, aliases included";
  const Timestamp end = std::chrono::system_clock::now();

  // What every lookup sees from now on, and what the history says: every alias (in alias
  // order), then the version, with its last stage.
  EXPECT_EQ(store().get_version_by_alias("fraud", "alpha"), std::nullopt);
  EXPECT_EQ(store().get_version_by_alias("fraud", "zeta"), std::nullopt);
  EXPECT_EQ(store().get_model("fraud")->aliases,
            (std::map<std::string, std::string>{{"other", "2"}}));
  const auto events = events_after(store(), before);
  ASSERT_EQ(events.size(), 3u) << ::testing::PrintToString(events);
  expect_deletion_event(events[0], EventType::AliasDeleted, "alpha", "1", std::nullopt, start, end);
  expect_deletion_event(events[1], EventType::AliasDeleted, "zeta", "1", std::nullopt, start, end);
  expect_deletion_event(events[2], EventType::VersionDeleted, "", "staging", std::nullopt, start,
                        end);
  EXPECT_LT(events[0].sequence, events[1].sequence);
  EXPECT_LT(events[1].sequence, events[2].sequence);

  // The alias names are free: setting one again creates a new alias.
  const std::int64_t after = store().latest_event_sequence();
  store().set_alias("fraud", "alpha", "2", std::string(), at(3));
  const auto set = events_after(store(), after);
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0].old_value, std::nullopt);
  EXPECT_EQ(store().get_version("fraud", "2")->aliases,
            (std::vector<std::string>{"alpha", "other"}));
  EXPECT_FALSE(store().delete_alias("fraud", "zeta", at(4)));

  // Finishing the deletion records nothing more.
  const std::int64_t before_release = store().latest_event_sequence();
  ASSERT_TRUE(store().release_version("fraud", "1", "deleter", kAudit));
  EXPECT_EQ(store().latest_event_sequence(), before_release);
  EXPECT_EQ(store().get_version_by_alias("fraud", "alpha")->version, "2");
}

TEST_P(MetadataStoreConformance, CancellingADeletionRestoresTheVersionAndItsFreeAliases) {
  add("fraud", "1");
  add("fraud", "2");
  store().set_alias("fraud", "champion", "1", std::nullopt, at(1));
  store().set_alias("fraud", "shadow", "1", std::nullopt, at(1));
  store().set_version_tag("fraud", "1", "owner", "alice", at(2));
  ModelVersion restored = *store().get_version("fraud", "1");
  ASSERT_TRUE(store().begin_delete("fraud", "1", "deleter", kAudit).has_value());
  // While it is hidden, another version takes one of its aliases.
  store().set_alias("fraud", "shadow", "2", std::string(), at(3));
  const std::int64_t before = store().latest_event_sequence();

  const Timestamp start = std::chrono::system_clock::now();
  EXPECT_FALSE(store().cancel_delete("fraud", "1", "someone-else", kAudit));
  ASSERT_TRUE(store().cancel_delete("fraud", "1", "deleter", kAudit));
  const Timestamp end = std::chrono::system_clock::now();

  restored.aliases = {"champion"};  // tags kept; "shadow" names version 2 now
  EXPECT_EQ(store().get_version("fraud", "1"), restored);
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion")->version, "1");
  EXPECT_EQ(store().get_version_by_alias("fraud", "shadow")->version, "2");
  EXPECT_EQ(store().get_model("fraud")->aliases,
            (std::map<std::string, std::string>{{"champion", "1"}, {"shadow", "2"}}));
  const auto events = events_after(store(), before);
  ASSERT_EQ(events.size(), 2u) << ::testing::PrintToString(events);
  expect_deletion_event(events[0], EventType::VersionRestored, "", std::nullopt, "development",
                        start, end);
  EXPECT_FALSE(events[0].changes_serving()) << "a Development version serves nothing";
  EXPECT_EQ(events[1].type, EventType::AliasSet);
  EXPECT_EQ(events[1].key, "champion");
  EXPECT_EQ(events[1].version, "1");
  EXPECT_EQ(events[1].old_value, std::nullopt);
  EXPECT_EQ(events[1].new_value, "1");
  EXPECT_EQ(events[1].actor, kAudit.actor);
  EXPECT_TRUE(events[1].changes_serving());
}

// --- model tags and descriptions ----------------------------------------------------------

TEST_P(MetadataStoreConformance, ModelTagsAreSetUpdatedAndDeletedWithTheirEvents) {
  add("fraud", "1");
  const std::int64_t before = store().latest_event_sequence();

  store().set_model_tag("fraud", "team", "risk", at(1), kAudit);
  EXPECT_EQ(store().get_model("fraud")->tags,
            (std::map<std::string, std::string>{{"team", "risk"}}));
  store().set_model_tag("fraud", "team", "fraud-ops", at(2), kAudit);
  store().set_model_tag("fraud", "team", "fraud-ops", at(3), kAudit);  // unchanged: no event
  store().set_model_tag("fraud", "empty", "", at(4), kAudit);
  EXPECT_EQ(store().get_model("fraud")->tags,
            (std::map<std::string, std::string>{{"empty", ""}, {"team", "fraud-ops"}}));
  EXPECT_TRUE(store().delete_model_tag("fraud", "team", at(5), kAudit));
  EXPECT_FALSE(store().delete_model_tag("fraud", "team", at(6), kAudit));
  EXPECT_FALSE(store().delete_model_tag("fraud", "never", at(6), kAudit));
  EXPECT_EQ(store().get_model("fraud")->tags, (std::map<std::string, std::string>{{"empty", ""}}));
  // Model tags are not version tags.
  EXPECT_EQ(store().get_version("fraud", "1")->tags, make_version("fraud", "1").tags);

  EXPECT_EQ(without_sequences(events_after(store(), before)),
            (std::vector<ModelEvent>{expected_event(EventType::ModelTagSet, "fraud", "", "team",
                                                    std::nullopt, "risk", at(1), kAudit),
                                     expected_event(EventType::ModelTagSet, "fraud", "", "team",
                                                    "risk", "fraud-ops", at(2), kAudit),
                                     expected_event(EventType::ModelTagSet, "fraud", "", "empty",
                                                    std::nullopt, "", at(4), kAudit),
                                     expected_event(EventType::ModelTagDeleted, "fraud", "", "team",
                                                    "fraud-ops", std::nullopt, at(5), kAudit)}));
}

TEST_P(MetadataStoreConformance, ModelDescriptionsAreSetWithTheirEvents) {
  add("fraud", "1");
  const std::int64_t before = store().latest_event_sequence();
  store().set_model_description("fraud", "Scores card payments.", at(1), kAudit);
  store().set_model_description("fraud", "Scores card payments.", at(2), kAudit);
  store().set_model_description("fraud", "ünïcode\nlines", at(3), kAudit);
  EXPECT_EQ(store().get_model("fraud")->description, "ünïcode\nlines");
  store().set_model_description("fraud", "", at(4), kAudit);
  EXPECT_EQ(store().get_model("fraud")->description, "");
  EXPECT_EQ(without_sequences(events_after(store(), before)),
            (std::vector<ModelEvent>{
                expected_event(EventType::ModelDescriptionSet, "fraud", "", "", "",
                               "Scores card payments.", at(1), kAudit),
                expected_event(EventType::ModelDescriptionSet, "fraud", "", "",
                               "Scores card payments.", "ünïcode\nlines", at(3), kAudit),
                expected_event(EventType::ModelDescriptionSet, "fraud", "", "", "ünïcode\nlines",
                               "", at(4), kAudit)}));
}

TEST_P(MetadataStoreConformance, ModelTagsAndDescriptionsOfAnAbsentModelAreNotFound) {
  add("deleting", "1");
  ASSERT_TRUE(store().begin_delete_model("deleting", "deleter", at(1)).has_value());
  store().create_version(make_version("reserved", "1"), "writer-1");  // never visible yet
  const std::int64_t before = store().latest_event_sequence();
  for (const char* model : {"nomodel", "deleting", "reserved"}) {
    SCOPED_TRACE(model);
    EXPECT_THROW(store().set_model_tag(model, "k", "v", at(2)), NotFoundError);
    EXPECT_THROW(store().delete_model_tag(model, "k", at(2)), NotFoundError);
    EXPECT_THROW(store().set_model_description(model, "d", at(2)), NotFoundError);
  }
  EXPECT_EQ(store().latest_event_sequence(), before);
}

// --- version tags and descriptions --------------------------------------------------------

TEST_P(MetadataStoreConformance, VersionTagsAreSetUpdatedAndDeletedAndMoveUpdatedAt) {
  const ModelVersion v = add("fraud", "1", ModelStage::Development, at(0));
  add("fraud", "2", ModelStage::Development, at(0));
  const std::int64_t before = store().latest_event_sequence();

  ModelVersion expected = v;
  expected.tags["owner"] = "alice";
  expected.updated_at = at(100);
  EXPECT_EQ(store().set_version_tag("fraud", "1", "owner", "alice", at(100), kAudit), expected);
  EXPECT_EQ(store().get_version("fraud", "1"), expected);

  expected.tags["team"] = "risk";  // "team" was "search"
  expected.updated_at = at(200);
  EXPECT_EQ(store().set_version_tag("fraud", "1", "team", "risk", at(200), kAudit), expected);
  // Unchanged: nothing recorded, updated_at stays.
  EXPECT_EQ(store().set_version_tag("fraud", "1", "team", "risk", at(300), kAudit), expected);
  EXPECT_EQ(store().get_version("fraud", "1"), expected);

  expected.tags.erase("owner");
  expected.updated_at = at(400);
  EXPECT_EQ(store().delete_version_tag("fraud", "1", "owner", at(400), kAudit), expected);
  EXPECT_EQ(store().delete_version_tag("fraud", "1", "owner", at(500), kAudit), std::nullopt);
  EXPECT_EQ(store().delete_version_tag("fraud", "1", "never", at(500), kAudit), std::nullopt);
  EXPECT_EQ(store().get_version("fraud", "1"), expected);
  // The other version is untouched, and so are the model's tags.
  EXPECT_EQ(store().get_version("fraud", "2")->tags, make_version("fraud", "2").tags);
  EXPECT_EQ(store().get_version("fraud", "2")->updated_at, at(0));
  EXPECT_TRUE(store().get_model("fraud")->tags.empty());

  EXPECT_EQ(
      without_sequences(events_after(store(), before)),
      (std::vector<ModelEvent>{expected_event(EventType::VersionTagSet, "fraud", "1", "owner",
                                              std::nullopt, "alice", at(100), kAudit),
                               expected_event(EventType::VersionTagSet, "fraud", "1", "team",
                                              "search", "risk", at(200), kAudit),
                               expected_event(EventType::VersionTagDeleted, "fraud", "1", "owner",
                                              "alice", std::nullopt, at(400), kAudit)}));
}

TEST_P(MetadataStoreConformance, VersionDescriptionsMoveUpdatedAtAndRecordTheirEvents) {
  const ModelVersion v = add("fraud", "1", ModelStage::Development, at(0));
  const std::int64_t before = store().latest_event_sequence();
  ModelVersion expected = v;
  expected.description = "retrained on March data";
  expected.updated_at = at(100);
  EXPECT_EQ(store().set_version_description("fraud", "1", expected.description, at(100), kAudit),
            expected);
  EXPECT_EQ(store().set_version_description("fraud", "1", expected.description, at(200), kAudit),
            expected);
  EXPECT_EQ(store().get_version("fraud", "1"), expected);
  EXPECT_EQ(without_sequences(events_after(store(), before)),
            std::vector<ModelEvent>{expected_event(EventType::VersionDescriptionSet, "fraud", "1",
                                                   "", v.description, expected.description, at(100),
                                                   kAudit)});
}

TEST_P(MetadataStoreConformance, VersionTagsAndDescriptionsOfInvisibleVersionsAreNotFound) {
  add("fraud", "1");
  add("fraud", "2");
  store().create_version(make_version("fraud", "3"), "writer-1");
  ASSERT_TRUE(store().begin_delete("fraud", "2", "deleter").has_value());
  const std::int64_t before = store().latest_event_sequence();
  for (const auto& [model, version] : std::vector<std::pair<std::string, std::string>>{
           {"fraud", "9"}, {"fraud", "2"}, {"fraud", "3"}, {"nomodel", "1"}}) {
    SCOPED_TRACE(model + ":" + version);
    EXPECT_THROW(store().set_version_tag(model, version, "k", "v", at(1)), NotFoundError);
    EXPECT_THROW(store().delete_version_tag(model, version, "team", at(1)), NotFoundError);
    EXPECT_THROW(store().set_version_description(model, version, "d", at(1)), NotFoundError);
  }
  EXPECT_EQ(store().latest_event_sequence(), before);
  ASSERT_TRUE(store().cancel_delete("fraud", "2", "deleter"));
  EXPECT_EQ(store().get_version("fraud", "2"), make_version("fraud", "2"));
}

TEST_P(MetadataStoreConformance, BadTagsAndDescriptionsAreInvalidAndChangeNothing) {
  const ModelVersion v = add("fraud", "1");
  const std::int64_t before = store().latest_event_sequence();
  const std::vector<std::pair<std::string, std::string>> bad_tags{
      {"", "v"},
      {std::string(251, 'k'), "v"},
      {"new\nline", "v"},
      {std::string("nul\0", 4), "v"},
      {"del\x7f", "v"},
      {"k", std::string(5001, 'v')},
      {"k", std::string("a\0b", 3)},
      {"k", "\xc3\x28"},  // invalid UTF-8
      {"\xff", "v"},
  };
  for (const auto& [key, value] : bad_tags) {
    SCOPED_TRACE("tag '" + key + "' = '" + value.substr(0, 20) + "'");
    EXPECT_THROW(store().set_model_tag("fraud", key, value, at(1)), InvalidArgumentError);
    EXPECT_THROW(store().set_version_tag("fraud", "1", key, value, at(1)), InvalidArgumentError);
  }
  for (const std::string& key : {std::string(), std::string(251, 'k'), std::string("a\nb")}) {
    EXPECT_THROW(store().delete_model_tag("fraud", key, at(1)), InvalidArgumentError);
    EXPECT_THROW(store().delete_version_tag("fraud", "1", key, at(1)), InvalidArgumentError);
  }
  for (const std::string& description :
       {std::string("a\0b", 3), std::string(65537, 'd'), std::string("\xe2\x82")}) {
    EXPECT_THROW(store().set_model_description("fraud", description, at(1)), InvalidArgumentError);
    EXPECT_THROW(store().set_version_description("fraud", "1", description, at(1)),
                 InvalidArgumentError);
  }
  EXPECT_EQ(store().latest_event_sequence(), before);
  EXPECT_EQ(store().get_version("fraud", "1"), v);
  EXPECT_TRUE(store().get_model("fraud")->tags.empty());
  EXPECT_EQ(store().get_model("fraud")->description, "");
  // The limits themselves are allowed.
  EXPECT_NO_THROW(
      store().set_version_tag("fraud", "1", std::string(250, 'k'), std::string(5000, 'v'), at(2)));
  EXPECT_NO_THROW(store().set_model_description("fraud", std::string(65536, 'd'), at(2)));
  EXPECT_EQ(store().get_model("fraud")->description.size(), 65536u);
}

TEST_P(MetadataStoreConformance, TagAndAliasChangesDoNotMoveTheLatestOrProductionVersion) {
  add("fraud", "1");
  add("fraud", "2");
  ASSERT_TRUE(store().set_stage("fraud", "1", ModelStage::Production, std::nullopt, at(1)));
  store().set_version_tag("fraud", "1", "k", "v", at(2));
  store().set_alias("fraud", "champion", "1", std::nullopt, at(3));
  store().set_version_description("fraud", "1", "d", at(4));
  EXPECT_EQ(store().latest_version("fraud")->version, "2");
  EXPECT_EQ(store().production_version("fraud"), store().get_version("fraud", "1"));
  EXPECT_EQ(store().production_version("fraud")->aliases, std::vector<std::string>{"champion"});
  EXPECT_EQ(store().get_model("fraud")->production_version(), store().get_version("fraud", "1"));
}

}  // namespace
}  // namespace modelreg

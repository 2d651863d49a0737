// The MetadataStore conformance suite, part 3: deleting a whole model, and the history (every
// change's event, event queries, sequences). See metadata_store_conformance.hpp.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
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
using testing::events_of;
using testing::expected_event;
using testing::make_version;
using testing::names_of;
using testing::types_of;
using testing::without_sequences;

const Audit kAudit{"alice@example", "release 42"};
const Audit kNone{};

ModelVersion staged(const std::string& model, const std::string& version, ModelStage stage,
                    Timestamp created) {
  return make_version(model, version, stage, created);
}

// --- begin_delete_model -------------------------------------------------------------------

TEST_P(MetadataStoreConformance, BeginDeleteModelHidesTheModelAndAllOfItAtOnce) {
  add("fraud", "1");
  add("fraud", "2", ModelStage::Staging);
  add("fraud", "3");
  add("keep", "1");
  ASSERT_TRUE(store().set_stage("fraud", "2", ModelStage::Production, std::nullopt, at(1)));
  store().set_alias("fraud", "champion", "2", std::nullopt, at(2));
  store().set_model_tag("fraud", "team", "risk", at(3));
  store().set_model_description("fraud", "scores payments", at(4));
  const std::vector<ModelVersion> versions = store().list_versions("fraud");
  const std::int64_t before = store().latest_event_sequence();

  const auto hidden = store().begin_delete_model("fraud", "deleter", at(100), kAudit);

  ASSERT_TRUE(hidden.has_value());
  EXPECT_EQ(*hidden, versions) << "the versions as they were, in registration order";
  EXPECT_EQ(store().get_model("fraud"), std::nullopt);
  EXPECT_EQ(store().list_models(), std::vector<std::string>{"keep"});
  for (const char* version : {"1", "2", "3"}) {
    EXPECT_EQ(store().get_version("fraud", version), std::nullopt) << version;
  }
  EXPECT_EQ(store().latest_version("fraud"), std::nullopt);
  EXPECT_EQ(store().production_version("fraud"), std::nullopt);
  EXPECT_TRUE(store().list_versions("fraud").empty());
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion"), std::nullopt);
  VersionQuery query;
  query.conditions = {where::model_name(CompareOp::Equal, "fraud")};
  EXPECT_TRUE(store().search_versions(query).versions.empty());
  EXPECT_EQ(store().search_versions(VersionQuery{}).versions.size(), 1u);
  const auto models = store().search_models(ModelQuery{}).models;
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].name, "keep");

  const auto pending = store().list_pending();
  ASSERT_EQ(pending.size(), 3u);
  for (const auto& p : pending) {
    EXPECT_EQ(p.model_name, "fraud");
    EXPECT_EQ(p.kind, PendingVersion::Kind::Deleting);
    EXPECT_EQ(p.owner, "deleter");
  }
  // One event for the whole model: no AliasDeleted or VersionDeleted of its own.
  EXPECT_EQ(without_sequences(events_after(store(), before)),
            std::vector<ModelEvent>{expected_event(EventType::ModelDeleted, "fraud", "", "",
                                                   std::nullopt, std::nullopt, at(100), kAudit)});
  // It cannot be deleted twice, and its versions' deletions cannot be cancelled.
  EXPECT_EQ(store().begin_delete_model("fraud", "deleter", at(101)), std::nullopt);
  EXPECT_FALSE(store().cancel_delete("fraud", "1", "deleter"));
  EXPECT_EQ(store().latest_event_sequence(), before + 1);
}

TEST_P(MetadataStoreConformance, ReleasingEveryVersionFinishesTheModelDeletion) {
  add("fraud", "1");
  add("fraud", "2");
  store().set_alias("fraud", "champion", "1", std::nullopt, at(1));
  store().set_model_tag("fraud", "team", "risk", at(2));
  ASSERT_TRUE(store().begin_delete_model("fraud", "deleter", at(3)).has_value());
  const std::int64_t deleted = store().latest_event_sequence();

  EXPECT_FALSE(store().release_version("fraud", "1", "someone-else"));
  EXPECT_TRUE(store().release_version("fraud", "1", "deleter", kAudit));
  EXPECT_EQ(store().list_pending().size(), 1u);
  EXPECT_EQ(store().get_model("fraud"), std::nullopt);
  EXPECT_THROW(store().create_version(make_version("fraud", "9")), FailedPreconditionError);
  EXPECT_TRUE(store().release_version("fraud", "2", "deleter", kAudit));

  EXPECT_TRUE(store().list_pending().empty());
  EXPECT_EQ(store().get_model("fraud"), std::nullopt);
  EXPECT_TRUE(store().list_models().empty());
  EXPECT_EQ(store().latest_event_sequence(), deleted) << "ModelDeleted said it all";

  // The name is free: a new model under it has nothing of the old one.
  const ModelVersion fresh = add("fraud", "1", ModelStage::Development, at(500));
  const auto model = store().get_model("fraud");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->versions, std::vector<ModelVersion>{fresh});
  EXPECT_TRUE(fresh.aliases.empty());
  EXPECT_TRUE(model->aliases.empty());
  EXPECT_TRUE(model->tags.empty());
  EXPECT_EQ(model->description, "");
  EXPECT_EQ(model->created_at, at(500));
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion"), std::nullopt);
  // The history has both incarnations.
  EXPECT_EQ(types_of(events_of(store(), "fraud")),
            (std::vector<EventType>{EventType::VersionRegistered, EventType::VersionRegistered,
                                    EventType::AliasSet, EventType::ModelTagSet,
                                    EventType::ModelDeleted, EventType::VersionRegistered}));
}

TEST_P(MetadataStoreConformance, NothingCanBeRegisteredInAModelBeingDeleted) {
  add("fraud", "1");
  ASSERT_TRUE(store().begin_delete_model("fraud", "deleter", at(1)).has_value());
  const std::int64_t before = store().latest_event_sequence();
  EXPECT_THROW(store().create_version(make_version("fraud", "2")), FailedPreconditionError);
  EXPECT_THROW(store().create_version(make_version("fraud", "2"), "writer-1"),
               FailedPreconditionError);
  // The key is also taken; either refusal is right, but it must be refused.
  EXPECT_THROW(store().create_version(make_version("fraud", "1")), Error);
  EXPECT_EQ(store().list_pending().size(), 1u);
  EXPECT_EQ(store().get_model("fraud"), std::nullopt);
  EXPECT_EQ(store().latest_event_sequence(), before);
}

TEST_P(MetadataStoreConformance, ARegistrationInFlightCannotPublishIntoADeletedModel) {
  add("fraud", "1");
  store().create_version(make_version("fraud", "2"), "writer-1");
  const auto hidden = store().begin_delete_model("fraud", "deleter", at(1));
  ASSERT_TRUE(hidden.has_value());
  EXPECT_EQ(names_of(*hidden), std::vector<std::string>{"1"});

  EXPECT_THROW(store().publish_version("fraud", "2", "writer-1", ArtifactInfo{}, at(2)),
               FailedPreconditionError);
  EXPECT_EQ(store().get_version("fraud", "2"), std::nullopt);
  EXPECT_EQ(store().get_model("fraud"), std::nullopt);

  ASSERT_TRUE(store().release_version("fraud", "1", "deleter"));
  // The registration's reservation still holds the model back.
  EXPECT_THROW(store().create_version(make_version("fraud", "3")), FailedPreconditionError);
  ASSERT_TRUE(store().release_version("fraud", "2", "writer-1"));
  EXPECT_TRUE(store().list_pending().empty());
  EXPECT_NO_THROW(add("fraud", "2"));
  EXPECT_EQ(types_of(events_of(store(), "fraud")),
            (std::vector<EventType>{EventType::VersionRegistered, EventType::ModelDeleted,
                                    EventType::VersionRegistered}));
}

TEST_P(MetadataStoreConformance, AVersionAlreadyBeingDeletedIsFinishedByTheModelDeletion) {
  add("fraud", "1");
  add("fraud", "2");
  ASSERT_TRUE(store().begin_delete("fraud", "1", "deleter-1").has_value());
  const auto hidden = store().begin_delete_model("fraud", "deleter-2", at(1));
  ASSERT_TRUE(hidden.has_value());
  EXPECT_EQ(names_of(*hidden), std::vector<std::string>{"2"});
  EXPECT_FALSE(store().cancel_delete("fraud", "1", "deleter-1"));
  const std::int64_t before = store().latest_event_sequence();
  EXPECT_TRUE(store().release_version("fraud", "1", "deleter-1"));
  EXPECT_TRUE(store().release_version("fraud", "2", "deleter-2"));
  EXPECT_EQ(store().latest_event_sequence(), before);
  EXPECT_TRUE(store().list_pending().empty());
  EXPECT_TRUE(store().list_models().empty());
}

TEST_P(MetadataStoreConformance, DeletingAModelWithoutVersionsRemovesItAtOnce) {
  add("fraud", "1");
  ASSERT_TRUE(store().begin_delete("fraud", "1", "deleter").has_value());
  ASSERT_TRUE(store().release_version("fraud", "1", "deleter"));
  store().set_model_tag("fraud", "team", "risk", at(1));
  ASSERT_EQ(store().list_models(), std::vector<std::string>{"fraud"});

  const auto hidden = store().begin_delete_model("fraud", "deleter", at(2), kAudit);
  ASSERT_TRUE(hidden.has_value());
  EXPECT_TRUE(hidden->empty());
  EXPECT_EQ(store().get_model("fraud"), std::nullopt);
  EXPECT_TRUE(store().list_models().empty());
  EXPECT_TRUE(store().list_pending().empty());
  EXPECT_EQ(events_of(store(), "fraud").back().type, EventType::ModelDeleted);
  EXPECT_NO_THROW(add("fraud", "1"));
  EXPECT_TRUE(store().get_model("fraud")->tags.empty());
}

TEST_P(MetadataStoreConformance, BeginDeleteModelOfAnInvisibleModelReturnsNothing) {
  store().create_version(make_version("reserved", "1"), "writer-1");
  EXPECT_EQ(store().begin_delete_model("nomodel", "deleter", at(1)), std::nullopt);
  EXPECT_EQ(store().begin_delete_model("reserved", "deleter", at(1)), std::nullopt);
  EXPECT_EQ(store().latest_event_sequence(), 0);
  const auto pending = store().list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].kind, PendingVersion::Kind::Registering);
  EXPECT_EQ(pending[0].owner, "writer-1");
  EXPECT_THROW(store().begin_delete_model("bad name", "deleter", at(1)), InvalidArgumentError);
  EXPECT_THROW(store().begin_delete_model("fraud", "", at(1)), InvalidArgumentError);
}

TEST_P(MetadataStoreConformance, AModelKeepsItsTagsDescriptionAndHistoryAfterItsLastVersion) {
  add("fraud", "1");
  store().set_model_tag("fraud", "team", "risk", at(1));
  store().set_model_description("fraud", "scores payments", at(2));
  const auto history = events_of(store(), "fraud");
  ASSERT_TRUE(store().begin_delete("fraud", "1", "deleter").has_value());
  ASSERT_TRUE(store().release_version("fraud", "1", "deleter"));

  const auto model = store().get_model("fraud");
  ASSERT_TRUE(model.has_value());
  EXPECT_TRUE(model->versions.empty());
  EXPECT_TRUE(model->aliases.empty());
  EXPECT_EQ(model->tags, (std::map<std::string, std::string>{{"team", "risk"}}));
  EXPECT_EQ(model->description, "scores payments");
  EXPECT_EQ(store().list_models(), std::vector<std::string>{"fraud"});
  const auto after = events_of(store(), "fraud");
  ASSERT_EQ(after.size(), history.size() + 1);
  EXPECT_TRUE(std::equal(history.begin(), history.end(), after.begin()));
  EXPECT_EQ(after.back().type, EventType::VersionDeleted);
  // Still a model: its tags can change, and a new version joins it.
  store().set_model_tag("fraud", "team", "ops", at(3));
  add("fraud", "2");
  EXPECT_EQ(store().get_model("fraud")->tags.at("team"), "ops");
}

// --- the history --------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, EveryChangeRecordsItsDocumentedEvent) {
  store().create_version(staged("fraud", "1", ModelStage::Staging, at(10)), {}, kAudit);
  store().create_version(staged("fraud", "2", ModelStage::Development, at(20)), {}, kAudit);
  store().set_stage("fraud", "1", ModelStage::Production, std::nullopt, at(30), kAudit);
  store().set_stage("fraud", "2", ModelStage::Production, ModelStage::Development, at(40), kAudit);
  store().set_alias("fraud", "champion", "2", std::nullopt, at(50), kAudit);
  store().set_alias("fraud", "champion", "1", std::nullopt, at(51), kAudit);
  store().delete_alias("fraud", "champion", at(52), kAudit);
  store().set_model_tag("fraud", "team", "risk", at(60), kAudit);
  store().delete_model_tag("fraud", "team", at(61), kAudit);
  store().set_version_tag("fraud", "2", "owner", "bob", at(70), kAudit);
  store().delete_version_tag("fraud", "2", "owner", at(71), kAudit);
  store().set_model_description("fraud", "d1", at(80), kAudit);
  store().set_version_description("fraud", "2", "d2", at(81), kAudit);
  store().set_stage("fraud", "2", ModelStage::Staging, std::nullopt, at(90), kAudit);
  store().create_version(staged("fraud", "3", ModelStage::Staging, at(5)), "writer-1", kAudit);
  store().publish_version("fraud", "3", "writer-1", ArtifactInfo{}, at(100), kAudit);

  const std::vector<ModelEvent> expected{
      expected_event(EventType::VersionRegistered, "fraud", "1", "", std::nullopt, "staging",
                     at(10), kAudit),
      expected_event(EventType::VersionRegistered, "fraud", "2", "", std::nullopt, "development",
                     at(20), kAudit),
      expected_event(EventType::StageChanged, "fraud", "1", "", "staging", "production", at(30),
                     kAudit),
      // The automatic archive first, naming the promoted version; then the promotion.
      expected_event(EventType::StageChanged, "fraud", "1", "2", "production", "archived", at(40),
                     kAudit),
      expected_event(EventType::StageChanged, "fraud", "2", "", "development", "production", at(40),
                     kAudit),
      expected_event(EventType::AliasSet, "fraud", "2", "champion", std::nullopt, "2", at(50),
                     kAudit),
      expected_event(EventType::AliasSet, "fraud", "1", "champion", "2", "1", at(51), kAudit),
      expected_event(EventType::AliasDeleted, "fraud", "1", "champion", "1", std::nullopt, at(52),
                     kAudit),
      expected_event(EventType::ModelTagSet, "fraud", "", "team", std::nullopt, "risk", at(60),
                     kAudit),
      expected_event(EventType::ModelTagDeleted, "fraud", "", "team", "risk", std::nullopt, at(61),
                     kAudit),
      expected_event(EventType::VersionTagSet, "fraud", "2", "owner", std::nullopt, "bob", at(70),
                     kAudit),
      expected_event(EventType::VersionTagDeleted, "fraud", "2", "owner", "bob", std::nullopt,
                     at(71), kAudit),
      expected_event(EventType::ModelDescriptionSet, "fraud", "", "", "", "d1", at(80), kAudit),
      expected_event(EventType::VersionDescriptionSet, "fraud", "2", "", "version 2", "d2", at(81),
                     kAudit),
      expected_event(EventType::StageChanged, "fraud", "2", "", "production", "staging", at(90),
                     kAudit),
      // A reservation records nothing; its publication records the registration, at its time.
      expected_event(EventType::VersionRegistered, "fraud", "3", "", std::nullopt, "staging",
                     at(100), kAudit),
  };
  const auto events = events_of(store(), "fraud");
  EXPECT_EQ(without_sequences(events), expected);
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_LT(events[i - 1].sequence, events[i].sequence) << "at " << i;
  }
  EXPECT_GT(events.front().sequence, 0);
  EXPECT_EQ(store().latest_event_sequence(), events.back().sequence);

  // A deletion is recorded when the version disappears, with its last stage; finishing it
  // records nothing more.
  const Timestamp start = std::chrono::system_clock::now();
  ASSERT_TRUE(store().begin_delete("fraud", "1", "deleter", kAudit).has_value());
  const Timestamp end = std::chrono::system_clock::now();
  ASSERT_TRUE(store().release_version("fraud", "1", "deleter", Audit{"someone", "else"}));
  const auto last = events_after(store(), events.back().sequence);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].type, EventType::VersionDeleted);
  EXPECT_EQ(last[0].version, "1");
  EXPECT_EQ(last[0].old_value, "archived");
  EXPECT_EQ(last[0].new_value, std::nullopt);
  EXPECT_EQ(last[0].actor, kAudit.actor);
  EXPECT_EQ(last[0].reason, kAudit.reason);
  EXPECT_GE(last[0].time, start);
  EXPECT_LE(last[0].time, end);
}

TEST_P(MetadataStoreConformance, AnEmptyAuditIsRecordedEmpty) {
  store().create_version(make_version("fraud", "1"), {}, kNone);
  store().set_alias("fraud", "champion", "1", std::nullopt, at(1), kNone);
  for (const auto& event : events_of(store(), "fraud")) {
    EXPECT_EQ(event.actor, "");
    EXPECT_EQ(event.reason, "");
  }
  EXPECT_EQ(events_of(store(), "fraud").size(), 2u);
}

TEST_P(MetadataStoreConformance, NoStageChangedIsRecordedWhenTheStageStays) {
  add("fraud", "1");
  add("fraud", "2", ModelStage::Staging);
  ASSERT_TRUE(store().set_stage("fraud", "1", ModelStage::Production, std::nullopt, at(1)));
  const std::int64_t before = store().latest_event_sequence();
  EXPECT_TRUE(store().set_stage("fraud", "1", ModelStage::Production, std::nullopt, at(2)));
  EXPECT_TRUE(
      store().set_stage("fraud", "1", ModelStage::Production, ModelStage::Production, at(3)));
  EXPECT_TRUE(store().set_stage("fraud", "2", ModelStage::Staging, std::nullopt, at(4)));
  EXPECT_EQ(store().latest_event_sequence(), before);
  // A lost compare-and-swap records nothing either.
  EXPECT_THROW(store().set_stage("fraud", "2", ModelStage::Production, ModelStage::Archived, at(5)),
               FailedPreconditionError);
  EXPECT_EQ(store().latest_event_sequence(), before);
  EXPECT_EQ(store().production_version("fraud")->version, "1");
}

TEST_P(MetadataStoreConformance, ARestoredProductionVersionThatWasReplacedComesBackArchived) {
  add("fraud", "1");
  add("fraud", "2");
  ASSERT_TRUE(store().set_stage("fraud", "1", ModelStage::Production, std::nullopt, at(1)));
  ASSERT_TRUE(store().begin_delete("fraud", "1", "deleter").has_value());
  std::int64_t before = store().latest_event_sequence();
  ASSERT_TRUE(store().set_stage("fraud", "2", ModelStage::Production, std::nullopt, at(2)));
  // The hidden version was not archived by that promotion.
  EXPECT_EQ(without_sequences(events_after(store(), before)),
            std::vector<ModelEvent>{expected_event(EventType::StageChanged, "fraud", "2", "",
                                                   "development", "production", at(2), kNone)});
  before = store().latest_event_sequence();

  const Timestamp start = std::chrono::system_clock::now();
  ASSERT_TRUE(store().cancel_delete("fraud", "1", "deleter", kAudit));
  const Timestamp end = std::chrono::system_clock::now();

  const auto events = events_after(store(), before);
  ASSERT_EQ(events.size(), 1u) << ::testing::PrintToString(events);
  EXPECT_EQ(events[0].type, EventType::VersionRestored);
  EXPECT_EQ(events[0].version, "1");
  EXPECT_EQ(events[0].key, "2") << "the version promoted meanwhile";
  EXPECT_EQ(events[0].new_value, "archived");
  EXPECT_EQ(events[0].actor, kAudit.actor);
  EXPECT_EQ(events[0].reason, kAudit.reason);
  EXPECT_GE(events[0].time, start);
  EXPECT_LE(events[0].time, end);
  const auto restored = store().get_version("fraud", "1");
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(restored->stage, ModelStage::Archived);
  EXPECT_EQ(restored->updated_at, events[0].time);
  EXPECT_EQ(store().production_version("fraud")->version, "2");
}

TEST_P(MetadataStoreConformance, ARestoredProductionVersionServesAgainAndTheEventSaysSo) {
  add("fraud", "1");
  const auto promoted =
      store().set_stage("fraud", "1", ModelStage::Production, std::nullopt, at(1));
  ASSERT_TRUE(store().begin_delete("fraud", "1", "deleter").has_value());
  const auto deleted = events_of(store(), "fraud").back();
  EXPECT_EQ(deleted.type, EventType::VersionDeleted);
  EXPECT_EQ(deleted.old_value, "production");
  EXPECT_TRUE(deleted.changes_serving());
  const std::int64_t before = store().latest_event_sequence();
  ASSERT_TRUE(store().cancel_delete("fraud", "1", "deleter"));
  const auto events = events_after(store(), before);
  ASSERT_EQ(events.size(), 1u) << ::testing::PrintToString(events);
  EXPECT_EQ(events[0].type, EventType::VersionRestored);
  EXPECT_EQ(events[0].key, "");
  EXPECT_EQ(events[0].new_value, "production");
  EXPECT_TRUE(events[0].changes_serving());
  EXPECT_EQ(store().production_version("fraud"), promoted);
}

TEST_P(MetadataStoreConformance, ReservationsRecordNothingUntilTheyArePublished) {
  store().create_version(make_version("fraud", "1"), "writer-1");
  store().create_version(make_version("fraud", "2"), "writer-1");
  EXPECT_EQ(store().latest_event_sequence(), 0);
  ASSERT_TRUE(store().release_version("fraud", "1", "writer-1"));
  EXPECT_EQ(store().latest_event_sequence(), 0);
  EXPECT_TRUE(store().events(EventQuery{}).empty());
  store().publish_version("fraud", "2", "writer-1", ArtifactInfo{}, at(7));
  EXPECT_EQ(without_sequences(store().events(EventQuery{})),
            std::vector<ModelEvent>{expected_event(EventType::VersionRegistered, "fraud", "2", "",
                                                   std::nullopt, "development", at(7), kNone)});
}

TEST_P(MetadataStoreConformance, TheRegistrationEventCarriesTheCreatedAtAsRecorded) {
  add("fraud", "1", ModelStage::Development, at(300));
  const ModelVersion second = add("fraud", "2", ModelStage::Archived, at(100));
  ASSERT_EQ(second.created_at, at(300));
  const auto events = events_of(store(), "fraud");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].time, at(300));
  EXPECT_EQ(events[1].new_value, "archived");
}

TEST_P(MetadataStoreConformance, EventQueriesSelectByModelVersionSequenceAndLimit) {
  add("fraud", "1");
  add("churn", "1");
  add("fraud", "2");
  store().set_alias("fraud", "champion", "1", std::nullopt, at(1));
  store().set_model_tag("churn", "team", "growth", at(2));
  store().set_version_tag("fraud", "1", "k", "v", at(3));
  const auto all = store().events(EventQuery{});
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(events_after(store(), 0), all);

  auto select = [&](const std::function<bool(const ModelEvent&)>& keep) {
    std::vector<ModelEvent> result;
    for (const auto& e : all) {
      if (keep(e)) result.push_back(e);
    }
    return result;
  };
  EventQuery query;
  query.model_name = "fraud";
  EXPECT_EQ(store().events(query),
            select([](const ModelEvent& e) { return e.model_name == "fraud"; }));
  query.version = "1";
  const auto fraud_1 =
      select([](const ModelEvent& e) { return e.model_name == "fraud" && e.version == "1"; });
  ASSERT_EQ(fraud_1.size(), 3u);
  EXPECT_EQ(store().events(query), fraud_1);
  query.after_sequence = fraud_1[0].sequence;
  EXPECT_EQ(store().events(query), std::vector<ModelEvent>(fraud_1.begin() + 1, fraud_1.end()));
  query.limit = 1;
  EXPECT_EQ(store().events(query), std::vector<ModelEvent>{fraud_1[1]});
  // Model events (version "") are not a version's.
  query = EventQuery{};
  query.model_name = "churn";
  query.version = "1";
  EXPECT_EQ(types_of(store().events(query)), std::vector<EventType>{EventType::VersionRegistered});

  query = EventQuery{};
  query.after_sequence = all[2].sequence;
  query.limit = 2;
  EXPECT_EQ(store().events(query), (std::vector<ModelEvent>{all[3], all[4]}));
  query.limit = kMaxSearchResults;
  EXPECT_EQ(store().events(query), std::vector<ModelEvent>(all.begin() + 3, all.end()));
  query.after_sequence = all.back().sequence;
  EXPECT_TRUE(store().events(query).empty());
  query.after_sequence = all.back().sequence + 1000;
  EXPECT_TRUE(store().events(query).empty());
  query = EventQuery{};
  query.model_name = "nomodel";
  EXPECT_TRUE(store().events(query).empty());
}

TEST_P(MetadataStoreConformance, MalformedEventQueriesAreInvalid) {
  add("fraud", "1");
  EventQuery query;
  query.version = "1";  // without a model
  EXPECT_THROW(store().events(query), InvalidArgumentError);
  query = EventQuery{};
  query.after_sequence = -1;
  EXPECT_THROW(store().events(query), InvalidArgumentError);
  query = EventQuery{};
  query.limit = kMaxSearchResults + 1;
  EXPECT_THROW(store().events(query), InvalidArgumentError);
  query = EventQuery{};
  query.model_name = "bad name";
  EXPECT_THROW(store().events(query), InvalidArgumentError);
  query.model_name = "fraud";
  query.version = "../1";
  EXPECT_THROW(store().events(query), InvalidArgumentError);
}

TEST_P(MetadataStoreConformance, SequencesIncreaseAndTheLatestIsTheNewest) {
  EXPECT_EQ(store().latest_event_sequence(), 0);
  EXPECT_TRUE(store().events(EventQuery{}).empty());
  for (int i = 0; i < 5; ++i) {
    const std::int64_t before = store().latest_event_sequence();
    add("fraud", std::to_string(i));
    store().set_version_tag("fraud", std::to_string(i), "i", std::to_string(i), at(i));
    const auto events = events_after(store(), before);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_GT(events[0].sequence, before);
    EXPECT_LT(events[0].sequence, events[1].sequence);
    EXPECT_EQ(store().latest_event_sequence(), events[1].sequence);
  }
  const auto all = store().events(EventQuery{});
  ASSERT_EQ(all.size(), 10u);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].sequence, all[i].sequence);
}

TEST_P(MetadataStoreConformance, TheHistoryOutlivesDeletedVersionsAndModels) {
  add("fraud", "1");
  add("fraud", "2");
  store().set_version_tag("fraud", "1", "k", "v", at(1));
  const auto before = store().events(EventQuery{});
  ASSERT_TRUE(store().begin_delete("fraud", "1", "deleter").has_value());
  ASSERT_TRUE(store().release_version("fraud", "1", "deleter"));
  EventQuery one;
  one.model_name = "fraud";
  one.version = "1";
  EXPECT_EQ(types_of(store().events(one)),
            (std::vector<EventType>{EventType::VersionRegistered, EventType::VersionTagSet,
                                    EventType::VersionDeleted}));
  ASSERT_TRUE(store().begin_delete_model("fraud", "deleter", at(2)).has_value());
  ASSERT_TRUE(store().release_version("fraud", "2", "deleter"));
  const auto after = store().events(EventQuery{});
  ASSERT_EQ(after.size(), before.size() + 2);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin()))
      << "events are never rewritten";
  EXPECT_EQ(after.back().type, EventType::ModelDeleted);
  EXPECT_EQ(store().events(one).size(), 3u);
}

}  // namespace
}  // namespace modelreg

// The MetadataStore conformance suite, part 6: import_model, the step that makes an imported
// model's reserved versions visible with their stages, aliases and history
// (metadata_store_conformance.hpp).

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "catalog_test_support.hpp"
#include "metadata_store_conformance.hpp"
#include "modelreg/error.hpp"
#include "modelreg/metadata_store.hpp"

namespace modelreg {
namespace {

using testing::at;
using testing::make_version;
using testing::names_of;
using testing::without_sequences;

constexpr const char* kOwner = "importer";

ModelEvent event_of(EventType type, const std::string& version, Timestamp time,
                    const std::string& actor) {
  ModelEvent event;
  event.type = type;
  event.model_name = "fraud";
  event.version = version;
  event.time = time;
  event.actor = actor;
  event.reason = "in the source registry";
  return event;
}

// Two versions as a source registry had them: 2 in Production named by "champion", 1 archived,
// and their history there.
ModelImport source_import() {
  ModelImport import;
  import.model_name = "fraud";
  import.description = "card fraud";
  import.tags = {{ "owner", "risk" }};
  import.created_at = at(-1000);
  ModelVersion one = make_version("fraud", "1", ModelStage::Archived, at(100));
  one.updated_at = at(300);
  ModelVersion two = make_version("fraud", "2", ModelStage::Production, at(200));
  two.updated_at = at(300);
  two.aliases = {"champion", "stable"};
  import.versions = {one, two};
  ModelEvent registered_one = event_of(EventType::VersionRegistered, "1", at(100), "trainer");
  registered_one.new_value = "development";
  ModelEvent registered_two = event_of(EventType::VersionRegistered, "2", at(200), "trainer");
  registered_two.new_value = "development";
  ModelEvent promoted = event_of(EventType::StageChanged, "2", at(300), "evaluator");
  promoted.old_value = "development";
  promoted.new_value = "production";
  import.events = {registered_one, registered_two, promoted};
  return import;
}

// What an importer does first: reserve each version, as a plain Development version.
void reserve(MetadataStore& store, const ModelImport& import) {
  for (ModelVersion version : import.versions) {
    version.stage = ModelStage::Development;
    version.aliases.clear();
    store.create_version(version, kOwner);
  }
}

TEST_P(MetadataStoreConformance, ImportMakesTheReservedVersionsVisibleAsTheSourceHadThem) {
  const ModelImport import = source_import();
  reserve(store(), import);
  const std::int64_t before = store().latest_event_sequence();
  store().import_model(import, kOwner);

  const auto model = store().get_model("fraud");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->description, "card fraud");
  EXPECT_EQ(model->tags, (std::map<std::string, std::string>{{"owner", "risk"}}));
  EXPECT_EQ(model->created_at, at(-1000));
  ASSERT_EQ(model->versions.size(), 2u);
  EXPECT_EQ(model->versions[0], import.versions[0]);
  EXPECT_EQ(model->versions[1], import.versions[1]);
  EXPECT_EQ(model->aliases,
            (std::map<std::string, std::string>{{"champion", "2"}, {"stable", "2"}}));
  EXPECT_EQ(store().production_version("fraud"), import.versions[1]);
  EXPECT_EQ(store().latest_version("fraud")->version, "2");
  EXPECT_EQ(store().get_version_by_alias("fraud", "champion")->version, "2");
  EXPECT_TRUE(store().list_pending().empty());
  // The source's history, appended in order with new sequence numbers; nothing else.
  const auto events = store().events(EventQuery{"fraud", std::nullopt, before, 0});
  EXPECT_EQ(without_sequences(events), without_sequences(import.events));
  EXPECT_EQ(events.front().sequence, before + 1);
}

TEST_P(MetadataStoreConformance, ImportRecordsARegistrationTheHistoryDoesNotHave) {
  ModelImport import = source_import();
  import.events.clear();
  reserve(store(), import);
  store().import_model(import, kOwner, Audit{"ops", "migration"});
  const auto events = store().events(EventQuery{"fraud", std::nullopt, 0, 0});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, EventType::VersionRegistered);
  EXPECT_EQ(events[0].version, "1");
  EXPECT_EQ(events[0].actor, "ops");
  EXPECT_EQ(events[1].version, "2");
}

TEST_P(MetadataStoreConformance, ImportRefusesWhatItCannotDoAndChangesNothing) {
  const ModelImport import = source_import();
  // Not reserved (by this owner): nothing becomes visible.
  EXPECT_THROW(store().import_model(import, kOwner), FailedPreconditionError);
  reserve(store(), import);
  EXPECT_THROW(store().import_model(import, "someone-else"), FailedPreconditionError);
  EXPECT_FALSE(store().get_model("fraud").has_value());

  // Malformed imports.
  ModelImport twice = import;
  twice.versions[0].stage = ModelStage::Production;
  EXPECT_THROW(store().import_model(twice, kOwner), InvalidArgumentError);
  ModelImport alias_twice = import;
  alias_twice.versions[0].aliases = {"champion"};
  EXPECT_THROW(store().import_model(alias_twice, kOwner), InvalidArgumentError);
  ModelImport foreign_event = import;
  foreign_event.events[0].model_name = "other";
  EXPECT_THROW(store().import_model(foreign_event, kOwner), InvalidArgumentError);
  ModelImport reserved_alias = import;
  reserved_alias.versions[1].aliases = {"latest"};
  EXPECT_THROW(store().import_model(reserved_alias, kOwner), InvalidArgumentError);
  EXPECT_FALSE(store().get_model("fraud").has_value());
  EXPECT_EQ(store().list_pending().size(), 2u);  // the reservations are still the caller's
  EXPECT_EQ(store().latest_event_sequence(), 0);
}

TEST_P(MetadataStoreConformance, ImportMergeRefusesAliasAndProductionConflicts) {
  add("fraud", "10");
  store().set_alias("fraud", "champion", "10", std::nullopt, at(5));
  const ModelImport import = source_import();
  reserve(store(), import);
  const std::int64_t before = store().latest_event_sequence();
  EXPECT_THROW(store().import_model(import, kOwner), AlreadyExistsError);
  store().delete_alias("fraud", "champion", at(6));
  store().set_stage("fraud", "10", ModelStage::Production, std::nullopt, at(7));
  const std::int64_t after_setup = store().latest_event_sequence();
  EXPECT_EQ(after_setup, before + 2);
  EXPECT_THROW(store().import_model(import, kOwner), FailedPreconditionError);
  EXPECT_EQ(store().latest_event_sequence(), after_setup);
  EXPECT_EQ(names_of(store().list_versions("fraud")), std::vector<std::string>{"10"});

  // Without the conflict the versions come after the model's own; its description stays.
  store().set_stage("fraud", "10", ModelStage::Archived, std::nullopt, at(8));
  store().set_model_description("fraud", "ours", at(9));
  store().import_model(import, kOwner);
  EXPECT_EQ(names_of(store().list_versions("fraud")), (std::vector<std::string>{"10", "1", "2"}));
  EXPECT_EQ(store().get_model("fraud")->description, "ours");
  EXPECT_EQ(store().get_model("fraud")->tags.at("owner"), "risk");
  EXPECT_EQ(store().production_version("fraud")->version, "2");
}

}  // namespace
}  // namespace modelreg

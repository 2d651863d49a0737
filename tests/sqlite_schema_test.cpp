// Upgrades of the SQLite catalog's schema, from files that older builds wrote: the schema-2
// registry in tests/data/schema2-registry was made by the build of commit 512ee0f (see
// tests/data/README.md), and a schema-1 file is made from it by undoing the version 2 step.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "modelreg/error.hpp"
#include "modelreg/model_registry.hpp"
#include "modelreg/sqlite_metadata_store.hpp"
#include "raw_sqlite.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RawDb;

static_assert(SqliteMetadataStore::kSchemaVersion == 3, "extend these tests for the new step");

// Turns a database of schema version 2 back into version 1: models.generation, and the
// triggers that bumped it on every change of a version.
constexpr const char* kBackToVersion1 = R"sql(
ALTER TABLE models RENAME COLUMN retired_generation TO generation;
CREATE TRIGGER versions_inserted AFTER INSERT ON versions BEGIN
  UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
END;
CREATE TRIGGER versions_updated AFTER UPDATE ON versions BEGIN
  UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
END;
CREATE TRIGGER versions_deleted AFTER DELETE ON versions BEGIN
  UPDATE models SET generation = generation + 1 WHERE id = OLD.model_id;
END;
PRAGMA user_version = 1;
)sql";

std::vector<std::string> versions_of(const std::vector<ModelVersion>& versions) {
  std::vector<std::string> names;
  for (const auto& v : versions) names.push_back(v.full_name());
  return names;
}

class SqliteSchemaTest : public ::testing::Test {
 protected:
  // A copy of the committed schema-2 registry directory.
  void SetUp() override {
    fs::copy(fs::path(MODELREG_TEST_DATA_DIR) / "schema2-registry", registry_dir(),
             fs::copy_options::recursive);
    RawDb raw(db_path());
    ASSERT_EQ(raw.integer("PRAGMA user_version"), 2);
  }

  fs::path registry_dir() const { return dir_.path() / "registry"; }
  fs::path db_path() const { return registry_dir() / "registry.db"; }
  std::unique_ptr<SqliteMetadataStore> open() {
    return std::make_unique<SqliteMetadataStore>(db_path());
  }
  int triggers_named(const std::string& pattern) {
    RawDb raw(db_path());
    return static_cast<int>(
        raw.integer("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '" +
                    pattern + "'"));
  }

  testing::TestDir dir_;
};

TEST_F(SqliteSchemaTest, ASchema2FileIsUpgradedAndKeepsEveryField) {
  auto store = open();
  {
    RawDb raw(db_path());
    EXPECT_EQ(raw.integer("PRAGMA user_version"), 3);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(raw.integer("SELECT count(*) FROM pragma_foreign_key_check"), 0);
  }
  EXPECT_EQ(store->list_models(), (std::vector<std::string>{"fraud", "ranker"}));
  const auto fraud = store->list_versions("fraud");
  ASSERT_EQ(fraud.size(), 3u);
  EXPECT_EQ(fraud[0].stage, ModelStage::Archived);
  EXPECT_EQ(fraud[1].stage, ModelStage::Production);
  EXPECT_EQ(fraud[2].stage, ModelStage::Staging);
  EXPECT_EQ(fraud[0].framework, ModelFramework::PyTorch);
  EXPECT_EQ(fraud[2].framework, ModelFramework::Onnx);
  EXPECT_EQ(fraud[1].metrics.accuracy, 0.94);
  EXPECT_EQ(fraud[1].metrics.auc_roc, 0.93);
  EXPECT_EQ(fraud[1].metrics.custom.at("latency_ms"), 4.25);
  EXPECT_EQ(fraud[2].metrics.mse, 0.25);
  EXPECT_EQ(fraud[1].parameters, nlohmann::json({{"lr", 0.01}, {"epochs", 10}}));
  EXPECT_EQ(fraud[1].tags.at("note"), "it's \"quoted\" \xc3\xa9");
  EXPECT_EQ(fraud[0].description, "first fraud model");
  EXPECT_EQ(fraud[0].artifact_path, "fraud/1/model.bin");
  EXPECT_EQ(fraud[0].artifact_size, 16u);
  EXPECT_TRUE(fraud[0].aliases.empty());
  EXPECT_EQ(store->production_version("fraud")->version, "2");
  EXPECT_EQ(store->latest_version("fraud")->version, "3");

  const auto ranker = store->list_versions("ranker");
  ASSERT_EQ(ranker.size(), 2u);
  EXPECT_EQ(ranker[1].metrics.custom.at("loss"), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(ranker[1].metrics.custom.at("nan_metric")));
  EXPECT_EQ(ranker[1].artifact_path, std::nullopt);

  // The reservation of the writer that died is still there, for recovery to settle.
  const auto pending = store->list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].version, "3.0.0");
  EXPECT_EQ(pending[0].owner, "deadbeefdeadbeef");
  EXPECT_FALSE(store->is_writer_alive("deadbeefdeadbeef"));
}

TEST_F(SqliteSchemaTest, TheUpgradeRecordsEveryRegistrationInTheHistory) {
  auto store = open();
  const auto events = store->events(EventQuery{});
  std::vector<std::string> registered;
  for (const auto& event : events) {
    EXPECT_EQ(event.type, EventType::VersionRegistered);
    EXPECT_EQ(event.actor, "schema-upgrade");
    registered.push_back(event.model_name + ":" + event.version + "@" + *event.new_value);
  }
  // Oldest registration first; the reserved 3.0.0 was never registered.
  EXPECT_THAT(registered, ElementsAre("fraud:1@archived", "fraud:2@production", "fraud:3@staging",
                                      "ranker:1.0.0@development", "ranker:2.0.0@development"));
  EXPECT_EQ(store->latest_event_sequence(), 5);
  EXPECT_EQ(events[0].time, store->get_version("fraud", "1")->created_at);
  // Registration order breaks ties in searches: every visible version has it.
  VersionQuery all;
  EXPECT_THAT(versions_of(store->search_versions(all).versions),
              ElementsAre("fraud:1", "fraud:2", "fraud:3", "ranker:1.0.0", "ranker:2.0.0"));
}

TEST_F(SqliteSchemaTest, UpgradedTagsAndMetricsAreSearchable) {
  auto store = open();
  const auto search = [&](std::string_view filter) {
    VersionQuery query;
    query.conditions = parse_version_filter(filter);
    return versions_of(store->search_versions(query).versions);
  };
  EXPECT_THAT(search("tags.team = 'risk'"), ElementsAre("fraud:1", "fraud:2"));
  EXPECT_THAT(search("tags.note LIKE '%quoted%'"), ElementsAre("fraud:2"));
  EXPECT_THAT(search("metrics.latency_ms > 4"), ElementsAre("fraud:2"));
  EXPECT_THAT(search("metrics.accuracy >= 0.91"), ElementsAre("fraud:1", "fraud:2"));
  EXPECT_THAT(search("metrics.loss > 1e300"), ElementsAre("ranker:2.0.0"));
  EXPECT_THAT(search("metrics.nan_metric != 0"), ElementsAre());
  EXPECT_THAT(search("metrics.mse < 1 AND stage = 'staging'"), ElementsAre("fraud:3"));
  EXPECT_THAT(search("framework = 'sklearn'"), ElementsAre("ranker:1.0.0"));
}

TEST_F(SqliteSchemaTest, AnUpgradedRegistryWorksThroughTheWholeApi) {
  auto registry = ModelRegistry::open(registry_dir());  // recovers the dead writer's reservation
  EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
  EXPECT_EQ(to_string(*registry.load_artifact("fraud", "2")), "fraud v2 weights");
  registry.set_alias("fraud", "champion", "2");
  EXPECT_EQ(registry.resolve("models:/fraud@champion")->version, "2");
  registry.set_model_tag("fraud", "owner", "risk-team");
  registry.transition_stage("fraud", "3", ModelStage::Production);
  EXPECT_EQ(registry.get_production_model("fraud")->version, "3");
  EXPECT_EQ(registry.get_version("fraud", "2")->stage, ModelStage::Archived);
  RegisterOptions options;
  options.artifact = to_bytes("fraud v4");
  registry.register_version("fraud", "4", options);
  EXPECT_EQ(registry.get_latest("fraud")->version, "4");
  const auto history = registry.history("fraud");
  ASSERT_GE(history.size(), 3u);
  EXPECT_EQ(history.back().type, EventType::VersionRegistered);
  EXPECT_EQ(history.back().version, "4");
  EXPECT_TRUE(registry.delete_model("ranker"));
  EXPECT_EQ(registry.list_models(), std::vector<std::string>{"fraud"});
}

TEST_F(SqliteSchemaTest, AFailedUpgradeLeavesTheFileAsItWas) {
  {
    // Something the upgrade's CREATE TABLE collides with, so that it fails halfway.
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec("CREATE TABLE version_tags (x)"), SQLITE_OK) << raw.error();
  }
  EXPECT_THROW(open(), StorageError);
  RawDb raw(db_path());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 2);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM pragma_table_info('models') WHERE name = 'state'"),
            0);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'events'"), 0);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM versions"), 6);
}

TEST_F(SqliteSchemaTest, TheHistoryRefusesUpdatesAndDeletes) {
  auto store = open();
  RawDb raw(db_path());
  EXPECT_EQ(raw.exec("UPDATE events SET actor = 'mallory'"), SQLITE_CONSTRAINT);
  EXPECT_THAT(raw.error(), HasSubstr("append-only"));
  EXPECT_EQ(raw.exec("DELETE FROM events"), SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM events WHERE actor = 'schema-upgrade'"), 5);
}

TEST_F(SqliteSchemaTest, AVersion1FileIsUpgradedInPlaceAndKeepsEverything) {
  {
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec(kBackToVersion1), SQLITE_OK) << raw.error();
  }
  ASSERT_EQ(triggers_named("versions_%"), 3);

  // A version 1 process still running: its statements use models.generation.
  RawDb old_process(db_path());
  sqlite3_stmt* old_statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(old_process.handle(), "SELECT id, generation FROM models", -1,
                               &old_statement, nullptr),
            SQLITE_OK);

  auto store = open();
  {
    RawDb raw(db_path());
    EXPECT_EQ(raw.integer("PRAGMA user_version"), 3);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM pragma_table_info('models') "
                          "WHERE name = 'generation'"),
              0);
    EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  }
  EXPECT_EQ(triggers_named("versions_%"), 0);
  // ... fails loudly instead of trusting a generation nothing bumps any more.
  EXPECT_EQ(sqlite3_step(old_statement) & 0xff, SQLITE_ERROR);
  EXPECT_THAT(sqlite3_errmsg(old_process.handle()), HasSubstr("generation"));
  sqlite3_finalize(old_statement);

  EXPECT_EQ(store->list_versions("fraud").size(), 3u);
  EXPECT_EQ(store->production_version("fraud")->version, "2");
  ASSERT_EQ(store->list_pending().size(), 1u);
  EXPECT_EQ(store
                ->publish_version("ranker", "3.0.0", "deadbeefdeadbeef", ArtifactInfo{},
                                  std::chrono::system_clock::now())
                .version,
            "3.0.0");
  EXPECT_EQ(store->latest_version("ranker")->version, "3.0.0");
  // A second open finds nothing to upgrade.
  auto again = open();
  EXPECT_EQ(again->list_versions("fraud", ModelStage::Archived).size(), 1u);
}

TEST_F(SqliteSchemaTest, StoresOpeningOneOldFileAtOnceUpgradeItOnce) {
  constexpr int kThreads = 8;
  std::vector<std::unique_ptr<SqliteMetadataStore>> stores(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> running;
  for (int t = 0; t < kThreads; ++t) {
    running.emplace_back([&, t] {
      try {
        stores[t] = open();
        ModelVersion v;
        v.model_name = "fraud";
        v.version = "t" + std::to_string(t);
        v.created_at = v.updated_at = std::chrono::system_clock::now();
        stores[t]->create_version(v);
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& thread : running) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  ASSERT_TRUE(stores[0]);
  EXPECT_EQ(stores[0]->list_versions("fraud").size(), 3u + kThreads);
  // Each backfilled registration once, then one per new version.
  EXPECT_EQ(stores[0]->latest_event_sequence(), 5 + kThreads);
}

}  // namespace
}  // namespace modelreg

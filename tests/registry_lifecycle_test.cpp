// ModelRegistry's lifecycle API over an in-memory registry and ModelRegistry::open(dir): model
// URIs (resolve, load_artifact), best_version, searches with filter strings and delete_model.
// The history and the audit are in registry_history_test.cpp, watches in registry_watch_test.cpp.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <modelreg/modelreg.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "log_capture.hpp"
#include "registry_lifecycle_fixture.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using testing::FailingDeleteStore;
using testing::OpenRegistryTest;
using testing::RegistryKind;
using testing::RegistryLifecycleTest;

std::vector<std::string> versions_of(const std::vector<ModelVersion>& versions) {
  std::vector<std::string> names;
  for (const auto& v : versions) names.push_back(v.version);
  return names;
}

// --- resolve ------------------------------------------------------------------------------

TEST_P(RegistryLifecycleTest, ResolveFindsTheVersionEveryUriFormNames) {
  add("fraud", "1", "one");
  add("fraud", "2", "two");
  add("fraud", "3", "three");
  add("fraud", "4", "four");
  add("other", "1", "x");
  registry().transition_stage("fraud", "2", ModelStage::Production);
  // 4 goes to Staging before 3: the latest in a stage is the latest registered, not moved.
  registry().transition_stage("fraud", "4", ModelStage::Staging);
  registry().transition_stage("fraud", "3", ModelStage::Staging);
  registry().set_alias("fraud", "champion", "1");
  const auto v = [&](const char* version) { return registry().get_version("fraud", version); };

  EXPECT_EQ(registry().resolve("models:/fraud/3"), v("3"));
  EXPECT_EQ(registry().resolve("models:/fraud@champion"), v("1"));
  for (const char* uri : {"models:/fraud/Production", "models:/fraud/production",
                          "models:/fraud/PRODUCTION", "MODELS:/fraud/Production"}) {
    EXPECT_EQ(registry().resolve(uri), v("2")) << uri;
  }
  for (const char* uri :
       {"models:/fraud/Staging", "models:/fraud/staging", "models:/fraud/sTaGiNg"}) {
    EXPECT_EQ(registry().resolve(uri), v("4")) << uri;
  }
  EXPECT_EQ(registry().resolve("models:/fraud/Development"), v("1"));
  for (const char* uri : {"models:/fraud/latest", "models:/fraud/Latest", "models:/fraud/LATEST"}) {
    EXPECT_EQ(registry().resolve(uri), v("4")) << uri;
  }
  EXPECT_EQ(registry().resolve(ModelUri::parse("models:/fraud/3")), v("3"));
  EXPECT_EQ(registry().resolve(ModelUri::parse("models:/other/latest"))->model_name, "other");

  // Nothing matches: nullopt.
  for (const char* uri :
       {"models:/fraud/Archived", "models:/fraud/9", "models:/fraud@nobody", "models:/nomodel/1",
        "models:/nomodel/latest", "models:/nomodel/Production", "models:/nomodel@champion",
        "models:/other/Production", "models:/other@champion"}) {
    EXPECT_EQ(registry().resolve(uri), std::nullopt) << uri;
  }
  // They follow changes.
  registry().set_alias("fraud", "champion", "3");
  registry().transition_stage("fraud", "3", ModelStage::Production);
  EXPECT_EQ(registry().resolve("models:/fraud@champion"), v("3"));
  EXPECT_EQ(registry().resolve("models:/fraud/Production"), v("3"));
  EXPECT_EQ(registry().resolve("models:/fraud/Archived"), v("2"));
  EXPECT_EQ(registry().resolve("models:/fraud/staging"), v("4"));
  ASSERT_TRUE(registry().delete_version("fraud", "4"));
  EXPECT_EQ(registry().resolve("models:/fraud/latest"), v("3"));
  EXPECT_EQ(registry().resolve("models:/fraud/Staging"), std::nullopt);
}

// A stage URI names the latest registered version in the stage (MLflow's meaning), also when
// registration times tie: the catalog records a registration earlier than the model's latest
// at the latest's time (clocks of concurrent writers differ), so ties do happen.
TEST_P(RegistryLifecycleTest, AStageUriNamesTheLatestRegisteredVersionInItWhenTimesTie) {
  auto catalog = make_catalog();
  for (const auto& [version, stage] :
       std::vector<std::pair<std::string, ModelStage>>{{"1", ModelStage::Staging},
                                                       {"2", ModelStage::Staging},
                                                       {"3", ModelStage::Archived},
                                                       {"4", ModelStage::Archived},
                                                       {"5", ModelStage::Development}}) {
    ModelVersion v;
    v.model_name = "fraud";
    v.version = version;
    v.stage = stage;
    v.created_at = v.updated_at = Timestamp(std::chrono::seconds(1'700'000'000));
    catalog->create_version(v);
  }
  ModelRegistry direct(std::make_shared<InMemoryModelStore>(), catalog);
  ASSERT_EQ(direct.get_latest("fraud")->version, "5");
  ASSERT_EQ(direct.get_model("fraud")->latest_version()->version, "5");
  EXPECT_EQ(direct.resolve("models:/fraud/latest")->version, "5");
  EXPECT_EQ(direct.resolve("models:/fraud/Staging")->version, "2")
      << "the latest registered in Staging is 2, not the earliest";
  EXPECT_EQ(direct.resolve("models:/fraud/Archived")->version, "4");
}

TEST_P(RegistryLifecycleTest, MalformedUrisAreInvalid) {
  add("fraud", "1", "one");
  const std::int64_t before = registry().latest_event_sequence();
  for (const char* uri :
       {"", "fraud/1", "models:/fraud", "models:/fraud/", "models://fraud/1", "models:/fraud/1/2",
        "models:/fraud@latest", "models:/fraud@v1", "models:/fraud@", "runs:/fraud/1",
        "models:/fr aud/1", "models:/fraud/../1", "models:/fraud/1?x=1"}) {
    EXPECT_THROW(registry().resolve(uri), InvalidArgumentError) << uri;
    EXPECT_THROW(registry().load_artifact(std::string_view(uri)), InvalidArgumentError) << uri;
  }
  EXPECT_EQ(registry().latest_event_sequence(), before);
}

// --- load_artifact by URI -----------------------------------------------------------------

TEST_P(RegistryLifecycleTest, LoadArtifactByUriReturnsTheVerifiedBytesOfTheVersionItNames) {
  add("fraud", "1", "bytes of one");
  add("fraud", "2", "bytes of two");
  add("fraud", "3");  // no artifact
  registry().transition_stage("fraud", "1", ModelStage::Production);
  registry().set_alias("fraud", "champion", "2");

  const std::vector<std::pair<std::string, std::string>> cases{
      {"models:/fraud/1", "bytes of one"},
      {"models:/fraud/production", "bytes of one"},
      {"models:/fraud@champion", "bytes of two"},
      {"models:/fraud/2", "bytes of two"}};
  int n = 0;
  for (const auto& [uri, content] : cases) {
    SCOPED_TRACE(uri);
    const auto bytes = registry().load_artifact(std::string_view(uri));
    ASSERT_TRUE(bytes.has_value());
    EXPECT_EQ(to_string(*bytes), content);
    const ModelUri parsed = ModelUri::parse(uri);
    EXPECT_EQ(registry().load_artifact(parsed), bytes);
    std::ostringstream out;
    EXPECT_TRUE(registry().load_artifact(parsed, out));
    EXPECT_EQ(out.str(), content);
    const fs::path destination = dir_.path() / ("loaded-" + std::to_string(++n) + ".bin");
    EXPECT_TRUE(registry().load_artifact(parsed, destination));
    EXPECT_EQ(testing::read_file(destination), content);
    // The same bytes as by name and version.
    const auto named = registry().resolve(parsed);
    ASSERT_TRUE(named.has_value());
    EXPECT_EQ(registry().load_artifact(named->model_name, named->version), bytes);
  }
  // A URI naming nothing, or a version without an artifact: nullopt / false, nothing written.
  for (const char* uri : {"models:/fraud/latest", "models:/fraud/9", "models:/fraud@nobody",
                          "models:/fraud/Staging", "models:/nomodel/1"}) {
    SCOPED_TRACE(uri);
    EXPECT_EQ(registry().load_artifact(std::string_view(uri)), std::nullopt);
    std::ostringstream out;
    EXPECT_FALSE(registry().load_artifact(ModelUri::parse(uri), out));
    EXPECT_TRUE(out.str().empty());
    const fs::path destination = dir_.path() / "never.bin";
    EXPECT_FALSE(registry().load_artifact(ModelUri::parse(uri), destination));
    EXPECT_FALSE(fs::exists(destination));
  }
}

TEST_P(OpenRegistryTest, LoadArtifactByUriNeverReturnsCorruptBytes) {
  add("fraud", "1", "the true bytes");
  registry().set_alias("fraud", "champion", "1");
  {
    std::ofstream damage(
        testing::writable(dir_.path() / "registry" / "artifacts" / "fraud" / "1" / "model.bin"),
        std::ios::binary | std::ios::trunc);
    damage << "the fake bytes";
  }
  const ModelUri uri = ModelUri::parse("models:/fraud@champion");
  EXPECT_THROW(registry().load_artifact(uri), DataLossError);
  std::ostringstream out;
  EXPECT_THROW(registry().load_artifact(uri, out), DataLossError);
  EXPECT_TRUE(out.str().empty()) << "not one unverified byte";
  const fs::path destination = dir_.path() / "loaded.bin";
  EXPECT_THROW(registry().load_artifact(uri, destination), DataLossError);
  EXPECT_FALSE(fs::exists(destination));
}

// --- best_version -------------------------------------------------------------------------

TEST_P(RegistryLifecycleTest, BestVersionPicksTheExtremeValueAndTheLatestAmongEquals) {
  add("fraud", "1", {}, 0.8);
  add("fraud", "2", {}, 0.9);
  add("fraud", "3", {}, 0.9);
  add("fraud", "4");  // no metric
  add("fraud", "5");  // no metric either
  add("fraud", "6", {}, 0.7);
  add("fraud", "7", {}, 0.75);
  add("fraud", "8", {}, 0.7);
  add("other", "1", {}, 0.99);
  for (const char* version : {"6", "7", "8"}) {
    registry().transition_stage("fraud", version, ModelStage::Staging);
  }
  auto best = [&](std::optional<ModelStage> stage, MetricGoal goal,
                  const std::string& metric = "auc_roc") -> std::optional<std::string> {
    const auto v = registry().best_version("fraud", metric, stage, goal);
    if (!v) return std::nullopt;
    EXPECT_EQ(v->model_name, "fraud");
    return v->version;
  };
  // 2 and 3 tie at the top, 6 and 8 at the bottom: the latest registered of equals wins.
  EXPECT_EQ(best(std::nullopt, MetricGoal::Maximize), "3");
  EXPECT_EQ(registry().best_version("fraud", "auc_roc")->version, "3") << "Maximize by default";
  EXPECT_EQ(best(std::nullopt, MetricGoal::Minimize), "8");
  EXPECT_EQ(best(ModelStage::Staging, MetricGoal::Maximize), "7");
  EXPECT_EQ(best(ModelStage::Staging, MetricGoal::Minimize), "8");
  EXPECT_EQ(best(ModelStage::Production, MetricGoal::Maximize), std::nullopt);
  EXPECT_EQ(best(std::nullopt, MetricGoal::Maximize, "accuracy"), std::nullopt);
  EXPECT_EQ(registry().best_version("nomodel", "auc_roc"), std::nullopt);
  // The best is returned whole, as get_version has it.
  EXPECT_EQ(registry().best_version("fraud", "auc_roc"), registry().get_version("fraud", "3"));

  // A NaN metric (not computed, say) is never chosen, in either direction.
  auto catalog = make_catalog();
  ModelVersion v;
  v.model_name = "nan";
  for (const auto& [version, value] : std::vector<std::pair<std::string, std::optional<double>>>{
           {"1", std::numeric_limits<double>::quiet_NaN()}, {"2", 0.5}, {"3", std::nullopt}}) {
    v.version = version;
    v.metrics.auc_roc = value;
    catalog->create_version(v);
  }
  v.model_name = "only-nan";
  v.version = "1";
  v.metrics.auc_roc = std::numeric_limits<double>::quiet_NaN();
  catalog->create_version(v);
  ModelRegistry direct(std::make_shared<InMemoryModelStore>(), catalog);
  EXPECT_EQ(direct.best_version("nan", "auc_roc")->version, "2");
  EXPECT_EQ(direct.best_version("nan", "auc_roc", std::nullopt, MetricGoal::Minimize)->version,
            "2");
  EXPECT_EQ(direct.best_version("only-nan", "auc_roc"), std::nullopt);
  EXPECT_EQ(direct.best_version("only-nan", "auc_roc", std::nullopt, MetricGoal::Minimize),
            std::nullopt);
  // Custom metrics too.
  RegisterOptions options;
  options.metrics.custom["latency_ms"] = 3;
  registry().register_version("fast", "1", options);
  options.metrics.custom["latency_ms"] = 2;
  registry().register_version("fast", "2", options);
  EXPECT_EQ(
      registry().best_version("fast", "latency_ms", std::nullopt, MetricGoal::Minimize)->version,
      "2");
  EXPECT_THROW(registry().best_version("bad name", "auc_roc"), InvalidArgumentError);
  EXPECT_THROW(registry().best_version("fraud", ""), InvalidArgumentError);
}

// --- search with filter strings ------------------------------------------------------------

TEST_P(RegistryLifecycleTest, SearchesTakeFilterStringsOrdersAndPages) {
  for (int i = 1; i <= 5; ++i) add("fraud", std::to_string(i), {}, 0.80 + 0.03 * i);
  add("churn", "1", {}, 0.99);
  registry().transition_stage("fraud", "4", ModelStage::Production);
  registry().set_model_tag("fraud", "team", "risk");
  registry().set_model_tag("churn", "team", "growth");

  auto page = registry().search_versions("name = 'fraud' AND metrics.auc_roc > 0.85",
                                         "metrics.auc_roc DESC");
  EXPECT_EQ(versions_of(page.versions), (std::vector<std::string>{"5", "4", "3", "2"}));
  EXPECT_TRUE(page.next_page_token.empty());
  page = registry().search_versions("stage = 'production'");
  EXPECT_EQ(versions_of(page.versions), std::vector<std::string>{"4"});
  EXPECT_EQ(registry().search_versions("").versions.size(), 6u);

  std::vector<std::string> paged;
  std::string token;
  int pages = 0;
  do {
    page = registry().search_versions("name LIKE 'fr%'", "created_at ASC", 2, token);
    for (const auto& v : page.versions) paged.push_back(v.version);
    token = page.next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(paged, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(pages, 3);

  const auto models = registry().search_models("tags.team = 'risk'", "name DESC");
  ASSERT_EQ(models.models.size(), 1u);
  EXPECT_EQ(models.models[0].name, "fraud");
  EXPECT_EQ(models.models[0].versions.size(), 5u);
  EXPECT_EQ(registry().search_models("", "name DESC").models.size(), 2u);
  EXPECT_EQ(registry().search_models("", "name DESC").models[0].name, "fraud");
  const auto first = registry().search_models("", "name", 1);
  ASSERT_FALSE(first.next_page_token.empty());
  EXPECT_EQ(first.models[0].name, "churn");
  EXPECT_EQ(registry().search_models("", "name", 1, first.next_page_token).models[0].name, "fraud");

  VersionQuery query;
  query.conditions = {where::alias("nobody")};
  EXPECT_TRUE(registry().search_versions(query).versions.empty());
  EXPECT_THROW(registry().search_versions("", "", 0), InvalidArgumentError);
  EXPECT_THROW(registry().search_versions("", "", kMaxSearchResults + 1), InvalidArgumentError);
  EXPECT_THROW(registry().search_versions("", "", 2, "garbage"), InvalidArgumentError);
}

TEST_P(RegistryLifecycleTest, TimeFiltersTakeIsoStringsToTheNanosecondAndMilliseconds) {
  std::vector<ModelVersion> versions;
  for (int i = 1; i <= 3; ++i) versions.push_back(add("fraud", std::to_string(i)));
  const std::string second = format_timestamp(versions[1].created_at);
  EXPECT_EQ(versions_of(registry().search_versions("created_at >= '" + second + "'").versions),
            (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(versions_of(registry().search_versions("created_at = '" + second + "'").versions),
            std::vector<std::string>{"2"});
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      versions[0].created_at.time_since_epoch())
                      .count();
  EXPECT_EQ(registry()
                .search_versions("creation_timestamp > " + std::to_string(ms - 1) +
                                 " AND last_updated_timestamp < " + std::to_string(ms + 60'000))
                .versions.size(),
            3u);
}

TEST_P(RegistryLifecycleTest, AFilterThatDoesNotParseSaysWhereAndWhat) {
  add("fraud", "1");
  try {
    registry().search_versions("name = 'fraud' AND bogus = 1");
    ADD_FAILURE() << "no FilterParseError";
  } catch (const FilterParseError& e) {
    EXPECT_EQ(e.position(), 19u);
    EXPECT_EQ(e.token(), "bogus");
  }
  try {
    registry().search_versions("name = 'fraud'", "metrics.auc SIDEWAYS");
    ADD_FAILURE() << "no FilterParseError";
  } catch (const FilterParseError& e) {
    EXPECT_EQ(e.token(), "SIDEWAYS");
  }
  try {
    registry().search_models("stage = 'production'");
    ADD_FAILURE() << "no FilterParseError";
  } catch (const FilterParseError& e) {
    EXPECT_EQ(e.position(), 0u);
  }
  EXPECT_THROW(registry().search_versions("name = 'unterminated"), InvalidArgumentError);
}

// --- delete_model -------------------------------------------------------------------------

TEST_P(RegistryLifecycleTest, DeleteModelRemovesEveryVersionArtifactAliasAndTag) {
  add("fraud", "1", "one");
  add("fraud", "2", "two");
  add("fraud", "3");  // no artifact
  add("keep", "1", "kept");
  registry().transition_stage("fraud", "2", ModelStage::Production);
  registry().set_alias("fraud", "champion", "2");
  registry().set_model_tag("fraud", "team", "risk");
  ASSERT_EQ(registry().store()->list_artifacts().size(), 3u);

  EXPECT_TRUE(registry().delete_model("fraud", Audit{"admin", "retired"}));

  EXPECT_EQ(registry().get_model("fraud"), std::nullopt);
  EXPECT_EQ(registry().list_models(), std::vector<std::string>{"keep"});
  EXPECT_EQ(registry().resolve("models:/fraud@champion"), std::nullopt);
  EXPECT_EQ(registry().get_production_model("fraud"), std::nullopt);
  EXPECT_EQ(registry().store()->list_artifacts(), std::vector<std::string>{"keep/1/model.bin"});
  EXPECT_TRUE(registry().metadata_store()->list_pending().empty());
  EXPECT_EQ(to_string(*registry().load_artifact("keep", "1")), "kept");
  const auto history = registry().history("fraud");
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.back().type, EventType::ModelDeleted);
  EXPECT_EQ(history.back().actor, "admin");
  EXPECT_EQ(history.back().reason, "retired");
  EXPECT_FALSE(registry().delete_model("fraud"));
  EXPECT_FALSE(registry().delete_model("nomodel"));
  EXPECT_THROW(registry().delete_model("bad name"), InvalidArgumentError);

  // The name can be registered anew, from scratch.
  add("fraud", "1", "new one");
  EXPECT_EQ(to_string(*registry().load_artifact("fraud", "1")), "new one");
  EXPECT_TRUE(registry().get_model("fraud")->tags.empty());
  EXPECT_EQ(registry().get_version_by_alias("fraud", "champion"), std::nullopt);
}

TEST_P(RegistryLifecycleTest, ADeleteModelThatFailsMidwayIsFinishedByRecover) {
  auto store = std::make_shared<FailingDeleteStore>();
  ModelRegistry registry(store, make_catalog());
  RegisterOptions options;
  for (const char* version : {"1", "2", "3"}) {
    options.artifact = to_bytes(std::string("bytes of ") + version);
    registry.register_version("fraud", version, options);
  }
  store->fail_next_deletes = 1;

  EXPECT_THROW(registry.delete_model("fraud"), StorageError);

  // Gone for every lookup at once; what failed is left hidden for recover().
  EXPECT_EQ(registry.get_model("fraud"), std::nullopt);
  EXPECT_TRUE(registry.list_models().empty());
  EXPECT_EQ(registry.store()->list_artifacts().size(), 1u);
  ASSERT_EQ(registry.metadata_store()->list_pending().size(), 1u);
  EXPECT_EQ(registry.metadata_store()->list_pending()[0].kind, PendingVersion::Kind::Deleting);
  EXPECT_THROW(registry.register_version("fraud", "9"), FailedPreconditionError);
  EXPECT_FALSE(registry.delete_model("fraud"));

  const RecoveryReport report = registry.recover();
  EXPECT_EQ(report.deletions_completed, 1u);
  EXPECT_EQ(report.registrations_rolled_back, 0u);
  EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
  EXPECT_TRUE(registry.store()->list_artifacts().empty());
  const auto history = registry.history("fraud");
  EXPECT_EQ(std::count_if(history.begin(), history.end(),
                          [](const ModelEvent& e) { return e.type == EventType::ModelDeleted; }),
            1);
  EXPECT_EQ(std::count_if(history.begin(), history.end(),
                          [](const ModelEvent& e) { return e.type == EventType::VersionDeleted; }),
            0);
  EXPECT_NO_THROW(registry.register_version("fraud", "1"));
}

TEST_P(RegistryLifecycleTest, ARegistrationRunningDuringDeleteModelFailsAndLeavesNothing) {
  auto store = std::make_shared<FailingDeleteStore>();
  ModelRegistry registry(store, make_catalog());
  RegisterOptions options;
  options.artifact = to_bytes("first");
  registry.register_version("fraud", "1", options);
  // While version 2's artifact is being written, the model is deleted.
  bool deleted = false;
  store->before_next_save = [&] { deleted = registry.delete_model("fraud"); };
  options.artifact = to_bytes("second");
  EXPECT_THROW(registry.register_version("fraud", "2", options), FailedPreconditionError);
  EXPECT_TRUE(deleted);
  EXPECT_EQ(registry.get_model("fraud"), std::nullopt);
  EXPECT_TRUE(registry.store()->list_artifacts().empty());
  EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
  const auto history = registry.history("fraud");
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.back().type, EventType::ModelDeleted);
  EXPECT_EQ(std::count_if(history.begin(), history.end(),
                          [](const ModelEvent& e) { return e.version == "2"; }),
            0)
      << "the failed registration recorded nothing";
  // The name is free again.
  EXPECT_EQ(registry.register_version("fraud", "2", options).version, "2");
  EXPECT_EQ(to_string(*registry.load_artifact("fraud", "2")), "second");
}

TEST_P(RegistryLifecycleTest, AFailedDeleteVersionKeepsTheVersionAndRecordsItsRestoration) {
  auto store = std::make_shared<FailingDeleteStore>();
  ModelRegistry registry(store, make_catalog());
  RegisterOptions options;
  options.artifact = to_bytes("weights");
  registry.register_version("fraud", "1", options);
  registry.transition_stage("fraud", "1", ModelStage::Production);
  registry.set_alias("fraud", "champion", "1");
  registry.set_version_tag("fraud", "1", "owner", "alice");
  const std::int64_t before = registry.latest_event_sequence();
  store->fail_next_deletes = 1;

  EXPECT_THROW(registry.delete_version("fraud", "1", Audit{"admin", "cleanup"}), StorageError);

  const auto kept = registry.get_version("fraud", "1");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->stage, ModelStage::Production);
  EXPECT_EQ(registry.get_production_model("fraud"), kept);
  EXPECT_EQ(kept->tags.at("owner"), "alice");
  EXPECT_EQ(to_string(*registry.load_artifact("fraud", "1")), "weights");
  EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
  // The history says what lookups saw: the deletion, then the restoration with its alias.
  std::vector<EventType> types;
  for (const auto& e : registry.events_after(before)) types.push_back(e.type);
  EXPECT_EQ(types, (std::vector<EventType>{EventType::AliasDeleted, EventType::VersionDeleted,
                                           EventType::VersionRestored, EventType::AliasSet}));
  const auto history = registry.history("fraud");
  const auto& restored = history[history.size() - 2];
  EXPECT_EQ(restored.type, EventType::VersionRestored);
  EXPECT_EQ(restored.new_value, "production");
  EXPECT_EQ(restored.actor, "admin");
  EXPECT_EQ(registry.get_version_by_alias("fraud", "champion"), kept);
  EXPECT_EQ(kept->aliases, std::vector<std::string>{"champion"});
  // A second attempt succeeds.
  EXPECT_TRUE(registry.delete_version("fraud", "1"));
  EXPECT_TRUE(registry.store()->list_artifacts().empty());
}

TEST_P(RegistryLifecycleTest, DeletingAVersionDeletesItsAliases) {
  add("fraud", "1", "x");
  add("fraud", "2", "y");
  registry().set_alias("fraud", "champion", "1");
  registry().set_alias("fraud", "shadow", "2");
  ASSERT_TRUE(registry().delete_version("fraud", "1"));
  EXPECT_EQ(registry().get_version_by_alias("fraud", "champion"), std::nullopt);
  EXPECT_EQ(registry().get_model("fraud")->aliases,
            (std::map<std::string, std::string>{{"shadow", "2"}}));
  const auto history = registry().history("fraud", "1");
  ASSERT_GE(history.size(), 2u);
  EXPECT_EQ(history[history.size() - 2].type, EventType::AliasDeleted);
  EXPECT_EQ(history.back().type, EventType::VersionDeleted);
}

TEST_P(RegistryLifecycleTest, EachErrorOfTheLifecycleApiIsLoggedOnce) {
  add("fraud", "1");
  testing::LogCapture log;
  EXPECT_THROW(registry().resolve("models:/fraud"), InvalidArgumentError);
  EXPECT_THROW(registry().load_artifact(std::string_view("models:/fraud@latest")),
               InvalidArgumentError);
  EXPECT_THROW(registry().set_alias("fraud", "v2", "1"), InvalidArgumentError);
  EXPECT_THROW(registry().set_alias("fraud", "champion", "9"), NotFoundError);
  EXPECT_THROW(registry().set_alias("fraud", "champion", "1", std::string("1")),
               FailedPreconditionError);
  EXPECT_THROW(registry().search_versions("bogus = 1"), FilterParseError);
  EXPECT_THROW(registry().events_after(0, 0), InvalidArgumentError);
  EXPECT_THROW(registry().set_model_tag("nomodel", "k", "v"), NotFoundError);
  EXPECT_EQ(log.infos().size(), 8u) << "caller errors at info, one line each";
  EXPECT_TRUE(log.errors().empty());
}

INSTANTIATE_TEST_SUITE_P(Registries, RegistryLifecycleTest,
                         ::testing::ValuesIn(testing::registry_setups()),
                         [](const ::testing::TestParamInfo<testing::RegistrySetup>& setup) {
                           return setup.param.name;
                         });

#ifdef MODELREG_HAVE_SQLITE
// For every file of the program: the tests of OpenRegistryTest.
INSTANTIATE_TEST_SUITE_P(Registries, OpenRegistryTest,
                         ::testing::Values(testing::RegistrySetup{"Open", RegistryKind::Open}),
                         [](const ::testing::TestParamInfo<testing::RegistrySetup>& setup) {
                           return setup.param.name;
                         });
#endif

}  // namespace
}  // namespace modelreg

// ModelRegistry against every catalog: the seed's API and the contracts of DESIGN.md.

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <modelreg/modelreg.hpp>
#include <sstream>
#include <utility>

#include "forwarding_metadata_store.hpp"
#include "log_capture.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

// An input stream over another that reads forward only: it cannot seek or rewind.
class ForwardOnlyStream final : public std::istream {
 public:
  explicit ForwardOnlyStream(std::unique_ptr<std::istream> source)
      : std::istream(&buf_), buf_(std::move(source)) {}

 private:
  class Buf final : public std::streambuf {
   public:
    explicit Buf(std::unique_ptr<std::istream> source) : source_(std::move(source)) {}

   protected:
    int_type underflow() override {
      source_->read(chunk_, sizeof chunk_);
      const auto got = source_->gcount();
      if (got <= 0) return traits_type::eof();
      setg(chunk_, chunk_, chunk_ + got);
      return traits_type::to_int_type(chunk_[0]);
    }

   private:
    std::unique_ptr<std::istream> source_;
    char chunk_[7];
  };
  Buf buf_;
};

// A seekable stream over `before` that serves `after` once it has been rewound: a stored file
// changed in place between a load's two passes.
class ChangedOnRewindStream final : public std::istream {
 public:
  ChangedOnRewindStream(std::string before, std::string after)
      : std::istream(&buf_), buf_(std::move(before), std::move(after)) {}

 private:
  class Buf final : public std::stringbuf {
   public:
    Buf(std::string before, std::string after)
        : std::stringbuf(std::move(before), std::ios::in), after_(std::move(after)) {}

   protected:
    pos_type seekoff(off_type off, std::ios::seekdir dir, std::ios::openmode which) override {
      if (off == 0 && dir == std::ios::beg) return seekpos(0, which);
      return std::stringbuf::seekoff(off, dir, which);
    }
    pos_type seekpos(pos_type pos, std::ios::openmode which) override {
      if (pos == pos_type(0) && !after_.empty()) str(std::exchange(after_, {}));
      return std::stringbuf::seekpos(pos, which);
    }

   private:
    std::string after_;
  };
  Buf buf_;
};

// An artifact store whose operations can be made to fail, and which counts saves.
class FaultyStore final : public ModelStore {
 public:
  bool fail_save = false;
  bool fail_delete = false;
  int fail_next_deletes = 0;       // like fail_delete, for that many deletions
  bool fail_after_delete = false;  // the artifact goes, then the store reports a failure
  int saves = 0;
  // Runs once, at the next open: stands in for another thread acting between a load's reading
  // of the record and its opening of the artifact.
  mutable std::function<void()> before_next_open;
  bool forward_only = false;              // hand out streams that cannot seek
  mutable std::string changed_on_rewind;  // if set: the next stream serves this once rewound
  mutable int opens = 0;
  std::function<void()> before_next_save;  // the same, at the next save
  InMemoryModelStore inner;

 private:
  void save_impl(const std::string& path, std::istream& in) override {
    ++saves;
    if (before_next_save) std::exchange(before_next_save, nullptr)();
    if (fail_save) throw StorageError("injected save failure");
    inner.save_artifact(path.substr(0, path.find('/')),
                        path.substr(path.find('/') + 1, path.rfind('/') - path.find('/') - 1), in);
  }
  std::unique_ptr<std::istream> open_impl(const std::string& path) const override {
    ++opens;
    if (before_next_open) std::exchange(before_next_open, nullptr)();
    if (forward_only) return std::make_unique<ForwardOnlyStream>(inner.open_artifact(path));
    if (!changed_on_rewind.empty()) {
      auto original = inner.open_artifact(path);
      std::string before(std::istreambuf_iterator<char>(*original), {});
      return std::make_unique<ChangedOnRewindStream>(std::move(before),
                                                     std::exchange(changed_on_rewind, {}));
    }
    return inner.open_artifact(path);
  }
  bool delete_impl(const std::string& path) override {
    if (fail_delete || (fail_next_deletes > 0 && fail_next_deletes--)) {
      throw StorageError("injected delete failure");
    }
    const bool deleted = inner.delete_artifact(path);
    if (fail_after_delete) throw StorageError("injected failure after the delete");
    return deleted;
  }
  std::vector<std::string> list_impl() const override { return inner.list_artifacts(); }
};

// A catalog whose next releases or cancellations of a reservation can be made to fail (as a
// SQLite lock timeout under contention would); everything else goes to `inner`.
class FaultyCatalog final : public testing::ForwardingMetadataStore {
 public:
  using ForwardingMetadataStore::ForwardingMetadataStore;
  int fail_releases = 0;
  int fail_cancels = 0;
  int fail_claims = 0;
  // Runs once, at the next get_version: another thread acting between two reads of a call.
  mutable std::function<void()> before_next_get_version;

 private:
  bool release_version_impl(std::string_view name, std::string_view version, std::string_view owner,
                            const Audit& audit) override {
    if (fail_releases > 0 && fail_releases--) throw StorageError("injected release failure");
    return ForwardingMetadataStore::release_version_impl(name, version, owner, audit);
  }
  bool cancel_delete_impl(std::string_view name, std::string_view version, std::string_view owner,
                          const Audit& audit) override {
    if (fail_cancels > 0 && fail_cancels--) throw StorageError("injected cancel failure");
    return ForwardingMetadataStore::cancel_delete_impl(name, version, owner, audit);
  }
  bool claim_pending_impl(std::string_view name, std::string_view version,
                          std::string_view expected_owner, std::string_view new_owner) override {
    if (fail_claims > 0 && fail_claims--) throw StorageError("injected claim failure");
    return ForwardingMetadataStore::claim_pending_impl(name, version, expected_owner, new_owner);
  }
  std::optional<ModelVersion> get_version_impl(std::string_view name,
                                               std::string_view version) const override {
    if (before_next_get_version) std::exchange(before_next_get_version, nullptr)();
    return ForwardingMetadataStore::get_version_impl(name, version);
  }
};

enum class Catalog { InMemory, Sqlite };

struct Config {
  std::string name;
  Catalog catalog;
};

// Test names show the parameter's name, not its bytes.
void PrintTo(const Config& param, std::ostream* os) {
  *os << param.name;
}

class ModelRegistryTest : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override {
    store_ = std::make_shared<FaultyStore>();
    catalog_ = std::make_shared<FaultyCatalog>(make_catalog());
    registry_ = std::make_unique<ModelRegistry>(store_, catalog_);
  }

  std::shared_ptr<MetadataStore> make_catalog() {
#ifdef MODELREG_HAVE_SQLITE
    if (GetParam().catalog == Catalog::Sqlite) {
      return std::make_shared<SqliteMetadataStore>(dir_.path() / "registry.db");
    }
#endif
    return std::make_shared<InMemoryMetadataStore>();
  }

  ModelVersion register_with(const std::string& name, const std::string& version,
                             const std::string& artifact) {
    RegisterOptions options;
    options.artifact = to_bytes(artifact);
    return registry_->register_version(name, version, options);
  }

  testing::TestDir dir_;
  std::shared_ptr<FaultyStore> store_;
  std::shared_ptr<FaultyCatalog> catalog_;
  std::unique_ptr<ModelRegistry> registry_;
};

TEST_P(ModelRegistryTest, RegisterRecordsEverythingAndReturnsIt) {
  RegisterOptions options;
  options.framework = ModelFramework::PyTorch;
  options.metrics.accuracy = 0.95;
  options.metrics.f1_score = 0.93;
  options.metrics.custom["latency_ms"] = 4.5;
  options.parameters = {{"n_estimators", 100}, {"layers", {3, 4}}};
  options.description = "first try";
  options.tags = {{"team", "risk"}};
  options.artifact = to_bytes("abc");
  const auto before = std::chrono::system_clock::now();
  const ModelVersion v = registry_->register_version("my_classifier", "1.0.0", options);
  EXPECT_EQ(v.model_name, "my_classifier");
  EXPECT_EQ(v.version, "1.0.0");
  EXPECT_EQ(v.full_name(), "my_classifier:1.0.0");
  EXPECT_EQ(v.stage, ModelStage::Development);
  EXPECT_EQ(v.framework, ModelFramework::PyTorch);
  EXPECT_EQ(v.metrics, options.metrics);
  EXPECT_EQ(v.parameters, options.parameters);
  EXPECT_EQ(v.description, "first try");
  EXPECT_EQ(v.tags, options.tags);
  EXPECT_EQ(v.artifact_path, "my_classifier/1.0.0/model.bin");
  EXPECT_EQ(v.artifact_size, 3u);
  EXPECT_EQ(v.artifact_sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_GE(v.created_at, before);
  EXPECT_EQ(v.created_at, v.updated_at);
  EXPECT_EQ(registry_->get_version("my_classifier", "1.0.0"), v);
  EXPECT_EQ(to_string(*registry_->load_artifact("my_classifier", "1.0.0")), "abc");
}

TEST_P(ModelRegistryTest, RegisterWithoutArtifact) {
  const ModelVersion v = registry_->register_version("m", "1");
  EXPECT_FALSE(v.artifact_path.has_value());
  EXPECT_EQ(v.artifact_size, 0u);
  EXPECT_EQ(v.framework, ModelFramework::Custom);
  EXPECT_FALSE(registry_->load_artifact("m", "1").has_value());
  std::ostringstream out;
  EXPECT_FALSE(registry_->load_artifact("m", "1", out));
  EXPECT_EQ(store_->saves, 0);
}

TEST_P(ModelRegistryTest, EmptyArtifactIsStoredAndVerified) {
  register_with("m", "1", "");
  const auto v = registry_->get_version("m", "1");
  ASSERT_TRUE(v->artifact_path.has_value());
  EXPECT_EQ(v->artifact_sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(registry_->load_artifact("m", "1")->empty());
  std::ostringstream out;
  EXPECT_TRUE(registry_->load_artifact("m", "1", out));
  EXPECT_TRUE(out.str().empty());
}

TEST_P(ModelRegistryTest, DuplicateVersionThrowsAndWritesNoArtifact) {
  register_with("m", "1", "original");
  const auto before = registry_->get_version("m", "1");
  const int saves = store_->saves;
  EXPECT_THROW(register_with("m", "1", "overwrite attempt"), AlreadyExistsError);
  EXPECT_THROW(registry_->register_version("m", "1"), AlreadyExistsError);
  EXPECT_EQ(store_->saves, saves) << "the store must not be touched by a duplicate";
  EXPECT_EQ(registry_->get_version("m", "1"), before);
  EXPECT_EQ(to_string(*registry_->load_artifact("m", "1")), "original");
  EXPECT_EQ(registry_->list_versions("m").size(), 1u);
}

TEST_P(ModelRegistryTest, LookupsOfMissingThingsAreNullopt) {
  EXPECT_FALSE(registry_->get_model("nope").has_value());
  EXPECT_FALSE(registry_->get_version("nope", "1").has_value());
  EXPECT_FALSE(registry_->get_latest("nope").has_value());
  EXPECT_FALSE(registry_->get_production_model("nope").has_value());
  EXPECT_FALSE(registry_->transition_stage("nope", "1", ModelStage::Staging).has_value());
  EXPECT_FALSE(registry_->load_artifact("nope", "1").has_value());
  EXPECT_FALSE(registry_->delete_version("nope", "1"));
  EXPECT_TRUE(registry_->list_versions("nope").empty());
  EXPECT_TRUE(registry_->list_models().empty());
  register_with("m", "1", "x");
  EXPECT_FALSE(registry_->get_version("m", "2").has_value());
  EXPECT_FALSE(registry_->get_production_model("m").has_value());
}

TEST_P(ModelRegistryTest, PromotionArchivesThePreviousProductionVersion) {
  register_with("m", "1", "one");
  register_with("m", "2", "two");
  register_with("m", "3", "three");
  EXPECT_EQ(registry_->transition_stage("m", "1", ModelStage::Staging)->stage, ModelStage::Staging);
  const auto promoted = registry_->transition_stage("m", "1", ModelStage::Production);
  ASSERT_TRUE(promoted.has_value());
  EXPECT_EQ(promoted->stage, ModelStage::Production);
  EXPECT_GE(promoted->updated_at, promoted->created_at);
  EXPECT_EQ(registry_->get_production_model("m")->version, "1");

  registry_->transition_stage("m", "2", ModelStage::Production);
  EXPECT_EQ(registry_->get_production_model("m")->version, "2");
  EXPECT_EQ(registry_->get_version("m", "1")->stage, ModelStage::Archived);
  EXPECT_EQ(registry_->get_version("m", "3")->stage, ModelStage::Development);
  EXPECT_EQ(registry_->list_versions("m", ModelStage::Production).size(), 1u);

  // Promoting the Production version again changes nothing else.
  registry_->transition_stage("m", "2", ModelStage::Production);
  EXPECT_EQ(registry_->list_versions("m", ModelStage::Archived).size(), 1u);
  // Moving it out of Production leaves the model without one.
  registry_->transition_stage("m", "2", ModelStage::Staging);
  EXPECT_FALSE(registry_->get_production_model("m").has_value());
  EXPECT_EQ(registry_->get_model("m")->production_version(), std::nullopt);
}

TEST_P(ModelRegistryTest, ProductionOfOneModelDoesNotTouchAnother) {
  register_with("a", "1", "x");
  register_with("b", "1", "x");
  registry_->transition_stage("a", "1", ModelStage::Production);
  registry_->transition_stage("b", "1", ModelStage::Production);
  EXPECT_EQ(registry_->get_production_model("a")->model_name, "a");
  EXPECT_EQ(registry_->get_production_model("b")->model_name, "b");
}

TEST_P(ModelRegistryTest, CompareAndSwapTransition) {
  register_with("m", "1", "x");
  EXPECT_THROW(registry_->transition_stage("m", "1", ModelStage::Production, ModelStage::Staging),
               FailedPreconditionError);
  EXPECT_EQ(registry_->get_version("m", "1")->stage, ModelStage::Development);
  EXPECT_EQ(
      registry_->transition_stage("m", "1", ModelStage::Staging, ModelStage::Development)->stage,
      ModelStage::Staging);
}

TEST_P(ModelRegistryTest, LatestIsTheMostRecentRegistration) {
  register_with("m", "2.0", "x");
  register_with("m", "10.0", "x");
  registry_->register_version("m", "1.0");
  EXPECT_EQ(registry_->get_latest("m")->version, "1.0");
  const auto model = registry_->get_model("m");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->name, "m");
  ASSERT_EQ(model->versions.size(), 3u);
  EXPECT_EQ(model->versions[0].version, "2.0");
  EXPECT_EQ(model->versions[2].version, "1.0");
  EXPECT_EQ(model->latest_version()->version, "1.0");
  EXPECT_EQ(model->get_version("10.0")->version, "10.0");
  registry_->delete_version("m", "1.0");
  EXPECT_EQ(registry_->get_latest("m")->version, "10.0");
}

TEST_P(ModelRegistryTest, ListModelsAndVersions) {
  register_with("zeta", "1", "x");
  register_with("alpha", "1", "x");
  register_with("alpha", "2", "x");
  registry_->transition_stage("alpha", "2", ModelStage::Staging);
  EXPECT_EQ(registry_->list_models(), (std::vector<std::string>{"alpha", "zeta"}));
  const auto versions = registry_->list_versions("alpha");
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].version, "1");
  EXPECT_EQ(versions[1].version, "2");
  const auto staging = registry_->list_versions("alpha", ModelStage::Staging);
  ASSERT_EQ(staging.size(), 1u);
  EXPECT_EQ(staging[0].version, "2");
}

TEST_P(ModelRegistryTest, DeleteVersionDeletesTheArtifactToo) {
  register_with("m", "1", "x");
  register_with("m", "2", "y");
  registry_->transition_stage("m", "1", ModelStage::Production);
  EXPECT_TRUE(registry_->delete_version("m", "1"));
  EXPECT_FALSE(registry_->get_version("m", "1").has_value());
  EXPECT_FALSE(registry_->get_production_model("m").has_value());
  EXPECT_EQ(store_->list_artifacts(), std::vector<std::string>{"m/2/model.bin"});
  EXPECT_FALSE(registry_->delete_version("m", "1"));
  // The key is free again.
  register_with("m", "1", "again");
  EXPECT_EQ(to_string(*registry_->load_artifact("m", "1")), "again");
}

TEST_P(ModelRegistryTest, DeletingTheLastVersionKeepsTheModel) {
  register_with("m", "1", "x");
  registry_->set_model_description("m", "fraud scores");
  registry_->set_model_tag("m", "team", "risk");
  EXPECT_TRUE(registry_->delete_version("m", "1"));
  EXPECT_EQ(registry_->list_models(), std::vector<std::string>{"m"});
  const auto model = registry_->get_model("m");
  ASSERT_TRUE(model.has_value());
  EXPECT_TRUE(model->versions.empty());
  EXPECT_EQ(model->description, "fraud scores");
  EXPECT_EQ(model->tags.at("team"), "risk");
  EXPECT_FALSE(registry_->get_latest("m").has_value());
  // delete_model is what removes it.
  EXPECT_TRUE(registry_->delete_model("m"));
  EXPECT_TRUE(registry_->list_models().empty());
  EXPECT_FALSE(registry_->get_model("m").has_value());
}

TEST_P(ModelRegistryTest, AFailedArtifactDeletionIsReportedAndKeepsTheVersion) {
  testing::LogCapture log;
  register_with("m", "1", "x");
  registry_->transition_stage("m", "1", ModelStage::Production);
  store_->fail_delete = true;
  EXPECT_THROW(registry_->delete_version("m", "1"), StorageError);
  EXPECT_EQ(log.errors().size(), 1u);
  const auto kept = registry_->get_version("m", "1");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->stage, ModelStage::Production);
  EXPECT_EQ(registry_->get_production_model("m")->version, "1");
  store_->fail_delete = false;
  EXPECT_TRUE(registry_->delete_version("m", "1"));
}

TEST_P(ModelRegistryTest, AFailureAfterTheArtifactWentIsReportedAndFinishesTheDeletion) {
  // E.g. FileModelStore unlinked the file, then could not sync the directory: keeping the
  // version would leave one whose artifact is gone.
  testing::LogCapture log;
  register_with("m", "1", "x");
  store_->fail_after_delete = true;
  EXPECT_THROW(registry_->delete_version("m", "1"), StorageError);
  EXPECT_EQ(log.errors().size(), 1u);
  EXPECT_FALSE(registry_->get_version("m", "1").has_value());
  EXPECT_TRUE(registry_->metadata_store()->list_pending().empty());
  store_->fail_after_delete = false;
  register_with("m", "1", "y");  // the key is free again
  EXPECT_EQ(to_string(*registry_->load_artifact("m", "1")), "y");
}

TEST_P(ModelRegistryTest, AnAlreadyMissingArtifactIsAWarningOnDelete) {
  testing::LogCapture log;
  register_with("m", "1", "x");
  store_->inner.delete_artifact("m/1/model.bin");
  EXPECT_TRUE(registry_->delete_version("m", "1"));
  EXPECT_FALSE(registry_->get_version("m", "1").has_value());
  bool warned = false;
  for (const auto& w : log.warnings()) warned |= w.find("m:1") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST_P(ModelRegistryTest, AFailedSaveLeavesNothingBehind) {
  store_->fail_save = true;
  EXPECT_THROW(register_with("m", "1", "x"), StorageError);
  EXPECT_FALSE(registry_->get_version("m", "1").has_value());
  EXPECT_TRUE(registry_->list_models().empty());
  EXPECT_TRUE(registry_->metadata_store()->list_pending().empty());
  store_->fail_save = false;
  register_with("m", "1", "x");  // the key was released
  EXPECT_EQ(to_string(*registry_->load_artifact("m", "1")), "x");
}

TEST_P(ModelRegistryTest, RecoverSettlesReservationsThatAFailedReleaseLeftBehind) {
  testing::LogCapture log;
  // A failed registration whose reservation could not be released either.
  store_->fail_save = true;
  catalog_->fail_releases = 1;
  EXPECT_THROW(register_with("m", "1", "x"), StorageError);
  store_->fail_save = false;
  // A deletion whose artifact went but whose reservation could not be released.
  register_with("m", "2", "y");
  catalog_->fail_releases = 1;
  EXPECT_THROW(registry_->delete_version("m", "2"), StorageError);
  // A deletion that failed, and whose cancellation failed too.
  register_with("m", "3", "z");
  store_->fail_delete = true;
  catalog_->fail_cancels = 1;
  const auto errors_before = log.errors().size();
  try {
    registry_->delete_version("m", "3");
    ADD_FAILURE() << "expected the deletion's StorageError";
  } catch (const StorageError& e) {
    EXPECT_STREQ(e.what(), "injected delete failure") << "the caller gets the original error";
  }
  ASSERT_EQ(log.errors().size(), errors_before + 1);
  EXPECT_NE(log.errors().back().find("injected delete failure"), std::string::npos);
  store_->fail_delete = false;
  ASSERT_EQ(registry_->metadata_store()->list_pending().size(), 3u);
  // Nothing of this registry's is in flight: recover() settles all three, once.
  const RecoveryReport report = registry_->recover();
  EXPECT_EQ(report.registrations_rolled_back, 1u);
  EXPECT_EQ(report.deletions_completed, 2u);
  EXPECT_TRUE(registry_->metadata_store()->list_pending().empty());
  EXPECT_TRUE(store_->list_artifacts().empty());
  EXPECT_EQ(registry_->recover().deletions_completed, 0u);
  // Every key is free again.
  for (const char* version : {"1", "2", "3"}) {
    register_with("m", version, version);
    EXPECT_EQ(to_string(*registry_->load_artifact("m", version)), version);
  }
}

TEST_P(ModelRegistryTest, OneReservationThatCannotBeSettledDoesNotStopRecovery) {
  testing::LogCapture log;
  for (const char* version : {"1", "2"}) {
    register_with("m", version, version);
    catalog_->fail_releases = 1;
    EXPECT_THROW(registry_->delete_version("m", version), StorageError);
  }
  ASSERT_EQ(registry_->metadata_store()->list_pending().size(), 2u);
  store_->fail_next_deletes = 1;  // the first one's artifact cannot be deleted this time
  const auto logged = [&](const std::string& text) {
    std::size_t count = 0;
    for (const auto level : {spdlog::level::err, spdlog::level::warn, spdlog::level::info}) {
      for (const auto& message : log.messages(level))
        count += message.find(text) != std::string::npos;
    }
    return count;
  };
  const RecoveryReport partial = registry_->recover();
  // The report says what was settled and what was not, and the failure is logged once.
  EXPECT_EQ(partial.deletions_completed, 1u);
  EXPECT_FALSE(partial.complete());
  ASSERT_EQ(partial.unsettled.size(), 1u);
  EXPECT_EQ(partial.unsettled[0].model_name, "m");
  EXPECT_EQ(partial.unsettled[0].version, "1");
  EXPECT_TRUE(partial.unsettled[0].deletion);
  EXPECT_EQ(partial.unsettled[0].code, ErrorCode::Storage);
  EXPECT_NE(partial.unsettled[0].message.find("injected delete failure"), std::string::npos);
  EXPECT_EQ(logged("injected delete failure"), 1u);
  EXPECT_EQ(registry_->metadata_store()->list_pending().size(), 1u) << "the second was settled";
  const RecoveryReport rest = registry_->recover();
  EXPECT_EQ(rest.deletions_completed, 1u);
  EXPECT_TRUE(rest.complete());
  EXPECT_TRUE(registry_->metadata_store()->list_pending().empty());
  // The same when taking a reservation over fails.
  for (const char* version : {"3", "4"}) {
    register_with("m", version, version);
    catalog_->fail_releases = 1;
    EXPECT_THROW(registry_->delete_version("m", version), StorageError);
  }
  catalog_->fail_claims = 1;
  EXPECT_EQ(registry_->recover().unsettled.size(), 1u);
  EXPECT_EQ(registry_->metadata_store()->list_pending().size(), 1u);
  EXPECT_EQ(registry_->recover().deletions_completed, 1u);
}

TEST_P(ModelRegistryTest, WorkOfARegistryDestroyedMidwayIsRecoveredByAnotherOnTheSameCatalog) {
  store_->fail_save = true;
  catalog_->fail_releases = 1;  // so the failed registration leaves its reservation behind
  EXPECT_THROW(register_with("m", "1", "weights"), StorageError);
  store_->fail_save = false;
  ASSERT_EQ(catalog_->list_pending().size(), 1u);
  ModelRegistry other(store_, catalog_);
  // The first registry is alive: its reservation is its own to settle.
  EXPECT_EQ(other.recover().registrations_rolled_back, 0u);
  EXPECT_EQ(catalog_->list_pending().size(), 1u);
  registry_.reset();  // gone midway, with its lease
  const RecoveryReport report = other.recover();
  EXPECT_EQ(report.registrations_rolled_back, 1u);
  EXPECT_TRUE(report.complete());
  EXPECT_TRUE(catalog_->list_pending().empty());
  RegisterOptions options;
  options.artifact = to_bytes("weights");
  EXPECT_NO_THROW(other.register_version("m", "1", options));  // the key is free again
  EXPECT_EQ(to_string(*other.load_artifact("m", "1")), "weights");
}

TEST_P(ModelRegistryTest, ALoadThatRacesARegistrationWithTheSameRecordReadsItAgain) {
  // A version dated ahead of the clock makes every later one share its created_at; deleting and
  // registering "1" again with the same bytes then gives a record equal to the old one.
  ModelVersion ahead;
  ahead.model_name = "m";
  ahead.version = "0";
  ahead.parameters = nlohmann::json::object();
  ahead.created_at = ahead.updated_at = std::chrono::system_clock::now() + std::chrono::hours(1);
  catalog_->create_version(ahead);
  register_with("m", "1", "weights");
  ASSERT_EQ(registry_->get_version("m", "1")->created_at, ahead.created_at);
  // Between opening (the file is gone) and reading the record again, "1" is registered anew.
  store_->before_next_open = [&] {
    ASSERT_TRUE(registry_->delete_version("m", "1"));
    catalog_->before_next_get_version = [&] { register_with("m", "1", "weights"); };
  };
  EXPECT_EQ(to_string(*registry_->load_artifact("m", "1")), "weights");
}

TEST_P(ModelRegistryTest, RecoverLeavesThisRegistrysWorkInFlightAlone) {
  std::optional<RecoveryReport> report;
  std::size_t pending = 0;
  store_->before_next_save = [&] {
    report = registry_->recover();
    pending = registry_->metadata_store()->list_pending().size();
  };
  register_with("m", "1", "x");
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->registrations_rolled_back, 0u);
  EXPECT_EQ(pending, 1u);
  EXPECT_EQ(to_string(*registry_->load_artifact("m", "1")), "x");
}

TEST_P(ModelRegistryTest, RegistersFromStreamsAndFiles) {
  std::string big(3 * 1024 * 1024 + 3, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 1000);
  std::istringstream in(big);
  RegisterOptions from_stream;
  from_stream.artifact_stream = &in;
  const auto v1 = registry_->register_version("m", "stream", from_stream);
  EXPECT_EQ(v1.artifact_size, big.size());

  const auto file = dir_.path() / "weights.bin";
  { std::ofstream(file, std::ios::binary) << big; }
  RegisterOptions from_file;
  from_file.artifact_file = file;
  const auto v2 = registry_->register_version("m", "file", from_file);
  EXPECT_EQ(v2.artifact_sha256, v1.artifact_sha256);

  std::ostringstream out;
  EXPECT_TRUE(registry_->load_artifact("m", "file", out));
  EXPECT_EQ(out.str(), big);
  const auto copy = dir_.path() / "out" / "copy.bin";
  EXPECT_TRUE(registry_->load_artifact("m", "stream", copy));
  std::ifstream copied(copy, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(copied), {}), big);

  RegisterOptions missing;
  missing.artifact_file = dir_.path() / "missing.bin";
  EXPECT_THROW(registry_->register_version("m", "missing", missing), NotFoundError);
  EXPECT_FALSE(registry_->get_version("m", "missing").has_value());
}

TEST_P(ModelRegistryTest, LoadsToABareFileNameInTheCurrentDirectory) {
  register_with("m", "1", "weights");
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir_.path());
  const bool loaded = registry_->load_artifact("m", "1", std::filesystem::path("bare.bin"));
  std::filesystem::current_path(previous);
  EXPECT_TRUE(loaded);
  std::ifstream in(dir_.path() / "bare.bin", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "weights");
}

TEST_P(ModelRegistryTest, CorruptArtifactsAreNeverReturned) {
  testing::LogCapture log;
  register_with("m", "1", "the real weights");
  register_with("m", "2", "short");
  register_with("m", "3", "gone");
  store_->inner.save_artifact("m", "1", to_bytes("the real weightz"));  // flipped byte
  store_->inner.save_artifact("m", "2", to_bytes("sho"));               // truncated
  store_->inner.delete_artifact("m/3/model.bin");                       // deleted
  for (const char* version : {"1", "2", "3"}) {
    EXPECT_THROW(registry_->load_artifact("m", version), DataLossError) << version;
    std::ostringstream out;
    EXPECT_THROW(registry_->load_artifact("m", version, out), DataLossError) << version;
    EXPECT_TRUE(out.str().empty()) << "no corrupt byte may reach the stream";
    const auto destination = dir_.path() / (std::string("out-") + version);
    EXPECT_THROW(registry_->load_artifact("m", version, destination), DataLossError);
    EXPECT_FALSE(std::filesystem::exists(destination));
  }
  EXPECT_EQ(log.errors().size(), 9u);
}

TEST_P(ModelRegistryTest, ALoadThatRacesADeletionFindsNoVersion) {
  testing::LogCapture log;
  const auto destination = dir_.path() / "out";
  const auto delete_first = [&] {
    register_with("m", "1", "weights");
    store_->before_next_open = [&] { ASSERT_TRUE(registry_->delete_version("m", "1")); };
  };
  delete_first();
  EXPECT_FALSE(registry_->load_artifact("m", "1").has_value());
  delete_first();
  std::ostringstream out;
  EXPECT_FALSE(registry_->load_artifact("m", "1", out));
  EXPECT_TRUE(out.str().empty());
  delete_first();
  EXPECT_FALSE(registry_->load_artifact("m", "1", destination));
  EXPECT_FALSE(std::filesystem::exists(destination));
  EXPECT_EQ(log.errors(), std::vector<std::string>{});
}

TEST_P(ModelRegistryTest, ALoadThatRacesAReRegistrationReadsTheNewArtifact) {
  const auto destination = dir_.path() / "out";
  int round = 0;
  const auto replace_first = [&] {
    register_with("m", "1", "old weights");
    store_->before_next_open = [&] {
      ASSERT_TRUE(registry_->delete_version("m", "1"));
      register_with("m", "1", "new weights " + std::to_string(++round));
    };
  };
  replace_first();
  EXPECT_EQ(to_string(*registry_->load_artifact("m", "1")), "new weights 1");
  registry_->delete_version("m", "1");
  replace_first();
  std::ostringstream out;
  EXPECT_TRUE(registry_->load_artifact("m", "1", out));
  EXPECT_EQ(out.str(), "new weights 2");
  registry_->delete_version("m", "1");
  replace_first();
  EXPECT_TRUE(registry_->load_artifact("m", "1", destination));
  std::ifstream file(destination, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(file), {}), "new weights 3");
}

TEST_P(ModelRegistryTest, LoadsToAStreamFromAStoreWhoseStreamsCannotSeek) {
  register_with("m", "1", "weights that span a few reads");
  store_->forward_only = true;
  std::ostringstream out;
  store_->opens = 0;
  EXPECT_TRUE(registry_->load_artifact("m", "1", out));
  EXPECT_EQ(out.str(), "weights that span a few reads");
  EXPECT_EQ(store_->opens, 1) << "read once: a second read would reach `out` unverified";
  store_->inner.save_artifact("m", "1", to_bytes("weights that span a few readz"));
  std::ostringstream corrupt;
  EXPECT_THROW(registry_->load_artifact("m", "1", corrupt), DataLossError);
  EXPECT_TRUE(corrupt.str().empty());
  store_->inner.save_artifact("m", "1", to_bytes("weights that span a few reads"));
  EXPECT_EQ(to_string(*registry_->load_artifact("m", "1")), "weights that span a few reads");
}

TEST_P(ModelRegistryTest, AnArtifactChangedBetweenTheTwoPassesNeverReachesTheStream) {
  // Three blocks and a bit; the second pass finds the third block changed.
  std::string weights(3 * (1 << 20) + 100, 'w');
  for (std::size_t i = 0; i < weights.size(); i += 4096) weights[i] = static_cast<char>(i / 4096);
  register_with("m", "1", weights);
  for (const std::size_t changed_at : {std::size_t{2 * (1 << 20) + 5}, weights.size() - 1}) {
    std::string changed = weights;
    changed[changed_at] ^= 0x01;
    store_->changed_on_rewind = changed;
    std::ostringstream out;
    EXPECT_THROW(registry_->load_artifact("m", "1", out), DataLossError);
    // Only whole blocks that were verified again reached `out`: a prefix of the original.
    const std::string written = out.str();
    EXPECT_LE(written.size(), changed_at - changed_at % (1 << 20));
    EXPECT_EQ(written, weights.substr(0, written.size()));
  }
  // Longer or shorter after the rewind.
  for (const std::string& changed : {weights + "x", weights.substr(0, weights.size() - 1)}) {
    store_->changed_on_rewind = changed;
    std::ostringstream out;
    EXPECT_THROW(registry_->load_artifact("m", "1", out), DataLossError);
    EXPECT_EQ(out.str(), weights.substr(0, out.str().size()));
    EXPECT_LT(out.str().size(), weights.size());
  }
  std::ostringstream out;
  EXPECT_TRUE(registry_->load_artifact("m", "1", out));
  EXPECT_EQ(out.str(), weights);
}

TEST_P(ModelRegistryTest, RejectsBadOptions) {
  RegisterOptions not_object;
  not_object.parameters = nlohmann::json::array({1, 2});
  EXPECT_THROW(registry_->register_version("m", "1", not_object), InvalidArgumentError);
  RegisterOptions two_sources;
  two_sources.artifact = to_bytes("x");
  two_sources.artifact_file = dir_.path() / "x";
  EXPECT_THROW(registry_->register_version("m", "1", two_sources), InvalidArgumentError);
  RegisterOptions nan_parameter;  // JSON has no NaN: it would come back as null
  nan_parameter.parameters = {{"lr", std::nan("")}};
  EXPECT_THROW(registry_->register_version("m", "1", nan_parameter), InvalidArgumentError);
  RegisterOptions bad_tag;
  bad_tag.tags[""] = "x";
  EXPECT_THROW(registry_->register_version("m", "1", bad_tag), InvalidArgumentError);
  RegisterOptions bad_utf8;
  bad_utf8.description = "\xff\xfe";
  EXPECT_THROW(registry_->register_version("m", "1", bad_utf8), InvalidArgumentError);
  RegisterOptions directory;
  directory.artifact_file = dir_.path();
  EXPECT_THROW(registry_->register_version("m", "1", directory), InvalidArgumentError);
  RegisterOptions bad_metric_name;
  bad_metric_name.metrics.custom["\xff"] = 1.0;
  EXPECT_THROW(registry_->register_version("m", "1", bad_metric_name), InvalidArgumentError);
  RegisterOptions bad_framework;
  bad_framework.framework = static_cast<ModelFramework>(9);
  EXPECT_THROW(registry_->register_version("m", "1", bad_framework), InvalidArgumentError);
  bad_framework.artifact = to_bytes("x");
  EXPECT_THROW(registry_->register_version("m", "1", bad_framework), InvalidArgumentError);
  RegisterOptions null_parameters;
  null_parameters.parameters = nullptr;
  EXPECT_TRUE(registry_->register_version("m", "1", null_parameters).parameters.is_object());
  EXPECT_EQ(store_->saves, 0);
}

TEST_P(ModelRegistryTest, RejectsStagesOutsideTheEnumAndChangesNothing) {
  register_with("m", "1", "x");
  const auto before = registry_->get_version("m", "1");
  const auto bogus = static_cast<ModelStage>(9);
  EXPECT_THROW(registry_->transition_stage("m", "1", bogus), InvalidArgumentError);
  EXPECT_THROW(registry_->transition_stage("m", "1", ModelStage::Staging, bogus),
               InvalidArgumentError);
  EXPECT_THROW(registry_->list_versions("m", bogus), InvalidArgumentError);
  EXPECT_EQ(registry_->get_version("m", "1"), before);
  EXPECT_EQ(registry_->list_versions("m").size(), 1u);
}

TEST_P(ModelRegistryTest, EachErrorIsLoggedOnceBeforeItReachesTheCaller) {
  testing::LogCapture log;
  register_with("m", "1", "x");
  try {
    register_with("m", "1", "x");
    FAIL() << "expected AlreadyExistsError";
  } catch (const AlreadyExistsError& e) {
    const auto infos = log.infos();
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_NE(infos[0].find("register_version"), std::string::npos) << infos[0];
    EXPECT_NE(infos[0].find(e.what()), std::string::npos) << infos[0];
  }
  EXPECT_THROW(registry_->get_version("../x", "1"), InvalidArgumentError);
  EXPECT_EQ(log.infos().size(), 2u);
  // Caller errors stay out of the application's error log.
  EXPECT_TRUE(log.errors().empty());
}

TEST_P(ModelRegistryTest, SnapshotsAreNotReferencesIntoTheRegistry) {
  register_with("m", "1", "x");
  auto snapshot = registry_->get_version("m", "1");
  snapshot->stage = ModelStage::Production;
  snapshot->tags["mutated"] = "yes";
  EXPECT_EQ(registry_->get_version("m", "1")->stage, ModelStage::Development);
  EXPECT_TRUE(registry_->get_version("m", "1")->tags.empty());
}

std::vector<Config> configs() {
  std::vector<Config> result{{"InMemory", Catalog::InMemory}};
#ifdef MODELREG_HAVE_SQLITE
  result.push_back({"Sqlite", Catalog::Sqlite});
#endif
  return result;
}

INSTANTIATE_TEST_SUITE_P(Catalogs, ModelRegistryTest, ::testing::ValuesIn(configs()),
                         [](const ::testing::TestParamInfo<Config>& param) {
                           return param.param.name;
                         });

// The seed's constructors.

TEST(ModelRegistrySeedTest, DefaultRegistryIsInMemory) {
  ModelRegistry registry;
  RegisterOptions options;
  options.framework = ModelFramework::Sklearn;
  options.metrics.accuracy = 0.95;
  options.parameters = {{"n_estimators", 100}};
  options.artifact = to_bytes("model bytes");
  registry.register_version("my_classifier", "1.0.0", options);
  registry.transition_stage("my_classifier", "1.0.0", ModelStage::Production);
  EXPECT_EQ(registry.get_production_model("my_classifier")->version, "1.0.0");
  EXPECT_EQ(registry.get_model("my_classifier")->latest_version()->version, "1.0.0");
  EXPECT_NE(dynamic_cast<InMemoryModelStore*>(registry.store().get()), nullptr);
}

TEST(ModelRegistrySeedTest, RegistryOverAFileStore) {
  testing::TestDir dir;
  auto store = std::make_shared<FileModelStore>(dir.path());
  ModelRegistry registry(store);
  RegisterOptions options;
  options.artifact = to_bytes("weights");
  registry.register_version("m", "1", options);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "m" / "1" / "model.bin"));
  EXPECT_TRUE(registry.delete_version("m", "1"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "m" / "1" / "model.bin"));
  EXPECT_THROW(ModelRegistry(std::shared_ptr<ModelStore>{}), InvalidArgumentError);
}

TEST(ModelRegistrySeedTest, RegistryIsMovable) {
  ModelRegistry a;
  a.register_version("m", "1");
  ModelRegistry b = std::move(a);
  EXPECT_TRUE(b.get_version("m", "1").has_value());
}

}  // namespace
}  // namespace modelreg

// The MetadataStore conformance suite, part 1: versions, reservations, stages and lookups.
// Every backend must pass every test of the suite (metadata_store_conformance.hpp), so that the
// registry behaves the same whichever catalog it runs on.

#include "metadata_store_conformance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "modelreg/error.hpp"
#include "modelreg/in_memory_metadata_store.hpp"
#include "modelreg/metadata_store.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using std::chrono::nanoseconds;
using testing::at;
using testing::make_version;
using testing::names_of;

// --- create_version -----------------------------------------------------------------------

TEST_P(MetadataStoreConformance, CreatedVisibleVersionIsReturnedByEveryLookup) {
  const ModelVersion v = add("resnet", "1.0");

  EXPECT_EQ(store().get_version("resnet", "1.0"), v);
  EXPECT_EQ(store().latest_version("resnet"), v);
  EXPECT_EQ(store().list_versions("resnet"), std::vector<ModelVersion>{v});
  EXPECT_EQ(store().production_version("resnet"), std::nullopt);
  EXPECT_EQ(store().list_models(), std::vector<std::string>{"resnet"});
  const auto model = store().get_model("resnet");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->name, "resnet");
  EXPECT_EQ(model->versions, std::vector<ModelVersion>{v});
  EXPECT_EQ(model->created_at, v.created_at);
  EXPECT_TRUE(store().list_pending().empty());
}

TEST_P(MetadataStoreConformance, LookupsOfUnknownModelsAndVersionsAreEmpty) {
  add("resnet", "1.0");
  EXPECT_EQ(store().get_version("resnet", "2.0"), std::nullopt);
  EXPECT_EQ(store().get_version("bert", "1.0"), std::nullopt);
  EXPECT_EQ(store().latest_version("bert"), std::nullopt);
  EXPECT_EQ(store().production_version("bert"), std::nullopt);
  EXPECT_TRUE(store().list_versions("bert").empty());
  EXPECT_EQ(store().get_model("bert"), std::nullopt);
}

TEST_P(MetadataStoreConformance, ModelCreatedAtIsThatOfItsFirstVersion) {
  add("resnet", "1.0", ModelStage::Development, at(1000));
  add("resnet", "2.0", ModelStage::Development, at(5000));
  const auto model = store().get_model("resnet");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->created_at, at(1000));
}

TEST_P(MetadataStoreConformance, CreateWithOwnerReservesWithoutShowingTheVersion) {
  ModelVersion v = make_version("resnet", "1.0");
  store().create_version(v, "writer-1");

  EXPECT_EQ(store().get_version("resnet", "1.0"), std::nullopt);
  EXPECT_EQ(store().latest_version("resnet"), std::nullopt);
  EXPECT_TRUE(store().list_versions("resnet").empty());
  EXPECT_EQ(store().get_model("resnet"), std::nullopt);
  EXPECT_TRUE(store().list_models().empty());

  const auto pending = store().list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].model_name, "resnet");
  EXPECT_EQ(pending[0].version, "1.0");
  EXPECT_EQ(pending[0].kind, PendingVersion::Kind::Registering);
  EXPECT_EQ(pending[0].owner, "writer-1");
  EXPECT_EQ(pending[0].artifact_path, v.artifact_path);
}

TEST_P(MetadataStoreConformance, ReservedVersionStaysHiddenBesideVisibleOnes) {
  const ModelVersion v1 = add("resnet", "1.0");
  store().create_version(make_version("resnet", "2.0"), "writer-1");

  EXPECT_EQ(store().latest_version("resnet"), v1);
  EXPECT_EQ(names_of(store().list_versions("resnet")), std::vector<std::string>{"1.0"});
  EXPECT_EQ(names_of(store().get_model("resnet")->versions), std::vector<std::string>{"1.0"});
  EXPECT_EQ(store().get_version("resnet", "2.0"), std::nullopt);
}

TEST_P(MetadataStoreConformance, CreatingAnExistingVisibleKeyThrowsAndChangesNothing) {
  const ModelVersion original = add("resnet", "1.0");
  ModelVersion other = make_version("resnet", "1.0", ModelStage::Staging, at(99));
  other.description = "an impostor";

  EXPECT_THROW(store().create_version(other), AlreadyExistsError);
  EXPECT_THROW(store().create_version(other, "writer-2"), AlreadyExistsError);

  EXPECT_EQ(store().get_version("resnet", "1.0"), original);
  EXPECT_EQ(store().list_versions("resnet"), std::vector<ModelVersion>{original});
  EXPECT_TRUE(store().list_pending().empty());
}

TEST_P(MetadataStoreConformance, CreatingAReservedKeyThrowsAndChangesNothing) {
  store().create_version(make_version("resnet", "1.0"), "writer-1");

  EXPECT_THROW(store().create_version(make_version("resnet", "1.0")), AlreadyExistsError);
  EXPECT_THROW(store().create_version(make_version("resnet", "1.0"), "writer-2"),
               AlreadyExistsError);

  EXPECT_EQ(store().get_version("resnet", "1.0"), std::nullopt);
  const auto pending = store().list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].owner, "writer-1");
}

TEST_P(MetadataStoreConformance, CreatingAKeyBeingDeletedThrows) {
  add("resnet", "1.0");
  ASSERT_TRUE(store().begin_delete("resnet", "1.0", "deleter").has_value());
  EXPECT_THROW(store().create_version(make_version("resnet", "1.0")), AlreadyExistsError);
  EXPECT_EQ(store().get_version("resnet", "1.0"), std::nullopt);
}

TEST_P(MetadataStoreConformance, CreatingInProductionIsInvalidAndCreatesNothing) {
  EXPECT_THROW(store().create_version(make_version("resnet", "1.0", ModelStage::Production)),
               InvalidArgumentError);
  EXPECT_THROW(
      store().create_version(make_version("resnet", "1.0", ModelStage::Production), "writer-1"),
      InvalidArgumentError);
  EXPECT_TRUE(store().list_models().empty());
  EXPECT_TRUE(store().list_pending().empty());
  // The key is still free.
  EXPECT_NO_THROW(store().create_version(make_version("resnet", "1.0")));
}

TEST_P(MetadataStoreConformance, SameVersionStringInDifferentModelsIsIndependent) {
  const ModelVersion a = add("resnet", "1.0");
  const ModelVersion b = add("bert", "1.0", ModelStage::Staging);
  EXPECT_EQ(store().get_version("resnet", "1.0"), a);
  EXPECT_EQ(store().get_version("bert", "1.0"), b);
}

// --- publish_version ----------------------------------------------------------------------

TEST_P(MetadataStoreConformance, PublishMakesTheReservationVisibleAsLatest) {
  ModelVersion reserved = make_version("resnet", "2.0", ModelStage::Staging, at(10));
  reserved.artifact_path = "resnet/2.0/model.bin";
  add("resnet", "1.0");
  store().create_version(reserved, "writer-1");
  add("resnet", "3.0");  // registered after the reservation, published before it

  const ArtifactInfo artifact{std::string("resnet/2.0/model.bin"), 123456789012ULL,
                              std::string(64, 'f')};
  const Timestamp now = at(777'777);
  const ModelVersion published =
      store().publish_version("resnet", "2.0", "writer-1", artifact, now);

  ModelVersion expected = reserved;
  expected.artifact_path = artifact.path;
  expected.artifact_size = artifact.size;
  expected.artifact_sha256 = artifact.sha256;
  expected.created_at = now;
  expected.updated_at = now;
  EXPECT_EQ(published, expected);
  EXPECT_EQ(store().get_version("resnet", "2.0"), expected);
  EXPECT_EQ(store().latest_version("resnet"), expected);
  EXPECT_EQ(names_of(store().list_versions("resnet")),
            (std::vector<std::string>{"1.0", "3.0", "2.0"}));
  EXPECT_TRUE(store().list_pending().empty());
}

TEST_P(MetadataStoreConformance, PublishOfTheFirstVersionCreatesTheVisibleModel) {
  store().create_version(make_version("resnet", "1.0"), "writer-1");
  store().publish_version("resnet", "1.0", "writer-1", ArtifactInfo{}, at(5));
  EXPECT_EQ(store().list_models(), std::vector<std::string>{"resnet"});
  ASSERT_TRUE(store().get_model("resnet").has_value());
  EXPECT_EQ(store().get_model("resnet")->versions.size(), 1u);
}

TEST_P(MetadataStoreConformance, PublishWithoutArtifactRecordsNone) {
  store().create_version(make_version("resnet", "1.0"), "writer-1");
  const ModelVersion published =
      store().publish_version("resnet", "1.0", "writer-1", ArtifactInfo{}, at(5));
  EXPECT_EQ(published.artifact_path, std::nullopt);
  EXPECT_EQ(published.artifact_size, 0u);
  EXPECT_EQ(published.artifact_sha256, "");
  EXPECT_EQ(store().get_version("resnet", "1.0"), published);
}

TEST_P(MetadataStoreConformance, PublishByAnotherOwnerFailsAndChangesNothing) {
  store().create_version(make_version("resnet", "1.0"), "writer-1");

  EXPECT_THROW(store().publish_version("resnet", "1.0", "writer-2", ArtifactInfo{}, at(5)),
               FailedPreconditionError);

  EXPECT_EQ(store().get_version("resnet", "1.0"), std::nullopt);
  const auto pending = store().list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].owner, "writer-1");
  EXPECT_EQ(pending[0].kind, PendingVersion::Kind::Registering);
}

TEST_P(MetadataStoreConformance, PublishWithoutARegisteringReservationFails) {
  const ModelVersion visible = add("resnet", "1.0");
  add("resnet", "2.0");
  ASSERT_TRUE(store().begin_delete("resnet", "2.0", "writer-1").has_value());

  // No such key.
  EXPECT_THROW(store().publish_version("resnet", "9.0", "writer-1", ArtifactInfo{}, at(5)),
               FailedPreconditionError);
  // A visible version is not reserved.
  EXPECT_THROW(store().publish_version("resnet", "1.0", "writer-1", ArtifactInfo{}, at(5)),
               FailedPreconditionError);
  // A deletion in progress is not a registration, even for its owner.
  EXPECT_THROW(store().publish_version("resnet", "2.0", "writer-1", ArtifactInfo{}, at(5)),
               FailedPreconditionError);

  EXPECT_EQ(store().get_version("resnet", "1.0"), visible);
  EXPECT_EQ(store().get_version("resnet", "2.0"), std::nullopt);
  EXPECT_EQ(store().list_pending().size(), 1u);
}

// --- release_version ----------------------------------------------------------------------

TEST_P(MetadataStoreConformance, ReleaseDropsOnlyTheOwnersReservation) {
  store().create_version(make_version("resnet", "1.0"), "writer-1");

  EXPECT_FALSE(store().release_version("resnet", "1.0", "writer-2"));
  EXPECT_EQ(store().list_pending().size(), 1u);

  EXPECT_TRUE(store().release_version("resnet", "1.0", "writer-1"));
  EXPECT_TRUE(store().list_pending().empty());
  EXPECT_FALSE(store().release_version("resnet", "1.0", "writer-1"));
  // The key is free again.
  EXPECT_NO_THROW(store().create_version(make_version("resnet", "1.0")));
  EXPECT_TRUE(store().get_version("resnet", "1.0").has_value());
}

TEST_P(MetadataStoreConformance, ReleaseNeverRemovesAVisibleVersion) {
  const ModelVersion v = add("resnet", "1.0");
  EXPECT_FALSE(store().release_version("resnet", "1.0", "writer-1"));
  EXPECT_FALSE(store().release_version("resnet", "2.0", "writer-1"));
  EXPECT_FALSE(store().release_version("bert", "1.0", "writer-1"));
  EXPECT_EQ(store().get_version("resnet", "1.0"), v);
}

// --- begin_delete / cancel_delete ---------------------------------------------------------

TEST_P(MetadataStoreConformance, BeginDeleteHidesTheVersionAndReservesItsKey) {
  const ModelVersion v1 = add("resnet", "1.0");
  const ModelVersion v2 = add("resnet", "2.0", ModelStage::Staging);

  EXPECT_EQ(store().begin_delete("resnet", "2.0", "deleter"), v2);

  EXPECT_EQ(store().get_version("resnet", "2.0"), std::nullopt);
  EXPECT_EQ(store().latest_version("resnet"), v1);
  EXPECT_EQ(store().list_versions("resnet"), std::vector<ModelVersion>{v1});
  EXPECT_TRUE(store().list_versions("resnet", ModelStage::Staging).empty());
  const auto pending = store().list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].kind, PendingVersion::Kind::Deleting);
  EXPECT_EQ(pending[0].owner, "deleter");
  EXPECT_EQ(pending[0].version, "2.0");
  EXPECT_EQ(pending[0].artifact_path, v2.artifact_path);

  // Hidden, so it cannot be deleted twice or staged.
  EXPECT_EQ(store().begin_delete("resnet", "2.0", "other"), std::nullopt);
  EXPECT_EQ(store().set_stage("resnet", "2.0", ModelStage::Archived, std::nullopt, at(9)),
            std::nullopt);

  // Releasing the deletion frees the key for good.
  EXPECT_TRUE(store().release_version("resnet", "2.0", "deleter"));
  EXPECT_TRUE(store().list_pending().empty());
  EXPECT_NO_THROW(store().create_version(make_version("resnet", "2.0")));
}

TEST_P(MetadataStoreConformance, BeginDeleteOfAnAbsentOrReservedVersionReturnsNothing) {
  store().create_version(make_version("resnet", "1.0"), "writer-1");
  EXPECT_EQ(store().begin_delete("resnet", "1.0", "deleter"), std::nullopt);
  EXPECT_EQ(store().begin_delete("resnet", "2.0", "deleter"), std::nullopt);
  EXPECT_EQ(store().begin_delete("bert", "1.0", "deleter"), std::nullopt);
  const auto pending = store().list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].kind, PendingVersion::Kind::Registering);
  EXPECT_EQ(pending[0].owner, "writer-1");
}

TEST_P(MetadataStoreConformance, DeletingTheOnlyVersionKeepsTheModel) {
  add("resnet", "1.0");
  ASSERT_TRUE(store().begin_delete("resnet", "1.0", "deleter").has_value());
  ASSERT_TRUE(store().get_model("resnet").has_value());
  EXPECT_TRUE(store().get_model("resnet")->versions.empty());
  ASSERT_TRUE(store().release_version("resnet", "1.0", "deleter"));
  const auto model = store().get_model("resnet");
  ASSERT_TRUE(model.has_value());
  EXPECT_TRUE(model->versions.empty());
  EXPECT_EQ(store().list_models(), std::vector<std::string>{"resnet"});
  EXPECT_EQ(store().latest_version("resnet"), std::nullopt);
}

TEST_P(MetadataStoreConformance, CancelDeleteRestoresTheVersionAsItWas) {
  const ModelVersion v1 = add("resnet", "1.0", ModelStage::Staging);
  const ModelVersion v2 = add("resnet", "2.0");
  ASSERT_TRUE(store().begin_delete("resnet", "1.0", "deleter").has_value());

  EXPECT_FALSE(store().cancel_delete("resnet", "1.0", "someone-else"));
  EXPECT_EQ(store().get_version("resnet", "1.0"), std::nullopt);

  EXPECT_TRUE(store().cancel_delete("resnet", "1.0", "deleter"));
  EXPECT_EQ(store().get_version("resnet", "1.0"), v1);
  // Its place in registration order is kept: 2.0 is still the latest.
  EXPECT_EQ(store().list_versions("resnet"), (std::vector<ModelVersion>{v1, v2}));
  EXPECT_EQ(store().latest_version("resnet"), v2);
  EXPECT_TRUE(store().list_pending().empty());
  EXPECT_FALSE(store().cancel_delete("resnet", "1.0", "deleter"));
}

TEST_P(MetadataStoreConformance, CancelDeleteOfTheLatestMakesItLatestAgain) {
  add("resnet", "1.0");
  const ModelVersion v2 = add("resnet", "2.0");
  ASSERT_TRUE(store().begin_delete("resnet", "2.0", "deleter").has_value());
  ASSERT_TRUE(store().cancel_delete("resnet", "2.0", "deleter"));
  EXPECT_EQ(store().latest_version("resnet"), v2);
}

TEST_P(MetadataStoreConformance, CancelDeleteIgnoresRegisteringReservations) {
  store().create_version(make_version("resnet", "1.0"), "writer-1");
  EXPECT_FALSE(store().cancel_delete("resnet", "1.0", "writer-1"));
  EXPECT_EQ(store().get_version("resnet", "1.0"), std::nullopt);
  ASSERT_EQ(store().list_pending().size(), 1u);
  EXPECT_EQ(store().list_pending()[0].kind, PendingVersion::Kind::Registering);
}

TEST_P(MetadataStoreConformance, CancelDeleteNeverYieldsTwoProductionVersions) {
  add("resnet", "1.0");
  add("resnet", "2.0");
  ASSERT_TRUE(store().set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(1)));
  ASSERT_TRUE(store().begin_delete("resnet", "1.0", "deleter").has_value());
  EXPECT_EQ(store().production_version("resnet"), std::nullopt);
  ASSERT_TRUE(store().set_stage("resnet", "2.0", ModelStage::Production, std::nullopt, at(2)));

  ASSERT_TRUE(store().cancel_delete("resnet", "1.0", "deleter"));

  EXPECT_EQ(store().list_versions("resnet", ModelStage::Production).size(), 1u);
  ASSERT_TRUE(store().production_version("resnet").has_value());
  EXPECT_EQ(store().production_version("resnet")->version, "2.0");
  EXPECT_NE(store().get_version("resnet", "1.0")->stage, ModelStage::Production);
}

TEST_P(MetadataStoreConformance, CancelDeleteOfProductionRestoresItWhenNoneReplacedIt) {
  add("resnet", "1.0");
  const auto promoted =
      store().set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(1));
  ASSERT_TRUE(promoted.has_value());
  ASSERT_TRUE(store().begin_delete("resnet", "1.0", "deleter").has_value());
  ASSERT_TRUE(store().cancel_delete("resnet", "1.0", "deleter"));
  EXPECT_EQ(store().production_version("resnet"), promoted);
}

// --- list_pending / claim_pending ---------------------------------------------------------

TEST_P(MetadataStoreConformance, ListPendingReturnsEveryReservationOldestFirst) {
  using namespace std::chrono_literals;
  add("resnet", "3.0");
  // Real, increasing times: a backend may date a reservation by its own clock or by the
  // version's created_at, and the order must be the same either way.
  store().create_version(
      make_version("resnet", "1.0", ModelStage::Development, std::chrono::system_clock::now()),
      "writer-a");
  std::this_thread::sleep_for(3ms);
  store().create_version(
      make_version("bert", "1.0", ModelStage::Development, std::chrono::system_clock::now()),
      "writer-b");
  std::this_thread::sleep_for(3ms);
  ASSERT_TRUE(store().begin_delete("resnet", "3.0", "writer-c").has_value());

  const auto pending = store().list_pending();
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].owner, "writer-a");
  EXPECT_EQ(pending[1].owner, "writer-b");
  EXPECT_EQ(pending[1].model_name, "bert");
  EXPECT_EQ(pending[2].owner, "writer-c");
  EXPECT_EQ(pending[2].kind, PendingVersion::Kind::Deleting);
  EXPECT_LE(pending[0].since, pending[1].since);
  EXPECT_LE(pending[1].since, pending[2].since);
}

TEST_P(MetadataStoreConformance, ClaimPendingMovesTheReservationToTheNewOwner) {
  store().create_version(make_version("resnet", "1.0"), "dead-writer");

  EXPECT_FALSE(store().claim_pending("resnet", "1.0", "someone-else", "recovery"));
  EXPECT_EQ(store().list_pending()[0].owner, "dead-writer");

  EXPECT_TRUE(store().claim_pending("resnet", "1.0", "dead-writer", "recovery"));
  const auto pending = store().list_pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].owner, "recovery");
  EXPECT_EQ(pending[0].kind, PendingVersion::Kind::Registering);

  // The old owner lost it: it can neither publish nor release.
  EXPECT_THROW(store().publish_version("resnet", "1.0", "dead-writer", ArtifactInfo{}, at(1)),
               FailedPreconditionError);
  EXPECT_FALSE(store().release_version("resnet", "1.0", "dead-writer"));
  EXPECT_FALSE(store().claim_pending("resnet", "1.0", "dead-writer", "recovery-2"));
  EXPECT_TRUE(store().release_version("resnet", "1.0", "recovery"));
}

TEST_P(MetadataStoreConformance, ClaimPendingWorksForDeletionsAndNotForVisibleVersions) {
  const ModelVersion v = add("resnet", "1.0");
  EXPECT_FALSE(store().claim_pending("resnet", "1.0", "anyone", "recovery"));
  EXPECT_FALSE(store().claim_pending("resnet", "9.0", "anyone", "recovery"));

  ASSERT_TRUE(store().begin_delete("resnet", "1.0", "dead-deleter").has_value());
  EXPECT_TRUE(store().claim_pending("resnet", "1.0", "dead-deleter", "recovery"));
  EXPECT_FALSE(store().cancel_delete("resnet", "1.0", "dead-deleter"));
  EXPECT_TRUE(store().cancel_delete("resnet", "1.0", "recovery"));
  EXPECT_EQ(store().get_version("resnet", "1.0"), v);
}

// --- set_stage ----------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, SetStageUpdatesStageAndUpdatedAtOnly) {
  const ModelVersion v = add("resnet", "1.0", ModelStage::Development, at(1));
  const auto updated =
      store().set_stage("resnet", "1.0", ModelStage::Staging, std::nullopt, at(500));
  ModelVersion expected = v;
  expected.stage = ModelStage::Staging;
  expected.updated_at = at(500);
  EXPECT_EQ(updated, expected);
  EXPECT_EQ(store().get_version("resnet", "1.0"), expected);
}

TEST_P(MetadataStoreConformance, SetStageOfAnAbsentOrReservedVersionReturnsNothing) {
  store().create_version(make_version("resnet", "1.0"), "writer-1");
  EXPECT_EQ(store().set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(1)),
            std::nullopt);
  EXPECT_EQ(store().set_stage("resnet", "2.0", ModelStage::Staging, std::nullopt, at(1)),
            std::nullopt);
  EXPECT_EQ(store().set_stage("bert", "1.0", ModelStage::Staging, std::nullopt, at(1)),
            std::nullopt);
  EXPECT_EQ(store().production_version("resnet"), std::nullopt);
}

TEST_P(MetadataStoreConformance, PromotingToProductionArchivesThePreviousOneAtomically) {
  const ModelVersion v1 = add("resnet", "1.0");
  const ModelVersion v2 = add("resnet", "2.0", ModelStage::Staging);
  const ModelVersion v3 = add("resnet", "3.0");

  ASSERT_TRUE(store().set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(10)));
  EXPECT_EQ(store().production_version("resnet")->version, "1.0");

  const auto promoted =
      store().set_stage("resnet", "2.0", ModelStage::Production, std::nullopt, at(20));
  ASSERT_TRUE(promoted.has_value());
  EXPECT_EQ(promoted->stage, ModelStage::Production);
  EXPECT_EQ(store().production_version("resnet"), promoted);

  ModelVersion archived = v1;
  archived.stage = ModelStage::Archived;
  archived.updated_at = at(20);
  EXPECT_EQ(store().get_version("resnet", "1.0"), archived);
  EXPECT_EQ(store().get_version("resnet", "3.0"), v3);  // untouched
  EXPECT_EQ(names_of(store().list_versions("resnet", ModelStage::Production)),
            std::vector<std::string>{"2.0"});
  EXPECT_EQ(names_of(store().list_versions("resnet", ModelStage::Archived)),
            std::vector<std::string>{"1.0"});
  (void)v2;
}

TEST_P(MetadataStoreConformance, ProductionOfOneModelDoesNotTouchAnother) {
  add("resnet", "1.0");
  add("bert", "1.0");
  ASSERT_TRUE(store().set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(1)));
  ASSERT_TRUE(store().set_stage("bert", "1.0", ModelStage::Production, std::nullopt, at(2)));
  EXPECT_EQ(store().production_version("resnet")->version, "1.0");
  EXPECT_EQ(store().production_version("resnet")->model_name, "resnet");
  EXPECT_EQ(store().production_version("bert")->model_name, "bert");
}

TEST_P(MetadataStoreConformance, PromotingTheCurrentProductionAgainArchivesNothing) {
  add("resnet", "1.0");
  const ModelVersion v2 = add("resnet", "2.0", ModelStage::Staging);
  ASSERT_TRUE(store().set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(10)));

  const auto again =
      store().set_stage("resnet", "1.0", ModelStage::Production, ModelStage::Production, at(20));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->stage, ModelStage::Production);
  EXPECT_EQ(store().production_version("resnet")->version, "1.0");
  EXPECT_EQ(store().get_version("resnet", "2.0"), v2);
  EXPECT_TRUE(store().list_versions("resnet", ModelStage::Archived).empty());
}

TEST_P(MetadataStoreConformance, DemotingProductionLeavesNone) {
  add("resnet", "1.0");
  ASSERT_TRUE(store().set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(10)));
  ASSERT_TRUE(store().set_stage("resnet", "1.0", ModelStage::Archived, std::nullopt, at(20)));
  EXPECT_EQ(store().production_version("resnet"), std::nullopt);
  EXPECT_TRUE(store().list_versions("resnet", ModelStage::Production).empty());
}

TEST_P(MetadataStoreConformance, CompareAndSwapWithTheWrongExpectedStageChangesNothing) {
  const ModelVersion v1 = add("resnet", "1.0");
  const ModelVersion v2 = add("resnet", "2.0", ModelStage::Staging);
  ASSERT_TRUE(store().set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(10)));
  const ModelVersion production = *store().get_version("resnet", "1.0");

  EXPECT_THROW(
      store().set_stage("resnet", "2.0", ModelStage::Production, ModelStage::Development, at(20)),
      FailedPreconditionError);
  EXPECT_EQ(store().get_version("resnet", "2.0"), v2);
  EXPECT_EQ(store().get_version("resnet", "1.0"), production);  // not archived
  EXPECT_EQ(store().production_version("resnet"), production);

  EXPECT_THROW(
      store().set_stage("resnet", "1.0", ModelStage::Archived, ModelStage::Staging, at(20)),
      FailedPreconditionError);
  EXPECT_EQ(store().get_version("resnet", "1.0"), production);
  (void)v1;
}

TEST_P(MetadataStoreConformance, CompareAndSwapWithTheRightExpectedStageApplies) {
  add("resnet", "1.0");
  add("resnet", "2.0", ModelStage::Staging);
  ASSERT_TRUE(
      store().set_stage("resnet", "1.0", ModelStage::Production, ModelStage::Development, at(10)));
  const auto promoted =
      store().set_stage("resnet", "2.0", ModelStage::Production, ModelStage::Staging, at(20));
  ASSERT_TRUE(promoted.has_value());
  EXPECT_EQ(store().production_version("resnet"), promoted);
  EXPECT_EQ(store().get_version("resnet", "1.0")->stage, ModelStage::Archived);
}

// --- listings -----------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, CreatedAtNeverGoesBackInRegistrationOrder) {
  // A writer whose clock read came before another's registration, published after it.
  const ModelVersion first = add("resnet", "1", ModelStage::Development, at(300));
  EXPECT_EQ(first.created_at, at(300));
  const ModelVersion second = add("resnet", "2", ModelStage::Development, at(100));
  EXPECT_EQ(second.created_at, at(300));
  EXPECT_EQ(second.updated_at, at(300));
  EXPECT_EQ(store().get_version("resnet", "2"), second);
  store().create_version(make_version("resnet", "3", ModelStage::Development, at(0)), "writer-1");
  ArtifactInfo artifact;
  artifact.path = "resnet/3/model.bin";
  const ModelVersion third = store().publish_version("resnet", "3", "writer-1", artifact, at(200));
  EXPECT_EQ(third.created_at, at(300));
  EXPECT_EQ(store().get_version("resnet", "3"), third);
  // Later clocks are recorded as they are.
  EXPECT_EQ(add("resnet", "4", ModelStage::Development, at(400)).created_at, at(400));
  // Both notions of "latest" agree, ties broken by registration order.
  EXPECT_EQ(store().latest_version("resnet")->version, "4");
  EXPECT_EQ(store().get_model("resnet")->latest_version()->version, "4");
  ASSERT_TRUE(store().begin_delete("resnet", "4", "writer-2").has_value());
  ASSERT_TRUE(store().release_version("resnet", "4", "writer-2"));
  EXPECT_EQ(store().latest_version("resnet")->version, "3");
  EXPECT_EQ(store().get_model("resnet")->latest_version()->version, "3");
  // The bound is the latest version still there, not one deleted since.
  EXPECT_EQ(add("resnet", "5", ModelStage::Development, at(350)).created_at, at(350));
  // Another model's versions are not compared.
  EXPECT_EQ(add("bert", "1", ModelStage::Development, at(100)).created_at, at(100));
}

TEST_P(MetadataStoreConformance, ListVersionsFollowsRegistrationOrderNotNamesOrTimes) {
  // Neither lexicographic nor numeric order matches the registration order (and created_at, older
  // for later versions here, is raised to keep to it).
  add("resnet", "10", ModelStage::Development, at(300));
  add("resnet", "9", ModelStage::Staging, at(100));
  add("resnet", "b", ModelStage::Development, at(200));
  add("resnet", "a", ModelStage::Staging, at(50));

  EXPECT_EQ(names_of(store().list_versions("resnet")),
            (std::vector<std::string>{"10", "9", "b", "a"}));
  EXPECT_EQ(names_of(store().list_versions("resnet", ModelStage::Staging)),
            (std::vector<std::string>{"9", "a"}));
  EXPECT_EQ(names_of(store().list_versions("resnet", ModelStage::Development)),
            (std::vector<std::string>{"10", "b"}));
  EXPECT_TRUE(store().list_versions("resnet", ModelStage::Production).empty());
  EXPECT_EQ(store().latest_version("resnet")->version, "a");
  EXPECT_EQ(names_of(store().get_model("resnet")->versions),
            (std::vector<std::string>{"10", "9", "b", "a"}));
}

TEST_P(MetadataStoreConformance, ListModelsIsSortedAndComplete) {
  for (const char* name : {"zeta", "beta", "Alpha", "alpha-2", "beta.v2", "0model"}) {
    add(name, "1");
  }
  EXPECT_EQ(store().list_models(),
            (std::vector<std::string>{"0model", "Alpha", "alpha-2", "beta", "beta.v2", "zeta"}));
}

TEST_P(MetadataStoreConformance, ListsAreEmptyOnAnEmptyStore) {
  EXPECT_TRUE(store().list_models().empty());
  EXPECT_TRUE(store().list_pending().empty());
  EXPECT_TRUE(store().list_versions("resnet").empty());
}

// --- validation ---------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, InvalidNamesAreRejectedBeforeAnythingChanges) {
  const std::vector<std::string> bad_models = {"",
                                               ".",
                                               "..",
                                               "../etc",
                                               "a/b",
                                               "a\\b",
                                               "has space",
                                               "-rf",
                                               ".hidden",
                                               std::string("nul\0x", 5),
                                               std::string(300, 'm')};
  const std::vector<std::string> bad_versions = {
      "", ".", "..", "1/2", "../1", "-1", std::string(101, 'v')};
  for (const auto& name : bad_models) {
    SCOPED_TRACE("model name: " + name);
    EXPECT_THROW(store().create_version(make_version(name, "1")), InvalidArgumentError);
    EXPECT_THROW(store().create_version(make_version(name, "1"), "writer"), InvalidArgumentError);
    EXPECT_THROW(store().publish_version(name, "1", "writer", ArtifactInfo{}, at(1)),
                 InvalidArgumentError);
    EXPECT_THROW(store().release_version(name, "1", "writer"), InvalidArgumentError);
    EXPECT_THROW(store().begin_delete(name, "1", "writer"), InvalidArgumentError);
    EXPECT_THROW(store().cancel_delete(name, "1", "writer"), InvalidArgumentError);
    EXPECT_THROW(store().claim_pending(name, "1", "writer", "other"), InvalidArgumentError);
    EXPECT_THROW(store().set_stage(name, "1", ModelStage::Staging, std::nullopt, at(1)),
                 InvalidArgumentError);
    EXPECT_THROW(store().get_version(name, "1"), InvalidArgumentError);
    EXPECT_THROW(store().latest_version(name), InvalidArgumentError);
    EXPECT_THROW(store().production_version(name), InvalidArgumentError);
    EXPECT_THROW(store().list_versions(name), InvalidArgumentError);
    EXPECT_THROW(store().get_model(name), InvalidArgumentError);
  }
  add("resnet", "1");
  for (const auto& version : bad_versions) {
    SCOPED_TRACE("version: " + version);
    EXPECT_THROW(store().create_version(make_version("resnet", version)), InvalidArgumentError);
    EXPECT_THROW(store().publish_version("resnet", version, "writer", ArtifactInfo{}, at(1)),
                 InvalidArgumentError);
    EXPECT_THROW(store().release_version("resnet", version, "writer"), InvalidArgumentError);
    EXPECT_THROW(store().begin_delete("resnet", version, "writer"), InvalidArgumentError);
    EXPECT_THROW(store().cancel_delete("resnet", version, "writer"), InvalidArgumentError);
    EXPECT_THROW(store().claim_pending("resnet", version, "a", "b"), InvalidArgumentError);
    EXPECT_THROW(store().set_stage("resnet", version, ModelStage::Staging, std::nullopt, at(1)),
                 InvalidArgumentError);
    EXPECT_THROW(store().get_version("resnet", version), InvalidArgumentError);
  }
  EXPECT_EQ(store().list_models(), std::vector<std::string>{"resnet"});
  EXPECT_EQ(names_of(store().list_versions("resnet")), std::vector<std::string>{"1"});
  EXPECT_TRUE(store().list_pending().empty());
}

// --- round trip of every field ------------------------------------------------------------

TEST_P(MetadataStoreConformance, EveryFieldRoundTripsExactly) {
  ModelVersion v;
  v.model_name = "round-trip";
  v.version = "1.0.0+build.7";
  v.stage = ModelStage::Staging;
  v.framework = ModelFramework::Onnx;
  v.artifact_path = "round-trip/1.0.0+build.7/model.bin";
  v.artifact_size = std::numeric_limits<std::uint64_t>::max() - 1;
  v.artifact_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  v.metrics.accuracy = 0.1;
  v.metrics.precision = 1.0 / 3.0;
  v.metrics.recall = 1e-300;
  v.metrics.f1_score = std::numeric_limits<double>::denorm_min();
  v.metrics.auc_roc = 0.9999999999999999;
  v.metrics.mse = std::numeric_limits<double>::max();
  v.metrics.mae = 0.0;
  v.metrics.custom = {{"latency_ms", 3.5},
                      {"neg", -2.25},
                      {"accuracy", 0.5},  // a custom entry shadowing a standard name
                      {"loss", std::numeric_limits<double>::infinity()},
                      {"ünïcode metric", 7.0}};
  v.parameters = nlohmann::json::parse(R"({
    "lr": 0.001, "epochs": 90, "big": 9223372036854775807, "huge": 18446744073709551615,
    "negative": -42, "third": 0.3333333333333333, "flag": true, "none": null,
    "name": "résumé \"quoted\" \\ back\nslash", "empty_object": {}, "empty_array": [],
    "layers": [{"type": "conv", "filters": [32, 64, 128]}, {"type": "dense", "units": 10}],
    "nested": {"a": {"b": {"c": [1, 2.5, "three", false]}}}
  })");
  v.tags = {{"team", "vision"},
            {"empty", ""},
            {"emoji", "🚀"},
            {"k=v", "a=b;c"},
            {"multi", "line one\nline two"}};
  v.description = "Multi-line\n\"quoted\" 'text' with ünïcode — and a tab\t.";
  v.created_at = at(1);  // ...123456790 ns: every digit matters
  v.updated_at = Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      nanoseconds(-86'400'000'000'001LL)));  // before the epoch

  store().create_version(v);
  const auto back = store().get_version(v.model_name, v.version);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, v);
  // operator== on JSON compares numbers by value; the text must match too (ints stay ints).
  EXPECT_EQ(back->parameters.dump(), v.parameters.dump());
  EXPECT_EQ(back->created_at.time_since_epoch().count(), v.created_at.time_since_epoch().count());
  EXPECT_TRUE(std::isinf(back->metrics.custom.at("loss")));
  EXPECT_EQ(store().latest_version(v.model_name), v);
  EXPECT_EQ(store().list_versions(v.model_name), std::vector<ModelVersion>{v});
  EXPECT_EQ(store().get_model(v.model_name)->versions, std::vector<ModelVersion>{v});
}

TEST_P(MetadataStoreConformance, SignOfZeroAndEmptyFieldsRoundTrip) {
  ModelVersion v = make_version("zeros", "1");
  v.metrics = ModelMetrics{};
  v.metrics.custom = {{"minus_zero", -0.0}};
  v.parameters = nlohmann::json::object();
  v.tags.clear();
  v.description.clear();
  v.artifact_path = std::nullopt;
  v.artifact_size = 0;
  v.artifact_sha256.clear();
  store().create_version(v);
  const auto back = store().get_version("zeros", "1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, v);
  EXPECT_TRUE(std::signbit(back->metrics.custom.at("minus_zero")));
  EXPECT_EQ(back->artifact_path, std::nullopt);
  EXPECT_TRUE(back->parameters.is_object());
}

TEST_P(MetadataStoreConformance, EveryStageAndFrameworkRoundTrips) {
  int n = 0;
  for (ModelFramework framework :
       {ModelFramework::Sklearn, ModelFramework::PyTorch, ModelFramework::TensorFlow,
        ModelFramework::Onnx, ModelFramework::Custom}) {
    for (ModelStage stage : {ModelStage::Development, ModelStage::Staging, ModelStage::Archived}) {
      ModelVersion v = make_version("grid", std::to_string(++n), stage);
      v.framework = framework;
      store().create_version(v);
      EXPECT_EQ(store().get_version("grid", v.version), v);
    }
  }
  ASSERT_TRUE(store().set_stage("grid", "1", ModelStage::Production, std::nullopt, at(3)));
  EXPECT_EQ(store().get_version("grid", "1")->stage, ModelStage::Production);
}

TEST_P(MetadataStoreConformance, ReservedFieldsSurvivePublication) {
  ModelVersion v = make_version("resnet", "1.0", ModelStage::Staging);
  v.metrics.custom = {{"latency_ms", 12.25}};
  v.parameters = {{"nested", {{"depth", 50}}}};
  v.tags = {{"owner", "alice"}};
  v.description = "reserved first";
  store().create_version(v, "writer-1");
  const ModelVersion published = store().publish_version(
      "resnet", "1.0", "writer-1", ArtifactInfo{v.artifact_path, 5, std::string(64, 'b')}, at(42));
  EXPECT_EQ(published.metrics, v.metrics);
  EXPECT_EQ(published.parameters, v.parameters);
  EXPECT_EQ(published.tags, v.tags);
  EXPECT_EQ(published.description, v.description);
  EXPECT_EQ(published.stage, ModelStage::Staging);
  EXPECT_EQ(published.framework, v.framework);
  EXPECT_EQ(published.artifact_size, 5u);
}

TEST_P(MetadataStoreConformance, ReturnedValuesAreSnapshots) {
  add("resnet", "1.0");
  auto v = store().get_version("resnet", "1.0");
  ASSERT_TRUE(v.has_value());
  v->description = "changed by the caller";
  v->tags["new"] = "tag";
  EXPECT_EQ(store().get_version("resnet", "1.0")->description, "version 1.0");
  EXPECT_EQ(store().get_version("resnet", "1.0")->tags.count("new"), 0u);
}

// --- atomicity under concurrency ----------------------------------------------------------

TEST_P(MetadataStoreConformance, ReadersNeverSeeZeroOrTwoProductionVersionsDuringPromotions) {
  constexpr int kVersions = 6;
  for (int i = 0; i < kVersions; ++i) add("resnet", std::to_string(i));
  ASSERT_TRUE(store().set_stage("resnet", "0", ModelStage::Production, std::nullopt, at(0)));

  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        if (!store().production_version("resnet").has_value()) ++violations;
        if (store().list_versions("resnet", ModelStage::Production).size() != 1) ++violations;
        ++reads;
      }
    });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 25; ++i) {
        const std::string version = std::to_string((w + i) % kVersions);
        store().set_stage("resnet", version, ModelStage::Production, std::nullopt, at(i));
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  for (auto& t : readers) t.join();

  EXPECT_EQ(violations.load(), 0) << "after " << reads.load() << " reads";
  EXPECT_EQ(store().list_versions("resnet", ModelStage::Production).size(), 1u);
  EXPECT_EQ(store().list_versions("resnet", ModelStage::Archived).size(), kVersions - 1u);
}

TEST_P(MetadataStoreConformance, ConcurrentCreatesOfOneKeyLetExactlyOneWin) {
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::atomic<int> already{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ModelVersion v = make_version("race", "1.0");
      v.description = "thread " + std::to_string(t);
      try {
        if (t % 2 == 0) {
          store().create_version(v);
        } else {
          store().create_version(v, "writer-" + std::to_string(t));
        }
        ++created;
      } catch (const AlreadyExistsError&) {
        ++already;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(already.load(), kThreads - 1);
  const bool visible = store().get_version("race", "1.0").has_value();
  EXPECT_EQ(visible ? 0u : 1u, store().list_pending().size());
}

}  // namespace
}  // namespace modelreg

// A registry shared across machines: the PostgreSQL catalog and S3 artifacts, used by several
// processes at once, each with connections of its own (as separate machines would have). The
// invariants of the embedded registry's multi-process tests hold, and a writer killed in the
// middle of a registration is recovered by another process without leaving an upload or an
// object behind.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <modelreg/modelreg.hpp>
#include <modelreg/postgres_metadata_store.hpp>
#include <modelreg/s3_model_store.hpp>
#include <set>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "killed_writer.hpp"
#include "postgres_test_server.hpp"
#include "s3_test_server.hpp"

namespace modelreg {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

class SharedRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MODELREG_S3_OPTIONS_OR_SKIP(s3);
    MODELREG_POSTGRES_DATABASE_OR_SKIP(catalog);
    s3.part_size = 5 * kMiB;
    s3_ = s3;
    catalog_ = catalog;
  }
  void TearDown() override {
    if (s3_.bucket.empty()) return;
    S3ModelStore store(s3_);
    for (const auto& path : store.list_artifacts()) store.delete_artifact(path);
    store.abort_incomplete_uploads(std::chrono::seconds(0));
  }

  // A registry as one machine has it: connections and clients of its own.
  ModelRegistry machine() const {
    return ModelRegistry(std::make_shared<S3ModelStore>(s3_),
                         std::make_shared<PostgresMetadataStore>(catalog_));
  }

  S3Options s3_;
  std::string catalog_;
};

TEST_F(SharedRegistryTest, AnotherMachineRecoversAWriterKilledMidUploadAndLeavesNothing) {
  ASSERT_NO_FATAL_FAILURE(testing::kill_writer_mid_upload([&](int ready_fd) {
    ModelRegistry trainer = machine();
    // Blocks at 14 MiB: however far the registry's hashing reads ahead, the first part is up.
    testing::PatternBuf source(20 * kMiB, 14 * kMiB, /*block=*/true, ready_fd);
    std::istream in(&source);
    RegisterOptions options;
    options.artifact_stream = &in;
    trainer.register_version("fraud", "1", options);
  }));
  S3ModelStore artifacts(s3_);
  ASSERT_EQ(artifacts.list_incomplete_uploads().size(), 1U);

  ModelRegistry other = machine();
  const RecoveryReport report = other.recover();
  EXPECT_EQ(report.registrations_rolled_back, 1U);
  EXPECT_TRUE(report.complete());
  EXPECT_FALSE(other.get_version("fraud", "1"));
  EXPECT_TRUE(artifacts.list_incomplete_uploads().empty());
  EXPECT_TRUE(artifacts.list_artifacts().empty());
  RegisterOptions again;
  again.artifact = to_bytes("second try");
  other.register_version("fraud", "1", again);
  EXPECT_EQ(to_string(machine().load_artifact("fraud", "1").value()), "second try");
}

TEST_F(SharedRegistryTest, OpenedByItsUrls) {
  // s3:// URLs take the rest from the standard variables, as a deployment would have them.
  ::setenv("AWS_ENDPOINT_URL", s3_.endpoint.c_str(), 1);
  ::setenv("AWS_REGION", s3_.region.c_str(), 1);
  ::setenv("AWS_ACCESS_KEY_ID", s3_.access_key_id.c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", s3_.secret_access_key.c_str(), 1);
  if (!s3_.session_token.empty()) ::setenv("AWS_SESSION_TOKEN", s3_.session_token.c_str(), 1);
  const std::string catalog = testing::postgres_url(catalog_);
  const std::string artifacts = "s3://" + s3_.bucket + "/" + s3_.prefix;
  {
    ModelRegistry trainer = ModelRegistry::open(catalog, artifacts);
    RegisterOptions options;
    options.artifact = to_bytes("weights");
    trainer.register_version("fraud", "1", options);
  }
  ModelRegistry server = ModelRegistry::open(catalog, artifacts);
  EXPECT_EQ(to_string(server.load_artifact("fraud", "1").value()), "weights");
  EXPECT_EQ(to_string(machine().load_artifact("fraud", "1").value()), "weights");
}

TEST_F(SharedRegistryTest, ProcessesRegisteringPromotingAndLoadingAtOnceKeepTheInvariants) {
  constexpr int kProcesses = 3;
  constexpr int kVersions = 4;
  testing::Children children;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcesses; ++p) {
    pids.push_back(children.spawn([&, p] {
      testing::silence_modelreg_logging();
      ModelRegistry registry = machine();
      for (int k = 0; k < kVersions; ++k) {
        const std::string version = std::to_string(p) + "." + std::to_string(k);
        RegisterOptions options;
        options.artifact = to_bytes("weights of " + version);
        registry.register_version("fraud", version, options);
        registry.transition_stage("fraud", version, ModelStage::Production);
        registry.set_alias("fraud", "champion", version);
        // Whatever serves now loads, verified, and is what was registered under its name.
        const auto serving = registry.get_production_model("fraud");
        if (!serving) return 2;
        const auto bytes = registry.load_artifact("fraud", serving->version);
        if (!bytes || to_string(*bytes) != "weights of " + serving->version) return 3;
      }
      return 0;
    }));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (const pid_t pid : pids) {
    const int status = children.wait(pid, deadline);
    EXPECT_TRUE(testing::exited_cleanly(status)) << "process exited with " << status;
  }

  ModelRegistry registry = machine();
  const auto versions = registry.list_versions("fraud");
  EXPECT_EQ(versions.size(), static_cast<std::size_t>(kProcesses * kVersions));
  EXPECT_EQ(registry.list_versions("fraud", ModelStage::Production).size(), 1U);
  for (const auto& v : versions) {
    EXPECT_EQ(to_string(registry.load_artifact("fraud", v.version).value()),
              "weights of " + v.version);
  }
  const auto champion = registry.get_version_by_alias("fraud", "champion");
  ASSERT_TRUE(champion);
  // Registration order and the history agree: one registration per version, in the order
  // list_versions gives.
  std::vector<std::string> registered;
  for (const auto& event : registry.history("fraud")) {
    if (event.type == EventType::VersionRegistered) registered.push_back(event.version);
  }
  std::vector<std::string> listed;
  for (const auto& v : versions) listed.push_back(v.version);
  EXPECT_EQ(registered, listed);
  S3ModelStore artifacts(s3_);
  EXPECT_EQ(artifacts.list_artifacts().size(), versions.size());
  EXPECT_TRUE(artifacts.list_incomplete_uploads().empty());
}

}  // namespace
}  // namespace modelreg

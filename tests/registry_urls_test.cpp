// ModelRegistry::open(catalog_url, artifacts_url): the schemes the core and the linked backend
// libraries know, and clear errors for the others. (postgresql:// and s3:// against real
// servers: shared_registry_test.cpp.)

#include <gtest/gtest.h>

#include <modelreg/modelreg.hpp>
#include <string>

#include "test_dir.hpp"

namespace modelreg {
namespace {

void expect_round_trip(ModelRegistry& registry) {
  RegisterOptions options;
  options.artifact = to_bytes("weights");
  registry.register_version("fraud", "1", options);
  registry.transition_stage("fraud", "1", ModelStage::Production);
  EXPECT_EQ(registry.get_production_model("fraud")->version, "1");
  EXPECT_EQ(to_string(registry.load_artifact("fraud", "1").value()), "weights");
}

TEST(RegistryUrlsTest, MemoryCatalogAndArtifacts) {
  ModelRegistry registry = ModelRegistry::open("memory:", "memory:");
  expect_round_trip(registry);
}

TEST(RegistryUrlsTest, ArtifactsInADirectoryByPathOrFileUrl) {
  testing::TestDir dir;
  {
    ModelRegistry registry = ModelRegistry::open("memory:", (dir.path() / "a").string());
    expect_round_trip(registry);
  }
  ModelRegistry registry = ModelRegistry::open("memory:", "file://" + (dir.path() / "b").string());
  expect_round_trip(registry);
  EXPECT_FALSE(std::filesystem::is_empty(dir.path() / "b"));
}

#ifdef MODELREG_HAVE_SQLITE
TEST(RegistryUrlsTest, ASqliteCatalogFileSurvivesReopening) {
  testing::TestDir dir;
  const std::string catalog = "sqlite://" + (dir.path() / "registry.db").string();
  const std::string artifacts = (dir.path() / "artifacts").string();
  {
    ModelRegistry registry = ModelRegistry::open(catalog, artifacts);
    expect_round_trip(registry);
  }
  ModelRegistry reopened = ModelRegistry::open(catalog, artifacts);
  EXPECT_EQ(reopened.get_production_model("fraud")->version, "1");
  EXPECT_EQ(to_string(reopened.load_artifact("fraud", "1").value()), "weights");
}
#endif

void expect_invalid(const std::string& catalog, const std::string& artifacts,
                    const std::string& message) {
  try {
    ModelRegistry::open(catalog, artifacts);
    ADD_FAILURE() << "opened " << catalog << " + " << artifacts;
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(RegistryUrlsTest, UnknownOrUnlinkedSchemesAreClearErrors) {
  expect_invalid("bogus://x", "memory:", "unknown scheme 'bogus:'");
  expect_invalid("memory:", "ftp://host/x", "unknown scheme 'ftp:'");
  expect_invalid("registry.db", "memory:", "has no scheme");
  expect_invalid("", "memory:", "must not be empty");
  expect_invalid("memory:", "", "must not be empty");
  // This program does not link modelreg::postgres nor modelreg::s3.
  expect_invalid("postgresql://db.internal/models", "memory:", "modelreg::postgres");
  expect_invalid("memory:", "s3://bucket/prefix", "modelreg::s3");
}

}  // namespace
}  // namespace modelreg

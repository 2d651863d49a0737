#pragma once

// The MetadataStore conformance suite, which every catalog backend must pass: a fixture with a
// factory per backend. The suite's tests are in metadata_store_conformance_test.cpp (versions,
// reservations, stages, lookups), catalog_lifecycle_conformance_test.cpp (aliases, tags,
// descriptions, model deletion, history), catalog_search_conformance_test.cpp (search) and
// catalog_import_conformance_test.cpp (import_model). A new
// backend joins in one line, in metadata_store_conformance_backends.cpp (or a file of its own):
//
//   INSTANTIATE_TEST_SUITE_P(MyBackend, MetadataStoreConformance,
//                            ::testing::Values(testing::CatalogBackend{"MyBackend", factory}));

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "modelreg/metadata_store.hpp"
#include "test_dir.hpp"

namespace modelreg::testing {

// A time with every nanosecond digit set, so that any loss of precision shows.
inline Timestamp at(std::int64_t offset_ns) {
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::nanoseconds(1'700'000'000'123'456'789LL + offset_ns)));
}

inline ModelVersion make_version(const std::string& model, const std::string& version,
                                 ModelStage stage = ModelStage::Development,
                                 Timestamp created = at(0)) {
  ModelVersion v;
  v.model_name = model;
  v.version = version;
  v.stage = stage;
  v.framework = ModelFramework::PyTorch;
  v.artifact_path = model + "/" + version + "/model.bin";
  v.artifact_size = 42;
  v.artifact_sha256 = std::string(64, 'a');
  v.metrics.accuracy = 0.9;
  v.parameters = {{"lr", 0.01}};
  v.tags = {{"team", "search"}};
  v.description = "version " + version;
  v.created_at = created;
  v.updated_at = created;
  return v;
}

inline std::vector<std::string> names_of(const std::vector<ModelVersion>& versions) {
  std::vector<std::string> names;
  for (const auto& v : versions) names.push_back(v.version);
  return names;
}

// A backend under test: how to make a fresh, empty store in its own directory (or null, if
// its server is unavailable: the test skips).
struct CatalogBackend {
  std::string name;
  std::function<std::unique_ptr<MetadataStore>(const std::filesystem::path& dir)> make;
};

class MetadataStoreConformance : public ::testing::TestWithParam<CatalogBackend> {
 protected:
  // A factory may return null when its store cannot be had here (a server that is not running):
  // it reports why (as a failure where it must not be missing), and the test skips.
  void SetUp() override {
    store_ = GetParam().make(dir_.path());
    if (!store_) GTEST_SKIP() << GetParam().name << " catalog unavailable";
  }
  // The store closes before its directory goes.
  void TearDown() override { store_.reset(); }

  MetadataStore& store() { return *store_; }

  // Creates a visible version and returns what was stored.
  ModelVersion add(const std::string& model, const std::string& version,
                   ModelStage stage = ModelStage::Development, Timestamp created = at(0)) {
    return store().create_version(make_version(model, version, stage, created));
  }

  TestDir dir_;
  std::unique_ptr<MetadataStore> store_;
};

// Test names show the backend's name, not its bytes.
inline void PrintTo(const CatalogBackend& backend, std::ostream* os) {
  *os << backend.name;
}

}  // namespace modelreg::testing

namespace modelreg {
using MetadataStoreConformance = testing::MetadataStoreConformance;
}  // namespace modelreg

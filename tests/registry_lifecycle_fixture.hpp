#pragma once

// What the registry-level lifecycle tests share (registry_lifecycle_test.cpp: URIs, best_version,
// search, history, audit, delete_model; registry_watch_test.cpp: watch): a registry in memory or
// opened on a directory, an artifact store whose deletions can be made to fail, and printing.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <modelreg/modelreg.hpp>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "event_printing.hpp"
#include "test_dir.hpp"

namespace modelreg {

namespace testing {

// An artifact store in memory whose next deletions can be made to fail (I/O errors), and which
// can run something in the middle of a save (another call racing a registration).
class FailingDeleteStore final : public ModelStore {
 public:
  std::atomic<int> fail_next_deletes{0};
  std::function<void()> before_next_save;  // runs once, at the next save
  InMemoryModelStore inner;

 private:
  void save_impl(const std::string& path, std::istream& in) override {
    if (before_next_save) std::exchange(before_next_save, nullptr)();
    const auto slash = path.find('/');
    const auto last = path.rfind('/');
    inner.save_artifact(path.substr(0, slash), path.substr(slash + 1, last - slash - 1), in);
  }
  std::unique_ptr<std::istream> open_impl(const std::string& path) const override {
    return inner.open_artifact(path);
  }
  bool delete_impl(const std::string& path) override {
    if (fail_next_deletes > 0 && fail_next_deletes-- > 0) {
      throw StorageError("injected delete failure");
    }
    return inner.delete_artifact(path);
  }
  std::vector<std::string> list_impl() const override { return inner.list_artifacts(); }
};

// Which registry a test runs on.
enum class RegistryKind {
  InMemory,  // ModelRegistry(): InMemoryModelStore + InMemoryMetadataStore
  Open,      // ModelRegistry::open(dir): SQLite catalog + FileModelStore
};

struct RegistrySetup {
  std::string name;
  RegistryKind kind;
};

inline void PrintTo(const RegistrySetup& setup, std::ostream* os) {
  *os << setup.name;
}

inline std::vector<RegistrySetup> registry_setups() {
  std::vector<RegistrySetup> setups{{"InMemory", RegistryKind::InMemory}};
#ifdef MODELREG_HAVE_SQLITE
  setups.push_back({"Open", RegistryKind::Open});
#endif
  return setups;
}

class RegistryLifecycleTest : public ::testing::TestWithParam<RegistrySetup> {
 protected:
  void SetUp() override {
    if (GetParam().kind == RegistryKind::InMemory) {
      registry_ = std::make_unique<ModelRegistry>();
    } else {
      registry_ = std::make_unique<ModelRegistry>(open());
    }
  }
  void TearDown() override { registry_.reset(); }

  ModelRegistry& registry() { return *registry_; }

  // Another registry on the same directory (Open only): a second client of the same catalog.
  ModelRegistry open(const OpenOptions& options = {}) {
#ifdef MODELREG_HAVE_SQLITE
    return ModelRegistry::open(dir_.path() / "registry", options);
#else
    (void)options;
    throw std::logic_error("no SQLite in this build");
#endif
  }

  // A fresh catalog of this test's kind, for registries over other artifact stores.
  std::shared_ptr<MetadataStore> make_catalog() {
#ifdef MODELREG_HAVE_SQLITE
    if (GetParam().kind == RegistryKind::Open) {
      return std::make_shared<SqliteMetadataStore>(dir_.path() / "other.db");
    }
#endif
    return std::make_shared<InMemoryMetadataStore>();
  }

  ModelVersion add(const std::string& name, const std::string& version,
                   const std::string& artifact = {}, std::optional<double> auc = std::nullopt) {
    RegisterOptions options;
    if (!artifact.empty()) options.artifact = to_bytes(artifact);
    options.metrics.auc_roc = auc;
    return registry().register_version(name, version, options);
  }

  TestDir dir_;
  std::unique_ptr<ModelRegistry> registry_;
};

// The tests that only a registry opened on a directory can run (artifact files to damage, a
// second client of the catalog, options of open()): instantiated with the Open setup only, in
// registry_lifecycle_test.cpp.
class OpenRegistryTest : public RegistryLifecycleTest {};

}  // namespace testing
}  // namespace modelreg

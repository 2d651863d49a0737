// Many threads registering, promoting, reading and deleting at once leave a consistent
// registry with at most one Production version per model. Run under ThreadSanitizer in CI.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <modelreg/modelreg.hpp>
#include <random>
#include <set>
#include <thread>

#include "concurrency_setups.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

using testing::Setup;

class ConcurrencyTest : public ::testing::TestWithParam<Setup> {};

TEST_P(ConcurrencyTest, EightThreadsLeaveAConsistentRegistry) {
  testing::TestDir dir;
  ModelRegistry registry = GetParam().make(dir.path());
  constexpr int kThreads = 8;
  constexpr int kOperations = 60;
  const std::vector<std::string> models{"alpha", "beta"};
  std::atomic<int> production_violations{0};
  std::atomic<int> unexpected_errors{0};
  std::atomic<int> registered{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      for (int i = 0; i < kOperations; ++i) {
        const std::string& model = models[random() % models.size()];
        // Versions are shared between threads on purpose, so registrations and deletions race.
        const std::string version = std::to_string(random() % 20);
        try {
          switch (random() % 6) {
            case 0:
            case 1: {
              RegisterOptions options;
              options.artifact = to_bytes(model + ":" + version);
              options.metrics.accuracy = 0.5;
              registry.register_version(model, version, options);
              ++registered;
              break;
            }
            case 2:
              registry.transition_stage(model, version, ModelStage::Production);
              break;
            case 3: {
              if (registry.list_versions(model, ModelStage::Production).size() > 1) {
                ++production_violations;
              }
              // The unfiltered listing goes through the SQLite store's list cache.
              const auto all = registry.list_versions(model);
              if (std::count_if(all.begin(), all.end(), [](const ModelVersion& v) {
                    return v.stage == ModelStage::Production;
                  }) > 1) {
                ++production_violations;
              }
              const auto production = registry.get_production_model(model);
              if (production && production->stage != ModelStage::Production) {
                ++production_violations;
              }
              if (auto bytes = registry.load_artifact(model, version)) {
                if (to_string(*bytes) != model + ":" + version) ++unexpected_errors;
              }
              break;
            }
            case 4:
              registry.delete_version(model, version);
              break;
            default: {
              // Every reservation is some thread's work in flight: nothing to recover.
              const RecoveryReport report = registry.recover();
              if (report.registrations_rolled_back + report.deletions_completed != 0) {
                ADD_FAILURE() << "recover() took over work in flight";
              }
              break;
            }
          }
        } catch (const AlreadyExistsError&) {
          // Another thread registered this version first: expected.
        } catch (const std::exception& e) {
          ADD_FAILURE() << "thread " << t << ": " << e.what();
          ++unexpected_errors;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(production_violations.load(), 0);
  EXPECT_EQ(unexpected_errors.load(), 0);
  EXPECT_GT(registered.load(), 0);
  std::set<std::string> expected_artifacts;
  for (const auto& model : registry.list_models()) {
    const auto versions = registry.list_versions(model);
    EXPECT_LE(registry.list_versions(model, ModelStage::Production).size(), 1u);
    std::set<std::string> unique;
    for (const auto& v : versions) {
      EXPECT_TRUE(unique.insert(v.version).second) << "duplicate " << v.full_name();
      EXPECT_EQ(to_string(*registry.load_artifact(model, v.version)), model + ":" + v.version);
      expected_artifacts.insert(*v.artifact_path);
    }
  }
  EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
  const auto stored = registry.store()->list_artifacts();
  EXPECT_EQ(std::set<std::string>(stored.begin(), stored.end()), expected_artifacts)
      << "every artifact belongs to a visible version and vice versa";
}

TEST_P(ConcurrencyTest, ConcurrentPromotionsNeverShowTwoOrZeroProductionVersions) {
  testing::TestDir dir;
  ModelRegistry registry = GetParam().make(dir.path());
  for (int v = 0; v < 8; ++v) registry.register_version("m", std::to_string(v));
  registry.transition_stage("m", "0", ModelStage::Production);
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        if (!registry.get_production_model("m")) ++violations;
        if (registry.list_versions("m", ModelStage::Production).size() != 1) ++violations;
        const auto model = registry.get_model("m");
        int in_production = 0;
        for (const auto& v : model->versions) in_production += v.stage == ModelStage::Production;
        if (in_production != 1) ++violations;
      }
    });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < 6; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 30; ++i) {
        registry.transition_stage("m", std::to_string((w + i) % 8), ModelStage::Production);
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(registry.list_versions("m", ModelStage::Production).size(), 1u);
  EXPECT_EQ(registry.list_versions("m", ModelStage::Archived).size(), 7u);
}

TEST_P(ConcurrencyTest, CreatedAtFollowsRegistrationOrderUnderConcurrentRegistrations) {
  testing::TestDir dir;
  ModelRegistry registry = GetParam().make(dir.path());
  constexpr int kThreads = 4;
  constexpr int kVersions = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kVersions; ++i) {
        const std::string version = std::to_string(t) + "-" + std::to_string(i);
        if (i % 2 == 0) {
          registry.register_version("m", version);
        } else {
          RegisterOptions options;
          options.artifact = to_bytes(version);
          registry.register_version("m", version, options);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto versions = registry.list_versions("m");
  ASSERT_EQ(versions.size(), static_cast<std::size_t>(kThreads * kVersions));
  int backwards = 0;
  for (std::size_t i = 1; i < versions.size(); ++i) {
    backwards += versions[i].created_at < versions[i - 1].created_at;
  }
  EXPECT_EQ(backwards, 0) << "versions dated before one registered ahead of them";
  EXPECT_EQ(registry.get_model("m")->latest_version(), registry.get_latest("m"));
}

INSTANTIATE_TEST_SUITE_P(Registries, ConcurrencyTest,
                         ::testing::ValuesIn(testing::concurrency_setups()), testing::setup_name);

}  // namespace
}  // namespace modelreg

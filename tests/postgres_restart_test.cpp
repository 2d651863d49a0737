// The PostgreSQL server restarted in the middle of a workload: calls in flight fail cleanly
// (StorageError, nothing half applied), later calls succeed on new connections. Restarts the
// fixture's server (scripts/pg-server restart), so CTest runs it alone (RUN_SERIAL).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <modelreg/modelreg.hpp>
#include <modelreg/postgres_metadata_store.hpp>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "metadata_store_conformance.hpp"
#include "postgres_test_server.hpp"

namespace modelreg {
namespace {

using testing::make_version;

// The command that restarts the test server (scripts/pg-server restart of the directory whose
// env file the fixture gave), or "" if this run's server is not one of ours.
std::string restart_command() {
  const std::string env = testing::server_env_file("MODELREG_TEST_POSTGRES_ENV", "pg");
  const char* own = std::getenv("MODELREG_TEST_POSTGRES_URL");
  if (env.empty() || (own && *own)) return "";
  const std::string dir = std::filesystem::path(env).parent_path().string();
  return std::string("'") + MODELREG_PG_SERVER_SCRIPT + "' restart '" + dir + "'";
}

TEST(PostgresRestartTest, CallsInFlightFailCleanlyAndLaterCallsSucceed) {
  MODELREG_POSTGRES_DATABASE_OR_SKIP(conninfo);
  const std::string restart = restart_command();
  if (restart.empty()) {
    const char* why =
        "the test server is not one scripts/pg-server started, so it is not restarted";
    if (testing::servers_required()) FAIL() << why;
    GTEST_SKIP() << why;
  }
  PostgresMetadataStore store(conninfo);

  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::set<std::string> registered;  // create_version returned
  std::set<std::string> unknown;     // failed with StorageError: may or may not be there
  std::vector<std::string> unexpected;
  int storage_errors = 0;
  std::thread worker([&] {
    for (int i = 1; !stop; ++i) {
      const std::string version = std::to_string(i);
      try {
        store.create_version(make_version("fraud", version, ModelStage::Staging));
        {
          std::lock_guard<std::mutex> lock(mutex);
          registered.insert(version);
        }
        store.set_stage("fraud", version, ModelStage::Production, std::nullopt, testing::at(i));
        store.set_alias("fraud", "champion", version, std::nullopt, testing::at(i));
      } catch (const StorageError&) {
        std::lock_guard<std::mutex> lock(mutex);
        ++storage_errors;
        if (!registered.count(version)) unknown.insert(version);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        unexpected.push_back(e.what());
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a workload under way
  const int restarted = std::system(restart.c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  worker.join();
  ASSERT_EQ(restarted, 0) << restart;
  EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  EXPECT_GE(storage_errors, 1) << "no call was in flight during the restart";

  // Later calls succeed, on the same store.
  store.create_version(make_version("fraud", "after"));
  ASSERT_TRUE(store.get_version("fraud", "after"));

  // Nothing lost, nothing half applied: every registration that returned is there, anything
  // else there was a call that failed; one Production version; each version registered once in
  // the history, and the alias names a visible version.
  std::set<std::string> visible;
  for (const auto& v : store.list_versions("fraud")) visible.insert(v.version);
  for (const auto& v : registered) EXPECT_TRUE(visible.count(v)) << "lost version " << v;
  for (const auto& v : visible) {
    EXPECT_TRUE(registered.count(v) || unknown.count(v) || v == "after") << "stray version " << v;
  }
  EXPECT_LE(store.list_versions("fraud", ModelStage::Production).size(), 1U);
  std::map<std::string, int> registrations;
  for (const auto& event : store.events({})) {
    if (event.type == EventType::VersionRegistered) ++registrations[event.version];
  }
  for (const auto& v : visible) EXPECT_EQ(registrations[v], 1) << v;
  if (const auto champion = store.get_version_by_alias("fraud", "champion")) {
    EXPECT_TRUE(visible.count(champion->version));
  }
}

}  // namespace
}  // namespace modelreg

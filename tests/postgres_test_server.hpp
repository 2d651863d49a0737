#pragma once

// The PostgreSQL server the tests run against, and a fresh database for each test.
//
// - A server of one's own (a managed PostgreSQL): MODELREG_TEST_POSTGRES_URL in the environment,
//   a libpq connection string of a user that may CREATE DATABASE. It wins.
// - Otherwise MODELREG_TEST_POSTGRES_ENV names the file scripts/pg-server start writes, or
//   MODELREG_TEST_SERVERS_DIR the directory of scripts/test-servers, which the CTest fixture runs
//   (tests/CMakeLists.txt).
//
// Without either, the tests skip with a message, unless MODELREG_REQUIRE_SERVERS=1 (as in
// .ci/run): then they fail.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "postgres_server.hpp"
#include "test_servers.hpp"

namespace modelreg::testing {

// Fresh databases for tests, each dropped when the next one is made (its test has closed its
// stores by then) or when the program ends.
class TestDatabases {
 public:
  static TestDatabases& instance() {
    static TestDatabases databases;
    return databases;
  }

  // The connection string of a new, empty database, or nullopt (and why in `why_not`).
  std::optional<std::string> fresh(std::string& why_not) {
    const auto server = postgres_test_url(why_not);
    if (!server) return std::nullopt;
    std::lock_guard<std::mutex> lock(mutex_);
    drop_made(*server);
    std::random_device random;
    const std::string name = "modelreg_test_" + std::to_string(::getpid()) + "_" +
                             std::to_string(random() % 1000000000U);
    postgres_exec(*server, "CREATE DATABASE " + name);
    made_.push_back(name);
    return with_database(*server, name);
  }

  ~TestDatabases() {
    std::string why_not;
    if (const auto server = postgres_test_url(why_not)) {
      try {
        drop_made(*server);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "dropping the test databases failed: %s\n", e.what());
      }
    }
  }

 private:
  void drop_made(const std::string& server) {
    for (const auto& name : made_) {
      postgres_exec(server, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }
    made_.clear();
  }

  std::mutex mutex_;
  std::vector<std::string> made_;
};

}  // namespace modelreg::testing

// In a test or SetUp: `conninfo` (a new variable) of a fresh database, or skip (fail where
// servers are required).
#define MODELREG_POSTGRES_DATABASE_OR_SKIP(conninfo)                        \
  std::string conninfo##_why;                                               \
  const auto conninfo##_found =                                             \
      ::modelreg::testing::TestDatabases::instance().fresh(conninfo##_why); \
  if (!conninfo##_found) {                                                  \
    if (::modelreg::testing::servers_required()) FAIL() << conninfo##_why;  \
    GTEST_SKIP() << conninfo##_why;                                         \
  }                                                                         \
  const std::string conninfo = *conninfo##_found

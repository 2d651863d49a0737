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

#include "test_servers.hpp"

namespace modelreg::testing {

// The server's connection string, or nullopt (and why in `why_not`).
inline std::optional<std::string> postgres_test_url(std::string& why_not) {
  if (const char* own = std::getenv("MODELREG_TEST_POSTGRES_URL"); own && *own) return own;
  const std::string file = server_env_file("MODELREG_TEST_POSTGRES_ENV", "pg");
  if (!file.empty()) {
    const auto values = read_env_file(file);
    if (const auto url = values.find("MODELREG_TEST_POSTGRES_URL"); url != values.end()) {
      return url->second;
    }
    why_not = "the PostgreSQL test server's environment file " + file +
              " is missing or empty (scripts/pg-server start did not run, failed, or found "
              "PostgreSQL not installed)";
    return std::nullopt;
  }
  why_not =
      "no PostgreSQL server for the tests: set MODELREG_TEST_SERVERS_DIR (scripts/test-servers "
      "start DIR), MODELREG_TEST_POSTGRES_ENV (scripts/pg-server start writes it) or "
      "MODELREG_TEST_POSTGRES_URL";
  return std::nullopt;
}

// `conninfo` (a URL or key=value pairs) with its database replaced by `dbname`, as key=value
// pairs.
inline std::string with_database(const std::string& conninfo, const std::string& dbname) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    const std::string message = error ? error : "out of memory";
    PQfreemem(error);
    throw std::runtime_error("malformed test connection string: " + message);
  }
  const auto quoted = [](const std::string& value) {
    std::string out = "'";
    for (const char c : value) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  };
  std::string out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || std::string(o->keyword) == "dbname") continue;
    out += std::string(o->keyword) + "=" + quoted(o->val) + " ";
  }
  PQconninfoFree(options);
  return out + "dbname=" + quoted(dbname);
}

// `conninfo` (key=value pairs of user, host, port, dbname) as a postgresql:// URL.
inline std::string postgres_url(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    throw std::runtime_error("malformed test connection string");
  }
  std::map<std::string, std::string> values;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) values[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  std::string url = "postgresql://";
  if (values.count("user")) url += values["user"] + "@";
  url += values.count("host") ? values["host"] : std::string("localhost");
  if (values.count("port")) url += ":" + values["port"];
  return url + "/" + values["dbname"];
}

// Runs one statement on the server (the maintenance database of `conninfo`); throws with the
// server's message if it fails.
inline void postgres_exec(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to the test server: " +
                             std::string(PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
  }
}

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

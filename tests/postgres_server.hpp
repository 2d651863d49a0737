#pragma once

// The PostgreSQL server of the tests and benchmarks (see postgres_test_server.hpp for how it is
// found) and what they do with it, without GoogleTest: connection strings for a database of
// one's own, and single statements on the server.

#include <libpq-fe.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

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

}  // namespace modelreg::testing

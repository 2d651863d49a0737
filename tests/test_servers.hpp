#pragma once

// What the tests against servers share (s3_test_server.hpp, postgres_test_server.hpp): the
// environment files that scripts/s3-server and scripts/pg-server write, and whether a missing
// server fails the test (MODELREG_REQUIRE_SERVERS=1, as in .ci/run) or skips it.

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

namespace modelreg::testing {

// The NAME=value lines of a file of "export NAME='value'" lines; empty if it cannot be read.
inline std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("export ", 0) == 0) line.erase(0, 7);
    const auto equals = line.find('=');
    if (line.empty() || line[0] == '#' || equals == std::string::npos) continue;
    std::string value = line.substr(equals + 1);
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    values[line.substr(0, equals)] = value;
  }
  return values;
}

// The environment file a server script wrote for the tests: `variable` names it, else it is
// DIR/<server>/env of the directory MODELREG_TEST_SERVERS_DIR names (scripts/test-servers, which
// the CTest fixture runs); "" if neither is set.
inline std::string server_env_file(const char* variable, const char* server) {
  if (const char* file = std::getenv(variable); file && *file) return file;
  if (const char* dir = std::getenv("MODELREG_TEST_SERVERS_DIR"); dir && *dir) {
    return std::string(dir) + "/" + server + "/env";
  }
  return "";
}

inline bool servers_required() {
  const char* value = std::getenv("MODELREG_REQUIRE_SERVERS");
  return value && std::string(value) == "1";
}

}  // namespace modelreg::testing

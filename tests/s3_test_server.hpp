#pragma once

// The S3 server the tests run against, and a fresh key prefix for each test.
//
// - A server of one's own (a real AWS bucket, a MinIO): MODELREG_TEST_S3_BUCKET in the
//   environment, with the standard AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
//   AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. It wins.
// - Otherwise MODELREG_TEST_S3_ENV names a file of "export NAME=value" lines: the one
//   scripts/s3-server start writes; or MODELREG_TEST_SERVERS_DIR the directory of
//   scripts/test-servers, which the CTest fixture runs (tests/CMakeLists.txt).
//
// Without either, the tests skip with a message, unless MODELREG_REQUIRE_SERVERS=1 (as in
// .ci/run): then they fail, so that CI cannot pass without running them.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <modelreg/s3_model_store.hpp>
#include <optional>
#include <random>
#include <string>

#include "test_servers.hpp"

namespace modelreg::testing {

// The options of the test server with `prefix`, or nullopt (and why in `why_not`).
inline std::optional<S3Options> s3_test_options(const std::string& prefix, std::string& why_not) {
  std::map<std::string, std::string> values;
  const char* own = std::getenv("MODELREG_TEST_S3_BUCKET");
  const std::string file = server_env_file("MODELREG_TEST_S3_ENV", "s3");
  if (!(own && *own) && !file.empty()) {
    values = read_env_file(file);
    if (values.empty()) {
      why_not = "the S3 test server's environment file " + file +
                " is missing or empty (scripts/s3-server start did not run, failed, or found "
                "Ceph not installed)";
      return std::nullopt;
    }
  }
  const auto get = [&](const char* name) -> std::string {
    if (const auto found = values.find(name); found != values.end()) return found->second;
    const char* value = std::getenv(name);
    return value ? value : "";
  };
  S3Options options;
  options.bucket = get("MODELREG_TEST_S3_BUCKET");
  if (options.bucket.empty()) {
    why_not =
        "no S3 server for the tests: set MODELREG_TEST_SERVERS_DIR (scripts/test-servers start "
        "DIR), MODELREG_TEST_S3_ENV (scripts/s3-server start writes it) or "
        "MODELREG_TEST_S3_BUCKET with the AWS_* variables";
    return std::nullopt;
  }
  options.endpoint = get("AWS_ENDPOINT_URL");
  options.region = get("AWS_REGION");
  options.access_key_id = get("AWS_ACCESS_KEY_ID");
  options.secret_access_key = get("AWS_SECRET_ACCESS_KEY");
  options.session_token = get("AWS_SESSION_TOKEN");
  options.prefix = prefix;
  return options;
}

// A key prefix no other test (or run) uses: "modelreg-test/<pid>-<random>/<name>".
inline std::string unique_prefix(const std::string& name) {
  std::random_device random;
  return "modelreg-test/" + std::to_string(::getpid()) + "-" + std::to_string(random()) + "/" +
         name;
}

}  // namespace modelreg::testing

// In a test or SetUp: `options` (a new variable) for the test server under a fresh prefix, or
// skip (fail where servers are required).
#define MODELREG_S3_OPTIONS_OR_SKIP(options)                                \
  std::string options##_why;                                                \
  const auto options##_found = ::modelreg::testing::s3_test_options(        \
      ::modelreg::testing::unique_prefix(                                   \
          ::testing::UnitTest::GetInstance()->current_test_info()->name()), \
      options##_why);                                                       \
  if (!options##_found) {                                                   \
    if (::modelreg::testing::servers_required()) FAIL() << options##_why;   \
    GTEST_SKIP() << options##_why;                                          \
  }                                                                         \
  ::modelreg::S3Options options = *options##_found

// Exit codes of every kind of error, the error line, and hostile input rejected with nothing
// written.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "cli_runner.hpp"

namespace modelreg::cli_testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class CliErrorTest : public CliTest {
 protected:
  void SetUp() override {
    const auto artifact = make_file("model.bin", 2048);
    ok({"register", "fraud", "1", "--artifact", artifact.string()});
  }

  // Runs a command that must fail with `code`, print one error line and nothing on stdout.
  void expect_error(const std::vector<std::string>& args, int code) const {
    const RunResult result = run(args);
    EXPECT_EQ(result.exit_code, code) << result;
    EXPECT_EQ(result.out, "") << result;
    EXPECT_THAT(result.err, StartsWith("modelreg: error: ")) << result;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result;
  }
};

TEST_F(CliErrorTest, UsageErrorsExitTwo) {
  expect_error({}, kUsage);
  expect_error({"frobnicate"}, kUsage);
  expect_error({"list", "--no-such-option"}, kUsage);
  expect_error({"register", "fraud"}, kUsage);       // VERSION missing
  expect_error({"get", "models:/fraud/1"}, kUsage);  // -o missing
  expect_error({"alias"}, kUsage);
  expect_error({"alias", "frob"}, kUsage);
  expect_error({"list", "show", "fraud"}, kUsage);  // one subcommand at a time
  expect_error({"register", "fraud", "2", "--tag", "novalue"}, kUsage);
  expect_error({"register", "fraud", "2", "--tag", "=v"}, kUsage);
  expect_error({"register", "fraud", "2", "--metric", "auc=high"}, kUsage);
  expect_error({"register", "fraud", "2", "--metric", "a=1", "--metric", "a=2"}, kUsage);
  expect_error({"search", "", "--max-results", "many"}, kUsage);
  EXPECT_EQ(run({"show", "fraud:2"}).exit_code, kNotFound);  // nothing registered above
}

TEST_F(CliErrorTest, NoRegistryIsAUsageErrorAndAMissingOneNotFound) {
  const RunResult none = run_cli({"list"}, SpawnOptions{std::nullopt, false});
  EXPECT_EQ(none.exit_code, kUsage) << none;
  EXPECT_THAT(none.err, HasSubstr("MODELREG_REGISTRY"));
  const auto missing = dir() / "missing";
  expect_error({"--registry", missing.string(), "list"}, kNotFound);
  expect_error({"--registry", missing.string(), "promote", "fraud", "1", "staging"}, kNotFound);
  EXPECT_FALSE(std::filesystem::exists(missing)) << "a read must not create a registry";
}

TEST_F(CliErrorTest, ACatalogUrlNeedsArtifactsAndADirectoryRefusesThem) {
  const RunResult alone = run({"--registry", "postgresql://db.internal/models", "list"});
  EXPECT_EQ(alone.exit_code, kUsage) << alone;
  EXPECT_THAT(alone.err, HasSubstr("--artifacts"));
  const RunResult both = run({"--artifacts", "s3://bucket/models", "list"});
  EXPECT_EQ(both.exit_code, kUsage) << both;
  expect_error({"--registry", "bogus://x", "--artifacts", "memory:", "list"}, kInvalidArgument);
}

TEST_F(CliErrorTest, EveryErrorKindHasItsExitCode) {
  expect_error({"show", "fraud:2"}, kNotFound);
  expect_error({"register", "fraud", "1"}, kAlreadyExists);
  expect_error({"register", "fraud", "2", "--framework", "caffe"}, kInvalidArgument);
  expect_error({"search", "name ~ 'x'"}, kInvalidArgument);
  expect_error({"search", "", "--max-results", "0"}, kInvalidArgument);
  expect_error({"watch", "fraud", "--poll-ms", "0"}, kInvalidArgument);
  ok({"promote", "fraud", "1", "staging"});
  expect_error({"promote", "fraud", "1", "archived", "--expect-stage", "production"},
               kFailedPrecondition);
  // Storage: the output file cannot be created (its "directory" is a regular file).
  const auto plain = make_file("plain", 10);
  expect_error({"get", "models:/fraud/1", "-o", (plain / "f").string()}, kStorage);
  // Data loss: the catalog is not a database.
  const auto broken = dir() / "broken";
  std::filesystem::create_directories(broken);
  std::ofstream(broken / "registry.db", std::ios::binary) << std::string(8192, 'x');
  expect_error({"--registry", broken.string(), "list"}, kDataLoss);
}

TEST_F(CliErrorTest, HostileArgumentsAreRejectedWithNothingWritten) {
  const std::string before = snapshot();
  const std::string long_name(201, 'a');
  const std::vector<std::vector<std::string>> hostile{
      {"register", "../x", "1"},
      {"register", "a/b", "1"},
      {"register", "..", "1"},
      {"register", "", "1"},
      {"register", "fraud", "../../etc"},
      {"register", "fraud", "1/2"},
      {"register", "line\nbreak", "1"},
      {"register", "-rf", "1"},
      {"register", long_name, "1"},
      {"register", "fraud", "2", "--tag", "k=" + std::string(6000, 'v')},
      {"register", "fraud", "2", "--description", std::string(70000, 'd')},
      {"register", "fraud", "2", "--description", "bad \xff utf-8"},
      {"register", "fraud", "2", "--actor", "evil\nactor"},
      {"tag", "set", "fraud:1", "k", std::string(6000, 'v')},
      {"describe", "fraud", std::string(70000, 'd')},
      {"alias", "set", "fraud", "v1", "1"},
      {"alias", "set", "fraud", "../champion", "1"},
      {"show", "../fraud"},
      {"history", "../fraud"},
      {"get", "models:/../fraud/1", "-o", (dir() / "out").string()},
      {"delete", "../fraud", "--model", "--yes"},
  };
  for (const auto& args : hostile) {
    const RunResult result = run(args);
    EXPECT_TRUE(result.exit_code == kInvalidArgument || result.exit_code == kUsage ||
                result.exit_code == kNotFound)
        << result;
    EXPECT_NE(result.exit_code, 0) << result;
    EXPECT_THAT(result.err, StartsWith("modelreg: error: ")) << result;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
        << "the error stays on one line: " << result;
  }
  EXPECT_EQ(snapshot(), before);
  EXPECT_FALSE(std::filesystem::exists(dir() / "out"));
  EXPECT_FALSE(std::filesystem::exists(dir() / "x"));
  EXPECT_FALSE(std::filesystem::exists(registry().parent_path() / "x"));
}

TEST_F(CliErrorTest, HostileNamesInvalidArgument) {
  expect_error({"register", "../x", "1"}, kInvalidArgument);
  expect_error({"register", "fraud", std::string(101, '1')}, kInvalidArgument);
  expect_error({"register", "fraud", "2", "--description", std::string(70000, 'd')},
               kInvalidArgument);
  // Nothing is created either when the registry does not exist yet.
  const auto fresh = dir() / "fresh";
  expect_error({"--registry", fresh.string(), "register", "../x", "1"}, kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(fresh));
}

TEST_F(CliErrorTest, MissingArtifactRegistersNothing) {
  const std::string before = snapshot();
  expect_error({"register", "fraud", "2", "--artifact", (dir() / "absent.bin").string()},
               kNotFound);
  expect_error({"register", "fraud", "2", "--artifact", ""}, kNotFound);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(CliErrorTest, FifoAndDirectoryArtifactsAreRefusedWithoutOpeningThem) {
  const auto fifo = dir() / "artifact.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string before = snapshot();
  // Opening a FIFO with no writer blocks: the tool must refuse it before (a deadline catches a
  // hang).
  const RunResult result = run_cli({"register", "fraud", "2", "--artifact", fifo.string()},
                                   SpawnOptions{registry(), false}, std::chrono::seconds(20));
  EXPECT_EQ(result.exit_code, kInvalidArgument) << result;
  EXPECT_THAT(result.err, HasSubstr("not a regular file"));
  expect_error({"register", "fraud", "2", "--artifact", dir().string()}, kInvalidArgument);
  expect_error({"register", "fraud", "2", "--artifact", "/dev/null"}, kInvalidArgument);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(CliErrorTest, ControlCharactersInMessagesAreEscaped) {
  for (const auto& args : {std::vector<std::string>{"show", "evil\x1b[31mname"},
                           {"register", "fraud", "2", "--tag", "evil\x1b[31m"}}) {
    const RunResult result = run(args);
    EXPECT_NE(result.exit_code, 0);
    EXPECT_EQ(result.err.find('\x1b'), std::string::npos) << result;
  }
  EXPECT_THAT(run({"register", "fraud", "2", "--tag", "evil\x1b[31m"}).err, HasSubstr("\\x1b"));
}

TEST_F(CliErrorTest, VerboseShowsTheLibrarysLog) {
  const RunResult quiet = run({"show", "fraud:9"});
  EXPECT_EQ(std::count(quiet.err.begin(), quiet.err.end(), '\n'), 1) << quiet;
  const RunResult verbose = run({"--verbose", "register", "fraud", "1"});
  EXPECT_EQ(verbose.exit_code, kAlreadyExists);
  EXPECT_THAT(verbose.err, HasSubstr("modelreg: info: ")) << verbose;
  EXPECT_THAT(verbose.err, HasSubstr("modelreg: error: ")) << verbose;
}

}  // namespace
}  // namespace modelreg::cli_testing

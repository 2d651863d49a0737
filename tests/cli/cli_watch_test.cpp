// watch: sees changes made by other invocations as they happen, exits 0 on SIGINT / SIGTERM.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_runner.hpp"

namespace modelreg::cli_testing {
namespace {

using ::testing::HasSubstr;

using CliWatchTest = CliTest;

// The complete lines of `text` (without their newline).
std::vector<std::string> complete_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  return lines;
}

TEST_F(CliWatchTest, JsonLinesOfAPromotionByAnotherInvocationThenExitZeroOnSigint) {
  ok({"register", "fraud", "1"});
  CliProcess watch({"--json", "watch", "fraud", "--poll-ms", "20"},
                   SpawnOptions{registry(), false});
  ASSERT_TRUE(
      watch.read_until([&] { return watch.err().find("watching") != std::string::npos; }, 30s))
      << watch.err();
  ok({"--actor", "deployer", "promote", "fraud", "1", "production"});
  ASSERT_TRUE(watch.read_until([&] { return !complete_lines(watch.out()).empty(); }, 30s))
      << "no event seen; stderr: " << watch.err();
  const auto lines = complete_lines(watch.out());
  const auto event = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(event["type"], "stage_changed");
  EXPECT_EQ(event["model_name"], "fraud");
  EXPECT_EQ(event["version"], "1");
  EXPECT_EQ(event["old_value"], "development");
  EXPECT_EQ(event["new_value"], "production");
  EXPECT_EQ(event["actor"], "deployer");

  watch.send(SIGINT);
  EXPECT_EQ(watch.finish(30s), 0) << watch.err();
  for (const auto& line : complete_lines(watch.out())) {
    EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
  }
}

TEST_F(CliWatchTest, AllEventsAsTextLinesThenExitZeroOnSigterm) {
  // The model need not exist when the watch starts.
  CliProcess watch({"watch", "fraud", "--all", "--poll-ms", "20"}, SpawnOptions{registry(), false});
  ASSERT_TRUE(
      watch.read_until([&] { return watch.err().find("watching") != std::string::npos; }, 30s))
      << watch.err();
  ok({"register", "fraud", "1"});
  ok({"tag", "set", "fraud:1", "validated", "yes"});
  ASSERT_TRUE(watch.read_until([&] { return complete_lines(watch.out()).size() >= 2; }, 30s))
      << watch.out() << watch.err();
  const auto lines = complete_lines(watch.out());
  EXPECT_THAT(lines[0], HasSubstr("version_registered  fraud:1"));
  EXPECT_THAT(lines[1], HasSubstr("version_tag_set  fraud:1  validated  - -> yes"));
  watch.send(SIGTERM);
  EXPECT_EQ(watch.finish(30s), 0) << watch.err();
}

TEST_F(CliWatchTest, DefaultWatchReportsOnlyServingChanges) {
  ok({"register", "fraud", "1"});
  CliProcess watch({"--json", "watch", "fraud", "--poll-ms", "20"},
                   SpawnOptions{registry(), false});
  ASSERT_TRUE(
      watch.read_until([&] { return watch.err().find("watching") != std::string::npos; }, 30s));
  ok({"tag", "set", "fraud:1", "k", "v"});         // not a serving change
  ok({"alias", "set", "fraud", "champion", "1"});  // a serving change
  ASSERT_TRUE(watch.read_until([&] { return !complete_lines(watch.out()).empty(); }, 30s));
  watch.send(SIGINT);
  EXPECT_EQ(watch.finish(30s), 0);
  const auto lines = complete_lines(watch.out());
  ASSERT_EQ(lines.size(), 1u) << watch.out();
  EXPECT_EQ(nlohmann::json::parse(lines[0])["type"], "alias_set");
}

}  // namespace
}  // namespace modelreg::cli_testing

// list, show, search, history, alias show and get: tables and JSON.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "cli_runner.hpp"

namespace modelreg::cli_testing {
namespace {

using ::testing::HasSubstr;

class CliReadTest : public CliTest {
 protected:
  void SetUp() override {
    artifact_ = make_file("model.bin", 4096);
    ok({"register", "fraud", "1", "--artifact", artifact_.string(), "--framework", "onnx",
        "--metric", "auc_roc=0.91", "--metric", "latency_ms=3.5", "--param", "lr=0.01", "--param",
        "optimizer=adam", "--tag", "team=risk", "--description", "first try"});
    ok({"register", "fraud", "2", "--metric", "auc_roc=0.97"});
    ok({"register", "ranker", "a1"});
    ok({"promote", "fraud", "1", "production"});
    ok({"alias", "set", "fraud", "champion", "2"});
  }

  std::filesystem::path artifact_;
};

// The lines of `text`.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(CliReadTest, ListTableIsAligned) {
  const auto lines = lines_of(ok({"list"}).out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("NAME", 0), 0u);
  for (const char* column : {"VERSIONS", "LATEST", "PRODUCTION", "ALIASES", "UPDATED"}) {
    EXPECT_THAT(lines[0], HasSubstr(column));
  }
  // Every row's UPDATED column starts where its header does.
  const auto updated = lines[0].find("UPDATED");
  EXPECT_EQ(lines[1].rfind("fraud", 0), 0u);
  EXPECT_EQ(lines[1].find("20"), updated) << lines[1];  // an ISO-8601 time: 20YY-...
  EXPECT_EQ(lines[2].find("20"), updated) << lines[2];
  EXPECT_THAT(lines[1], HasSubstr("champion=2"));
  EXPECT_EQ(lines[1].back(), 'Z');
}

TEST_F(CliReadTest, ListJson) {
  const auto doc = ok_json({"list"});
  ASSERT_EQ(doc["models"].size(), 2u);
  const auto& fraud = doc["models"][0];
  EXPECT_EQ(fraud["name"], "fraud");
  EXPECT_EQ(fraud["version_count"], 2);
  EXPECT_EQ(fraud["latest_version"], "2");
  EXPECT_EQ(fraud["production_version"], "1");
  EXPECT_EQ(fraud["aliases"], (nlohmann::json{{"champion", "2"}}));
  EXPECT_TRUE(fraud["updated_at"].get<std::string>().back() == 'Z');
  EXPECT_EQ(doc["models"][1]["name"], "ranker");
  EXPECT_TRUE(doc["models"][1]["production_version"].is_null());
}

TEST_F(CliReadTest, ShowModelTable) {
  const std::string out = ok({"show", "fraud"}).out;
  EXPECT_THAT(out, HasSubstr("name:"));
  EXPECT_THAT(out, HasSubstr("production:   1"));
  EXPECT_THAT(out, HasSubstr("VERSION  STAGE"));
  EXPECT_THAT(out, HasSubstr("4.0 KiB"));
  EXPECT_THAT(out, HasSubstr("champion"));
}

TEST_F(CliReadTest, ShowModelJson) {
  const auto doc = ok_json({"show", "fraud"});
  EXPECT_EQ(doc["name"], "fraud");
  EXPECT_EQ(doc["production_version"], "1");
  ASSERT_EQ(doc["versions"].size(), 2u);
  EXPECT_EQ(doc["versions"][0]["version"], "1");
  EXPECT_EQ(doc["versions"][0]["stage"], "production");
  EXPECT_EQ(doc["versions"][1]["aliases"], nlohmann::json::array({"champion"}));
}

TEST_F(CliReadTest, ShowVersionHasEveryField) {
  const std::string out = ok({"show", "fraud:1"}).out;
  for (const char* text :
       {"stage:", "production", "framework:", "onnx", "auc_roc=0.91", "latency_ms=3.5",
        "\"lr\":0.01", "team=risk", "first try", "4096 bytes", "sha256:", "fraud/1/model.bin"}) {
    EXPECT_THAT(out, HasSubstr(text));
  }
  const auto doc = ok_json({"show", "fraud:1"});
  EXPECT_EQ(doc["model_name"], "fraud");
  EXPECT_EQ(doc["version"], "1");
  EXPECT_EQ(doc["stage"], "production");
  EXPECT_EQ(doc["framework"], "onnx");
  EXPECT_DOUBLE_EQ(doc["metrics"]["auc_roc"].get<double>(), 0.91);
  EXPECT_DOUBLE_EQ(doc["metrics"]["latency_ms"].get<double>(), 3.5);
  EXPECT_DOUBLE_EQ(doc["parameters"]["lr"].get<double>(), 0.01);
  EXPECT_EQ(doc["parameters"]["optimizer"], "adam");
  EXPECT_EQ(doc["tags"]["team"], "risk");
  EXPECT_EQ(doc["description"], "first try");
  EXPECT_EQ(doc["artifact_size"], 4096);
  EXPECT_EQ(doc["artifact_sha256"].get<std::string>().size(), 64u);
  EXPECT_TRUE(doc.contains("created_at"));
  EXPECT_TRUE(doc.contains("updated_at"));
}

TEST_F(CliReadTest, ShowOfWhatDoesNotExistIsNotFound) {
  EXPECT_EQ(run({"show", "nope"}).exit_code, kNotFound);
  EXPECT_EQ(run({"show", "fraud:9"}).exit_code, kNotFound);
  EXPECT_EQ(run({"--json", "show", "fraud:9"}).out, "");
}

TEST_F(CliReadTest, SearchFilterAndOrder) {
  const auto doc = ok_json(
      {"search", "name = 'fraud' AND metrics.auc_roc > 0.9", "--order-by", "metrics.auc_roc DESC"});
  ASSERT_EQ(doc["versions"].size(), 2u);
  EXPECT_EQ(doc["versions"][0]["version"], "2");
  EXPECT_EQ(doc["versions"][1]["version"], "1");
  EXPECT_TRUE(doc["next_page_token"].is_null());
  const std::string table = ok({"search", "tags.team = 'risk'"}).out;
  EXPECT_EQ(lines_of(table).size(), 2u) << table;
  EXPECT_THAT(table, HasSubstr("MODEL"));
  EXPECT_THAT(table, HasSubstr("fraud"));
}

TEST_F(CliReadTest, SearchPagesThroughEveryVersion) {
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::vector<std::string> args{"search", "", "--max-results", "2"};
    if (!token.empty()) args.insert(args.end(), {"--page-token", token});
    const auto doc = ok_json(args);
    EXPECT_LE(doc["versions"].size(), 2u);
    for (const auto& v : doc["versions"]) {
      seen.push_back(v["model_name"].get<std::string>() + ":" + v["version"].get<std::string>());
    }
    token = doc["next_page_token"].is_null() ? "" : doc["next_page_token"].get<std::string>();
    ASSERT_LT(++pages, 5);
  } while (!token.empty());
  EXPECT_EQ(seen, (std::vector<std::string>{"fraud:1", "fraud:2", "ranker:a1"}));
  EXPECT_THAT(ok({"search", "", "--max-results", "1"}).out, HasSubstr("next page token: "));
}

TEST_F(CliReadTest, HistoryTableAndJson) {
  ok({"--actor", "alice", "--reason", "holdout auc", "promote", "fraud", "2", "Production"});
  const auto doc = ok_json({"history", "fraud"});
  std::vector<std::string> types;
  for (const auto& e : doc["events"]) types.push_back(e["type"]);
  EXPECT_EQ(types,
            (std::vector<std::string>{"version_registered", "version_registered", "stage_changed",
                                      "alias_set", "stage_changed", "stage_changed"}));
  const auto& last = doc["events"].back();
  EXPECT_EQ(last["version"], "2");
  EXPECT_EQ(last["new_value"], "production");
  EXPECT_EQ(last["actor"], "alice");
  EXPECT_EQ(last["reason"], "holdout auc");
  EXPECT_GT(last["sequence"].get<int>(), doc["events"][0]["sequence"].get<int>());

  const auto one = ok_json({"history", "fraud", "--version", "1"});
  for (const auto& e : one["events"]) EXPECT_EQ(e["version"], "1");
  EXPECT_EQ(one["events"].size(), 3u);  // registered, promoted, archived

  const std::string table = ok({"history", "fraud"}).out;
  EXPECT_THAT(table, HasSubstr("development -> production"));
  EXPECT_THAT(table, HasSubstr("alice"));
  EXPECT_EQ(run({"history", "nope"}).exit_code, kNotFound);
  EXPECT_EQ(run({"history", "fraud", "--version", "9"}).exit_code, kNotFound);
}

TEST_F(CliReadTest, AliasShow) {
  const std::string table = ok({"alias", "show", "fraud"}).out;
  EXPECT_THAT(table, HasSubstr("ALIAS"));
  EXPECT_THAT(table, HasSubstr("champion"));
  const auto all = ok_json({"alias", "show", "fraud"});
  EXPECT_EQ(all["aliases"], (nlohmann::json{{"champion", "2"}}));
  const auto one = ok_json({"alias", "show", "fraud", "champion"});
  EXPECT_EQ(one["version"], "2");
  EXPECT_EQ(run({"alias", "show", "fraud", "shadow"}).exit_code, kNotFound);
  EXPECT_EQ(run({"alias", "show", "nope"}).exit_code, kNotFound);
}

TEST_F(CliReadTest, GetWritesTheArtifactOfEachKindOfUri) {
  const std::string expected = testing::read_file(artifact_);
  ok({"alias", "set", "fraud", "shadow", "1"});
  for (const char* uri : {"models:/fraud/1", "models:/fraud@shadow", "models:/fraud/Production"}) {
    const auto out = dir() / "out.bin";
    std::filesystem::remove(out);
    const RunResult result = ok({"get", uri, "-o", out.string()});
    EXPECT_THAT(result.out, HasSubstr("wrote fraud:1"));
    EXPECT_EQ(testing::read_file(out), expected) << uri;
  }
  const auto doc = ok_json({"get", "models:/fraud/1", "-o", (dir() / "again.bin").string()});
  EXPECT_EQ(doc["version"]["version"], "1");
  EXPECT_EQ(doc["path"], (dir() / "again.bin").string());
  EXPECT_EQ(ok({"--quiet", "get", "models:/fraud/1", "-o", (dir() / "q.bin").string()}).out, "");
}

TEST_F(CliReadTest, GetOfNothingWritesNothing) {
  const auto out = dir() / "out.bin";
  EXPECT_EQ(run({"get", "models:/fraud/9", "-o", out.string()}).exit_code, kNotFound);
  EXPECT_EQ(run({"get", "models:/fraud/latest", "-o", out.string()}).exit_code, kNotFound)
      << "fraud:2 has no artifact";
  EXPECT_EQ(run({"get", "models:/fraud@nope", "-o", out.string()}).exit_code, kNotFound);
  EXPECT_EQ(run({"get", "s3://fraud/1", "-o", out.string()}).exit_code, kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(CliReadTest, GetOfACorruptArtifactIsDataLossAndWritesNothing) {
  const auto path =
      registry() / "artifacts" / ok_json({"show", "fraud:1"})["artifact_path"].get<std::string>();
  std::string bytes = testing::read_file(path);
  ASSERT_EQ(bytes.size(), 4096u);
  bytes[100] = static_cast<char>(bytes[100] ^ 0x5a);
  std::ofstream(testing::writable(path), std::ios::binary | std::ios::trunc) << bytes;
  const auto out = dir() / "out.bin";
  const RunResult result = run({"get", "models:/fraud/1", "-o", out.string()});
  EXPECT_EQ(result.exit_code, kDataLoss) << result;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace modelreg::cli_testing

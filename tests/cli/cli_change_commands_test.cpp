// register, promote, alias set/delete, tag set/delete, describe, delete: what they change and
// print, and their compare-and-swap options.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli_runner.hpp"

namespace modelreg::cli_testing {
namespace {

using ::testing::HasSubstr;

using CliChangeTest = CliTest;

TEST_F(CliChangeTest, RegisterCreatesTheRegistryAndPrintsTheVersion) {
  ASSERT_FALSE(std::filesystem::exists(registry()));
  const auto artifact = make_file("model.bin", 1000);
  const RunResult text = ok({"register", "fraud", "1", "--artifact", artifact.string()});
  EXPECT_THAT(text.out, HasSubstr("registered fraud:1"));
  EXPECT_TRUE(std::filesystem::exists(registry() / "registry.db"));

  const auto doc = ok_json({"register", "fraud", "2", "--framework", "PyTorch", "--metric",
                            "accuracy=0.5", "--param", "epochs=20", "--param", "name=\"x\"",
                            "--tag", "a=b=c", "--description", "second"});
  EXPECT_EQ(doc["version"], "2");
  EXPECT_EQ(doc["stage"], "development");
  EXPECT_EQ(doc["framework"], "pytorch");
  EXPECT_DOUBLE_EQ(doc["metrics"]["accuracy"].get<double>(), 0.5);
  EXPECT_EQ(doc["parameters"]["epochs"], 20);
  EXPECT_EQ(doc["parameters"]["name"], "x");
  EXPECT_EQ(doc["tags"]["a"], "b=c");
  EXPECT_EQ(doc["description"], "second");
  EXPECT_TRUE(doc["artifact_path"].is_null());

  EXPECT_EQ(ok({"--quiet", "register", "fraud", "3"}).out, "");
  EXPECT_EQ(ok_json({"list"})["models"][0]["version_count"], 3);
}

TEST_F(CliChangeTest, PromoteAcceptsAnyCaseAndArchivesThePreviousProduction) {
  ok({"register", "fraud", "1"});
  ok({"register", "fraud", "2"});
  EXPECT_THAT(ok({"promote", "fraud", "1", "PRODUCTION"}).out,
              HasSubstr("fraud:1 is now in production"));
  const auto doc = ok_json({"promote", "fraud", "2", "Production"});
  EXPECT_EQ(doc["stage"], "production");
  EXPECT_EQ(ok_json({"show", "fraud:1"})["stage"], "archived");
  EXPECT_EQ(run({"promote", "fraud", "9", "staging"}).exit_code, kNotFound);
  EXPECT_EQ(run({"promote", "fraud", "1", "live"}).exit_code, kInvalidArgument);
}

TEST_F(CliChangeTest, PromoteWithExpectStageIsACompareAndSwap) {
  ok({"register", "fraud", "1"});
  ok({"promote", "fraud", "1", "staging", "--expect-stage", "development"});
  const std::string before = snapshot();
  const RunResult lost =
      run({"promote", "fraud", "1", "production", "--expect-stage", "development"});
  EXPECT_EQ(lost.exit_code, kFailedPrecondition) << lost;
  EXPECT_EQ(snapshot(), before);
  ok({"promote", "fraud", "1", "production", "--expect-stage", "Staging"});
  EXPECT_EQ(ok_json({"show", "fraud:1"})["stage"], "production");
}

TEST_F(CliChangeTest, AliasSetMoveAndDelete) {
  ok({"register", "fraud", "1"});
  ok({"register", "fraud", "2"});
  EXPECT_THAT(ok({"alias", "set", "fraud", "champion", "1", "--expect", ""}).out,
              HasSubstr("fraud@champion -> 1"));
  // --expect "": only if the alias does not exist yet.
  EXPECT_EQ(run({"alias", "set", "fraud", "champion", "2", "--expect", ""}).exit_code,
            kFailedPrecondition);
  EXPECT_EQ(run({"alias", "set", "fraud", "champion", "2", "--expect", "2"}).exit_code,
            kFailedPrecondition);
  EXPECT_EQ(ok_json({"alias", "show", "fraud", "champion"})["version"], "1");
  const auto moved = ok_json({"alias", "set", "fraud", "champion", "2", "--expect", "1"});
  EXPECT_EQ(moved["version"], "2");
  EXPECT_EQ(moved["aliases"], nlohmann::json::array({"champion"}));
  EXPECT_EQ(run({"alias", "set", "fraud", "latest", "1"}).exit_code, kInvalidArgument);
  EXPECT_EQ(run({"alias", "set", "fraud", "shadow", "9"}).exit_code, kNotFound);

  const auto deleted = ok_json({"alias", "delete", "fraud", "champion"});
  EXPECT_EQ(deleted["deleted"], true);
  EXPECT_EQ(run({"alias", "delete", "fraud", "champion"}).exit_code, kNotFound);
  EXPECT_TRUE(ok_json({"alias", "show", "fraud"})["aliases"].empty());
}

TEST_F(CliChangeTest, TagsOfModelsAndVersions) {
  ok({"register", "fraud", "1"});
  EXPECT_THAT(ok({"tag", "set", "fraud:1", "validated", "true"}).out, HasSubstr("tagged"));
  const auto model = ok_json({"tag", "set", "fraud", "team", "risk"});
  EXPECT_EQ(model["tags"]["team"], "risk");
  EXPECT_EQ(ok_json({"show", "fraud:1"})["tags"]["validated"], "true");
  EXPECT_EQ(ok_json({"show", "fraud"})["tags"]["team"], "risk");

  ok({"tag", "delete", "fraud:1", "validated"});
  ok({"tag", "delete", "fraud", "team"});
  EXPECT_TRUE(ok_json({"show", "fraud:1"})["tags"].empty());
  EXPECT_TRUE(ok_json({"show", "fraud"})["tags"].empty());
  EXPECT_EQ(run({"tag", "delete", "fraud", "team"}).exit_code, kNotFound);
  EXPECT_EQ(run({"tag", "set", "fraud:9", "k", "v"}).exit_code, kNotFound);
  EXPECT_EQ(run({"tag", "set", "nope", "k", "v"}).exit_code, kNotFound);
}

TEST_F(CliChangeTest, DescribeModelsAndVersions) {
  ok({"register", "fraud", "1"});
  EXPECT_EQ(ok_json({"describe", "fraud:1", "retrained in March"})["description"],
            "retrained in March");
  EXPECT_EQ(ok_json({"describe", "fraud", "fraud scores"})["description"], "fraud scores");
  EXPECT_EQ(ok_json({"show", "fraud"})["description"], "fraud scores");
  EXPECT_EQ(ok_json({"show", "fraud:1"})["description"], "retrained in March");
  EXPECT_EQ(run({"describe", "fraud:2", "x"}).exit_code, kNotFound);
}

TEST_F(CliChangeTest, DeleteNeedsYes) {
  const auto artifact = make_file("model.bin", 100);
  ok({"register", "fraud", "1", "--artifact", artifact.string()});
  ok({"register", "fraud", "2"});
  const std::string before = snapshot();
  EXPECT_EQ(run({"delete", "fraud", "1"}).exit_code, kUsage);
  EXPECT_EQ(run({"delete", "fraud", "--model"}).exit_code, kUsage);
  EXPECT_EQ(run({"delete", "fraud", "1", "--model", "--yes"}).exit_code, kUsage);
  EXPECT_EQ(run({"delete", "fraud", "--yes"}).exit_code, kUsage);
  EXPECT_EQ(snapshot(), before);

  EXPECT_THAT(ok({"delete", "fraud", "1", "--yes"}).out, HasSubstr("deleted version 'fraud:1'"));
  EXPECT_EQ(run({"show", "fraud:1"}).exit_code, kNotFound);
  EXPECT_FALSE(std::filesystem::exists(registry() / "artifacts" / "fraud" / "1" / "model.bin"));
  EXPECT_EQ(run({"delete", "fraud", "1", "--yes"}).exit_code, kNotFound);

  const auto doc = ok_json({"delete", "fraud", "--model", "-y"});
  EXPECT_EQ(doc["deleted"], true);
  EXPECT_TRUE(doc["version"].is_null());
  EXPECT_EQ(run({"show", "fraud"}).exit_code, kNotFound);
  EXPECT_TRUE(ok_json({"list"})["models"].empty());
  EXPECT_EQ(run({"delete", "fraud", "--model", "--yes"}).exit_code, kNotFound);
}

TEST_F(CliChangeTest, QuietPrintsNothingOnSuccess) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"register", "fraud", "1"},
                                               {"promote", "fraud", "1", "staging"},
                                               {"alias", "set", "fraud", "champion", "1"},
                                               {"tag", "set", "fraud:1", "k", "v"},
                                               {"describe", "fraud", "text"},
                                               {"alias", "delete", "fraud", "champion"},
                                               {"tag", "delete", "fraud:1", "k"},
                                               {"delete", "fraud", "1", "--yes"}}) {
    std::vector<std::string> quiet{"--quiet", "--json"};
    quiet.insert(quiet.end(), args.begin(), args.end());
    const RunResult result = run(quiet);
    EXPECT_EQ(result.exit_code, 0) << result;
    EXPECT_EQ(result.out, "") << args[0];
    EXPECT_EQ(result.err, "") << args[0];
  }
}

TEST_F(CliChangeTest, GlobalOptionsMayFollowTheSubcommand) {
  const auto doc = ok({"register", "fraud", "1", "--json", "--actor", "ci-bot"}).json();
  EXPECT_EQ(doc["version"], "1");
  EXPECT_EQ(ok_json({"history", "fraud"})["events"][0]["actor"], "ci-bot");
  // --registry overrides MODELREG_REGISTRY.
  const auto other = dir() / "other";
  ok({"--registry", other.string(), "register", "ranker", "1"});
  EXPECT_TRUE(std::filesystem::exists(other / "registry.db"));
  EXPECT_EQ(ok_json({"list"})["models"].size(), 1u);
}

TEST_F(CliChangeTest, ACatalogUrlWithItsArtifactsUrlOpensThatRegistry) {
  // The form of a shared registry (--registry postgresql://... --artifacts s3://...), here with
  // a SQLite file and a directory, which need no server.
  const std::string catalog = "sqlite://" + (dir() / "shared.db").string();
  const std::string artifacts = (dir() / "shared-artifacts").string();
  ok({"--registry", catalog, "--artifacts", artifacts, "register", "fraud", "1"});
  ok({"--registry", catalog, "--artifacts", artifacts, "promote", "fraud", "1", "production"});
  const auto shown =
      ok({"--registry", catalog, "--artifacts", artifacts, "--json", "show", "fraud"}).json();
  EXPECT_EQ(shown["production_version"], "1") << shown.dump();
  EXPECT_TRUE(std::filesystem::exists(dir() / "shared.db"));
  EXPECT_FALSE(std::filesystem::exists(dir() / "registry.db"));  // MODELREG_REGISTRY untouched
}

}  // namespace
}  // namespace modelreg::cli_testing

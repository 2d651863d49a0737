// export, import, verify and gc through the installed tool: output (table and JSON), exit
// codes, and damaged archives refused with the target registry unchanged.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli_runner.hpp"

namespace modelreg::cli_testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_all(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Renames the tar entry called `from` to `to` in place (ustar name field), with a correct
// header checksum, so that only the name is hostile.
bool rename_tar_entry(std::string& tar, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; at + 512 <= tar.size(); at += 512) {
    if (tar.compare(at, from.size() + 1, from.c_str(), from.size() + 1) != 0) continue;
    std::fill(tar.begin() + static_cast<std::ptrdiff_t>(at),
              tar.begin() + static_cast<std::ptrdiff_t>(at + 100), '\0');
    tar.replace(at, to.size(), to);
    std::fill(tar.begin() + static_cast<std::ptrdiff_t>(at + 148),
              tar.begin() + static_cast<std::ptrdiff_t>(at + 156), ' ');
    unsigned sum = 0;
    for (std::size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(tar[at + i]);
    char field[8];
    std::snprintf(field, sizeof field, "%06o", sum);
    tar.replace(at + 148, 7, std::string(field, 6) + '\0');
    return true;
  }
  return false;
}

class CliMaintenanceTest : public CliTest {
 protected:
  void SetUp() override {
    artifact_ = make_file("model.bin", 200'000);
    ok({"register", "fraud", "1", "--artifact", artifact_.string(), "--tag", "team=risk",
        "--metric", "auc_roc=0.91"});
    ok({"register", "fraud", "2", "--artifact", artifact_.string()});
    ok({"promote", "fraud", "2", "production"});
    ok({"alias", "set", "fraud", "champion", "2"});
  }
  fs::path other() const { return dir() / "other"; }
  RunResult run_other(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--registry", other().string()});
    return run(args);
  }
  // What `other` holds, for "unchanged" checks (empty if it has no registry).
  std::string other_snapshot() const {
    if (!fs::exists(other() / "registry.db")) return "";
    std::string text = run_other({"--json", "list"}).out;
    text += run_other({"--json", "search", "", "--max-results", "10000"}).out;
    for (const auto& entry : fs::recursive_directory_iterator(other())) {
      if (entry.is_regular_file() && entry.path().parent_path().filename() != "locks" &&
          entry.path().filename().string().rfind("registry.db", 0) != 0) {
        text += entry.path().string() + "\n";
      }
    }
    return text;
  }
  fs::path exported() {
    const fs::path archive = dir() / "fraud.tar";
    ok({"--quiet", "export", "fraud", "-o", archive.string()});
    return archive;
  }

  fs::path artifact_;
};

TEST_F(CliMaintenanceTest, ExportThenImportReproducesTheModel) {
  const fs::path archive = dir() / "fraud.tar";
  const nlohmann::json report = ok_json({"export", "fraud", "-o", archive.string()});
  EXPECT_EQ(report["model"], "fraud");
  EXPECT_EQ(report["versions"], 2);
  EXPECT_EQ(report["artifacts"], 2);
  EXPECT_EQ(report["artifact_bytes"], 400'000);
  EXPECT_EQ(report["archive_bytes"], fs::file_size(archive));

  const RunResult imported = run_other({"import", archive.string()});
  ASSERT_EQ(imported.exit_code, 0) << imported;
  EXPECT_THAT(imported.out, HasSubstr("imported fraud (2 versions"));
  EXPECT_EQ(run_other({"--json", "show", "fraud"}).json(), ok_json({"show", "fraud"}));
  EXPECT_EQ(run_other({"--json", "history", "fraud"}).json()["events"].size(),
            ok_json({"history", "fraud"})["events"].size());
  const fs::path fetched = dir() / "fetched.bin";
  EXPECT_EQ(run_other({"get", "models:/fraud@champion", "-o", fetched.string()}).exit_code, 0);
  EXPECT_EQ(read_all(fetched), read_all(artifact_));

  // A second import would overwrite: exit 4, nothing changed.
  const std::string before = other_snapshot();
  const RunResult again = run_other({"import", archive.string()});
  EXPECT_EQ(again.exit_code, kAlreadyExists) << again;
  EXPECT_THAT(again.err, HasSubstr("never overwrites"));
  EXPECT_EQ(other_snapshot(), before);
}

TEST_F(CliMaintenanceTest, ExportErrors) {
  EXPECT_EQ(run({"export", "nope", "-o", (dir() / "x.tar").string()}).exit_code, kNotFound);
  EXPECT_EQ(run({"export", "fraud", "--version", "9", "-o", (dir() / "x.tar").string()}).exit_code,
            kNotFound);
  EXPECT_EQ(
      run({"export", "fraud", "--compression", "lzma", "-o", (dir() / "x.tar").string()}).exit_code,
      kUsage);
  EXPECT_EQ(run({"export", "fraud"}).exit_code, kUsage);  // -o missing
  EXPECT_FALSE(fs::exists(dir() / "x.tar"));
}

TEST_F(CliMaintenanceTest, DamagedArchivesAreRefusedWithTheTargetUnchanged) {
  const fs::path good = exported();
  ok({"--registry", other().string(), "register", "keep", "1"});
  const std::string before = other_snapshot();
  const std::string bytes = read_all(good);

  std::string flipped = bytes;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 1);
  write_all(dir() / "flipped.tar", flipped);
  const RunResult flip = run_other({"import", (dir() / "flipped.tar").string()});
  EXPECT_EQ(flip.exit_code, kDataLoss) << flip;
  EXPECT_EQ(other_snapshot(), before);

  write_all(dir() / "truncated.tar", bytes.substr(0, bytes.size() * 2 / 3));
  const RunResult cut = run_other({"import", (dir() / "truncated.tar").string()});
  EXPECT_EQ(cut.exit_code, kDataLoss) << cut;
  EXPECT_EQ(other_snapshot(), before);

  std::string renamed = bytes;
  ASSERT_TRUE(rename_tar_entry(renamed, "artifacts/1/model.bin", "../x"));
  write_all(dir() / "renamed.tar", renamed);
  const RunResult traversal = run_other({"import", (dir() / "renamed.tar").string()});
  EXPECT_EQ(traversal.exit_code, kInvalidArgument) << traversal;
  EXPECT_THAT(traversal.err, HasSubstr("../x"));
  EXPECT_EQ(other_snapshot(), before);
  EXPECT_FALSE(fs::exists(other() / "x"));
  EXPECT_FALSE(fs::exists(dir() / "x"));

  write_all(dir() / "not.tar", "just some text, not an archive at all\n");
  EXPECT_EQ(run_other({"import", (dir() / "not.tar").string()}).exit_code, kInvalidArgument);
  EXPECT_EQ(run_other({"import", (dir() / "missing.tar").string()}).exit_code, kNotFound);
  EXPECT_EQ(other_snapshot(), before);
}

TEST_F(CliMaintenanceTest, VerifyReportsCorruptionAndExitsOne) {
  const RunResult healthy = run({"verify"});
  EXPECT_EQ(healthy.exit_code, 0) << healthy;
  EXPECT_THAT(healthy.out, HasSubstr("healthy: 2 versions, 2 artifacts"));
  EXPECT_EQ(ok_json({"verify"})["healthy"], true);

  const fs::path stored = registry() / "artifacts" / "fraud" / "1" / "model.bin";
  std::string bytes = read_all(stored);
  bytes[1000] = static_cast<char>(bytes[1000] ^ 0x20);
  write_all(testing::writable(stored), bytes);
  const RunResult table = run({"verify"});
  EXPECT_EQ(table.exit_code, kFailure) << table;
  EXPECT_THAT(table.out, HasSubstr("corrupt"));
  EXPECT_THAT(table.out, HasSubstr("UNHEALTHY"));
  const RunResult json = run({"--json", "verify"});
  EXPECT_EQ(json.exit_code, kFailure) << json;
  const nlohmann::json doc = json.json();
  EXPECT_EQ(doc["healthy"], false);
  ASSERT_EQ(doc["problems"].size(), 1u);
  EXPECT_EQ(doc["problems"][0]["version"], "1");
  EXPECT_EQ(doc["problems"][0]["kind"], "corrupt");
  // Only model "fraud": still unhealthy; an unknown model is exit 3.
  EXPECT_EQ(run({"verify", "--model", "fraud"}).exit_code, kFailure);
  EXPECT_EQ(run({"verify", "--model", "nope"}).exit_code, kNotFound);
}

TEST_F(CliMaintenanceTest, GcIsADryRunUntilApplied) {
  const fs::path orphan = registry() / "artifacts" / "ghost" / "1" / "model.bin";
  fs::create_directories(orphan.parent_path());
  write_all(orphan, std::string(5000, 'x'));

  const RunResult dry = run({"gc"});
  EXPECT_EQ(dry.exit_code, 0) << dry;
  EXPECT_THAT(dry.out, HasSubstr("ghost/1/model.bin"));
  EXPECT_THAT(dry.out, HasSubstr("would remove"));
  EXPECT_TRUE(fs::exists(orphan));
  const nlohmann::json plan = ok_json({"gc"});
  EXPECT_EQ(plan["applied"], false);
  ASSERT_FALSE(plan["items"].empty());
  EXPECT_EQ(plan["items"][0]["kind"], "unreferenced-artifact");
  EXPECT_EQ(plan["items"][0]["bytes"], 5000);
  EXPECT_TRUE(fs::exists(orphan));

  const nlohmann::json applied = ok_json({"gc", "--apply"});
  EXPECT_EQ(applied["applied"], true);
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_EQ(ok_json({"gc"})["items"].size(), 0u);
  EXPECT_EQ(ok_json({"verify"})["healthy"], true);  // nothing referenced went
}

}  // namespace
}  // namespace modelreg::cli_testing

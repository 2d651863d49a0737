// export_model / import_model: round trips on both catalogs, merges, and damaged or hostile
// archives refused with the target registry unchanged.

#include "modelreg/model_archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modelreg/modelreg.hpp"
#include "pseudo_random.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::read_file;
using testing::TestDir;

enum class Kind { InMemory, Durable };

std::string kind_name(const ::testing::TestParamInfo<Kind>& info) {
  return info.param == Kind::InMemory ? "InMemory" : "Durable";
}

// Registries of one kind, each in a directory of its own.
class Registries {
 public:
  explicit Registries(Kind kind) : kind_(kind) {}
  ModelRegistry make() {
    if (kind_ == Kind::InMemory) return ModelRegistry();
    dirs_.push_back(std::make_unique<TestDir>("modelreg-archive"));
    return ModelRegistry::open(dirs_.back()->path() / "registry");
  }

 private:
  Kind kind_;
  std::vector<std::unique_ptr<TestDir>> dirs_;
};

std::string bytes_of(std::size_t size, std::uint64_t seed) {
  std::string data(size, '\0');
  testing::fill_pseudo_random(seed, data.data(), data.size());
  return data;
}

RegisterOptions with_artifact(const std::string& bytes) {
  RegisterOptions options;
  options.artifact = Bytes(bytes.begin(), bytes.end());
  return options;
}

// A model with everything an archive must carry: description, tags, versions with and without
// artifacts (one empty), metrics, parameters, tags, every stage, aliases, and a deleted version
// whose events stay in the history.
void populate(ModelRegistry& registry) {
  RegisterOptions first = with_artifact(bytes_of(300'000, 1));
  first.framework = ModelFramework::PyTorch;
  first.metrics.accuracy = 0.91;
  first.metrics.custom["auc_roc"] = 0.95;
  first.parameters = {{"lr", 0.001}, {"layers", {64, 32}}};
  first.tags = {{"team", "risk"}, {"dataset", "2026-11"}};
  first.description = "first candidate";
  registry.register_version("fraud", "1", first, Audit{"trainer", "nightly"});
  registry.register_version("fraud", "2", with_artifact(std::string()));
  registry.register_version("fraud", "3");  // no artifact
  registry.register_version("fraud", "4", with_artifact(bytes_of(70'000, 4)));
  registry.register_version("fraud", "gone", with_artifact(bytes_of(10, 5)));
  registry.transition_stage("fraud", "1", ModelStage::Production);
  registry.transition_stage("fraud", "4", ModelStage::Production);  // archives 1
  registry.transition_stage("fraud", "2", ModelStage::Staging);
  registry.set_alias("fraud", "champion", "4");
  registry.set_alias("fraud", "challenger", "2");
  registry.set_alias("fraud", "old", "1");
  registry.set_model_description("fraud", "card fraud scorer");
  registry.set_model_tag("fraud", "owner", "risk-team");
  registry.set_version_tag("fraud", "4", "approved", "yes", Audit{"reviewer", "signed off"});
  registry.delete_version("fraud", "gone");
  registry.register_version("other", "1");  // another model: not exported
}

// Every field of an event but its sequence (an import renumbers them).
void expect_same_history(const std::vector<ModelEvent>& expected,
                         const std::vector<ModelEvent>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ModelEvent e = expected[i];
    e.sequence = actual[i].sequence;
    EXPECT_EQ(e, actual[i]) << "event " << i;
  }
}

// What a registry shows, for "unchanged" checks.
struct Snapshot {
  std::vector<std::string> models;
  std::vector<std::optional<RegisteredModel>> contents;
  std::int64_t events = 0;
  std::vector<std::string> artifacts;
  std::size_t pending = 0;

  explicit Snapshot(const ModelRegistry& registry)
      : models(registry.list_models()),
        events(registry.latest_event_sequence()),
        artifacts(registry.store()->list_artifacts()),
        pending(registry.metadata_store()->list_pending().size()) {
    for (const auto& name : models) contents.push_back(registry.get_model(name));
  }
  bool operator==(const Snapshot& other) const {
    return models == other.models && contents == other.contents && events == other.events &&
           artifacts == other.artifacts && pending == other.pending;
  }
};

class ModelArchiveTest : public ::testing::TestWithParam<Kind> {
 protected:
  ModelArchiveTest() : registries_(GetParam()) {}
  fs::path archive_path(const std::string& name) const { return dir_.path() / name; }

  Registries registries_;
  TestDir dir_{"modelreg-archive-files"};
};

TEST_P(ModelArchiveTest, RoundTripReproducesTheModelExactly) {
  ModelRegistry source = registries_.make();
  populate(source);
  const fs::path path = archive_path("fraud.tar");
  const ExportReport exported = export_model(source, "fraud", path);
  EXPECT_EQ(exported.versions, 4u);
  EXPECT_EQ(exported.artifacts, 3u);  // 1, 2 (empty) and 4
  EXPECT_EQ(exported.artifact_bytes, 370'000u);
  EXPECT_EQ(exported.events, source.history("fraud").size());
  EXPECT_EQ(exported.archive_bytes, fs::file_size(path));

  ModelRegistry target = registries_.make();
  const ImportReport imported = import_model(target, path);
  EXPECT_EQ(imported.model_name, "fraud");
  EXPECT_EQ(imported.versions, 4u);
  EXPECT_EQ(imported.artifact_bytes, 370'000u);

  const auto expected = source.get_model("fraud");
  const auto actual = target.get_model("fraud");
  ASSERT_TRUE(actual.has_value());
  EXPECT_EQ(*expected, *actual);  // every field of the model and of every version
  EXPECT_EQ(target.list_models(), std::vector<std::string>{"fraud"});
  expect_same_history(source.history("fraud"), target.history("fraud"));
  expect_same_history(source.history("fraud", "gone"), target.history("fraud", "gone"));
  for (const std::string version : {"1", "2", "4"}) {
    EXPECT_EQ(target.load_artifact("fraud", version), source.load_artifact("fraud", version));
  }
  EXPECT_EQ(target.resolve("models:/fraud@champion")->version, "4");
  EXPECT_EQ(target.get_production_model("fraud")->version, "4");
  EXPECT_EQ(target.get_latest("fraud")->version, "4");
  // Searches see the imported versions through their tag and metric tables.
  EXPECT_EQ(target.search_versions("tags.team = 'risk'").versions.size(), 1u);
  EXPECT_EQ(target.search_versions("metrics.auc_roc > 0.9").versions.size(), 1u);
  // The registry goes on from there.
  target.register_version("fraud", "5");
  EXPECT_EQ(target.get_latest("fraud")->version, "5");
}

TEST_P(ModelArchiveTest, CompressedArchivesRoundTrip) {
  ModelRegistry source = registries_.make();
  populate(source);
  for (const auto compression : {ArchiveCompression::Gzip, ArchiveCompression::Zstd}) {
    const fs::path path = archive_path("fraud.tar.z");
    ExportOptions options;
    options.compression = compression;
    export_model(source, "fraud", path, options);
    ModelRegistry target = registries_.make();
    import_model(target, path);
    EXPECT_EQ(*source.get_model("fraud"), *target.get_model("fraud"));
  }
}

TEST_P(ModelArchiveTest, ExportOfChosenVersions) {
  ModelRegistry source = registries_.make();
  populate(source);
  const fs::path path = archive_path("some.tar");
  ExportOptions options;
  options.versions = {"4", "1"};
  EXPECT_EQ(export_model(source, "fraud", path, options).versions, 2u);
  ModelRegistry target = registries_.make();
  import_model(target, path);
  const auto model = target.get_model("fraud");
  ASSERT_EQ(model->versions.size(), 2u);
  EXPECT_EQ(model->versions[0], *source.get_version("fraud", "1"));  // registration order
  EXPECT_EQ(model->versions[1], *source.get_version("fraud", "4"));
  EXPECT_EQ(model->aliases.count("challenger"), 0u);  // named version 2, not exported

  options.versions = {"nope"};
  EXPECT_THROW(export_model(source, "fraud", archive_path("x.tar"), options), NotFoundError);
  EXPECT_THROW(export_model(source, "missing", archive_path("x.tar")), NotFoundError);
  EXPECT_THROW(export_model(source, "../x", archive_path("x.tar")), InvalidArgumentError);
  EXPECT_FALSE(fs::exists(archive_path("x.tar")));
}

TEST_P(ModelArchiveTest, ImportNeverOverwritesExistingVersions) {
  ModelRegistry source = registries_.make();
  populate(source);
  const fs::path path = archive_path("fraud.tar");
  export_model(source, "fraud", path);
  ModelRegistry target = registries_.make();
  target.register_version("fraud", "2", with_artifact("mine"));
  const Snapshot before(target);
  try {
    import_model(target, path);
    FAIL() << "imported over an existing version";
  } catch (const AlreadyExistsError& e) {
    EXPECT_THAT(e.what(), HasSubstr("2"));
  }
  EXPECT_TRUE(Snapshot(target) == before);
  EXPECT_EQ(target.load_artifact("fraud", "2"), Bytes({'m', 'i', 'n', 'e'}));
}

TEST_P(ModelArchiveTest, MergeIntoAnExistingModel) {
  ModelRegistry source = registries_.make();
  populate(source);
  const fs::path path = archive_path("fraud.tar");
  export_model(source, "fraud", path);

  {  // An alias the target has already: refused, nothing changed.
    ModelRegistry target = registries_.make();
    target.register_version("fraud", "10");
    target.set_alias("fraud", "champion", "10");
    const Snapshot before(target);
    EXPECT_THROW(import_model(target, path), AlreadyExistsError);
    EXPECT_TRUE(Snapshot(target) == before);
  }
  {  // Both have a Production version: refused, nothing changed.
    ModelRegistry target = registries_.make();
    target.register_version("fraud", "10");
    target.transition_stage("fraud", "10", ModelStage::Production);
    const Snapshot before(target);
    EXPECT_THROW(import_model(target, path), FailedPreconditionError);
    EXPECT_TRUE(Snapshot(target) == before);
  }
  {  // Otherwise the versions are added after the target's own; its description stays.
    ModelRegistry target = registries_.make();
    target.register_version("fraud", "10");
    target.set_model_description("fraud", "ours");
    target.set_model_tag("fraud", "owner", "us");
    target.set_model_tag("fraud", "kept", "yes");
    import_model(target, path);
    const auto model = target.get_model("fraud");
    ASSERT_EQ(model->versions.size(), 5u);
    EXPECT_EQ(model->versions.front().version, "10");
    EXPECT_EQ(model->description, "ours");
    EXPECT_EQ(model->tags.at("owner"), "us");
    EXPECT_EQ(model->tags.at("kept"), "yes");
    EXPECT_EQ(model->aliases.at("champion"), "4");
    EXPECT_EQ(target.get_latest("fraud")->version, "4");
    EXPECT_EQ(target.load_artifact("fraud", "1"), source.load_artifact("fraud", "1"));
  }
}

// --- damaged and hostile archives -------------------------------------------------------

struct RawEntry {
  std::string name;
  std::string data;
  unsigned type = AE_IFREG;
  std::string link;  // for a symlink or hard link
};

std::vector<RawEntry> read_entries(const fs::path& path) {
  std::vector<RawEntry> entries;
  struct archive* in = archive_read_new();
  archive_read_support_format_tar(in);
  archive_read_support_filter_all(in);
  EXPECT_EQ(archive_read_open_filename(in, path.c_str(), 65536), ARCHIVE_OK);
  archive_entry* header = nullptr;
  while (archive_read_next_header(in, &header) == ARCHIVE_OK) {
    RawEntry entry;
    entry.name = archive_entry_pathname(header);
    entry.data.resize(static_cast<std::size_t>(archive_entry_size(header)));
    if (!entry.data.empty()) {
      archive_read_data(in, entry.data.data(), entry.data.size());
    }
    entries.push_back(std::move(entry));
  }
  archive_read_free(in);
  return entries;
}

void write_entries(const fs::path& path, const std::vector<RawEntry>& entries) {
  struct archive* out = archive_write_new();
  archive_write_set_format_pax_restricted(out);
  ASSERT_EQ(archive_write_open_filename(out, path.c_str()), ARCHIVE_OK);
  for (const RawEntry& entry : entries) {
    archive_entry* header = archive_entry_new();
    archive_entry_set_pathname(header, entry.name.c_str());
    archive_entry_set_filetype(header, entry.type);
    archive_entry_set_perm(header, 0644);
    if (entry.type == AE_IFLNK) archive_entry_set_symlink(header, entry.link.c_str());
    if (!entry.link.empty() && entry.type == AE_IFREG) {
      archive_entry_set_hardlink(header, entry.link.c_str());
    }
    archive_entry_set_size(header, static_cast<la_int64_t>(entry.data.size()));
    archive_write_header(out, header);
    if (!entry.data.empty()) archive_write_data(out, entry.data.data(), entry.data.size());
    archive_entry_free(header);
  }
  archive_write_close(out);
  archive_write_free(out);
}

class DamagedArchiveTest : public ModelArchiveTest {
 protected:
  void SetUp() override {
    source_ = std::make_unique<ModelRegistry>(registries_.make());
    populate(*source_);
    good_ = archive_path("good.tar");
    export_model(*source_, "fraud", good_);
    target_ = std::make_unique<ModelRegistry>(registries_.make());
    target_->register_version("unrelated", "1", with_artifact("keep"));
  }

  // Imports `path` into the target, expecting `Error` and an unchanged target.
  template <class Error>
  void expect_refused(const fs::path& path, const std::string& what) {
    const Snapshot before(*target_);
    EXPECT_THROW(import_model(*target_, path), Error) << what;
    EXPECT_TRUE(Snapshot(*target_) == before) << what;
    // And the store holds nothing of the import (not even a partial file).
    EXPECT_EQ(target_->store()->list_artifacts(), std::vector<std::string>{"unrelated/1/model.bin"})
        << what;
  }

  fs::path mutated(const std::string& name, const std::function<void(std::vector<RawEntry>&)>& f) {
    std::vector<RawEntry> entries = read_entries(good_);
    f(entries);
    const fs::path path = archive_path(name);
    write_entries(path, entries);
    return path;
  }

  std::unique_ptr<ModelRegistry> source_;
  std::unique_ptr<ModelRegistry> target_;
  fs::path good_;
};

TEST_P(DamagedArchiveTest, AFlippedByteInAnArtifactIsDataLoss) {
  std::string bytes = read_file(good_);
  const std::size_t at = bytes.size() / 2;  // inside artifact 1 (300 kB of 370 kB)
  bytes[at] = static_cast<char>(bytes[at] ^ 0x40);
  const fs::path path = archive_path("flipped.tar");
  std::ofstream(path, std::ios::binary) << bytes;
  expect_refused<DataLossError>(path, "flipped byte");
}

TEST_P(DamagedArchiveTest, TruncationAnywhereIsRefused) {
  const std::string bytes = read_file(good_);
  for (const std::size_t size : {std::size_t{0}, std::size_t{100}, std::size_t{2000},
                                 bytes.size() / 3, bytes.size() / 2, bytes.size() - 1500}) {
    const fs::path path = archive_path("truncated.tar");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, size);
    const Snapshot before(*target_);
    EXPECT_THROW(import_model(*target_, path), Error) << "truncated to " << size;
    EXPECT_TRUE(Snapshot(*target_) == before) << "truncated to " << size;
  }
}

TEST_P(DamagedArchiveTest, ADamagedCompressedStreamIsDataLossNotStorage) {
  for (const auto compression : {ArchiveCompression::Gzip, ArchiveCompression::Zstd}) {
    const fs::path packed = archive_path("packed");
    ExportOptions options;
    options.compression = compression;
    export_model(*source_, "fraud", packed, options);
    const std::string bytes = read_file(packed);
    const fs::path path = archive_path("damaged");
    // Cut short inside the compressed stream (once found by fuzzing as a StorageError, which
    // would tell the caller to retry), and a stretch of its middle overwritten.
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, 600);
    expect_refused<DataLossError>(path, "compressed stream cut short");
    std::string overwritten = bytes;
    for (std::size_t i = 200; i < 400 && i < overwritten.size(); ++i) overwritten[i] = '\x5a';
    std::ofstream(path, std::ios::binary | std::ios::trunc) << overwritten;
    // What the damage decodes to decides the kind (a manifest that is no JSON any more is
    // invalid), but it is never an I/O failure to retry.
    const Snapshot before(*target_);
    try {
      import_model(*target_, path);
      ADD_FAILURE() << "an overwritten archive was imported";
    } catch (const StorageError& e) {
      ADD_FAILURE() << "StorageError: " << e.what();
    } catch (const Error&) {
    }
    EXPECT_TRUE(Snapshot(*target_) == before);
  }
}

TEST_P(DamagedArchiveTest, HostileEntriesAreRefused) {
  expect_refused<InvalidArgumentError>(
      mutated("traversal.tar", [](auto& e) { e[1].name = "../x"; }), "entry renamed to ../x");
  expect_refused<InvalidArgumentError>(
      mutated("absolute.tar", [](auto& e) { e[1].name = "/etc/passwd"; }), "absolute entry");
  expect_refused<InvalidArgumentError>(
      mutated("duplicate.tar", [](auto& e) { e.insert(e.begin() + 2, e[1]); }), "duplicate entry");
  expect_refused<InvalidArgumentError>(
      mutated("extra.tar",
              [](auto& e) {
                e.push_back({"artifacts/9/model.bin", "x", AE_IFREG, ""});
              }),
      "entry the manifest does not name");
  expect_refused<InvalidArgumentError>(mutated("symlink.tar",
                                               [](auto& e) {
                                                 e[1].type = AE_IFLNK;
                                                 e[1].link = "/etc/passwd";
                                                 e[1].data.clear();
                                               }),
                                       "symlink in place of an artifact");
  expect_refused<InvalidArgumentError>(
      mutated("missing-manifest.tar", [](auto& e) { e.erase(e.begin()); }), "no manifest");
  // A header that disagrees with the manifest: a malformed archive (a damaged one, whose
  // header still claims the full size, is the truncation test's).
  expect_refused<InvalidArgumentError>(mutated("short.tar", [](auto& e) { e[3].data.pop_back(); }),
                                       "artifact shorter");
  expect_refused<InvalidArgumentError>(
      mutated("bad-json.tar", [](auto& e) { e[0].data = "{not json"; }), "malformed manifest");
  expect_refused<InvalidArgumentError>(mutated("future.tar",
                                               [](auto& e) {
                                                 auto doc = nlohmann::json::parse(e[0].data);
                                                 doc["format_version"] = 99;
                                                 e[0].data = doc.dump();
                                               }),
                                       "unknown format version");
  expect_refused<InvalidArgumentError>(mutated("huge.tar",
                                               [](auto& e) {
                                                 auto doc = nlohmann::json::parse(e[0].data);
                                                 doc["versions"][0]["artifact_size"] = 1ull << 60;
                                                 doc["artifacts"][0]["size"] = 1ull << 60;
                                                 e[0].data = doc.dump();
                                               }),
                                       "absurd artifact size");
  expect_refused<InvalidArgumentError>(mutated("traversal-version.tar",
                                               [](auto& e) {
                                                 auto doc = nlohmann::json::parse(e[0].data);
                                                 doc["versions"][0]["version"] = "../../x";
                                                 e[0].data = doc.dump();
                                               }),
                                       "traversal in a version name");
  expect_refused<DataLossError>(mutated("wrong-sha.tar",
                                        [](auto& e) {
                                          auto doc = nlohmann::json::parse(e[0].data);
                                          const std::string sha(64, 'a');
                                          doc["versions"][0]["artifact_sha256"] = sha;
                                          doc["artifacts"][0]["sha256"] = sha;
                                          e[0].data = doc.dump();
                                        }),
                                "artifact that does not match its SHA-256");
}

TEST_P(DamagedArchiveTest, NotAnArchive) {
  const fs::path path = archive_path("random.bin");
  std::ofstream(path, std::ios::binary) << bytes_of(100'000, 9);
  expect_refused<InvalidArgumentError>(path, "random bytes");
  expect_refused<NotFoundError>(archive_path("does-not-exist.tar"), "missing file");
  expect_refused<InvalidArgumentError>(dir_.path(), "a directory");
}

// On a durable registry only: the bytes of an in-memory store cannot be reached to damage them.
TEST(ModelArchive, ExportRefusesACorruptArtifactAndLeavesNoArchive) {
  TestDir dir("modelreg-archive-corrupt");
  TestDir out("modelreg-archive-out");
  ModelRegistry source = ModelRegistry::open(dir.path());
  source.register_version("m", "1", with_artifact(bytes_of(5000, 3)));
  {
    std::fstream file(testing::writable(dir.path() / "artifacts/m/1/model.bin"),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.put('\x7f');
  }
  EXPECT_THROW(export_model(source, "m", out.path() / "m.tar"), DataLossError);
  EXPECT_TRUE(fs::is_empty(out.path()));  // neither the archive nor its temporary file
}

INSTANTIATE_TEST_SUITE_P(Catalogs, ModelArchiveTest,
                         ::testing::Values(Kind::InMemory, Kind::Durable), kind_name);
INSTANTIATE_TEST_SUITE_P(Catalogs, DamagedArchiveTest,
                         ::testing::Values(Kind::InMemory, Kind::Durable), kind_name);

}  // namespace
}  // namespace modelreg

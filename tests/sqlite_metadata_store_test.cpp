// What only the SQLite catalog promises: durability across reopen, sharing one file between
// stores (as between processes), lock contention hidden from callers, and refusing foreign,
// corrupt or newer files without touching them. The MetadataStore contract itself is covered
// by metadata_store_conformance_test.

#include "modelreg/sqlite_metadata_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "log_capture.hpp"
#include "modelreg/error.hpp"
#include "modelreg/in_memory_metadata_store.hpp"
#include "raw_sqlite.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::read_file;

Timestamp at(std::int64_t offset_ns) {
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::nanoseconds(1'700'000'000'987'654'321LL + offset_ns)));
}

ModelVersion make_version(const std::string& model, const std::string& version,
                          ModelStage stage = ModelStage::Development) {
  ModelVersion v;
  v.model_name = model;
  v.version = version;
  v.stage = stage;
  v.framework = ModelFramework::Sklearn;
  v.artifact_path = model + "/" + version + "/model.bin";
  v.artifact_size = 7;
  v.artifact_sha256 = std::string(64, 'c');
  v.metrics.accuracy = 0.75;
  v.metrics.custom = {{"latency_ms", 1.5}};
  v.parameters = {{"depth", 6}, {"nested", {{"a", {1, 2, 3}}}}};
  v.tags = {{"team", "ranking"}};
  v.description = "version " + version;
  v.created_at = at(1);
  v.updated_at = at(2);
  return v;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

using testing::RawDb;

class SqliteMetadataStoreTest : public ::testing::Test {
 protected:
  fs::path db_path() const { return dir_.path() / "registry.db"; }
  std::unique_ptr<SqliteMetadataStore> open(SqliteOptions options = {}) {
    return std::make_unique<SqliteMetadataStore>(db_path(), options);
  }

  // Opens `threads` stores on the file at once, each from its own thread, and has each create
  // version "<thread>" of model "m". Every open and create must succeed.
  std::vector<std::unique_ptr<SqliteMetadataStore>> open_at_once_and_write(int threads) {
    std::vector<std::unique_ptr<SqliteMetadataStore>> stores(threads);
    std::vector<std::string> errors(threads);
    std::vector<std::thread> running;
    for (int t = 0; t < threads; ++t) {
      running.emplace_back([&, t] {
        try {
          stores[t] = open();
          stores[t]->create_version(make_version("m", std::to_string(t)));
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      });
    }
    for (auto& thread : running) thread.join();
    for (int t = 0; t < threads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
    return stores;
  }

  testing::TestDir dir_;
};

// --- durability ---------------------------------------------------------------------------

TEST_F(SqliteMetadataStoreTest, EverythingPersistsAcrossCloseAndReopen) {
  ModelVersion v1 = make_version("resnet", "1.0");
  ModelVersion v2 = make_version("resnet", "2.0", ModelStage::Staging);
  std::optional<ModelVersion> production;
  {
    auto store = open();
    EXPECT_EQ(store->path(), db_path());
    store->create_version(v1);
    store->create_version(v2);
    store->create_version(make_version("resnet", "3.0"), "writer-1");
    store->create_version(make_version("bert", "1.0"));
    ASSERT_TRUE(store->begin_delete("bert", "1.0", "deleter").has_value());
    production = store->set_stage("resnet", "2.0", ModelStage::Production, std::nullopt, at(9));
    ASSERT_TRUE(production.has_value());
  }
  auto store = open();
  EXPECT_EQ(store->get_version("resnet", "1.0"), v1);
  EXPECT_EQ(store->production_version("resnet"), production);
  EXPECT_EQ(store->latest_version("resnet"), production);
  // A model whose only version is being deleted stays, with no visible version.
  EXPECT_EQ(store->list_models(), (std::vector<std::string>{"bert", "resnet"}));
  EXPECT_TRUE(store->get_model("bert")->versions.empty());
  const auto pending = store->list_pending();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].version, "3.0");
  EXPECT_EQ(pending[0].owner, "writer-1");
  EXPECT_EQ(pending[1].model_name, "bert");
  EXPECT_EQ(pending[1].kind, PendingVersion::Kind::Deleting);
  // The reservation survived too: it can still be published by its owner.
  const ModelVersion published =
      store->publish_version("resnet", "3.0", "writer-1", ArtifactInfo{}, at(20));
  EXPECT_EQ(store->latest_version("resnet"), published);
}

TEST_F(SqliteMetadataStoreTest, FileIsAWalDatabaseWithTheSchemaVersionAndExactTimes) {
  open()->create_version(make_version("resnet", "1.0"));
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.integer("PRAGMA user_version"), SqliteMetadataStore::kSchemaVersion);
  // Nanoseconds since the epoch, as integers: no rounding through text or floating point.
  EXPECT_EQ(raw.integer("SELECT created_at FROM versions"), 1'700'000'000'987'654'322LL);
  EXPECT_EQ(raw.integer("SELECT updated_at FROM versions"), 1'700'000'000'987'654'323LL);
}

TEST_F(SqliteMetadataStoreTest, WritersHoldTheirLocksBesideTheDatabase) {
  // The directory ModelRegistry::open(dir) uses, whoever builds the registry.
  auto store = open();
  EXPECT_EQ(store->lock_directory(), dir_.path() / "locks");
  // A writer lease is a locked file there; it is alive exactly as long as the lease.
  auto lease = store->acquire_writer_lease();
  EXPECT_TRUE(fs::exists(dir_.path() / "locks" / (lease->owner() + ".lock")));
  EXPECT_TRUE(store->is_writer_alive(lease->owner()));
  const std::string owner = lease->owner();
  lease.reset();
  EXPECT_FALSE(store->is_writer_alive(owner));
  // The in-memory catalog: alive while the lease is held, and never an owner it did not issue.
  InMemoryMetadataStore memory;
  auto held = memory.acquire_writer_lease();
  EXPECT_TRUE(memory.is_writer_alive(held->owner()));
  EXPECT_FALSE(memory.is_writer_alive("0123abcd"));
  const std::string gone = held->owner();
  held.reset();
  EXPECT_FALSE(memory.is_writer_alive(gone));
}

TEST_F(SqliteMetadataStoreTest, RelaxedDurabilityStoresAndReopens) {
  SqliteOptions relaxed;
  relaxed.durability = Durability::Relaxed;
  const ModelVersion v = make_version("resnet", "1.0");
  {
    auto store = open(relaxed);
    store->create_version(v);
    ASSERT_TRUE(store->set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(5)));
  }
  // A Relaxed and a Full store may share the file.
  auto relaxed_store = open(relaxed);
  auto full_store = open();
  EXPECT_EQ(relaxed_store->production_version("resnet")->version, "1.0");
  full_store->create_version(make_version("resnet", "2.0"));
  EXPECT_EQ(relaxed_store->latest_version("resnet")->version, "2.0");
}

TEST_F(SqliteMetadataStoreTest, AnEmptyExistingFileGetsTheSchema) {
  write_bytes(db_path(), "");
  auto store = open();
  store->create_version(make_version("resnet", "1.0"));
  EXPECT_TRUE(store->get_version("resnet", "1.0").has_value());
}

TEST_F(SqliteMetadataStoreTest, AMissingDirectoryIsAStorageError) {
  EXPECT_THROW(SqliteMetadataStore(dir_.path() / "no" / "such" / "dir" / "registry.db"),
               StorageError);
}

// --- sharing one file ---------------------------------------------------------------------

TEST_F(SqliteMetadataStoreTest, TwoStoresOnOneFileSeeEachOthersWritesImmediately) {
  auto a = open();
  auto b = open();
  for (int i = 0; i < 20; ++i) {
    const std::string version = std::to_string(i);
    SqliteMetadataStore& writer = i % 2 == 0 ? *a : *b;
    SqliteMetadataStore& reader = i % 2 == 0 ? *b : *a;

    writer.create_version(make_version("resnet", version));
    EXPECT_EQ(reader.get_version("resnet", version)->version, version);
    EXPECT_EQ(reader.latest_version("resnet")->version, version);

    ASSERT_TRUE(writer.set_stage("resnet", version, ModelStage::Production, std::nullopt, at(i)));
    EXPECT_EQ(reader.production_version("resnet")->version, version);
    EXPECT_EQ(reader.list_versions("resnet", ModelStage::Production).size(), 1u);
  }
  a->create_version(make_version("resnet", "reserved"), "writer-a");
  ASSERT_EQ(b->list_pending().size(), 1u);
  EXPECT_THROW(b->create_version(make_version("resnet", "reserved")), AlreadyExistsError);
  EXPECT_TRUE(b->claim_pending("resnet", "reserved", "writer-a", "writer-b"));
  EXPECT_THROW(a->publish_version("resnet", "reserved", "writer-a", ArtifactInfo{}, at(1)),
               FailedPreconditionError);
  EXPECT_EQ(b->get_model("resnet")->versions.size(), 20u);
}

TEST_F(SqliteMetadataStoreTest, ListingsFollowEveryChangeFromAnyConnection) {
  // list_versions keeps decoded lists between calls; any change, by this store or by another
  // connection (another process), must show in the next listing.
  auto a = open();
  auto b = open();
  a->create_version(make_version("resnet", "1"));
  a->create_version(make_version("resnet", "2"));
  ASSERT_EQ(a->list_versions("resnet").size(), 2u);
  ASSERT_EQ(a->list_versions("resnet").size(), 2u);  // served from the cache

  b->create_version(make_version("resnet", "3"));
  EXPECT_EQ(a->list_versions("resnet").size(), 3u);
  b->set_stage("resnet", "2", ModelStage::Production, std::nullopt, at(10));
  EXPECT_EQ(a->list_versions("resnet")[1].stage, ModelStage::Production);
  EXPECT_TRUE(b->begin_delete("resnet", "1", "deleter").has_value());
  EXPECT_EQ(a->list_versions("resnet").size(), 2u);
  EXPECT_TRUE(b->cancel_delete("resnet", "1", "deleter"));
  EXPECT_EQ(a->list_versions("resnet").size(), 3u);
  a->set_stage("resnet", "3", ModelStage::Production, std::nullopt, at(11));
  const auto listed = b->list_versions("resnet");
  EXPECT_EQ(listed[1].stage, ModelStage::Archived);
  EXPECT_EQ(listed[2].stage, ModelStage::Production);

  // A model deleted and created again under the same name is a new model.
  for (const char* version : {"1", "2", "3"}) {
    ASSERT_TRUE(b->begin_delete("resnet", version, "deleter").has_value());
    ASSERT_TRUE(b->release_version("resnet", version, "deleter"));
  }
  EXPECT_TRUE(a->list_versions("resnet").empty());
  b->create_version(make_version("resnet", "9"));
  const auto recreated = a->list_versions("resnet");
  ASSERT_EQ(recreated.size(), 1u);
  EXPECT_EQ(recreated[0].version, "9");

  // A connection that is not modelreg's at all (the sqlite3 shell, another tool).
  ASSERT_EQ(a->list_versions("resnet")[0].description, "version 9");
  {
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec("UPDATE versions SET description = 'edited elsewhere'"), SQLITE_OK);
  }
  EXPECT_EQ(a->list_versions("resnet")[0].description, "edited elsewhere");
}

TEST_F(SqliteMetadataStoreTest, ListingsOfOtherModelsFollowChangesToo) {
  // One commit anywhere makes every cached list stale, including those of untouched models.
  auto a = open();
  auto b = open();
  a->create_version(make_version("resnet", "1"));
  a->create_version(make_version("bert", "1"));
  ASSERT_EQ(a->list_versions("resnet").size(), 1u);
  ASSERT_EQ(a->list_versions("bert").size(), 1u);
  b->create_version(make_version("bert", "2"));
  EXPECT_EQ(a->list_versions("resnet").size(), 1u);
  EXPECT_EQ(a->list_versions("bert").size(), 2u);
  b->create_version(make_version("resnet", "2"));
  EXPECT_EQ(a->list_versions("bert").size(), 2u);
  EXPECT_EQ(a->list_versions("resnet").size(), 2u);
}

TEST_F(SqliteMetadataStoreTest, ListingsAreTheSameWithTheListCacheOffOrTooSmall) {
  auto cached = open();
  SqliteOptions off;
  off.list_cache_versions = 0;
  auto uncached = open(off);
  SqliteOptions tiny;
  tiny.list_cache_versions = 2;
  auto small = open(tiny);
  auto expect_same = [&](const std::string& model) {
    const auto listed = cached->list_versions(model);
    EXPECT_EQ(uncached->list_versions(model), listed);
    EXPECT_EQ(small->list_versions(model), listed);
    EXPECT_EQ(small->list_versions(model), listed);  // twice: cached or not, the same
  };
  for (int i = 1; i <= 4; ++i) {
    (i % 2 == 0 ? uncached : small)->create_version(make_version("resnet", std::to_string(i)));
    cached->create_version(make_version("bert", std::to_string(i)));
    expect_same("resnet");
    expect_same("bert");
  }
  ASSERT_TRUE(uncached->set_stage("resnet", "3", ModelStage::Production, std::nullopt, at(9)));
  expect_same("resnet");
  EXPECT_EQ(uncached->list_versions("resnet")[2].stage, ModelStage::Production);
  EXPECT_EQ(uncached->list_versions("resnet", ModelStage::Production).size(), 1u);
  EXPECT_TRUE(uncached->list_versions("no-such-model").empty());
}

// Asks for each lookup of `store` three times, so that every one is cached (a result is kept
// the second time it is read) and the third is answered from the cache; returns that answer.
struct Lookups {
  std::optional<ModelVersion> version, production, latest, alias;
  bool operator==(const Lookups& o) const {
    return version == o.version && production == o.production && latest == o.latest &&
           alias == o.alias;
  }
};
Lookups lookups(const SqliteMetadataStore& store, const std::string& version) {
  Lookups out;
  for (int i = 0; i < 3; ++i) {
    out = Lookups{store.get_version("resnet", version), store.production_version("resnet"),
                  store.latest_version("resnet"), store.get_version_by_alias("resnet", "champion")};
  }
  return out;
}

TEST_F(SqliteMetadataStoreTest, LookupsFollowEveryChangeFromAnyConnection) {
  // Each read connection keeps decoded lookups between calls; any change, by this store or by
  // another connection (another process, a foreign tool), must show in the next lookup.
  auto a = open();
  auto b = open();
  a->create_version(make_version("resnet", "1"));
  a->set_alias("resnet", "champion", "1", std::nullopt, at(3));
  Lookups seen = lookups(*a, "1");
  ASSERT_TRUE(seen.version && seen.latest && seen.alias);
  EXPECT_FALSE(seen.production);
  EXPECT_EQ(seen.latest->version, "1");
  EXPECT_EQ(seen.alias->version, "1");

  b->create_version(make_version("resnet", "2"));
  seen = lookups(*a, "2");
  ASSERT_TRUE(seen.version && seen.latest);
  EXPECT_EQ(seen.version->version, "2");
  EXPECT_EQ(seen.latest->version, "2");

  ASSERT_TRUE(b->set_stage("resnet", "2", ModelStage::Production, std::nullopt, at(10)));
  seen = lookups(*a, "2");
  ASSERT_TRUE(seen.production);
  EXPECT_EQ(seen.production->version, "2");
  EXPECT_EQ(seen.version->stage, ModelStage::Production);

  b->set_alias("resnet", "champion", "2", std::string("1"), at(11));
  seen = lookups(*a, "1");
  ASSERT_TRUE(seen.alias && seen.version);
  EXPECT_EQ(seen.alias->version, "2");
  EXPECT_TRUE(seen.version->aliases.empty());

  b->set_version_description("resnet", "1", "described elsewhere", at(12));
  EXPECT_EQ(lookups(*a, "1").version->description, "described elsewhere");
  a->set_stage("resnet", "1", ModelStage::Production, std::nullopt, at(13));  // a's own write
  seen = lookups(*b, "2");
  EXPECT_EQ(seen.production->version, "1");
  EXPECT_EQ(seen.version->stage, ModelStage::Archived);
  EXPECT_EQ(lookups(*a, "2").version->stage, ModelStage::Archived);

  ASSERT_TRUE(b->begin_delete("resnet", "2", "deleter").has_value());
  seen = lookups(*a, "2");
  EXPECT_FALSE(seen.version);
  EXPECT_FALSE(seen.alias);  // it named the version being deleted
  EXPECT_EQ(seen.latest->version, "1");
  EXPECT_TRUE(b->cancel_delete("resnet", "2", "deleter"));
  EXPECT_EQ(lookups(*a, "2").version->version, "2");

  // A connection that is not modelreg's at all.
  ASSERT_EQ(lookups(*a, "1").version->description, "described elsewhere");
  {
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec("UPDATE versions SET description = 'edited elsewhere'"), SQLITE_OK);
  }
  EXPECT_EQ(lookups(*a, "1").version->description, "edited elsewhere");
  EXPECT_EQ(a->production_version("resnet")->description, "edited elsewhere");
}

TEST_F(SqliteMetadataStoreTest, LookupsAreTheSameWithTheLookupCacheOffOrTooSmall) {
  auto cached = open();
  SqliteOptions off;
  off.lookup_cache_versions = 0;
  auto uncached = open(off);
  SqliteOptions tiny;
  tiny.lookup_cache_versions = 1;
  auto small = open(tiny);
  for (int i = 1; i <= 4; ++i) {
    const std::string version = std::to_string(i);
    (i % 2 == 0 ? *uncached : *small).create_version(make_version("resnet", version));
    if (i % 2 == 1) {
      ASSERT_TRUE(
          cached->set_stage("resnet", version, ModelStage::Production, std::nullopt, at(i)));
      cached->set_alias("resnet", "champion", version, std::nullopt, at(i));
    }
    for (int v = 0; v <= i + 1; ++v) {  // "0" and i + 1 do not exist
      const Lookups expected = lookups(*cached, std::to_string(v));
      EXPECT_EQ(lookups(*uncached, std::to_string(v)), expected) << v;
      EXPECT_EQ(lookups(*small, std::to_string(v)), expected) << v;
      EXPECT_EQ(expected.version.has_value(), v >= 1 && v <= i) << v;
    }
  }
}

TEST_F(SqliteMetadataStoreTest, StoresOpeningOneNewFileAtOnceAllSucceed) {
  constexpr int kThreads = 8;
  const auto stores = open_at_once_and_write(kThreads);
  ASSERT_TRUE(stores[0]);
  EXPECT_EQ(stores[0]->list_versions("m").size(), static_cast<std::size_t>(kThreads));
}

// Makes `writes` writes, write(1) .. write(writes), on this thread while three reader threads
// (one on `writer`, two on `other`) read continually: check(store, before) reads once and
// returns what is wrong with what it read ("" if nothing), `before` being the number of writes
// that had finished when it started. Returns each reader's first failure ("" for none). The
// readers are stopped and joined however the writes end.
std::vector<std::string> check_reads_during_writes(
    SqliteMetadataStore& writer, SqliteMetadataStore& other, int writes,
    const std::function<void(int)>& write,
    const std::function<std::string(const SqliteMetadataStore&, int)>& check) {
  constexpr int kReaders = 3;
  std::atomic<int> finished{0};
  std::atomic<bool> done{false};
  std::vector<std::string> failures(kReaders);
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      const SqliteMetadataStore& store = r == 0 ? writer : other;
      try {
        while (!done.load()) {
          failures[r] = check(store, finished.load());
          if (!failures[r].empty()) return;
        }
      } catch (const std::exception& e) {
        failures[r] = e.what();
      }
    });
  }
  struct Stop {
    std::atomic<bool>& done;
    std::vector<std::thread>& readers;
    ~Stop() {
      done.store(true);
      for (auto& reader : readers) reader.join();
    }
  } stop{done, readers};
  for (int i = 1; i <= writes; ++i) {
    write(i);
    finished.store(i);
  }
  return failures;
}

TEST_F(SqliteMetadataStoreTest, AListingIsNeverOlderThanAWriteThatFinishedBeforeIt) {
  // The writer registers versions one by one; a listing that starts after the k-th commit
  // finished must show at least k versions.
  auto writer = open();
  auto other = open();
  constexpr int kVersions = 150;
  const auto failures = check_reads_during_writes(
      *writer, *other, kVersions,
      [&](int i) { writer->create_version(make_version("m", std::to_string(i))); },
      [](const SqliteMetadataStore& store, int before) -> std::string {
        const auto listed = store.list_versions("m");
        if (static_cast<int>(listed.size()) >= before) return "";
        return "listed " + std::to_string(listed.size()) + " after " + std::to_string(before) +
               " commits";
      });
  for (std::size_t r = 0; r < failures.size(); ++r) EXPECT_EQ(failures[r], "") << "reader " << r;
  EXPECT_EQ(other->list_versions("m").size(), static_cast<std::size_t>(kVersions));
}

TEST_F(SqliteMetadataStoreTest, ALookupIsNeverOlderThanAWriteThatFinishedBeforeIt) {
  // The writer promotes versions one by one; a lookup of the Production version that starts
  // after the k-th promotion finished must show version k or a later one.
  auto writer = open();
  auto other = open();
  constexpr int kVersions = 100;
  for (int i = 1; i <= kVersions; ++i) writer->create_version(make_version("m", std::to_string(i)));
  const auto failures = check_reads_during_writes(
      *writer, *other, kVersions,
      [&](int i) {
        if (!writer->set_stage("m", std::to_string(i), ModelStage::Production, std::nullopt,
                               at(i))) {
          throw std::runtime_error("version " + std::to_string(i) + " was not promoted");
        }
      },
      [](const SqliteMetadataStore& store, int before) -> std::string {
        const auto production = store.production_version("m");
        const int seen = production ? std::stoi(production->version) : 0;
        if (seen >= before) return "";
        return "saw version " + std::to_string(seen) + " in Production after " +
               std::to_string(before) + " promotions";
      });
  for (std::size_t r = 0; r < failures.size(); ++r) EXPECT_EQ(failures[r], "") << "reader " << r;
  EXPECT_EQ(other->production_version("m")->version, std::to_string(kVersions));
}

// --- the database enforces the invariants -------------------------------------------------

TEST_F(SqliteMetadataStoreTest, TheDatabaseItselfRefusesASecondProductionVersion) {
  {
    auto store = open();
    store->create_version(make_version("resnet", "1.0"));
    store->create_version(make_version("resnet", "2.0"));
    store->create_version(make_version("bert", "1.0"));
    ASSERT_TRUE(store->set_stage("resnet", "1.0", ModelStage::Production, std::nullopt, at(1)));
  }
  RawDb raw(db_path());
  // Behind the store's back, as a buggy or foreign writer would.
  EXPECT_EQ(raw.exec("UPDATE versions SET stage = 'production' WHERE version = '2.0'"),
            SQLITE_CONSTRAINT)
      << raw.error();
  // Another model's Production version is no conflict.
  EXPECT_EQ(raw.exec("UPDATE versions SET stage = 'production' WHERE model_id = "
                     "(SELECT id FROM models WHERE name = 'bert')"),
            SQLITE_OK)
      << raw.error();
  EXPECT_EQ(raw.integer("SELECT count(*) FROM versions WHERE stage = 'production'"), 2);
}

TEST_F(SqliteMetadataStoreTest, ACorruptRowIsDataLossNotGarbage) {
  {
    auto store = open();
    store->create_version(make_version("resnet", "1.0"));
  }
  {
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec("UPDATE versions SET metrics = '{not json'"), SQLITE_OK);
  }
  auto store = open();
  try {
    store->get_version("resnet", "1.0");
    FAIL() << "expected DataLossError";
  } catch (const DataLossError& e) {
    EXPECT_THAT(e.what(), HasSubstr(db_path().string()));
    EXPECT_THAT(e.what(), HasSubstr("resnet:1.0"));
  }
}

TEST_F(SqliteMetadataStoreTest, TagsThatAreNotAnObjectOfStringsAreDataLossEverywhere) {
  {
    auto store = open();
    store->create_version(make_version("resnet", "1.0"));
  }
  const char* const corrupt_tags[] = {
      R"({not json)",
      R"([])",
      R"("team")",
      R"({"team":1})",
      R"({"team":null})",
      R"({"team":true})",
      R"({"a":{"b":"c"}})",
      R"({"a":["b"]})",
      R"({"a":"b"} extra)",
      R"({"a":"b",})",
      R"({"a":"b")",
      R"()",
      "{\"a\":\"\xff\"}",
      R"({"a" : 1})",
      R"({}x)",
      R"({} x)",
  };
  for (const char* tags : corrupt_tags) {
    SCOPED_TRACE(tags);
    {
      RawDb raw(db_path());
      ASSERT_EQ(raw.exec_with_text("UPDATE versions SET tags = ?1", tags), SQLITE_DONE)
          << raw.error();
    }
    auto store = open();
    EXPECT_THROW(store->get_version("resnet", "1.0"), DataLossError);
    EXPECT_THROW(store->list_versions("resnet"), DataLossError);
    EXPECT_THROW(store->get_model("resnet"), DataLossError);
  }
  // Escapes decode; a key given twice keeps its last value, as a JSON parser would.
  {
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec(R"(UPDATE versions SET tags = '{"k":"a","t\u00e9":"\"q\"\n","k":"b"}')"),
              SQLITE_OK);
  }
  const std::map<std::string, std::string> expected = {{"k", "b"}, {"t\xc3\xa9", "\"q\"\n"}};
  EXPECT_EQ(open()->get_version("resnet", "1.0")->tags, expected);
  // The same without escapes, with spaces, and with UTF-8 text.
  const std::pair<const char*, std::map<std::string, std::string>> readable[] = {
      {R"({"k":"a","k":"b"})", {{"k", "b"}}},
      {R"( { "k" : "a" , "j" : "" } )", {{"k", "a"}, {"j", ""}}},
      {"{\"t\xc3\xa9\":\"\xc3\xbc\"}", {{"t\xc3\xa9", "\xc3\xbc"}}},
  };
  for (const auto& [tags, decoded] : readable) {
    SCOPED_TRACE(tags);
    {
      RawDb raw(db_path());
      ASSERT_EQ(raw.exec_with_text("UPDATE versions SET tags = ?1", tags), SQLITE_DONE)
          << raw.error();
    }
    EXPECT_EQ(open()->get_version("resnet", "1.0")->tags, decoded);
  }
}

// --- lock contention ----------------------------------------------------------------------

// Runs `threads` threads doing `ops` create + set_stage pairs each, spread over `stores`, and
// returns every error message that reached a caller.
std::vector<std::string> hammer(const std::vector<SqliteMetadataStore*>& stores, int threads,
                                int ops) {
  std::vector<std::vector<std::string>> errors(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      SqliteMetadataStore& store = *stores[t % stores.size()];
      std::mt19937 random(static_cast<unsigned>(t));
      const std::string model = "model-" + std::to_string(t % 3);
      for (int i = 0; i < ops; ++i) {
        const std::string version = std::to_string(t) + "." + std::to_string(i);
        try {
          store.create_version(make_version(model, version));
          const ModelStage stage = random() % 2 == 0 ? ModelStage::Production : ModelStage::Staging;
          store.set_stage(model, version, stage, std::nullopt, at(i));
          store.production_version(model);
          store.list_versions(model, ModelStage::Production);
        } catch (const std::exception& e) {
          errors[t].push_back(e.what());
        }
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::vector<std::string> all;
  for (auto& list : errors) all.insert(all.end(), list.begin(), list.end());
  return all;
}

void expect_consistent(SqliteMetadataStore& store, std::size_t versions_per_model_total) {
  std::size_t total = 0;
  for (const auto& model : store.list_models()) {
    EXPECT_LE(store.list_versions(model, ModelStage::Production).size(), 1u) << model;
    total += store.list_versions(model).size();
  }
  EXPECT_EQ(total, versions_per_model_total);
}

TEST_F(SqliteMetadataStoreTest, EightThreadsOnOneStoreNeverSeeLockErrors) {
  auto store = open();
  const auto errors = hammer({store.get()}, 8, 60);
  EXPECT_THAT(errors, ::testing::IsEmpty());
  expect_consistent(*store, 8 * 60);
}

TEST_F(SqliteMetadataStoreTest, EightThreadsOnTwoStoresOverOneFileNeverSeeLockErrors) {
  auto a = open();
  auto b = open();
  const auto errors = hammer({a.get(), b.get()}, 8, 60);
  EXPECT_THAT(errors, ::testing::IsEmpty());
  expect_consistent(*a, 8 * 60);
  expect_consistent(*b, 8 * 60);
}

TEST_F(SqliteMetadataStoreTest, TheRetryLoopAloneHidesContentionWhenBusyTimeoutIsTiny) {
  // With a 1 ms busy timeout SQLite returns SQLITE_BUSY all the time; only the store's own
  // retry loop stands between that and the callers.
  SqliteOptions impatient;
  impatient.busy_timeout = 1ms;
  auto a = open(impatient);
  auto b = open(impatient);
  auto c = open(impatient);
  const auto errors = hammer({a.get(), b.get(), c.get()}, 9, 30);
  EXPECT_THAT(errors, ::testing::IsEmpty());
  expect_consistent(*a, 9 * 30);
}

TEST_F(SqliteMetadataStoreTest, AWriterWaitsForALockHeldLongerThanTheBusyTimeout) {
  SqliteOptions options;
  options.busy_timeout = 10ms;
  options.lock_timeout = 10s;
  auto store = open(options);
  store->create_version(make_version("resnet", "1.0"));

  RawDb raw(db_path());
  ASSERT_EQ(raw.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  std::thread holder([&] {
    std::this_thread::sleep_for(300ms);
    raw.exec("COMMIT");
  });
  // WAL: readers are not blocked by the writer.
  EXPECT_TRUE(store->get_version("resnet", "1.0").has_value());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NO_THROW(store->create_version(make_version("resnet", "2.0")));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  holder.join();
  EXPECT_TRUE(store->get_version("resnet", "2.0").has_value());
}

TEST_F(SqliteMetadataStoreTest, ALockHeldPastTheLockTimeoutIsAStorageErrorAndChangesNothing) {
  SqliteOptions options;
  options.busy_timeout = 20ms;
  options.lock_timeout = 200ms;
  auto store = open(options);
  store->create_version(make_version("resnet", "1.0"));

  RawDb raw(db_path());
  ASSERT_EQ(raw.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  const auto start = std::chrono::steady_clock::now();
  try {
    store->create_version(make_version("resnet", "2.0"));
    FAIL() << "expected StorageError";
  } catch (const StorageError& e) {
    EXPECT_THAT(e.what(), HasSubstr(db_path().string()));
    EXPECT_THAT(e.what(), HasSubstr("timed out"));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  ASSERT_EQ(raw.exec("COMMIT"), SQLITE_OK);
  EXPECT_EQ(store->get_version("resnet", "2.0"), std::nullopt);
  EXPECT_NO_THROW(store->create_version(make_version("resnet", "2.0")));
}

// --- refusing files that are not ours -----------------------------------------------------

// Opening `path` must throw E naming the file, and leave the file's bytes as they were.
template <typename E>
void expect_refused_untouched(const fs::path& path, const std::string& needle = "") {
  const std::string before = read_file(path);
  try {
    SqliteMetadataStore store(path);
    ADD_FAILURE() << "opening " << path << " should have thrown";
  } catch (const E& e) {
    EXPECT_THAT(e.what(), HasSubstr(path.string()));
    if (!needle.empty()) {
      EXPECT_THAT(e.what(), HasSubstr(needle));
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception: " << e.what();
  }
  EXPECT_EQ(read_file(path), before) << path << " was modified";
}

TEST_F(SqliteMetadataStoreTest, RandomBytesAreDataLossAndStayUntouched) {
  std::mt19937 random(12345);
  std::string bytes(64 * 1024, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  write_bytes(db_path(), bytes);
  expect_refused_untouched<DataLossError>(db_path());
}

TEST_F(SqliteMetadataStoreTest, ATextFileIsDataLossAndStaysUntouched) {
  write_bytes(db_path(), "name,version\nresnet,1.0\n");
  expect_refused_untouched<DataLossError>(db_path());
}

TEST_F(SqliteMetadataStoreTest, ARefusedFileIsLoggedOnceNamingTheFile) {
  write_bytes(db_path(), "not a database at all, just some text that is long enough\n");
  testing::LogCapture log;
  EXPECT_THROW(SqliteMetadataStore{db_path()}, DataLossError);
  ASSERT_EQ(log.errors().size(), 1u);
  EXPECT_THAT(log.errors()[0], HasSubstr(db_path().string()));
}

TEST_F(SqliteMetadataStoreTest, AnotherApplicationsSqliteDatabaseIsRefusedAndUntouched) {
  {
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);"
                       "INSERT INTO customers (name) VALUES ('alice');"),
              SQLITE_OK);
  }
  expect_refused_untouched<DataLossError>(db_path(), "not a modelreg database");
  // In particular it was not switched to WAL.
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete");
}

TEST_F(SqliteMetadataStoreTest, ADamagedModelregDatabaseIsDataLossAndStaysUntouched) {
  {
    auto store = open();
    store->create_version(make_version("resnet", "1.0"));
  }
  // Overwrite page 1 after the 100-byte file header: the schema table's b-tree page.
  std::string bytes = read_file(db_path());
  ASSERT_GT(bytes.size(), 4096u);
  for (std::size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>(0xA5 ^ (i * 31));
  write_bytes(db_path(), bytes);
  expect_refused_untouched<DataLossError>(db_path());
}

TEST_F(SqliteMetadataStoreTest, ANewerSchemaIsRefusedNamingBothVersionsAndUntouched) {
  open()->create_version(make_version("resnet", "1.0"));
  {
    RawDb raw(db_path());
    ASSERT_EQ(raw.exec("PRAGMA user_version = 999"), SQLITE_OK);
  }
  const std::string before = read_file(db_path());
  try {
    SqliteMetadataStore store(db_path());
    FAIL() << "expected FailedPreconditionError";
  } catch (const FailedPreconditionError& e) {
    EXPECT_THAT(e.what(), HasSubstr(db_path().string()));
    EXPECT_THAT(e.what(), HasSubstr("999"));
    EXPECT_THAT(e.what(),
                HasSubstr("version " + std::to_string(SqliteMetadataStore::kSchemaVersion)));
  }
  EXPECT_EQ(read_file(db_path()), before);
  RawDb raw(db_path());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 999);
}

}  // namespace
}  // namespace modelreg

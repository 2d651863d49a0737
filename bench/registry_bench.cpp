// Catalog operations of ModelRegistry against a model that already has N versions, for the
// in-memory registry and the SQLite registry (Durability::Full and Durability::Relaxed), plus
// SQLite's own cost for the equivalent statements (the baselines) and 4 processes registering
// concurrently. The workload follows the published MLflow Model Registry figures that
// bench/compare sets it against: every version carries 3 tags and a description.
//
//   registry_bench [--smoke | --full] [--dir=PATH] [Google Benchmark flags]
//
// Benchmark names are "<operation>/<backend>/<N>", where N is the number of versions the model
// has when the operation runs:
//   register, register_1mib   register_version of one more version (no artifact / 1 MiB)
//   promote                   transition_stage(..., Production) (archives the previous one)
//   get_production, get_latest, get_version
//   list_versions             list_versions(name): all N versions
//   list_in_stage             list_versions(name, Production): one version out of N
//   list_uncached             list_versions(name) with the list cache off (SQLite Relaxed only)
//   open                      ModelRegistry::open of the existing registry (SQLite only)
//   concurrent_register/<durability>/<processes>/<versions per process>  (writer processes)
//   sqlite_raw/concurrent_register_txn_history/<synchronous>/<processes>/<per process>
//                             the raw registration statements in as many writer processes
//   sqlite_raw/...            the raw sqlite3 baselines
//
// A model is populated once per (backend, N) and process (no artifacts, Relaxed durability);
// the SQLite directory is shared by the Full and Relaxed registries and reused across
// repetitions. Versions a benchmark registers are deleted after its timed loop, so N stays N.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bench_mode.hpp"
#include "modelreg/logging.hpp"
#include "modelreg/model_registry.hpp"
#include "scratch_files.hpp"

namespace {

namespace fs = std::filesystem;
using modelreg::Durability;
using modelreg::ModelRegistry;
using modelreg::ModelStage;
using modelreg::RegisterOptions;
using modelreg::bench::BenchMode;
using modelreg::bench::ScratchDir;
using Clock = std::chrono::steady_clock;

constexpr const char* kModel = "bench-model";
constexpr std::size_t kMiB = std::size_t{1} << 20;

BenchMode g_mode;
std::unique_ptr<ScratchDir> g_scratch;  // every directory of this process lives in here

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// What MLflow's registry benchmark registers: 3 tags and a description per version.
RegisterOptions mlflow_like_options() {
  RegisterOptions options;
  options.framework = modelreg::ModelFramework::PyTorch;
  options.tags = {{"team", "vision-platform"},
                  {"dataset", "imagenet-2012-train"},
                  {"git_commit", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"}};
  options.description =
      "ResNet-50 fine-tuned on ImageNet-2012 by the nightly sweep; candidate for serving.";
  return options;
}

// ---------------------------------------------------------------------------------------------
// Populated registries, one per (backend, N), built on first use and kept for the whole run.

enum class Backend { InMemory, SqliteFull, SqliteRelaxed };

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::InMemory:
      return "memory";
    case Backend::SqliteFull:
      return "sqlite_full";
    case Backend::SqliteRelaxed:
      return "sqlite_relaxed";
  }
  return "?";
}

// Registers versions "1".."n" of kModel and promotes version n/2 + 1 to Production.
void populate(ModelRegistry& registry, std::size_t n) {
  RegisterOptions options = mlflow_like_options();
  for (std::size_t i = 1; i <= n; ++i) {
    registry.register_version(kModel, std::to_string(i), options);
  }
  registry.transition_stage(kModel, std::to_string(n / 2 + 1), ModelStage::Production);
}

struct SqlitePopulation {
  fs::path dir;
  std::unique_ptr<ModelRegistry> full;
  std::unique_ptr<ModelRegistry> relaxed;
  std::unique_ptr<ModelRegistry> uncached;  // Relaxed, list cache off
};

std::map<std::size_t, std::unique_ptr<ModelRegistry>> g_memory;
std::map<std::size_t, SqlitePopulation> g_sqlite;

SqlitePopulation& sqlite_population(std::size_t n) {
  auto it = g_sqlite.find(n);
  if (it != g_sqlite.end()) return it->second;
  SqlitePopulation population;
  population.dir = g_scratch->path() / ("sqlite-" + std::to_string(n));
  const auto start = Clock::now();
  modelreg::OpenOptions relaxed;
  relaxed.durability = Durability::Relaxed;
  population.relaxed =
      std::make_unique<ModelRegistry>(ModelRegistry::open(population.dir, relaxed));
  populate(*population.relaxed, n);
  population.full = std::make_unique<ModelRegistry>(ModelRegistry::open(population.dir));
  modelreg::OpenOptions uncached = relaxed;
  uncached.list_cache_versions = 0;
  population.uncached =
      std::make_unique<ModelRegistry>(ModelRegistry::open(population.dir, uncached));
  std::fprintf(stderr, "# populated SQLite registry with %zu versions in %.2f s (%s)\n", n,
               seconds_since(start), population.dir.c_str());
  return g_sqlite.emplace(n, std::move(population)).first->second;
}

ModelRegistry& memory_population(std::size_t n) {
  auto& registry = g_memory[n];
  if (!registry) {
    const auto start = Clock::now();
    registry = std::make_unique<ModelRegistry>();
    populate(*registry, n);
    std::fprintf(stderr, "# populated in-memory registry with %zu versions in %.2f s\n", n,
                 seconds_since(start));
  }
  return *registry;
}

// The registry a benchmark measures.
ModelRegistry& registry_for(Backend backend, std::size_t n) {
  switch (backend) {
    case Backend::InMemory:
      return memory_population(n);
    case Backend::SqliteFull:
      return *sqlite_population(n).full;
    case Backend::SqliteRelaxed:
      return *sqlite_population(n).relaxed;
  }
  throw std::logic_error("unknown backend");
}

// The registry that cleans up after a benchmark (no fsync per commit where there is a choice).
ModelRegistry& cleanup_registry_for(Backend backend, std::size_t n) {
  return backend == Backend::InMemory ? memory_population(n) : *sqlite_population(n).relaxed;
}

std::string next_unique_version() {
  static std::uint64_t counter = 0;
  return "r" + std::to_string(++counter);
}

// ---------------------------------------------------------------------------------------------
// Registry operations.

void BM_Register(benchmark::State& state, Backend backend, std::size_t artifact_bytes) {
  const auto n = static_cast<std::size_t>(state.range(0));
  ModelRegistry& registry = registry_for(backend, n);
  RegisterOptions options = mlflow_like_options();
  if (artifact_bytes > 0) {
    modelreg::Bytes artifact(artifact_bytes);
    for (std::size_t i = 0; i < artifact.size(); ++i) {
      artifact[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 13);
    }
    options.artifact = std::move(artifact);
  }
  std::vector<std::string> added;
  for (auto _ : state) {
    std::string version = next_unique_version();
    registry.register_version(kModel, version, options);
    added.push_back(std::move(version));
  }
  state.SetItemsProcessed(state.iterations());
  if (artifact_bytes > 0) {
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(artifact_bytes));
  }
  // Untimed: back to N versions for the next benchmark.
  ModelRegistry& cleanup = cleanup_registry_for(backend, n);
  for (const auto& version : added) cleanup.delete_version(kModel, version);
}

void BM_Promote(benchmark::State& state, Backend backend) {
  const auto n = static_cast<std::size_t>(state.range(0));
  ModelRegistry& registry = registry_for(backend, n);
  std::size_t i = 0;
  for (auto _ : state) {
    i = i % n + 1;
    auto promoted = registry.transition_stage(kModel, std::to_string(i), ModelStage::Production);
    benchmark::DoNotOptimize(promoted);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_GetProduction(benchmark::State& state, Backend backend) {
  ModelRegistry& registry = registry_for(backend, static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto version = registry.get_production_model(kModel);
    if (!version) {
      state.SkipWithError("no Production version");
      break;
    }
    benchmark::DoNotOptimize(version);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_GetLatest(benchmark::State& state, Backend backend) {
  ModelRegistry& registry = registry_for(backend, static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto version = registry.get_latest(kModel);
    benchmark::DoNotOptimize(version);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_GetVersion(benchmark::State& state, Backend backend) {
  const auto n = static_cast<std::size_t>(state.range(0));
  ModelRegistry& registry = registry_for(backend, n);
  std::size_t i = 0;
  for (auto _ : state) {
    i = (i + 7919) % n;  // a stride through the whole model, not one hot row
    auto version = registry.get_version(kModel, std::to_string(i + 1));
    benchmark::DoNotOptimize(version);
  }
  state.SetItemsProcessed(state.iterations());
}

// Lists all N versions of kModel through `registry` per iteration.
void list_all_versions(benchmark::State& state, ModelRegistry& registry, std::size_t n) {
  std::size_t returned = 0;
  for (auto _ : state) {
    auto versions = registry.list_versions(kModel);
    returned = versions.size();
    benchmark::DoNotOptimize(versions);
  }
  if (returned != n) state.SkipWithError("list_versions did not return every version");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(returned));
  state.counters["versions"] = static_cast<double>(returned);
}

void BM_ListVersions(benchmark::State& state, Backend backend) {
  const auto n = static_cast<std::size_t>(state.range(0));
  list_all_versions(state, registry_for(backend, n), n);
}

// list_versions decoding every row: the list cache turned off.
void BM_ListUncached(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  list_all_versions(state, *sqlite_population(n).uncached, n);
}

void BM_ListInStage(benchmark::State& state, Backend backend) {
  ModelRegistry& registry = registry_for(backend, static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto versions = registry.list_versions(kModel, ModelStage::Production);
    if (versions.size() != 1) {
      state.SkipWithError("expected exactly one Production version");
      break;
    }
    benchmark::DoNotOptimize(versions);
  }
  state.SetItemsProcessed(state.iterations());
}

// Opening the existing registry (catalog checks, WAL, recovery scan, owner lease); the close
// that follows is not timed.
void BM_Open(benchmark::State& state, Durability durability) {
  const fs::path dir = sqlite_population(static_cast<std::size_t>(state.range(0))).dir;
  modelreg::OpenOptions options;
  options.durability = durability;
  for (auto _ : state) {
    const auto start = Clock::now();
    ModelRegistry registry = ModelRegistry::open(dir, options);
    state.SetIterationTime(seconds_since(start));
    benchmark::DoNotOptimize(registry);
  }
  state.SetItemsProcessed(state.iterations());
}

// ---------------------------------------------------------------------------------------------
// Baselines: SQLite's own cost for the statements behind each operation, through the raw C API,
// on a table shaped like modelreg's (same row size and unique indexes), in WAL mode.

// SQLite's synchronous setting under which a catalog of `durability` commits.
const char* synchronous_of(Durability durability) {
  return durability == Durability::Full ? "FULL" : "NORMAL";
}

class RawDatabase {
 public:
  RawDatabase(const fs::path& path, const char* synchronous) {
    check(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr));
    // What a writer sharing the database with other processes sets (5 s, as the catalog).
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode = WAL");
    exec((std::string("PRAGMA synchronous = ") + synchronous).c_str());
    exec(
        "CREATE TABLE IF NOT EXISTS versions (id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL,"
        " version TEXT NOT NULL, seq INTEGER NOT NULL, stage TEXT NOT NULL, framework TEXT NOT"
        " NULL, tags TEXT NOT NULL, description TEXT NOT NULL, metrics TEXT NOT NULL,"
        " parameters TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
        " UNIQUE (model_id, version));"
        "CREATE UNIQUE INDEX IF NOT EXISTS by_seq ON versions (model_id, seq);"
        "CREATE UNIQUE INDEX IF NOT EXISTS one_production ON versions (model_id)"
        " WHERE stage = 'production';"
        // For promote_txn_history: the models table the catalog's lookups join and the history
        // table, as in the catalog's schema.
        "CREATE TABLE IF NOT EXISTS models (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "INSERT OR IGNORE INTO models (id, name) VALUES (1, 'bench-model');"
        "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
        " type TEXT NOT NULL, model_name TEXT NOT NULL, version TEXT NOT NULL, key TEXT NOT NULL,"
        " old_value TEXT, new_value TEXT, actor TEXT NOT NULL, reason TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS events_by_model ON events (model_name, seq);"
        "CREATE TABLE IF NOT EXISTS version_tags (key TEXT NOT NULL, value TEXT NOT NULL,"
        " version_id INTEGER NOT NULL, PRIMARY KEY (key, value, version_id)) WITHOUT ROWID;");
  }
  ~RawDatabase() {
    for (auto* statement : statements_) sqlite3_finalize(statement);
    sqlite3_close(db_);
  }
  RawDatabase(const RawDatabase&) = delete;
  RawDatabase& operator=(const RawDatabase&) = delete;

  void exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error != nullptr ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error(std::string("sqlite: ") + message + " in " + sql);
    }
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    check(sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr));
    statements_.push_back(statement);
    return statement;
  }
  // Runs a statement that returns no rows, then resets it.
  void run(sqlite3_stmt* statement) {
    const int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (rc != SQLITE_DONE) check(rc);
  }
  sqlite3* handle() const { return db_; }
  void check(int rc) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    }
  }

 private:
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> statements_;
};

constexpr const char* kInsertSql =
    "INSERT INTO versions (model_id, version, seq, stage, framework, tags, description, metrics,"
    " parameters, created_at, updated_at) VALUES (?1, ?2, ?3, 'development', 'pytorch', ?4, ?5,"
    " '{}', '{}', ?6, ?6)";

// Binds one MLflow-like row (the same tags and description as the registry benchmarks).
void bind_row(sqlite3_stmt* insert, std::int64_t model_id, std::int64_t seq) {
  static const std::string tags =
      R"({"dataset":"imagenet-2012-train","git_commit":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",)"
      R"("team":"vision-platform"})";
  static const std::string description = mlflow_like_options().description;
  const std::string version = std::to_string(seq);
  sqlite3_bind_int64(insert, 1, model_id);
  sqlite3_bind_text(insert, 2, version.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(insert, 3, seq);
  sqlite3_bind_text(insert, 4, tags.c_str(), -1, SQLITE_STATIC);
  sqlite3_bind_text(insert, 5, description.c_str(), -1, SQLITE_STATIC);
  sqlite3_bind_int64(insert, 6, seq * 1000);
}

// A raw database whose model 1 has `n` rows, with row n/2 + 1 in Production.
std::map<std::size_t, std::unique_ptr<RawDatabase>> g_raw;

RawDatabase& raw_population(std::size_t n) {
  auto& db = g_raw[n];
  if (!db) {
    db = std::make_unique<RawDatabase>(g_scratch->path() / ("raw-" + std::to_string(n) + ".db"),
                                       "NORMAL");
    sqlite3_stmt* insert = db->prepare(kInsertSql);
    db->exec("BEGIN");
    for (std::size_t i = 1; i <= n; ++i) {
      bind_row(insert, 1, static_cast<std::int64_t>(i));
      db->run(insert);
    }
    db->exec(("UPDATE versions SET stage = 'production' WHERE model_id = 1 AND seq = " +
              std::to_string(n / 2 + 1))
                 .c_str());
    db->exec("COMMIT");
  }
  return *db;
}

// BEGIN IMMEDIATE; INSERT one row; COMMIT — the floor under register_version.
void BM_RawInsertTxn(benchmark::State& state, const char* synchronous) {
  ScratchDir dir(g_scratch->path(), "raw-insert-");
  RawDatabase db(dir.path() / "raw.db", synchronous);
  sqlite3_stmt* begin = db.prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* insert = db.prepare(kInsertSql);
  sqlite3_stmt* commit = db.prepare("COMMIT");
  std::int64_t seq = 0;
  for (auto _ : state) {
    db.run(begin);
    bind_row(insert, 1, ++seq);
    db.run(insert);
    db.run(commit);
  }
  state.SetItemsProcessed(state.iterations());
}

// The statements the catalog's registration (without an artifact) runs, on the raw C API:
// BEGIN IMMEDIATE; find the model by name; check the version is new; read the model's last
// place; insert the history row, the version's row (at the next place) and its 3 tags'
// searchable rows; COMMIT. The floor under register_version now that every change is in the
// history and tags are indexed.
class RawRegistration {
 public:
  explicit RawRegistration(RawDatabase& db)
      : db_(db),
        begin_(db.prepare("BEGIN IMMEDIATE")),
        find_model_(db.prepare("SELECT id FROM models WHERE name = ?1")),
        find_key_(db.prepare("SELECT id FROM versions WHERE model_id = ?1 AND version = ?2")),
        last_place_(db.prepare(
            "SELECT seq, created_at FROM versions WHERE model_id = ?1 ORDER BY seq DESC LIMIT 1")),
        event_(db.prepare(
            "INSERT INTO events (time, type, model_name, version, key, old_value, new_value, "
            "actor, reason) VALUES (?1, 'version_registered', ?2, ?3, '', NULL, 'development', "
            "'bench@host', '') RETURNING seq")),
        insert_(db.prepare(kInsertSql)),
        tag_(db.prepare("INSERT INTO version_tags (key, value, version_id) VALUES (?1, ?2, ?3)")),
        commit_(db.prepare("COMMIT")),
        rollback_(db.prepare("ROLLBACK")),
        options_(mlflow_like_options()) {}

  // Registers `version` of kModel in one transaction. With `retry_busy`, a transaction that
  // meets another process's lock (SQLITE_BUSY once the busy timeout has passed) is rolled back
  // and run again, as any writer sharing a database must. Throws if the version exists.
  void run(const std::string& version, bool retry_busy = false) {
    for (;;) {
      try {
        attempt(version);
        return;
      } catch (const BusyError&) {
        if (!sqlite3_get_autocommit(db_.handle())) step_and_reset(rollback_);
        if (!retry_busy) throw std::runtime_error("sqlite: database is locked");
      }
    }
  }

 private:
  struct BusyError {};

  // Steps `statement` to its end and resets it; SQLITE_BUSY becomes BusyError.
  void step_and_reset(sqlite3_stmt* statement) {
    int rc = SQLITE_ROW;
    while (rc == SQLITE_ROW) rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) throw BusyError{};
    db_.check(rc);
  }

  void attempt(const std::string& version) {
    step_and_reset(begin_);
    sqlite3_bind_text(find_model_, 1, kModel, -1, SQLITE_STATIC);
    if (sqlite3_step(find_model_) != SQLITE_ROW) throw std::runtime_error("no model row");
    const std::int64_t model_id = sqlite3_column_int64(find_model_, 0);
    sqlite3_reset(find_model_);
    sqlite3_bind_int64(find_key_, 1, model_id);
    sqlite3_bind_text(find_key_, 2, version.c_str(), -1, SQLITE_TRANSIENT);
    const bool exists = sqlite3_step(find_key_) == SQLITE_ROW;
    sqlite3_reset(find_key_);
    if (exists) throw std::runtime_error("version " + version + " exists");
    sqlite3_bind_int64(last_place_, 1, model_id);
    const std::int64_t seq =
        (sqlite3_step(last_place_) == SQLITE_ROW ? sqlite3_column_int64(last_place_, 0) : 0) + 1;
    sqlite3_reset(last_place_);
    sqlite3_bind_int64(event_, 1, seq * 1000);
    sqlite3_bind_text(event_, 2, kModel, -1, SQLITE_STATIC);
    sqlite3_bind_text(event_, 3, version.c_str(), -1, SQLITE_TRANSIENT);
    step_and_reset(event_);
    bind_row(insert_, model_id, seq);
    sqlite3_bind_text(insert_, 2, version.c_str(), -1, SQLITE_TRANSIENT);
    step_and_reset(insert_);
    const std::int64_t version_id = sqlite3_last_insert_rowid(db_.handle());
    for (const auto& [key, value] : options_.tags) {
      sqlite3_bind_text(tag_, 1, key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(tag_, 2, value.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(tag_, 3, version_id);
      step_and_reset(tag_);
    }
    step_and_reset(commit_);
  }

  RawDatabase& db_;
  sqlite3_stmt* begin_;
  sqlite3_stmt* find_model_;
  sqlite3_stmt* find_key_;
  sqlite3_stmt* last_place_;
  sqlite3_stmt* event_;
  sqlite3_stmt* insert_;
  sqlite3_stmt* tag_;
  sqlite3_stmt* commit_;
  sqlite3_stmt* rollback_;
  RegisterOptions options_;
};

void BM_RawRegisterTxnHistory(benchmark::State& state, const char* synchronous) {
  ScratchDir dir(g_scratch->path(), "raw-register-");
  RawDatabase db(dir.path() / "raw.db", synchronous);
  RawRegistration registration(db);
  std::int64_t seq = 0;
  for (auto _ : state) {
    try {
      registration.run(std::to_string(++seq));
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// The number of version rows in a raw database.
std::size_t raw_row_count(const fs::path& path) {
  RawDatabase db(path, "NORMAL");
  sqlite3_stmt* count = db.prepare("SELECT count(*) FROM versions");
  const auto rows = sqlite3_step(count) == SQLITE_ROW ? sqlite3_column_int64(count, 0) : -1;
  sqlite3_reset(count);
  return static_cast<std::size_t>(rows);
}

// ---------------------------------------------------------------------------------------------
// Writer processes registering into one database at once.

// The raw database of BM_ConcurrentRegister's raw writers, in `dir`.
fs::path raw_concurrent_path(const fs::path& dir) {
  return dir / "raw.db";
}

// How the writers of BM_ConcurrentRegister write.
enum class WriterKind {
  Registry,  // ModelRegistry::open(dir)
  Raw,       // RawRegistration on a raw database
};
const char* const kWriterKinds[] = {"registry", "raw"};

// One writer process of BM_ConcurrentRegister (this program, exec'd with --concurrent-writer):
// opens the registry (or the raw database), reports on `ready_fd`, waits until `go_fd` reaches
// end of file, then registers its versions. Returns the exit status.
int run_concurrent_writer(char** args) {
  const fs::path dir = args[0];
  const Durability durability =
      std::string(args[1]) == "full" ? Durability::Full : Durability::Relaxed;
  const std::string kind = args[2];
  const std::string writer = args[3];
  const int per_process = std::stoi(args[4]);
  const int ready_fd = std::stoi(args[5]);
  const int go_fd = std::stoi(args[6]);
  const auto start_line = [&] {
    char byte = 'r';
    if (::write(ready_fd, &byte, 1) != 1) return false;
    ::close(ready_fd);
    while (::read(go_fd, &byte, 1) > 0) {
    }
    return true;
  };
  const auto version = [&](int i) { return "p" + writer + "-" + std::to_string(i); };
  try {
    if (kind == "raw") {
      RawDatabase db(raw_concurrent_path(dir), synchronous_of(durability));
      RawRegistration registration(db);
      if (!start_line()) return 2;
      for (int i = 0; i < per_process; ++i) registration.run(version(i), /*retry_busy=*/true);
      return 0;
    }
    modelreg::OpenOptions options;
    options.durability = durability;
    ModelRegistry registry = ModelRegistry::open(dir, options);
    RegisterOptions register_options = mlflow_like_options();
    if (!start_line()) return 2;
    for (int i = 0; i < per_process; ++i) {
      registry.register_version(kModel, version(i), register_options);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "concurrent writer %s failed: %s\n", writer.c_str(), e.what());
    return 1;
  }
  return 0;
}

// `processes` writer processes, each with its own ModelRegistry::open of one fresh registry,
// register `per_process` versions each into the same model. Timed from the moment all of them
// have opened the registry until the last one has exited; items/s is versions/s in total.
// WriterKind::Raw writers run RawRegistration's statements on one fresh raw database instead,
// each with SQLite's own busy handler (sqlite3_busy_timeout): the engine's own rate for this
// workload, the baseline of the registry's.
//
// The writers are fork + exec of this program, not bare forks: a child forked from a process
// that already used modelreg inherits its random generator state, so every child would draw the
// same owner name and block on the same owner lock file.
void BM_ConcurrentRegister(benchmark::State& state, Durability durability, WriterKind kind) {
  const bool raw = kind == WriterKind::Raw;
  const auto processes = static_cast<int>(state.range(0));
  const auto per_process = static_cast<int>(state.range(1));
  modelreg::OpenOptions options;
  options.durability = durability;
  for (auto _ : state) {
    ScratchDir dir(g_scratch->path(), "concurrent-");
    // Create the schema before the clock starts.
    if (raw) {
      RawDatabase(raw_concurrent_path(dir.path()), synchronous_of(durability));
    } else {
      ModelRegistry::open(dir.path(), options);
    }
    int ready[2];
    int go[2];
    if (::pipe(ready) != 0 || ::pipe(go) != 0) {
      state.SkipWithError("pipe failed");
      break;
    }
    // Only the ends the writers use survive exec.
    ::fcntl(ready[0], F_SETFD, FD_CLOEXEC);
    ::fcntl(go[1], F_SETFD, FD_CLOEXEC);
    std::fflush(nullptr);
    std::vector<pid_t> children;
    for (int p = 0; p < processes; ++p) {
      std::vector<std::string> args = {"/proc/self/exe",
                                       "--concurrent-writer",
                                       dir.path().string(),
                                       durability == Durability::Full ? "full" : "relaxed",
                                       kWriterKinds[static_cast<int>(kind)],
                                       std::to_string(p),
                                       std::to_string(per_process),
                                       std::to_string(ready[1]),
                                       std::to_string(go[0])};
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      if (pid < 0) break;
      children.push_back(pid);
    }
    ::close(ready[1]);
    ::close(go[0]);
    char byte;
    for (std::size_t i = 0; i < children.size(); ++i) {
      if (::read(ready[0], &byte, 1) != 1) break;
    }
    const auto start = Clock::now();
    ::close(go[1]);
    bool ok = children.size() == static_cast<std::size_t>(processes);
    for (const pid_t pid : children) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    state.SetIterationTime(seconds_since(start));
    ::close(ready[0]);
    const auto registered =
        raw ? raw_row_count(raw_concurrent_path(dir.path()))
            : ModelRegistry::open(dir.path(), options).list_versions(kModel).size();
    if (!ok || registered != static_cast<std::size_t>(processes * per_process)) {
      state.SkipWithError("a concurrent writer failed or versions are missing");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * processes * per_process);
}

// BEGIN IMMEDIATE; archive the Production row; promote another; COMMIT — the floor under
// transition_stage(..., Production).
void BM_RawPromoteTxn(benchmark::State& state, const char* synchronous) {
  const auto n = static_cast<std::int64_t>(state.range(0));
  RawDatabase& db = raw_population(static_cast<std::size_t>(n));
  db.exec((std::string("PRAGMA synchronous = ") + synchronous).c_str());
  sqlite3_stmt* begin = db.prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* archive = db.prepare(
      "UPDATE versions SET stage = 'archived', updated_at = ?2 WHERE model_id = ?1 AND stage = "
      "'production'");
  sqlite3_stmt* promote = db.prepare(
      "UPDATE versions SET stage = 'production', updated_at = ?3 WHERE model_id = ?1 "
      "AND version = ?2");
  sqlite3_stmt* commit = db.prepare("COMMIT");
  std::int64_t i = 0;
  for (auto _ : state) {
    i = i % n + 1;
    const std::string version = std::to_string(i);
    db.run(begin);
    sqlite3_bind_int64(archive, 1, 1);
    sqlite3_bind_int64(archive, 2, i);
    db.run(archive);
    sqlite3_bind_int64(promote, 1, 1);
    sqlite3_bind_text(promote, 2, version.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(promote, 3, i);
    db.run(promote);
    db.run(commit);
  }
  state.SetItemsProcessed(state.iterations());
  db.exec("PRAGMA synchronous = NORMAL");
}

// The statements the catalog's promotion runs, on the raw C API: BEGIN IMMEDIATE; read the
// version's key by model name; find the other Production version; archive it and record that
// in the history; promote the version and record that; COMMIT. The floor under
// transition_stage(..., Production) now that every change is in the history.
void BM_RawPromoteTxnHistory(benchmark::State& state, const char* synchronous) {
  const auto n = static_cast<std::int64_t>(state.range(0));
  RawDatabase& db = raw_population(static_cast<std::size_t>(n));
  db.exec((std::string("PRAGMA synchronous = ") + synchronous).c_str());
  sqlite3_stmt* begin = db.prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* find = db.prepare(
      "SELECT v.id, v.model_id, v.stage FROM models m JOIN versions v ON v.model_id = m.id "
      "WHERE m.name = ?1 AND v.version = ?2");
  sqlite3_stmt* other = db.prepare(
      "SELECT id, version FROM versions WHERE model_id = ?1 AND stage = 'production' AND id != ?2");
  sqlite3_stmt* set_stage =
      db.prepare("UPDATE versions SET stage = ?2, updated_at = ?3 WHERE id = ?1");
  sqlite3_stmt* event = db.prepare(
      "INSERT INTO events (time, type, model_name, version, key, old_value, new_value, actor, "
      "reason) VALUES (?1, 'stage_changed', 'bench-model', ?2, '', ?3, ?4, 'bench@host', '') "
      "RETURNING seq");
  sqlite3_stmt* commit = db.prepare("COMMIT");
  const auto record = [&](const std::string& version, const char* from, const char* to,
                          std::int64_t time) {
    sqlite3_bind_int64(event, 1, time);
    sqlite3_bind_text(event, 2, version.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(event, 3, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(event, 4, to, -1, SQLITE_STATIC);
    while (sqlite3_step(event) == SQLITE_ROW) {
    }
    sqlite3_reset(event);
  };
  std::int64_t i = 0;
  for (auto _ : state) {
    i = i % n + 1;
    const std::string version = std::to_string(i);
    db.run(begin);
    sqlite3_bind_text(find, 1, "bench-model", -1, SQLITE_STATIC);
    sqlite3_bind_text(find, 2, version.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(find) != SQLITE_ROW) {
      state.SkipWithError("no such version");
      break;
    }
    const std::int64_t id = sqlite3_column_int64(find, 0);
    const std::int64_t model_id = sqlite3_column_int64(find, 1);
    const std::string stage = reinterpret_cast<const char*>(sqlite3_column_text(find, 2));
    sqlite3_reset(find);
    sqlite3_bind_int64(other, 1, model_id);
    sqlite3_bind_int64(other, 2, id);
    if (sqlite3_step(other) == SQLITE_ROW) {
      const std::int64_t previous = sqlite3_column_int64(other, 0);
      const std::string previous_version =
          reinterpret_cast<const char*>(sqlite3_column_text(other, 1));
      sqlite3_reset(other);
      sqlite3_bind_int64(set_stage, 1, previous);
      sqlite3_bind_text(set_stage, 2, "archived", -1, SQLITE_STATIC);
      sqlite3_bind_int64(set_stage, 3, i);
      db.run(set_stage);
      record(previous_version, "production", "archived", i);
    } else {
      sqlite3_reset(other);
    }
    sqlite3_bind_int64(set_stage, 1, id);
    sqlite3_bind_text(set_stage, 2, "production", -1, SQLITE_STATIC);
    sqlite3_bind_int64(set_stage, 3, i);
    db.run(set_stage);
    if (stage != "production") record(version, stage.c_str(), "production", i);
    db.run(commit);
  }
  state.SetItemsProcessed(state.iterations());
  db.exec("PRAGMA synchronous = NORMAL");
}

struct RawRow {
  std::string version, stage, framework, tags, description, metrics, parameters;
  std::int64_t seq = 0, created_at = 0, updated_at = 0;
};

RawRow read_raw_row(sqlite3_stmt* row) {
  auto text = [&](int column) {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(row, column));
    return data != nullptr
               ? std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(row, column)))
               : std::string();
  };
  RawRow r;
  r.version = text(0);
  r.seq = sqlite3_column_int64(row, 1);
  r.stage = text(2);
  r.framework = text(3);
  r.tags = text(4);
  r.description = text(5);
  r.metrics = text(6);
  r.parameters = text(7);
  r.created_at = sqlite3_column_int64(row, 8);
  r.updated_at = sqlite3_column_int64(row, 9);
  return r;
}

#define RAW_COLUMNS \
  "version, seq, stage, framework, tags, description, metrics, parameters, created_at, updated_at"

// One indexed row into strings — the floor under get_production_model / get_latest.
void BM_RawSelectOne(benchmark::State& state) {
  RawDatabase& db = raw_population(static_cast<std::size_t>(state.range(0)));
  sqlite3_stmt* select = db.prepare("SELECT " RAW_COLUMNS
                                    " FROM versions WHERE model_id = ?1 AND stage = 'production'");
  for (auto _ : state) {
    sqlite3_bind_int64(select, 1, 1);
    if (sqlite3_step(select) != SQLITE_ROW) {
      state.SkipWithError("no row");
      break;
    }
    RawRow row = read_raw_row(select);
    benchmark::DoNotOptimize(row);
    sqlite3_reset(select);
  }
  state.SetItemsProcessed(state.iterations());
}

// Every row of the model in order, into strings — the floor under list_versions.
void BM_RawSelectAll(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  RawDatabase& db = raw_population(n);
  sqlite3_stmt* select =
      db.prepare("SELECT " RAW_COLUMNS " FROM versions WHERE model_id = ?1 ORDER BY seq");
  std::size_t returned = 0;
  for (auto _ : state) {
    std::vector<RawRow> rows;
    sqlite3_bind_int64(select, 1, 1);
    while (sqlite3_step(select) == SQLITE_ROW) rows.push_back(read_raw_row(select));
    sqlite3_reset(select);
    returned = rows.size();
    benchmark::DoNotOptimize(rows);
  }
  if (returned != n) state.SkipWithError("wrong row count");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(returned));
  state.counters["versions"] = static_cast<double>(returned);
}

#undef RAW_COLUMNS

// ---------------------------------------------------------------------------------------------

void register_benchmarks(const BenchMode& mode) {
  std::vector<std::int64_t> sizes{1000, 10000, 100000};
  if (mode.smoke()) sizes = {100};
  if (mode.mode == modelreg::bench::Mode::Default) sizes = {1000, 10000};
  const std::int64_t processes = 4;
  const std::int64_t per_process = mode.smoke() ? 10 : 250;

  // Wall time (not CPU time) for every benchmark: the operations wait on I/O.
  auto with_sizes = [&](benchmark::internal::Benchmark* b, bool manual_time = false) {
    for (const auto n : sizes) b->Arg(n);
    b->Unit(benchmark::kMicrosecond);
    if (manual_time) {
      b->UseManualTime();
    } else {
      b->UseRealTime();
    }
  };
  const Backend backends[] = {Backend::InMemory, Backend::SqliteFull, Backend::SqliteRelaxed};
  using Fn = void (*)(benchmark::State&, Backend);
  const std::pair<const char*, Fn> lookups[] = {
      {"promote", BM_Promote},
      {"get_production", BM_GetProduction},
      {"get_latest", BM_GetLatest},
      {"get_version", BM_GetVersion},
      {"list_versions", BM_ListVersions},
      {"list_in_stage", BM_ListInStage},
  };
  for (const Backend backend : backends) {
    const std::string suffix = std::string("/") + backend_name(backend);
    with_sizes(benchmark::RegisterBenchmark(("register" + suffix).c_str(), BM_Register, backend,
                                            std::size_t{0}));
    with_sizes(benchmark::RegisterBenchmark(("register_1mib" + suffix).c_str(), BM_Register,
                                            backend, kMiB));
    for (const auto& [name, fn] : lookups) {
      with_sizes(benchmark::RegisterBenchmark((name + suffix).c_str(), fn, backend));
    }
  }
  with_sizes(benchmark::RegisterBenchmark("list_uncached/sqlite_relaxed", BM_ListUncached));
  for (const auto durability : {Durability::Full, Durability::Relaxed}) {
    const std::string suffix = durability == Durability::Full ? "/sqlite_full" : "/sqlite_relaxed";
    with_sizes(benchmark::RegisterBenchmark(("open" + suffix).c_str(), BM_Open, durability), true);
    for (const auto kind : {WriterKind::Registry, WriterKind::Raw}) {
      const std::string name = kind == WriterKind::Raw
                                   ? std::string("sqlite_raw/concurrent_register_txn_history/") +
                                         synchronous_of(durability)
                                   : "concurrent_register" + suffix;
      benchmark::RegisterBenchmark(name.c_str(), BM_ConcurrentRegister, durability, kind)
          ->Args({processes, per_process})
          ->Iterations(1)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const char* synchronous : {"FULL", "NORMAL"}) {
    const std::string suffix = std::string("/") + synchronous;
    benchmark::RegisterBenchmark(("sqlite_raw/insert_txn" + suffix).c_str(), BM_RawInsertTxn,
                                 synchronous)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("sqlite_raw/register_txn_history" + suffix).c_str(),
                                 BM_RawRegisterTxnHistory, synchronous)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    with_sizes(benchmark::RegisterBenchmark(("sqlite_raw/promote_txn" + suffix).c_str(),
                                            BM_RawPromoteTxn, synchronous));
    with_sizes(benchmark::RegisterBenchmark(("sqlite_raw/promote_txn_history" + suffix).c_str(),
                                            BM_RawPromoteTxnHistory, synchronous));
  }
  with_sizes(benchmark::RegisterBenchmark("sqlite_raw/select_one", BM_RawSelectOne));
  with_sizes(benchmark::RegisterBenchmark("sqlite_raw/select_all", BM_RawSelectAll));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 9 && std::string(argv[1]) == "--concurrent-writer") {
    return run_concurrent_writer(argv + 2);
  }
  g_mode = modelreg::bench::parse_bench_mode(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  modelreg::logger()->set_level(spdlog::level::warn);
  int status = 0;
  try {
    g_scratch = std::make_unique<ScratchDir>(g_mode.scratch_parent, "modelreg-registry-bench-");
    benchmark::AddCustomContext("modelreg_bench_mode", g_mode.name());
    benchmark::AddCustomContext("scratch_dir", g_scratch->path().string());
    register_benchmarks(g_mode);
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "registry_bench: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  g_memory.clear();
  g_sqlite.clear();
  g_raw.clear();
  g_scratch.reset();
  return status;
}

#include "modelreg/sqlite_metadata_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "json_fields.hpp"
#include "modelreg/error.hpp"
#include "modelreg/logging.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"
#include "sqlite/sqlite_handle.hpp"

namespace modelreg {
namespace {

using detail::Connection;
using detail::Statement;
using detail::Transaction;

// PRAGMA application_id of a modelreg database ("MREG"): tells our files from other SQLite
// databases without reading any table.
constexpr std::int32_t kApplicationId = 0x4D524547;

// The schema is built by steps, one per schema version (kSchemaSteps below): a new database
// runs them all, a database of an older version the ones after its own, in one BEGIN IMMEDIATE
// transaction that first checks the version again, so two processes opening the same file at
// once are safe.
//
// Version 1, the first schema.
// Times are int64 nanoseconds since the epoch (exact round trip of Timestamp); metrics,
// parameters and tags are JSON text; stages, frameworks and states are their lower-case names
// so that the file is readable with the sqlite3 shell.
constexpr const char* kCreateSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS models (
  -- AUTOINCREMENT: an id is never reused.
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL,
  tags        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  -- Bumped by the triggers below in every transaction that changed a version of the model,
  -- and checked by the list cache. Version 2 drops the triggers and renames the column.
  generation  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS versions (
  id              INTEGER PRIMARY KEY,
  model_id        INTEGER NOT NULL REFERENCES models (id),
  version         TEXT NOT NULL,
  -- Registration order within the model; NULL until a reserved version is published.
  seq             INTEGER,
  -- Equality chains rather than IN (...): SQLite builds a temporary index for an IN list on
  -- every row written, a quarter of the cost of a registration.
  state           TEXT NOT NULL
                  CHECK (state = 'visible' OR state = 'registering' OR state = 'deleting'),
  owner           TEXT,
  pending_since   INTEGER,
  stage           TEXT NOT NULL
                  CHECK (stage = 'development' OR stage = 'staging' OR stage = 'production'
                         OR stage = 'archived'),
  framework       TEXT NOT NULL,
  artifact_path   TEXT,
  artifact_size   INTEGER NOT NULL,
  artifact_sha256 TEXT NOT NULL,
  metrics         TEXT NOT NULL,
  parameters      TEXT NOT NULL,
  tags            TEXT NOT NULL,
  description     TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (model_id, version),
  CHECK ((state = 'visible') = (owner IS NULL)),
  CHECK (state = 'registering' OR seq IS NOT NULL)
);
-- Latest version and listing order.
CREATE UNIQUE INDEX IF NOT EXISTS versions_by_seq ON versions (model_id, seq);
-- The database itself guarantees at most one visible Production version per model.
CREATE UNIQUE INDEX IF NOT EXISTS versions_one_production ON versions (model_id)
  WHERE stage = 'production' AND state = 'visible';
CREATE TRIGGER IF NOT EXISTS versions_inserted AFTER INSERT ON versions BEGIN
  UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
END;
CREATE TRIGGER IF NOT EXISTS versions_updated AFTER UPDATE ON versions BEGIN
  UPDATE models SET generation = generation + 1 WHERE id = NEW.model_id;
END;
CREATE TRIGGER IF NOT EXISTS versions_deleted AFTER DELETE ON versions BEGIN
  UPDATE models SET generation = generation + 1 WHERE id = OLD.model_id;
END;
-- Crash recovery lists reservations without scanning every version.
CREATE INDEX IF NOT EXISTS versions_pending ON versions (pending_since, id)
  WHERE state <> 'visible';
)sql";

// Version 2: the list cache is checked against PRAGMA data_version, which changes with every
// commit of any connection, instead of a per-model generation. Bumping the generation from
// triggers made every write touch the model's row too: a third of the pages a promotion wrote
// and a third of its time. The column is renamed rather than dropped, so that a version 1
// process still running fails loudly ("no such column") instead of listing from a cache that
// nothing invalidates any more. (ALTER TABLE DROP COLUMN cannot rewrite the version 1 table
// definition, failing on the comment before the column, and rebuilding the table would need
// foreign keys off, which cannot change inside the upgrade's transaction.)
constexpr const char* kUpgradeToV2 = R"sql(
DROP TRIGGER IF EXISTS versions_inserted;
DROP TRIGGER IF EXISTS versions_updated;
DROP TRIGGER IF EXISTS versions_deleted;
ALTER TABLE models RENAME COLUMN generation TO retired_generation;
)sql";

// kSchemaSteps[i] turns a database of schema version i into one of version i + 1.
constexpr std::array<const char*, 2> kSchemaSteps = {kCreateSchemaV1, kUpgradeToV2};
static_assert(kSchemaSteps.size() == SqliteMetadataStore::kSchemaVersion,
              "one schema step per schema version");

// Columns decoded by read_version, in this order.
#define MODELREG_VERSION_COLUMNS                                                      \
  "m.name, v.version, v.stage, v.framework, v.artifact_path, v.artifact_size, "       \
  "v.artifact_sha256, v.metrics, v.parameters, v.tags, v.description, v.created_at, " \
  "v.updated_at"

// Every statement the store runs, cached per connection under its index.
enum Sql : std::size_t {
  kFindModel,
  kInsertModel,
  kFindKey,
  kFindKeyWithVersion,
  kLastPlace,
  kInsertVersion,
  kPublish,
  kDeleteVersion,
  kDeleteModelIfEmpty,
  kReserveForDelete,
  kRestoreVisible,
  kSetOwner,
  kArchiveProduction,
  kSetStage,
  kOtherProduction,
  kVersionById,
  kGetVersion,
  kLatest,
  kProduction,
  kListVersions,
  kListDevelopment,
  kListStaging,
  kListProduction,
  kListArchived,
  kGetModel,
  kDataVersion,
  kListModels,
  kListPending,
  kSqlCount
};

constexpr std::array<std::string_view, kSqlCount> kSqlText = {
    // kFindModel
    "SELECT id FROM models WHERE name = ?1",
    // kInsertModel
    "INSERT INTO models (name, description, tags, created_at) VALUES (?1, '', '{}', ?2)",
    // kFindKey
    "SELECT v.id, v.model_id, v.state, v.owner, v.stage FROM models m "
    "JOIN versions v ON v.model_id = m.id WHERE m.name = ?1 AND v.version = ?2",
    // kFindKeyWithVersion: kFindKey followed by MODELREG_VERSION_COLUMNS (from column 5), so
    // that set_stage need not read the row again after updating it.
    "SELECT v.id, v.model_id, v.state, v.owner, v.stage, " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id WHERE m.name = ?1 AND v.version = ?2",
    // kLastPlace: the last place taken in the model's registration order and its created_at,
    // over every row of the model, pending deletions included, so that a cancelled deletion gets
    // its place back without a collision. Served by versions_by_seq, NULLs (reservations) last.
    "SELECT seq, created_at FROM versions WHERE model_id = ?1 AND seq IS NOT NULL "
    "ORDER BY seq DESC LIMIT 1",
    // kInsertVersion
    "INSERT INTO versions (model_id, version, seq, state, owner, pending_since, stage, "
    "framework, artifact_path, artifact_size, artifact_sha256, metrics, parameters, tags, "
    "description, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    // kPublish
    "UPDATE versions SET state = 'visible', owner = NULL, pending_since = NULL, seq = ?2, "
    "artifact_path = ?3, artifact_size = ?4, artifact_sha256 = ?5, created_at = ?6, "
    "updated_at = ?6 WHERE id = ?1",
    // kDeleteVersion
    "DELETE FROM versions WHERE id = ?1",
    // kDeleteModelIfEmpty: a model lives as long as it has a version in any state.
    "DELETE FROM models WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM versions WHERE model_id = ?1)",
    // kReserveForDelete
    "UPDATE versions SET state = 'deleting', owner = ?2, pending_since = ?3 WHERE id = ?1",
    // kRestoreVisible
    "UPDATE versions SET state = 'visible', owner = NULL, pending_since = NULL, stage = ?2 "
    "WHERE id = ?1",
    // kSetOwner
    "UPDATE versions SET owner = ?2 WHERE id = ?1",
    // kArchiveProduction
    "UPDATE versions SET stage = 'archived', updated_at = ?2 "
    "WHERE model_id = ?1 AND stage = 'production' AND state = 'visible' AND id <> ?3",
    // kSetStage
    "UPDATE versions SET stage = ?2, updated_at = ?3 WHERE id = ?1",
    // kOtherProduction
    "SELECT 1 FROM versions "
    "WHERE model_id = ?1 AND stage = 'production' AND state = 'visible' AND id <> ?2",
    // kVersionById
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM versions v JOIN models m ON m.id = v.model_id WHERE v.id = ?1",
    // kGetVersion
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id "
    "WHERE m.name = ?1 AND v.version = ?2 AND v.state = 'visible'",
    // kLatest
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id "
    "WHERE m.name = ?1 AND v.state = 'visible' ORDER BY v.seq DESC LIMIT 1",
    // kProduction: the literal conditions match versions_one_production, which serves it.
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id "
    "WHERE m.name = ?1 AND v.stage = 'production' AND v.state = 'visible'",
    // kListVersions
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id "
    "WHERE m.name = ?1 AND v.state = 'visible' ORDER BY v.seq",
    // kListDevelopment .. kListArchived: the stage is part of the text, not a parameter, so
    // that the plan is fixed (a bound stage makes SQLite re-prepare on every call to decide
    // whether versions_one_production applies).
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id "
    "WHERE m.name = ?1 AND v.state = 'visible' AND v.stage = 'development' ORDER BY v.seq",
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id "
    "WHERE m.name = ?1 AND v.state = 'visible' AND v.stage = 'staging' ORDER BY v.seq",
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id "
    "WHERE m.name = ?1 AND v.state = 'visible' AND v.stage = 'production' ORDER BY v.seq",
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id "
    "WHERE m.name = ?1 AND v.state = 'visible' AND v.stage = 'archived' ORDER BY v.seq",
    // kGetModel
    "SELECT description, tags, created_at FROM models WHERE name = ?1",
    // kDataVersion: changes whenever another connection (in this process or another) committed
    // since this connection's last read.
    "PRAGMA data_version",
    // kListModels: a model whose versions are all pending is not visible either. BINARY
    // collation sorts like std::string's operator<.
    "SELECT name FROM models m WHERE EXISTS "
    "(SELECT 1 FROM versions v WHERE v.model_id = m.id AND v.state = 'visible') ORDER BY name",
    // kListPending
    "SELECT m.name, v.version, v.state, v.owner, v.artifact_path, v.pending_since "
    "FROM versions v JOIN models m ON m.id = v.model_id "
    "WHERE v.state <> 'visible' ORDER BY v.pending_since, v.id",
};

#undef MODELREG_VERSION_COLUMNS

constexpr std::string_view kVisible = "visible";
constexpr std::string_view kRegistering = "registering";
constexpr std::string_view kDeleting = "deleting";

detail::StatementUse use(Connection& connection, Sql sql) {
  return connection.use(sql, kSqlText[sql]);
}

std::int64_t to_nanos(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Timestamp from_nanos(std::int64_t nanos) {
  return Timestamp(
      std::chrono::duration_cast<Timestamp::duration>(std::chrono::nanoseconds(nanos)));
}

// JSON cannot hold NaN or infinities (nlohmann writes them as null, which ModelMetrics'
// from_json rejects), so non-finite metrics are stored as strings and turned back on reading.
void encode_non_finite(nlohmann::json& object) {
  for (auto& value : object) {
    if (!value.is_number_float()) continue;
    const double number = value.get<double>();
    if (std::isnan(number)) {
      value = "NaN";
    } else if (std::isinf(number)) {
      value = number > 0 ? "Infinity" : "-Infinity";
    }
  }
}

void decode_non_finite(nlohmann::json& object) {
  for (auto& value : object) {
    if (!value.is_string()) continue;
    const auto& text = value.get_ref<const std::string&>();
    if (text == "NaN") {
      value = std::numeric_limits<double>::quiet_NaN();
    } else if (text == "Infinity") {
      value = std::numeric_limits<double>::infinity();
    } else if (text == "-Infinity") {
      value = -std::numeric_limits<double>::infinity();
    }
  }
}

// Serialises a caller's value; nlohmann refuses strings that are not valid UTF-8, which the
// caller has to fix, so that is an InvalidArgumentError rather than a storage failure.
std::string dump_json(const nlohmann::json& json, std::string_view field,
                      const std::string& full_name) {
  try {
    return json.dump();
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgumentError(
        fmt::format("{} of {} cannot be stored as JSON: {}", field, full_name, e.what()));
  }
}

std::string encode_metrics(const ModelMetrics& metrics, const std::string& full_name) {
  nlohmann::json json = metrics;
  if (json.is_object()) {
    encode_non_finite(json);
    if (auto custom = json.find("custom"); custom != json.end() && custom->is_object()) {
      encode_non_finite(*custom);
    }
  }
  return dump_json(json, "metrics", full_name);
}

ModelMetrics decode_metrics(std::string_view text) {
  nlohmann::json json = nlohmann::json::parse(text);
  if (json.is_object()) {
    decode_non_finite(json);
    if (auto custom = json.find("custom"); custom != json.end() && custom->is_object()) {
      decode_non_finite(*custom);
    }
  }
  return json.get<ModelMetrics>();
}

// The JSON-encoded fields of a version, computed before the write transaction starts so that
// an unencodable value fails without ever taking the write lock.
struct EncodedVersion {
  std::string metrics;
  std::string parameters;
  std::string tags;
};

EncodedVersion encode_version(const ModelVersion& version) {
  const std::string full_name = version.full_name();
  return EncodedVersion{encode_metrics(version.metrics, full_name),
                        dump_json(version.parameters, "parameters", full_name),
                        dump_json(nlohmann::json(version.tags), "tags", full_name)};
}

// Decodes the MODELREG_VERSION_COLUMNS of the current row. A row that does not decode was not
// written by this code: the database is damaged, hence DataLossError.
ModelVersion read_version(const Statement& row, const std::string& path, int first = 0) {
  ModelVersion version;
  version.model_name = row.text(first + 0);
  version.version = row.text(first + 1);
  try {
    version.stage = parse_stage(row.text_view(first + 2));
    version.framework = parse_framework(row.text_view(first + 3));
    version.artifact_path = row.optional_text(first + 4);
    version.artifact_size = static_cast<std::uint64_t>(row.int64(first + 5));
    version.artifact_sha256 = row.text(first + 6);
    // "{}" is the common case of all three and needs no parser.
    if (row.text_view(first + 7) != "{}")
      version.metrics = decode_metrics(row.text_view(first + 7));
    if (row.text_view(first + 8) != "{}")
      version.parameters = nlohmann::json::parse(row.text_view(first + 8));
    if (row.text_view(first + 9) != "{}") {
      version.tags = detail::parse_string_map(row.text_view(first + 9));
    }
    version.description = row.text(first + 10);
    version.created_at = from_nanos(row.int64(first + 11));
    version.updated_at = from_nanos(row.int64(first + 12));
  } catch (const DataLossError&) {
    throw;
  } catch (const std::exception& e) {
    throw DataLossError(fmt::format("SQLite database '{}': the stored row of {} is corrupt: {}",
                                    path, version.full_name(), e.what()));
  }
  return version;
}

std::vector<ModelVersion> read_versions(detail::StatementUse& rows, const std::string& path) {
  std::vector<ModelVersion> versions;
  while (rows->step()) versions.push_back(read_version(*rows, path));
  return versions;
}

std::optional<ModelVersion> read_optional_version(detail::StatementUse& rows,
                                                  const std::string& path) {
  if (!rows->step()) return std::nullopt;
  return read_version(*rows, path);
}

// What a write operation needs to know about the row of a (model, version) key.
struct KeyRow {
  std::int64_t id = 0;
  std::int64_t model_id = 0;
  std::string state;
  std::optional<std::string> owner;
  std::string stage;

  bool visible() const { return state == kVisible; }
  bool held_by(std::string_view who) const { return !visible() && owner && *owner == who; }
};

std::optional<KeyRow> find_key(Connection& connection, std::string_view model_name,
                               std::string_view version) {
  auto row = use(connection, kFindKey);
  row->bind(1, model_name);
  row->bind(2, version);
  if (!row->step()) return std::nullopt;
  return KeyRow{row->int64(0), row->int64(1), row->text(2), row->optional_text(3), row->text(4)};
}

ModelVersion version_by_id(Connection& connection, std::int64_t id) {
  auto row = use(connection, kVersionById);
  row->bind(1, id);
  if (!row->step()) {
    // Only called for a row the same transaction just found or wrote.
    throw StorageError(
        fmt::format("SQLite database '{}': version row {} vanished inside its transaction",
                    connection.path(), id));
  }
  return read_version(*row, connection.path());
}

// Where a version that becomes visible goes in its model's registration order, and the
// created_at it gets: the one asked for, or the latest version's if that is later. A writer that
// read the clock before waiting for the write lock would otherwise date its version before the
// one registered ahead of it, and "latest by created_at" would disagree with "latest".
struct Place {
  std::int64_t seq = 1;
  std::int64_t created_at = 0;
};

Place next_place(Connection& connection, std::int64_t model_id, Timestamp created_at) {
  auto row = use(connection, kLastPlace);
  row->bind(1, model_id);
  Place place{1, to_nanos(created_at)};
  if (row->step()) {
    place.seq = row->int64(0) + 1;
    place.created_at = std::max(place.created_at, row->int64(1));
  }
  return place;
}

std::string full_name(std::string_view model_name, std::string_view version) {
  return fmt::format("{}:{}", model_name, version);
}

std::int64_t now_nanos() {
  return to_nanos(std::chrono::system_clock::now());
}

}  // namespace

// Owns the connections. Writes go through one connection under write_mutex_ (SQLite admits one
// writer per database anyway, and queueing in-process writers on a mutex is cheaper than
// making them contend for the file lock); reads use a pool of connections so that, with WAL,
// any number of threads read concurrently and never wait for a writer.
class SqliteMetadataStore::Impl {
 public:
  // The path is made absolute now: connections are opened later, after a possible chdir.
  Impl(const std::filesystem::path& path, SqliteOptions options)
      : path_(detail::absolute_path(path, "SQLite database")),
        path_string_(path_.string()),
        options_(clamp(options)) {
    writer_ =
        std::make_unique<Connection>(path_string_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    configure(*writer_);
    open_schema();
  }

  const std::filesystem::path& path() const { return path_; }

  // Runs `body(connection)` as one BEGIN IMMEDIATE transaction on the write connection,
  // retried from scratch while another process holds the lock. `body` commits by returning;
  // throwing rolls everything back.
  //
  // With `durable` false the commit is not fsync'd even under Durability::Full: for a
  // reservation, which a power loss may forget (an unreferenced artifact file is the worst
  // outcome) and which the fsync of the publishing commit makes durable anyway, since the WAL
  // is synced in order.
  template <typename Body>
  auto write(std::string_view operation, Body&& body, bool durable = true) {
    return with_retry(operation, [&]() {
      std::lock_guard<std::mutex> lock(write_mutex_);
      SyncOverride sync(*writer_, !durable && options_.durability == Durability::Full,
                        restore_full_sync_);
      Transaction transaction(*writer_, Transaction::Kind::Write);
      if constexpr (std::is_void_v<decltype(body(*writer_))>) {
        body(*writer_);
        transaction.commit();
      } else {
        auto result = body(*writer_);
        transaction.commit();
        return result;
      }
    });
  }

  // Runs `body(connection)` on a pooled read connection. A single statement is its own
  // (autocommit) read transaction and sees the latest commit of any process.
  template <typename Body>
  auto read(std::string_view operation, Body&& body) const {
    return with_retry(operation, [&]() {
      ReaderLease lease(*this);
      return body(lease.connection());
    });
  }

  // As read, for reads of several statements that must see one snapshot.
  template <typename Body>
  auto read_snapshot(std::string_view operation, Body&& body) const {
    return with_retry(operation, [&]() {
      ReaderLease lease(*this);
      Transaction transaction(lease.connection(), Transaction::Kind::Read);
      auto result = body(lease.connection());
      transaction.commit();
      return result;
    });
  }

 private:
  // A read connection borrowed from the pool for one call.
  class ReaderLease {
   public:
    explicit ReaderLease(const Impl& impl) : impl_(impl) {
      {
        std::lock_guard<std::mutex> lock(impl_.pool_mutex_);
        if (!impl_.idle_readers_.empty()) {
          connection_ = std::move(impl_.idle_readers_.back());
          impl_.idle_readers_.pop_back();
        }
      }
      if (!connection_) connection_ = impl_.open_reader();
    }
    ~ReaderLease() {
      std::lock_guard<std::mutex> lock(impl_.pool_mutex_);
      // Bounded so that a burst of threads does not keep its connections open forever.
      if (impl_.idle_readers_.size() < kMaxIdleReaders) {
        try {
          impl_.idle_readers_.push_back(std::move(connection_));
        } catch (...) {
          // Out of memory: the connection simply closes.
        }
      }
    }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;

    Connection& connection() const { return *connection_; }

   private:
    const Impl& impl_;
    std::unique_ptr<Connection> connection_;
  };

  static constexpr std::size_t kMaxIdleReaders = 16;

  // Lowers the write connection to synchronous=NORMAL for one transaction (when `active`).
  // Should restoring FULL fail, `restore_pending` stays set and the next write restores it
  // before it begins, so a durable commit is never made unsynced.
  class SyncOverride {
   public:
    SyncOverride(Connection& connection, bool active, bool& restore_pending)
        : connection_(connection), active_(active), restore_pending_(restore_pending) {
      if (restore_pending_) {
        connection_.exec("PRAGMA synchronous = FULL");
        restore_pending_ = false;
      }
      if (active_) {
        restore_pending_ = true;
        connection_.exec("PRAGMA synchronous = NORMAL");
      }
    }
    ~SyncOverride() {
      if (active_ && sqlite3_exec(connection_.handle(), "PRAGMA synchronous = FULL", nullptr,
                                  nullptr, nullptr) == SQLITE_OK) {
        restore_pending_ = false;
      }
    }
    SyncOverride(const SyncOverride&) = delete;
    SyncOverride& operator=(const SyncOverride&) = delete;

   private:
    Connection& connection_;
    bool active_;
    bool& restore_pending_;
  };

  static SqliteOptions clamp(SqliteOptions options) {
    using std::chrono::milliseconds;
    options.busy_timeout = std::clamp(options.busy_timeout, milliseconds(0), milliseconds(INT_MAX));
    options.lock_timeout = std::max(options.lock_timeout, milliseconds(0));
    return options;
  }

  // Per-connection settings; none of them writes to the file.
  void configure(Connection& connection) const {
    sqlite3_busy_timeout(connection.handle(), static_cast<int>(options_.busy_timeout.count()));
    connection.exec("PRAGMA foreign_keys = ON");
    connection.exec(options_.durability == Durability::Full ? "PRAGMA synchronous = FULL"
                                                            : "PRAGMA synchronous = NORMAL");
  }

  std::unique_ptr<Connection> open_reader() const {
    // Read-write but query_only: SQLITE_OPEN_READONLY connections to a WAL database have
    // failure modes of their own (SQLITE_READONLY_RECOVERY, SQLITE_READONLY_CANTINIT when the
    // WAL index must be rebuilt); query_only refuses writes just as well without them.
    auto connection = std::make_unique<Connection>(path_string_, SQLITE_OPEN_READWRITE);
    configure(*connection);
    connection->exec("PRAGMA query_only = ON");
    return connection;
  }

  // What the file says about itself, read without writing anything.
  struct SchemaFacts {
    std::int64_t objects = 0;     // entries of sqlite_schema
    std::int64_t our_tables = 0;  // how many of the tables this schema needs exist
    std::int64_t application_id = 0;
    std::int64_t schema_version = 0;
  };

  SchemaFacts read_schema_facts() {
    auto scalar = [&](std::string_view sql) {
      auto statement = writer_->prepare_once(sql);
      std::int64_t value = statement->step() ? statement->int64(0) : 0;
      statement->reset();
      return value;
    };
    SchemaFacts facts;
    // The first read of the file: a file that is not a database or whose schema is damaged
    // fails here with SQLITE_NOTADB / SQLITE_CORRUPT.
    try {
      facts.objects = scalar("SELECT count(*) FROM sqlite_schema");
    } catch (const DataLossError& e) {
      throw DataLossError(fmt::format(
          "{}; the file is corrupt or not a SQLite database and was left untouched", e.what()));
    }
    facts.our_tables = scalar(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('models', "
        "'versions')");
    facts.application_id = scalar("PRAGMA application_id");
    facts.schema_version = scalar("PRAGMA user_version");
    return facts;
  }

  // The schema version of the file: 0 for a new (empty) file, which gets the schema, else 1 ..
  // kSchemaVersion. Throws DataLossError / FailedPreconditionError for a file this build must
  // not touch.
  int schema_version_of(const SchemaFacts& facts) const {
    if (facts.objects == 0 && facts.application_id == 0 && facts.schema_version == 0) {
      return 0;
    }
    if (facts.application_id != kApplicationId) {
      throw DataLossError(fmt::format(
          "SQLite database '{}' is not a modelreg database (application_id {:#x}, {} schema "
          "objects); it was left untouched",
          path_string_, facts.application_id, facts.objects));
    }
    if (facts.schema_version > SqliteMetadataStore::kSchemaVersion) {
      throw FailedPreconditionError(fmt::format(
          "SQLite database '{}' has schema version {}, newer than the version {} this build of "
          "modelreg supports; upgrade modelreg to open it (the file was left untouched)",
          path_string_, facts.schema_version, SqliteMetadataStore::kSchemaVersion));
    }
    if (facts.schema_version < 1 || facts.our_tables != 2) {
      throw DataLossError(fmt::format(
          "SQLite database '{}' is a damaged modelreg database (schema version {}, {} of 2 "
          "tables); it was left untouched",
          path_string_, facts.schema_version, facts.our_tables));
    }
    return static_cast<int>(facts.schema_version);
  }

  // Verifies the file before anything writes to it, then switches it to WAL and creates or
  // upgrades the schema. Order matters: setting the journal mode writes the header of a
  // database, so it must not happen to a file that turned out to be foreign or newer.
  void open_schema() {
    const int found = with_retry("open", [&]() {
      Transaction transaction(*writer_, Transaction::Kind::Read);
      const int version = schema_version_of(read_schema_facts());
      transaction.commit();
      return version;
    });

    with_retry("open", [&]() {
      auto statement = writer_->prepare_once("PRAGMA journal_mode = WAL");
      const std::string mode = statement->step() ? statement->text(0) : std::string();
      statement->reset();
      if (mode != "wal") {
        // e.g. a file system without shared memory support; correct, but readers then wait for
        // writers.
        logger()->warn("SQLite database '{}' could not switch to WAL (journal mode '{}')",
                       path_string_, mode);
      }
    });

    if (found == SqliteMetadataStore::kSchemaVersion) return;
    with_retry(found == 0 ? "create schema" : "upgrade schema", [&]() {
      std::lock_guard<std::mutex> lock(write_mutex_);
      Transaction transaction(*writer_, Transaction::Kind::Write);
      // Another process may have created or upgraded the schema, or written something else,
      // since we looked.
      const int from = schema_version_of(read_schema_facts());
      for (int step = from; step < SqliteMetadataStore::kSchemaVersion; ++step) {
        writer_->exec(kSchemaSteps[static_cast<std::size_t>(step)]);
      }
      if (from == 0) {
        writer_->exec(fmt::format("PRAGMA application_id = {}", kApplicationId).c_str());
      }
      if (from < SqliteMetadataStore::kSchemaVersion) {
        writer_->exec(
            fmt::format("PRAGMA user_version = {}", SqliteMetadataStore::kSchemaVersion).c_str());
      }
      transaction.commit();
      if (from == 0) {
        logger()->debug("created modelreg schema version {} in '{}'",
                        SqliteMetadataStore::kSchemaVersion, path_string_);
      } else if (from < SqliteMetadataStore::kSchemaVersion) {
        logger()->info("upgraded SQLite database '{}' from modelreg schema version {} to {}",
                       path_string_, from, SqliteMetadataStore::kSchemaVersion);
      }
    });
  }

  // Runs `attempt` until it gets past lock contention. The busy timeout already waits inside
  // SQLite; this outer loop covers what the busy handler does not (SQLITE_LOCKED, busy results
  // SQLite returns without calling the handler, a busy timeout that expired while another
  // process held a long transaction) so that callers never see "database is locked" before
  // lock_timeout. The randomised backoff keeps retrying writers from waking in lock step.
  template <typename Attempt>
  auto with_retry(std::string_view operation, Attempt&& attempt) const
      -> std::invoke_result_t<Attempt&> {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + options_.lock_timeout;
    thread_local std::minstd_rand jitter(std::random_device{}());
    for (int retries = 0;; ++retries) {
      try {
        return attempt();
      } catch (const detail::SqliteBusyError& e) {
        const auto now = Clock::now();
        if (now >= deadline) {
          throw StorageError(fmt::format(
              "SQLite database '{}': {} timed out after {} ms waiting for another connection's "
              "lock ({} retries; last error: {})",
              path_string_, operation, options_.lock_timeout.count(), retries, e.what()));
        }
        const int cap_us = 1000 << std::min(retries, 5);  // 1 ms .. 32 ms
        const auto pause = std::min<Clock::duration>(
            std::chrono::microseconds(std::uniform_int_distribution<int>(100, cap_us)(jitter)),
            deadline - now);
        logger()->debug("SQLite database '{}': {} busy, retry {} in {} us", path_string_, operation,
                        retries + 1,
                        std::chrono::duration_cast<std::chrono::microseconds>(pause).count());
        std::this_thread::sleep_for(pause);
      }
    }
  }

  std::filesystem::path path_;
  std::string path_string_;
  SqliteOptions options_;

  std::mutex write_mutex_;
  std::unique_ptr<Connection> writer_;
  bool restore_full_sync_ = false;  // guarded by write_mutex_; see SyncOverride

  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Connection>> idle_readers_;

 public:
  // PRAGMA data_version of a connection kept for this purpose: it changes whenever anyone
  // (another process, or this store's own write connection) committed since the last call, and
  // only then.
  std::int64_t data_version() const {
    return with_retry("data_version", [&]() {
      std::lock_guard<std::mutex> lock(probe_mutex_);
      if (!probe_) probe_ = open_reader();
      auto row = use(*probe_, kDataVersion);
      if (!row->step()) {
        throw StorageError(
            fmt::format("SQLite database '{}': PRAGMA data_version returned no row", path_string_));
      }
      return row->int64(0);
    });
  }

  // Decoded version lists by model, all valid for one data_version: listing a model when
  // nothing was committed since costs one PRAGMA and a copy instead of decoding every row's JSON
  // again. Any commit makes the whole cache stale. Bounded by the number of versions held.
  //
  // An entry is stored under the data_version read *before* its rows, which come from the same
  // or a later snapshot, and is only found under that exact value: a caller whose probe returned
  // it saw no commit since that probe, so the rows are as new as anything it could read. Nothing
  // depends on data_version growing (it is 32 bits and may wrap).
  bool list_cache_enabled() const { return options_.list_cache_versions > 0; }

  // An empty list (no such model) is not kept: any number of unknown names could be asked for.
  bool cacheable(std::size_t versions) const {
    return versions > 0 && versions <= options_.list_cache_versions;
  }

  std::shared_ptr<const std::vector<ModelVersion>> cached_list(const std::string& model,
                                                               std::int64_t data_version) const {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (data_version != cache_data_version_) return nullptr;
    auto it = list_cache_.find(model);
    return it == list_cache_.end() ? nullptr : it->second;
  }

  void remember_list(const std::string& model, std::int64_t data_version,
                     std::shared_ptr<const std::vector<ModelVersion>> versions) const {
    if (!cacheable(versions->size())) return;
    std::lock_guard<std::mutex> lock(cache_mutex_);
    // Entries of another data_version are stale, or this one is (it lost a race with a newer
    // listing, which then loses its entries: a miss, never a wrong answer).
    if (data_version != cache_data_version_ ||
        cached_versions_ + versions->size() > options_.list_cache_versions) {
      list_cache_.clear();
      cached_versions_ = 0;
      cache_data_version_ = data_version;
    }
    auto [it, inserted] = list_cache_.try_emplace(model, versions);
    if (!inserted) {
      cached_versions_ -= it->second->size();
      it->second = std::move(versions);
    }
    cached_versions_ += it->second->size();
  }

 private:
  mutable std::mutex probe_mutex_;
  mutable std::unique_ptr<Connection> probe_;  // opened on first use

  mutable std::mutex cache_mutex_;
  mutable std::int64_t cache_data_version_ = std::numeric_limits<std::int64_t>::min();
  mutable std::map<std::string, std::shared_ptr<const std::vector<ModelVersion>>, std::less<>>
      list_cache_;
  mutable std::size_t cached_versions_ = 0;
};

// The constructor is a public boundary too: a refused file is logged like any other error.
SqliteMetadataStore::SqliteMetadataStore(const std::filesystem::path& path, SqliteOptions options)
    : impl_(detail::public_call("SqliteMetadataStore::open",
                                [&] { return std::make_unique<Impl>(path, options); })) {}

SqliteMetadataStore::~SqliteMetadataStore() = default;

const std::filesystem::path& SqliteMetadataStore::path() const {
  return impl_->path();
}

std::optional<std::filesystem::path> SqliteMetadataStore::owner_lock_directory_impl() const {
  return impl_->path().parent_path() / "locks";
}

ModelVersion SqliteMetadataStore::create_version_impl(const ModelVersion& version,
                                                      std::string_view owner) {
  if (version.stage == ModelStage::Production) {
    throw InvalidArgumentError(
        fmt::format("{} cannot be created in Production; create it in another stage and promote it",
                    version.full_name()));
  }
  const EncodedVersion encoded = encode_version(version);
  const std::string stage(to_string(version.stage));
  const std::string framework(to_string(version.framework));
  const bool reserved = !owner.empty();

  return impl_->write(
      "create_version",
      [&](Connection& connection) {
        ModelVersion stored = version;
        std::int64_t model_id = 0;
        {
          auto model = use(connection, kFindModel);
          model->bind(1, version.model_name);
          if (model->step()) model_id = model->int64(0);
        }
        if (model_id != 0) {
          if (auto existing = find_key(connection, version.model_name, version.version)) {
            throw AlreadyExistsError(fmt::format(
                "{} already exists{}", version.full_name(),
                existing->visible() ? "" : fmt::format(" (reserved: {})", existing->state)));
          }
        } else {
          auto insert = use(connection, kInsertModel);
          insert->bind(1, version.model_name);
          insert->bind(2, to_nanos(version.created_at));
          insert->run();
          model_id = sqlite3_last_insert_rowid(connection.handle());
        }

        auto insert = use(connection, kInsertVersion);
        insert->bind(1, model_id);
        insert->bind(2, version.version);
        if (reserved) {
          insert->bind_null(3);  // the registration order is assigned when it is published
          insert->bind(4, kRegistering);
          insert->bind(5, owner);
          insert->bind(6, now_nanos());
        } else {
          const Place place = next_place(connection, model_id, version.created_at);
          if (place.created_at != to_nanos(version.created_at)) {
            stored.created_at = from_nanos(place.created_at);
            stored.updated_at = std::max(stored.updated_at, stored.created_at);
          }
          insert->bind(3, place.seq);
          insert->bind(4, kVisible);
          insert->bind_null(5);
          insert->bind_null(6);
        }
        insert->bind(7, stage);
        insert->bind(8, framework);
        insert->bind(9, version.artifact_path);
        insert->bind(10, static_cast<std::int64_t>(version.artifact_size));
        insert->bind(11, version.artifact_sha256);
        insert->bind(12, encoded.metrics);
        insert->bind(13, encoded.parameters);
        insert->bind(14, encoded.tags);
        insert->bind(15, version.description);
        insert->bind(16, to_nanos(stored.created_at));
        insert->bind(17, to_nanos(stored.updated_at));
        insert->run();
        return stored;
      },
      /*durable=*/!reserved);
}

ModelVersion SqliteMetadataStore::publish_version_impl(std::string_view model_name,
                                                       std::string_view version,
                                                       std::string_view owner,
                                                       const ArtifactInfo& artifact,
                                                       Timestamp now) {
  return impl_->write("publish_version", [&](Connection& connection) {
    const auto key = find_key(connection, model_name, version);
    if (!key || key->state != kRegistering || !key->held_by(owner)) {
      throw FailedPreconditionError(fmt::format(
          "{} is not reserved for registration by '{}'{}", full_name(model_name, version), owner,
          key ? fmt::format(" (it is {}{})", key->state,
                            key->owner ? fmt::format(", held by '{}'", *key->owner) : std::string())
              : std::string(" (no such version)")));
    }
    {
      const Place place = next_place(connection, key->model_id, now);
      auto publish = use(connection, kPublish);
      publish->bind(1, key->id);
      publish->bind(2, place.seq);
      publish->bind(3, artifact.path);
      publish->bind(4, static_cast<std::int64_t>(artifact.size));
      publish->bind(5, artifact.sha256);
      publish->bind(6, place.created_at);
      publish->run();
    }
    return version_by_id(connection, key->id);
  });
}

bool SqliteMetadataStore::release_version_impl(std::string_view model_name,
                                               std::string_view version, std::string_view owner) {
  return impl_->write("release_version", [&](Connection& connection) {
    const auto key = find_key(connection, model_name, version);
    if (!key || !key->held_by(owner)) return false;
    {
      auto remove = use(connection, kDeleteVersion);
      remove->bind(1, key->id);
      remove->run();
    }
    auto remove_model = use(connection, kDeleteModelIfEmpty);
    remove_model->bind(1, key->model_id);
    remove_model->run();
    return true;
  });
}

std::optional<ModelVersion> SqliteMetadataStore::begin_delete_impl(std::string_view model_name,
                                                                   std::string_view version,
                                                                   std::string_view owner) {
  return impl_->write("begin_delete", [&](Connection& connection) -> std::optional<ModelVersion> {
    const auto key = find_key(connection, model_name, version);
    if (!key || !key->visible()) return std::nullopt;
    ModelVersion as_it_was = version_by_id(connection, key->id);
    auto reserve = use(connection, kReserveForDelete);
    reserve->bind(1, key->id);
    reserve->bind(2, owner);
    reserve->bind(3, now_nanos());
    reserve->run();
    return as_it_was;
  });
}

bool SqliteMetadataStore::cancel_delete_impl(std::string_view model_name, std::string_view version,
                                             std::string_view owner) {
  return impl_->write("cancel_delete", [&](Connection& connection) {
    const auto key = find_key(connection, model_name, version);
    if (!key || key->state != kDeleting || !key->held_by(owner)) return false;
    std::string stage = key->stage;
    if (stage == to_string(ModelStage::Production)) {
      // Another version was promoted while this one was hidden; that later promotion wins, as
      // it would have archived this version had it been visible. Restoring it in Production
      // would make two.
      auto other = use(connection, kOtherProduction);
      other->bind(1, key->model_id);
      other->bind(2, key->id);
      if (other->step()) stage = std::string(to_string(ModelStage::Archived));
    }
    auto restore = use(connection, kRestoreVisible);
    restore->bind(1, key->id);
    restore->bind(2, stage);
    restore->run();
    return true;
  });
}

std::vector<PendingVersion> SqliteMetadataStore::list_pending_impl() const {
  return impl_->read("list_pending", [&](Connection& connection) {
    auto rows = use(connection, kListPending);
    std::vector<PendingVersion> pending;
    while (rows->step()) {
      PendingVersion entry;
      entry.model_name = rows->text(0);
      entry.version = rows->text(1);
      entry.kind = rows->text(2) == kDeleting ? PendingVersion::Kind::Deleting
                                              : PendingVersion::Kind::Registering;
      entry.owner = rows->text(3);
      entry.artifact_path = rows->optional_text(4);
      entry.since = from_nanos(rows->int64(5));
      pending.push_back(std::move(entry));
    }
    return pending;
  });
}

bool SqliteMetadataStore::claim_pending_impl(std::string_view model_name, std::string_view version,
                                             std::string_view expected_owner,
                                             std::string_view new_owner) {
  return impl_->write("claim_pending", [&](Connection& connection) {
    const auto key = find_key(connection, model_name, version);
    if (!key || !key->held_by(expected_owner)) return false;
    auto claim = use(connection, kSetOwner);
    claim->bind(1, key->id);
    claim->bind(2, new_owner);
    claim->run();
    return true;
  });
}

std::optional<ModelVersion> SqliteMetadataStore::set_stage_impl(std::string_view model_name,
                                                                std::string_view version,
                                                                ModelStage stage,
                                                                std::optional<ModelStage> expected,
                                                                Timestamp now) {
  const std::string stage_name(to_string(stage));
  return impl_->write("set_stage", [&](Connection& connection) -> std::optional<ModelVersion> {
    std::optional<KeyRow> key;
    ModelVersion updated;
    {
      auto row = use(connection, kFindKeyWithVersion);
      row->bind(1, model_name);
      row->bind(2, version);
      if (!row->step()) return std::nullopt;
      key = KeyRow{row->int64(0), row->int64(1), row->text(2), row->optional_text(3), row->text(4)};
      if (!key->visible()) return std::nullopt;
      updated = read_version(*row, connection.path(), 5);
    }
    if (expected && key->stage != to_string(*expected)) {
      throw FailedPreconditionError(
          fmt::format("{} is in stage {}, not the expected {}; nothing was changed",
                      full_name(model_name, version), key->stage, to_string(*expected)));
    }
    if (stage == ModelStage::Production) {
      // Before the promotion, in the same transaction: the unique partial index would refuse a
      // second Production row, and no reader ever sees zero-then-one. Promoting the current
      // Production version again matches no other row and archives nothing.
      auto archive = use(connection, kArchiveProduction);
      archive->bind(1, key->model_id);
      archive->bind(2, to_nanos(now));
      archive->bind(3, key->id);
      archive->run();
    }
    {
      auto update = use(connection, kSetStage);
      update->bind(1, key->id);
      update->bind(2, stage_name);
      update->bind(3, to_nanos(now));
      update->run();
    }
    updated.stage = stage;
    updated.updated_at = from_nanos(to_nanos(now));
    return updated;
  });
}

std::optional<ModelVersion> SqliteMetadataStore::get_version_impl(std::string_view model_name,
                                                                  std::string_view version) const {
  return impl_->read("get_version", [&](Connection& connection) {
    auto rows = use(connection, kGetVersion);
    rows->bind(1, model_name);
    rows->bind(2, version);
    return read_optional_version(rows, connection.path());
  });
}

std::optional<ModelVersion> SqliteMetadataStore::latest_version_impl(
    std::string_view model_name) const {
  return impl_->read("latest_version", [&](Connection& connection) {
    auto rows = use(connection, kLatest);
    rows->bind(1, model_name);
    return read_optional_version(rows, connection.path());
  });
}

std::optional<ModelVersion> SqliteMetadataStore::production_version_impl(
    std::string_view model_name) const {
  return impl_->read("production_version", [&](Connection& connection) {
    auto rows = use(connection, kProduction);
    rows->bind(1, model_name);
    return read_optional_version(rows, connection.path());
  });
}

std::vector<ModelVersion> SqliteMetadataStore::list_versions_impl(
    std::string_view model_name, std::optional<ModelStage> stage) const {
  // Each listing is one statement, hence one snapshot.
  const auto list = [&](Sql sql) {
    return impl_->read("list_versions", [&](Connection& connection) {
      auto rows = use(connection, sql);
      rows->bind(1, model_name);
      return read_versions(rows, connection.path());
    });
  };
  if (!stage && impl_->list_cache_enabled()) {
    const std::string name(model_name);
    const std::int64_t data_version = impl_->data_version();
    if (auto cached = impl_->cached_list(name, data_version)) return *cached;
    std::vector<ModelVersion> versions = list(kListVersions);
    if (!impl_->cacheable(versions.size())) return versions;  // no copy of a list not kept
    auto shared = std::make_shared<const std::vector<ModelVersion>>(std::move(versions));
    impl_->remember_list(name, data_version, shared);
    return *shared;
  }
  Sql sql = kListVersions;
  if (stage) {
    switch (*stage) {
      case ModelStage::Development:
        sql = kListDevelopment;
        break;
      case ModelStage::Staging:
        sql = kListStaging;
        break;
      case ModelStage::Production:
        sql = kListProduction;
        break;
      case ModelStage::Archived:
        sql = kListArchived;
        break;
    }
  }
  return list(sql);
}

std::optional<RegisteredModel> SqliteMetadataStore::get_model_impl(
    std::string_view model_name) const {
  return impl_->read_snapshot(
      "get_model", [&](Connection& connection) -> std::optional<RegisteredModel> {
        RegisteredModel model;
        {
          auto row = use(connection, kGetModel);
          row->bind(1, model_name);
          if (!row->step()) return std::nullopt;
          model.name = std::string(model_name);
          model.description = row->text(0);
          try {
            model.tags = detail::parse_string_map(row->text_view(1));
          } catch (const std::exception& e) {
            throw DataLossError(
                fmt::format("SQLite database '{}': the stored tags of model {} are corrupt: {}",
                            connection.path(), model_name, e.what()));
          }
          model.created_at = from_nanos(row->int64(2));
        }
        auto rows = use(connection, kListVersions);
        rows->bind(1, model_name);
        model.versions = read_versions(rows, connection.path());
        // A model whose versions are all pending is as invisible as they are.
        if (model.versions.empty()) return std::nullopt;
        return model;
      });
}

std::vector<std::string> SqliteMetadataStore::list_models_impl() const {
  return impl_->read("list_models", [&](Connection& connection) {
    auto rows = use(connection, kListModels);
    std::vector<std::string> names;
    while (rows->step()) names.push_back(rows->text(0));
    return names;
  });
}

}  // namespace modelreg

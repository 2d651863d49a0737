#include "postgres/pg_database.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <thread>

#include "modelreg/logging.hpp"

namespace modelreg::detail::pg {

namespace {

// Version 1, the first schema: the tables of the SQLite catalog's schema 3 (see
// sqlite/sqlite_schema.cpp), which the shared statements of sql/sql_statements.hpp run on, in
// PostgreSQL's types. Times are bigint nanoseconds since the epoch; metrics, parameters and
// tags are JSON text (decoded by the client, as in SQLite); names sort as bytes (COLLATE "C"),
// like std::string. version_tags is also indexed by version, for tag conditions that do not
// drive a search. Foreign keys cascade, so removing a version removes its searchable rows.
constexpr const char* kCreateSchemaV1 = R"sql(
CREATE TABLE models (
  id          bigserial PRIMARY KEY,
  name        text COLLATE "C" NOT NULL UNIQUE,
  description text NOT NULL,
  tags        text NOT NULL,
  created_at  bigint NOT NULL,
  state       text NOT NULL CHECK (state IN ('new', 'visible', 'deleting'))
);
CREATE TABLE versions (
  id              bigserial PRIMARY KEY,
  model_id        bigint NOT NULL REFERENCES models (id),
  version         text COLLATE "C" NOT NULL,
  seq             bigint,
  state           text NOT NULL CHECK (state IN ('visible', 'registering', 'deleting')),
  owner           text,
  pending_since   bigint,
  stage           text NOT NULL
                  CHECK (stage IN ('development', 'staging', 'production', 'archived')),
  framework       text NOT NULL,
  artifact_path   text,
  artifact_size   bigint NOT NULL,
  artifact_sha256 text NOT NULL,
  metrics         text NOT NULL,
  parameters      text NOT NULL,
  tags            text NOT NULL,
  description     text NOT NULL,
  created_at      bigint NOT NULL,
  updated_at      bigint NOT NULL,
  reg             bigint,
  aliases         text NOT NULL DEFAULT '',
  UNIQUE (model_id, version),
  CHECK ((state = 'visible') = (owner IS NULL)),
  CHECK (state = 'registering' OR seq IS NOT NULL)
);
CREATE UNIQUE INDEX versions_by_seq ON versions (model_id, seq);
-- The database itself guarantees at most one visible Production version per model.
CREATE UNIQUE INDEX versions_one_production ON versions (model_id)
  WHERE stage = 'production' AND state = 'visible';
CREATE INDEX versions_pending ON versions (pending_since, id) WHERE state <> 'visible';

-- The append-only history; seq grows in commit order because every write holds the write lock.
CREATE TABLE events (
  seq        bigserial PRIMARY KEY,
  time       bigint NOT NULL,
  type       text NOT NULL,
  model_name text COLLATE "C" NOT NULL,
  version    text COLLATE "C" NOT NULL,
  key        text NOT NULL,
  old_value  text,
  new_value  text,
  actor      text NOT NULL,
  reason     text NOT NULL
);
CREATE INDEX events_by_model ON events (model_name, seq);
CREATE FUNCTION modelreg_refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'modelreg: the event history is append-only';
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION modelreg_refuse_history_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION modelreg_refuse_history_change();

CREATE TABLE aliases (
  model_id   bigint NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  alias      text COLLATE "C" NOT NULL,
  version_id bigint NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
  PRIMARY KEY (model_id, alias)
);
CREATE INDEX aliases_by_version ON aliases (version_id);

CREATE TABLE version_tags (
  key        text COLLATE "C" NOT NULL,
  value      text COLLATE "C" NOT NULL,
  version_id bigint NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
  PRIMARY KEY (key, value, version_id)
);
CREATE INDEX version_tags_by_version ON version_tags (version_id, key);

CREATE TABLE version_metrics (
  version_id bigint NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
  name       text COLLATE "C" NOT NULL,
  value      double precision NOT NULL,
  PRIMARY KEY (version_id, name)
);
CREATE INDEX version_metrics_by_value ON version_metrics (name, value);

CREATE TABLE model_tags (
  model_id bigint NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  key      text COLLATE "C" NOT NULL,
  value    text COLLATE "C" NOT NULL,
  PRIMARY KEY (model_id, key)
);

-- Watchers LISTEN on modelreg_events: every statement that appends events notifies its newest
-- sequence number, delivered when (and only if) its transaction commits.
CREATE FUNCTION modelreg_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('modelreg_events', (SELECT max(seq) FROM added)::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION modelreg_notify_events();

-- Writer leases: each takes a number, and holds the session advisory lock of that number.
CREATE SEQUENCE writer_ids;

-- LIKE and ILIKE as searches define them (search_query.hpp): on bytes ('_' is one byte), '\'
-- escapes, a trailing lone '\' matches a '\', ILIKE folds ASCII letters only.
CREATE FUNCTION modelreg_like(pattern text, value text, ignore_case integer) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN ignore_case <> 0
    THEN convert_to(translate(value, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
                    'UTF8')
         LIKE convert_to(translate(p, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
                         'UTF8')
    ELSE convert_to(value, 'UTF8') LIKE convert_to(p, 'UTF8') END
  FROM (SELECT CASE WHEN pattern ~ '(^|[^\\])(\\\\)*\\$' THEN pattern || '\' ELSE pattern END
        AS p) AS fixed
$$;
)sql";

}  // namespace

std::string describe(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "PostgreSQL database (malformed connection string)";
  }
  std::string user, host, port, dbname, service;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "user") user = o->val;
    if (key == "host" || (key == "hostaddr" && host.empty())) host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
    if (key == "service") service = o->val;
  }
  PQconninfoFree(options);
  std::string where = host.empty() ? std::string("(default host)") : host;
  if (!port.empty()) where += ":" + port;
  if (!service.empty()) where = "service " + service;
  return fmt::format("PostgreSQL database '{}{}/{}'", user.empty() ? "" : user + "@", where,
                     dbname.empty() ? std::string("(default)") : dbname);
}

Database::Database(std::string conninfo, PostgresOptions options)
    : conninfo_(std::move(conninfo)), label_(describe(conninfo_)), options_(options) {
  options_.max_attempts = std::max(options_.max_attempts, 1);
  open_schema();
}

std::unique_ptr<Connection> Database::connect() const {
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(options_.connect_timeout).count();
  return std::make_unique<Connection>(conninfo_, label_,
                                      static_cast<int>(std::max<std::int64_t>(seconds, 2)));
}

Database::Lease::Lease(const Database& database) : database_(database) {
  {
    std::lock_guard<std::mutex> lock(database_.pool_mutex_);
    if (!database_.idle_.empty()) {
      connection_ = std::move(database_.idle_.back());
      database_.idle_.pop_back();
    }
  }
  if (connection_) {
    reused_ = true;
  } else {
    connection_ = database_.connect();
  }
}

Database::Lease::~Lease() {
  // A broken connection, or one left inside a transaction, is not reused.
  if (connection_->bad() || PQtransactionStatus(connection_->handle()) != PQTRANS_IDLE) return;
  std::lock_guard<std::mutex> lock(database_.pool_mutex_);
  if (database_.idle_.size() < database_.options_.max_idle_connections) {
    try {
      database_.idle_.push_back(std::move(connection_));
    } catch (...) {
      // Out of memory: the connection simply closes.
    }
  }
}

template <typename Attempt>
void Database::with_retry(std::string_view operation, Attempt&& attempt) const {
  thread_local std::minstd_rand jitter(std::random_device{}());
  for (int attempts = 1;; ++attempts) {
    std::optional<Lease> lease;
    try {
      lease.emplace(*this);
    } catch (const ConnectionLostError& e) {
      throw StorageError(fmt::format("{} failed: {}", operation, e.what()));
    }
    try {
      attempt(lease->connection());
      return;
    } catch (const RetryableError& e) {
      if (attempts >= options_.max_attempts) {
        throw StorageError(fmt::format("{}: {} failed {} times on concurrent transactions: {}",
                                       label_, operation, attempts, e.what()));
      }
      const int cap_us = 1000 << std::min(attempts, 6);
      logger()->debug("{}: {} conflicted with a concurrent transaction, retry {}: {}", label_,
                      operation, attempts, e.what());
      std::this_thread::sleep_for(
          std::chrono::microseconds(std::uniform_int_distribution<int>(100, cap_us)(jitter)));
    } catch (const ConnectionLostError& e) {
      // The server rolled back whatever the call had done (a loss during COMMIT is not a
      // ConnectionLostError: see run_write). A connection from the pool may have died while it
      // was idle (a restarted server, a dropped TCP session): that is worth one more try on a
      // new connection. A new connection that broke means the server went away meanwhile.
      // Broken connections never go back to the pool, so the next call connects again.
      if (!lease->reused()) {
        throw StorageError(
            fmt::format("{} failed: the connection to the server was lost, and the server "
                        "rolled back whatever the call had done: {}",
                        operation, e.what()));
      }
      logger()->debug("{}: {}: a pooled connection was lost, trying a new one: {}", label_,
                      operation, e.what());
      // Its idle companions are likely gone too (a restarted server): drop them all.
      std::lock_guard<std::mutex> lock(pool_mutex_);
      idle_.clear();
    }
  }
}

namespace {

// Ends a transaction the body did not commit; a failed ROLLBACK leaves the connection to be
// discarded (Lease does not pool a connection inside a transaction).
void roll_back(Connection& connection) noexcept {
  if (connection.bad()) return;
  PGresult* result = PQexec(connection.handle(), "ROLLBACK");
  PQclear(result);
}

constexpr std::string_view kBeginWrite =
    "BEGIN; SELECT pg_advisory_xact_lock(1297237319, 1)";  // kLockClass, kWriteLock
static_assert(kLockClass == 1297237319 && kWriteLock == 1);

}  // namespace

void Database::run_write(std::string_view operation, FunctionRef<void(detail::Connection&)> body,
                         bool durable) {
  with_retry(operation, [&](Connection& connection) {
    try {
      connection.exec(kBeginWrite.data());
      // A reservation need not wait for its commit to reach the disk (see SqlDatabase).
      if (!durable) connection.exec("SET LOCAL synchronous_commit = off");
      body(connection);
      try {
        connection.exec("COMMIT");
      } catch (const ConnectionLostError& e) {
        throw StorageError(
            fmt::format("{} failed: the connection to the server was lost while committing, so "
                        "the change may or may not have been applied; look before retrying: {}",
                        operation, e.what()));
      }
    } catch (...) {
      roll_back(connection);
      throw;
    }
  });
}

void Database::run_read(std::string_view operation, FunctionRef<void(detail::Connection&)> body,
                        bool snapshot) const {
  with_retry(operation, [&](Connection& connection) {
    if (!snapshot) {
      body(connection);
      return;
    }
    try {
      connection.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      body(connection);
      connection.exec("COMMIT");
    } catch (...) {
      roll_back(connection);
      throw;
    }
  });
}

void Database::open_schema() {
  with_retry("open", [&](Connection& connection) {
    try {
      connection.exec("BEGIN; SELECT pg_advisory_xact_lock(1297237319, 2)");  // kSchemaLock
      static_assert(kSchemaLock == 2);
      connection.exec(
          "CREATE TABLE IF NOT EXISTS modelreg_schema (version integer NOT NULL, "
          "written_by text NOT NULL)");
      const auto version = connection.exec("SELECT max(version) FROM modelreg_schema");
      const int found = version ? std::stoi(*version) : 0;
      if (found > PostgresMetadataStore::kSchemaVersion) {
        throw FailedPreconditionError(fmt::format(
            "{} has modelreg schema version {}, newer than this build's {}: upgrade modelreg; "
            "nothing was changed",
            label_, found, PostgresMetadataStore::kSchemaVersion));
      }
      if (found == 0) {
        connection.exec(kCreateSchemaV1);
        connection.exec("INSERT INTO modelreg_schema (version, written_by) VALUES (1, 'modelreg')");
      }
      connection.exec("COMMIT");
    } catch (...) {
      roll_back(connection);
      throw;
    }
  });
}

}  // namespace modelreg::detail::pg

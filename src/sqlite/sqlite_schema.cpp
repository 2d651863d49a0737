#include "sqlite/sqlite_schema.hpp"

#include <fmt/format.h>

#include <array>

#include "modelreg/error.hpp"
#include "modelreg/sqlite_metadata_store.hpp"

namespace modelreg::detail {
namespace {

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

// Version 3: aliases, tags of models, the history, and tables of tags and metrics that searches
// use through indexes (a selective filter reads the matching rows, not every version's JSON).
//
// versions.tags, versions.metrics and versions.aliases stay the copies that lookups decode (one
// row, one read); version_tags, version_metrics and aliases are the same facts in searchable
// form, written in the same transactions. models.tags is no longer used: model_tags holds them.
//
// models.state: 'new' while no version of the model was ever visible (a first registration in
// flight), 'visible' from then on, even with no versions left, until delete_model makes it
// 'deleting'; it is removed with its last reservation then.
//
// events is the append-only history: AUTOINCREMENT makes seq increase in commit order (SQLite
// has one writer at a time) and never reuses one; the triggers refuse UPDATE and DELETE, so not
// even a bug of ours can rewrite it. Events name the model by name, not id, so that they outlive
// the model. versions.reg is the seq of the version's version_registered event: the order of
// registration across models, which breaks ties in searches.
//
// The upgrade of a schema 2 file records a version_registered event (actor "schema-upgrade")
// for every version that has a place in the registration order, oldest first, so that every
// version has its registration in the history, and copies tags and metrics into their tables.
constexpr const char* kUpgradeToV3 = R"sql(
ALTER TABLE models ADD COLUMN state TEXT NOT NULL DEFAULT 'visible'
  CHECK (state = 'new' OR state = 'visible' OR state = 'deleting');
UPDATE models SET state = 'new' WHERE NOT EXISTS
  (SELECT 1 FROM versions v WHERE v.model_id = models.id AND v.seq IS NOT NULL);
ALTER TABLE versions ADD COLUMN reg INTEGER;
ALTER TABLE versions ADD COLUMN aliases TEXT NOT NULL DEFAULT '';

CREATE TABLE events (
  seq        INTEGER PRIMARY KEY,
  time       INTEGER NOT NULL,
  type       TEXT NOT NULL,
  model_name TEXT NOT NULL,
  version    TEXT NOT NULL,
  key        TEXT NOT NULL,
  old_value  TEXT,
  new_value  TEXT,
  actor      TEXT NOT NULL,
  reason     TEXT NOT NULL
);
CREATE INDEX events_by_model ON events (model_name, seq);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events BEGIN
  SELECT RAISE(ABORT, 'modelreg: the event history is append-only');
END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events BEGIN
  SELECT RAISE(ABORT, 'modelreg: the event history is append-only');
END;

CREATE TABLE aliases (
  model_id   INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  alias      TEXT NOT NULL,
  version_id INTEGER NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
  PRIMARY KEY (model_id, alias)
) WITHOUT ROWID;
CREATE INDEX aliases_by_version ON aliases (version_id);

-- Keyed by what searches look for, so that a selective tag condition reads only its matching
-- rows. One B-tree and no foreign key: every registration writes a row per tag, and a second
-- index or a foreign-key check on each would double that cost. Other tag conditions read
-- versions.tags of the rows they filter. The code keeps the table equal to versions.tags,
-- removing a version's rows (found from that column) before the version.
CREATE TABLE version_tags (
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  version_id INTEGER NOT NULL,
  PRIMARY KEY (key, value, version_id)
) WITHOUT ROWID;

-- The metrics as ModelMetrics::to_dict() has them (a custom one wins over a standard one of the
-- same name); NaN is not stored (it matches no condition), infinities are. By version (for
-- ordering by a metric and for conditions that do not drive the search) and by value (for one
-- that does); no foreign key, the code removes a version's rows before the version.
CREATE TABLE version_metrics (
  version_id INTEGER NOT NULL,
  name       TEXT NOT NULL,
  value      REAL NOT NULL,
  PRIMARY KEY (version_id, name)
) WITHOUT ROWID;
CREATE INDEX version_metrics_by_value ON version_metrics (name, value);

CREATE TABLE model_tags (
  model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

INSERT INTO version_tags (key, value, version_id)
  SELECT j.key, j.value, v.id FROM versions v, json_each(v.tags) j;
-- A custom metric wins over a standard one of the same name, as in ModelMetrics::to_dict().
INSERT INTO version_metrics (version_id, name, value)
  SELECT v.id, c.key,
         CASE c.value WHEN 'Infinity' THEN 9e999 WHEN '-Infinity' THEN -9e999 ELSE c.value END
  FROM versions v, json_each(v.metrics, '$.custom') c
  WHERE c.type IN ('real', 'integer') OR c.value IN ('Infinity', '-Infinity');
INSERT INTO version_metrics (version_id, name, value)
  SELECT v.id, j.key, j.value FROM versions v, json_each(v.metrics) j
  WHERE j.key <> 'custom' AND j.type IN ('real', 'integer')
    AND NOT EXISTS (SELECT 1 FROM json_each(v.metrics, '$.custom') c WHERE c.key = j.key);
INSERT INTO model_tags (model_id, key, value)
  SELECT m.id, j.key, j.value FROM models m, json_each(m.tags) j;
UPDATE models SET tags = '{}';

INSERT INTO events (time, type, model_name, version, key, old_value, new_value, actor, reason)
  SELECT v.created_at, 'version_registered', m.name, v.version, '', NULL, v.stage,
         'schema-upgrade', 'recorded by the upgrade to modelreg schema 3'
  FROM versions v JOIN models m ON m.id = v.model_id
  WHERE v.seq IS NOT NULL
  ORDER BY v.created_at, m.id, v.seq;
UPDATE versions SET reg = (
  SELECT e.seq FROM events e JOIN models m ON m.name = e.model_name
  WHERE m.id = versions.model_id AND e.version = versions.version
    AND e.type = 'version_registered')
  WHERE seq IS NOT NULL;
)sql";

// kSchemaSteps[i] turns a database of schema version i into one of version i + 1.
constexpr std::array<const char*, 3> kSchemaSteps = {kCreateSchemaV1, kUpgradeToV2, kUpgradeToV3};
static_assert(kSchemaSteps.size() == SqliteMetadataStore::kSchemaVersion,
              "one schema step per schema version");

}  // namespace

SchemaFacts read_schema_facts(SqliteConnection& connection) {
  auto scalar = [&](std::string_view sql) {
    auto statement = connection.prepare_once(sql);
    std::int64_t value = statement->step() ? statement->int64(0) : 0;
    statement->reset();
    return value;
  };
  SchemaFacts facts;
  // The first read of the file: a file that is not a database or whose schema is damaged fails
  // here with SQLITE_NOTADB / SQLITE_CORRUPT.
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

int schema_version_of(const SchemaFacts& facts, const std::string& path) {
  if (facts.objects == 0 && facts.application_id == 0 && facts.schema_version == 0) {
    return 0;
  }
  if (facts.application_id != kApplicationId) {
    throw DataLossError(fmt::format(
        "SQLite database '{}' is not a modelreg database (application_id {:#x}, {} schema "
        "objects); it was left untouched",
        path, facts.application_id, facts.objects));
  }
  if (facts.schema_version > SqliteMetadataStore::kSchemaVersion) {
    throw FailedPreconditionError(fmt::format(
        "SQLite database '{}' has schema version {}, newer than the version {} this build of "
        "modelreg supports; upgrade modelreg to open it (the file was left untouched)",
        path, facts.schema_version, SqliteMetadataStore::kSchemaVersion));
  }
  if (facts.schema_version < 1 || facts.our_tables != 2) {
    throw DataLossError(fmt::format(
        "SQLite database '{}' is a damaged modelreg database (schema version {}, {} of 2 "
        "tables); it was left untouched",
        path, facts.schema_version, facts.our_tables));
  }
  return static_cast<int>(facts.schema_version);
}

void migrate_schema(SqliteConnection& connection, int from) {
  for (int step = from; step < SqliteMetadataStore::kSchemaVersion; ++step) {
    connection.exec(kSchemaSteps[static_cast<std::size_t>(step)]);
  }
  if (from == 0) {
    connection.exec(fmt::format("PRAGMA application_id = {}", kApplicationId).c_str());
  }
  if (from < SqliteMetadataStore::kSchemaVersion) {
    connection.exec(
        fmt::format("PRAGMA user_version = {}", SqliteMetadataStore::kSchemaVersion).c_str());
  }
}

}  // namespace modelreg::detail

#pragma once

// The SQLite catalog's schema: one step per schema version, what a file says about itself, and
// the decision whether this build may open, create or upgrade it.

#include <cstdint>
#include <string>

#include "sqlite/sqlite_handle.hpp"

namespace modelreg::detail {

// What the file says about itself, read without writing anything.
struct SchemaFacts {
  std::int64_t objects = 0;     // entries of sqlite_schema
  std::int64_t our_tables = 0;  // how many of the tables of schema 1 exist (models, versions)
  std::int64_t application_id = 0;
  std::int64_t schema_version = 0;
};

// Reads the facts through `connection` (inside the caller's transaction). Throws DataLossError
// for a file that is corrupt or not a SQLite database.
SchemaFacts read_schema_facts(SqliteConnection& connection);

// The schema version of the file: 0 for a new (empty) file, which gets the schema, else 1 ..
// SqliteMetadataStore::kSchemaVersion. Throws DataLossError (not a modelreg database, damaged)
// or FailedPreconditionError (a newer schema) for a file this build must not touch.
int schema_version_of(const SchemaFacts& facts, const std::string& path);

// Runs the schema steps from version `from` to the current one and records the new version, in
// the caller's write transaction (so an upgrade is all or nothing).
void migrate_schema(SqliteConnection& connection, int from);

}  // namespace modelreg::detail

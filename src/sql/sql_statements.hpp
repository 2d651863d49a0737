#pragma once

// Every fixed statement the SQL catalogs run, cached per connection under its index (the
// dynamic ones of searches are cached by their text: Connection::use_dynamic).

#include <array>
#include <cstddef>
#include <string_view>

#include "modelreg/error.hpp"
#include "sql/sql_connection.hpp"

namespace modelreg::detail {

// Columns decoded by read_version, in this order.
#define MODELREG_VERSION_COLUMNS                                                      \
  "m.name, v.version, v.stage, v.framework, v.artifact_path, v.artifact_size, "       \
  "v.artifact_sha256, v.metrics, v.parameters, v.tags, v.description, v.created_at, " \
  "v.updated_at, v.aliases"
inline constexpr int kVersionColumnCount = 14;

enum Sql : std::size_t {
  kFindModel,
  kInsertModel,
  kMakeModelVisible,
  kFindKey,
  kFindKeyWithVersion,
  kLastPlace,
  kInsertVersion,
  kPublish,
  kDeleteVersion,
  kDeleteModelIfGone,
  kReserveForDelete,
  kRestoreVisible,
  kSetOwner,
  kOtherProduction,
  kSetStage,
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
  kVisibleModelId,
  kDataVersion,
  kListModels,
  kListPending,
  kInsertEvent,
  kInsertVersionTag,
  kInsertVersionMetric,
  kLatestEvent,
  kEventsAll,
  kEventsOfModel,
  kEventsOfVersion,
  // aliases, tags, descriptions
  kFindAlias,
  kInsertAlias,
  kMoveAlias,
  kDeleteAlias,
  kAliasesOfVersion,
  kDeleteVersionAliases,
  kVersionAliasesColumn,
  kSetVersionAliases,
  kVersionByAlias,
  kModelTags,
  kModelTag,
  kUpsertModelTag,
  kDeleteModelTag,
  kModelDescription,
  kSetModelDescription,
  kVersionTagsAndDescription,
  kDeleteVersionTag,
  kDeleteVersionMetrics,
  kVersionTagsColumn,
  kSetVersionTags,
  kSetVersionDescription,
  // delete_model
  kHideModelVersions,
  kDeleteModelAliases,
  kClearModelAliasColumns,
  kSetModelDeleting,
  kSqlCount
};

inline constexpr std::array<std::string_view, kSqlCount> kSqlText = {
    // kFindModel
    "SELECT id, state FROM models WHERE name = ?1",
    // kInsertModel
    "INSERT INTO models (name, description, tags, created_at, state) VALUES (?1, '', '{}', ?2, ?3) "
    "RETURNING id",
    // kMakeModelVisible: a model is created when its first version becomes visible
    "UPDATE models SET state = 'visible', created_at = ?2 WHERE id = ?1 AND state = 'new'",
    // kFindKey
    "SELECT v.id, v.model_id, v.state, v.owner, v.stage, m.state FROM models m "
    "JOIN versions v ON v.model_id = m.id WHERE m.name = ?1 AND v.version = ?2",
    // kFindKeyWithVersion: kFindKey followed by MODELREG_VERSION_COLUMNS (from column 6), so
    // that set_stage need not read the row again after updating it.
    "SELECT v.id, v.model_id, v.state, v.owner, v.stage, m.state, " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN versions v ON v.model_id = m.id WHERE m.name = ?1 AND v.version = ?2",
    // kLastPlace: the last place taken in the model's registration order and its created_at,
    // over every row of the model, pending deletions included, so that a cancelled deletion gets
    // its place back without a collision. Served by versions_by_seq, NULLs (reservations) last.
    "SELECT seq, created_at FROM versions WHERE model_id = ?1 AND seq IS NOT NULL "
    "ORDER BY seq DESC LIMIT 1",
    // kInsertVersion
    "INSERT INTO versions (model_id, version, seq, state, owner, pending_since, stage, "
    "framework, artifact_path, artifact_size, artifact_sha256, metrics, parameters, tags, "
    "description, created_at, updated_at, reg) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) "
    "RETURNING id",
    // kPublish
    "UPDATE versions SET state = 'visible', owner = NULL, pending_since = NULL, seq = ?2, "
    "artifact_path = ?3, artifact_size = ?4, artifact_sha256 = ?5, created_at = ?6, "
    "updated_at = ?6, reg = ?7 WHERE id = ?1",
    // kDeleteVersion (its tags, metrics and aliases go by ON DELETE CASCADE)
    "DELETE FROM versions WHERE id = ?1",
    // kDeleteModelIfGone: a model that never had a visible version, or is being deleted, goes
    // with its last row; a visible one stays.
    "DELETE FROM models WHERE id = ?1 AND state <> 'visible' AND "
    "NOT EXISTS (SELECT 1 FROM versions WHERE model_id = ?1)",
    // kReserveForDelete
    "UPDATE versions SET state = 'deleting', owner = ?2, pending_since = ?3 WHERE id = ?1",
    // kRestoreVisible
    "UPDATE versions SET state = 'visible', owner = NULL, pending_since = NULL, stage = ?2, "
    "updated_at = coalesce(?3, updated_at) WHERE id = ?1",
    // kSetOwner
    "UPDATE versions SET owner = ?2 WHERE id = ?1",
    // kOtherProduction: served by versions_one_production.
    "SELECT id, version FROM versions "
    "WHERE model_id = ?1 AND stage = 'production' AND state = 'visible' AND id <> ?2",
    // kSetStage
    "UPDATE versions SET stage = ?2, updated_at = ?3 WHERE id = ?1",
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
    "SELECT id, description, created_at FROM models WHERE name = ?1 AND state = 'visible'",
    // kVisibleModelId
    "SELECT id FROM models WHERE name = ?1 AND state = 'visible'",
    // kDataVersion: changes whenever another connection (in this process or another) committed
    // since this connection's last read.
    "PRAGMA data_version",
    // kListModels: BINARY collation sorts like std::string's operator<.
    "SELECT name FROM models WHERE state = 'visible' ORDER BY name",
    // kListPending
    "SELECT m.name, v.version, v.state, v.owner, v.artifact_path, v.pending_since "
    "FROM versions v JOIN models m ON m.id = v.model_id "
    "WHERE v.state <> 'visible' ORDER BY v.pending_since, v.id",
    // kInsertEvent
    "INSERT INTO events (time, type, model_name, version, key, old_value, new_value, actor, "
    "reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING seq",
    // kInsertVersionTag
    "INSERT INTO version_tags (version_id, key, value) VALUES (?1, ?2, ?3)",
    // kInsertVersionMetric
    "INSERT INTO version_metrics (version_id, name, value) VALUES (?1, ?2, ?3)",
    // kLatestEvent
    "SELECT coalesce(max(seq), 0) FROM events",
    // kEventsAll .. kEventsOfVersion (?4: the limit)
    "SELECT seq, time, type, model_name, version, key, old_value, new_value, actor, reason "
    "FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?4",
    "SELECT seq, time, type, model_name, version, key, old_value, new_value, actor, reason "
    "FROM events WHERE model_name = ?2 AND seq > ?1 ORDER BY seq LIMIT ?4",
    "SELECT seq, time, type, model_name, version, key, old_value, new_value, actor, reason "
    "FROM events WHERE model_name = ?2 AND seq > ?1 AND version = ?3 ORDER BY seq LIMIT ?4",
    // kFindAlias: the version the alias names (always a visible one: begin_delete and
    // begin_delete_model remove the aliases of what they hide; a hidden version's aliases column
    // keeps the list for cancel_delete)
    "SELECT a.version_id, v.version FROM aliases a JOIN versions v ON v.id = a.version_id "
    "WHERE a.model_id = ?1 AND a.alias = ?2",
    // kInsertAlias
    "INSERT INTO aliases (model_id, alias, version_id) VALUES (?1, ?2, ?3)",
    // kMoveAlias
    "UPDATE aliases SET version_id = ?3 WHERE model_id = ?1 AND alias = ?2",
    // kDeleteAlias
    "DELETE FROM aliases WHERE model_id = ?1 AND alias = ?2",
    // kAliasesOfVersion
    "SELECT alias FROM aliases WHERE version_id = ?1 ORDER BY alias",
    // kDeleteVersionAliases
    "DELETE FROM aliases WHERE version_id = ?1",
    // kVersionAliasesColumn
    "SELECT aliases FROM versions WHERE id = ?1",
    // kSetVersionAliases
    "UPDATE versions SET aliases = ?2 WHERE id = ?1",
    // kVersionByAlias
    "SELECT " MODELREG_VERSION_COLUMNS
    " FROM models m JOIN aliases a ON a.model_id = m.id JOIN versions v ON v.id = a.version_id "
    "WHERE m.name = ?1 AND a.alias = ?2 AND v.state = 'visible'",
    // kModelTags
    "SELECT key, value FROM model_tags WHERE model_id = ?1 ORDER BY key",
    // kModelTag
    "SELECT value FROM model_tags WHERE model_id = ?1 AND key = ?2",
    // kUpsertModelTag
    "INSERT INTO model_tags (model_id, key, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
    // kDeleteModelTag
    "DELETE FROM model_tags WHERE model_id = ?1 AND key = ?2",
    // kModelDescription
    "SELECT description FROM models WHERE id = ?1",
    // kSetModelDescription
    "UPDATE models SET description = ?2 WHERE id = ?1",
    // kVersionTagsAndDescription
    "SELECT tags, description FROM versions WHERE id = ?1",
    // kDeleteVersionTag: the row of one tag, found by the value versions.tags holds
    "DELETE FROM version_tags WHERE key = ?2 AND value = ?3 AND version_id = ?1",
    // kDeleteVersionMetrics
    "DELETE FROM version_metrics WHERE version_id = ?1",
    // kVersionTagsColumn
    "SELECT tags FROM versions WHERE id = ?1",
    // kSetVersionTags
    "UPDATE versions SET tags = ?2, updated_at = ?3 WHERE id = ?1",
    // kSetVersionDescription
    "UPDATE versions SET description = ?2, updated_at = ?3 WHERE id = ?1",
    // kHideModelVersions
    "UPDATE versions SET state = 'deleting', owner = ?2, pending_since = ?3 "
    "WHERE model_id = ?1 AND state = 'visible'",
    // kDeleteModelAliases
    "DELETE FROM aliases WHERE model_id = ?1",
    // kClearModelAliasColumns
    "UPDATE versions SET aliases = '' WHERE model_id = ?1 AND aliases <> ''",
    // kSetModelDeleting
    "UPDATE models SET state = 'deleting' WHERE id = ?1",
};

inline StatementUse use(Connection& connection, Sql sql) {
  return connection.use(sql, kSqlText[sql]);
}

// Runs an INSERT ... RETURNING of one row and returns the value it returned (the new row's id).
inline std::int64_t insert_returning(StatementUse& insert) {
  if (!insert->step()) throw StorageError("an INSERT ... RETURNING returned no row");
  const std::int64_t id = insert->int64(0);
  insert->run();
  return id;
}

}  // namespace modelreg::detail

#pragma once

// Rows of the SQL catalogs and the C++ values they hold: encoding and decoding of versions
// and events, and the small reads and writes that several operations share. Everything here
// runs inside the caller's transaction on the caller's connection.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/metadata_store.hpp"
#include "modelreg/model_event.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"
#include "sql/sql_connection.hpp"

namespace modelreg::detail {

inline constexpr std::string_view kVisible = "visible";
inline constexpr std::string_view kRegistering = "registering";
inline constexpr std::string_view kDeleting = "deleting";
// models.state
inline constexpr std::string_view kModelNew = "new";
inline constexpr std::string_view kModelVisible = "visible";
inline constexpr std::string_view kModelDeleting = "deleting";

inline std::int64_t to_nanos(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

inline Timestamp from_nanos(std::int64_t nanos) {
  return Timestamp(
      std::chrono::duration_cast<Timestamp::duration>(std::chrono::nanoseconds(nanos)));
}

inline std::int64_t now_nanos() {
  return to_nanos(std::chrono::system_clock::now());
}

std::string full_name(std::string_view model_name, std::string_view version);

// The JSON-encoded fields of a version, computed before the write transaction starts so that
// an unencodable value fails without ever taking the write lock.
struct EncodedVersion {
  std::string metrics;
  std::string parameters;
  std::string tags;
};
EncodedVersion encode_version(const ModelVersion& version);
// The tags column of a version. Throws InvalidArgumentError for text that is not UTF-8.
std::string encode_tags(const std::map<std::string, std::string>& tags,
                        const std::string& full_name);

// Decodes the MODELREG_VERSION_COLUMNS of the current row from column `first`. A row that does
// not decode was not written by this code: the database is damaged, hence DataLossError.
ModelVersion read_version(const Statement& row, const std::string& path, int first = 0);
std::vector<ModelVersion> read_versions(StatementUse& rows, const std::string& path);
std::optional<ModelVersion> read_optional_version(StatementUse& rows, const std::string& path);

// Decodes the tags column of a version (DataLossError if it does not decode).
std::map<std::string, std::string> decode_tags(std::string_view text, const std::string& path,
                                               const std::string& full_name);

// What a write operation needs to know about the row of a (model, version) key.
struct KeyRow {
  std::int64_t id = 0;
  std::int64_t model_id = 0;
  std::string state;
  std::optional<std::string> owner;
  std::string stage;
  std::string model_state;

  bool visible() const { return state == kVisible; }
  bool held_by(std::string_view who) const { return !visible() && owner && *owner == who; }
};

std::optional<KeyRow> find_key(Connection& connection, std::string_view model_name,
                               std::string_view version);
// The row of a visible version, or NotFoundError naming it.
KeyRow require_visible(Connection& connection, std::string_view model_name,
                       std::string_view version);
// The id of a visible model, or nullopt.
std::optional<std::int64_t> visible_model_id(Connection& connection, std::string_view model_name);

// The visible model `model_name` as lookups show it (tags, versions, aliases), inside the
// caller's read transaction; nullopt if there is none. Defined in sqlite_lookups.cpp.
std::optional<RegisteredModel> read_model(Connection& connection, std::string_view model_name);

// Only called for a row the same transaction just found or wrote.
ModelVersion version_by_id(Connection& connection, std::int64_t id);

// Where a version that becomes visible goes in its model's registration order, and the
// created_at it gets: the one asked for, or the latest version's if that is later. A writer that
// read the clock before waiting for the write lock would otherwise date its version before the
// one registered ahead of it, and "latest by created_at" would disagree with "latest".
struct Place {
  std::int64_t seq = 1;
  std::int64_t created_at = 0;
};
Place next_place(Connection& connection, std::int64_t model_id, Timestamp created_at);

// Appends an event to the history and returns its sequence (event.sequence is ignored).
std::int64_t insert_event(Connection& connection, const ModelEvent& event);
// An event of `type` for `model`/`version` at `time` by `audit`, with no key or values yet.
ModelEvent make_event(EventType type, std::string_view model, std::string_view version,
                      std::int64_t time_nanos, const Audit& audit);
// Decodes the columns of the kEvents* statements.
ModelEvent read_event(const Statement& row, const std::string& path);

// The searchable copies of a version's tags and metrics (version_tags, version_metrics).
void insert_tags_and_metrics(Connection& connection, std::int64_t version_id,
                             const ModelVersion& version);

// Removes the searchable copies of a version's tags and metrics, before the version's row goes.
void delete_tags_and_metrics(Connection& connection, std::int64_t version_id);

// The aliases column: the version's aliases, sorted, separated by spaces.
std::string join_aliases(const std::vector<std::string>& aliases);
std::vector<std::string> split_aliases(std::string_view text);
// Rewrites the aliases column of `version_id` from the aliases table.
void refresh_alias_column(Connection& connection, std::int64_t version_id);

}  // namespace modelreg::detail

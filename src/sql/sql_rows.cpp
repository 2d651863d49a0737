#include "sql/sql_rows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "json_fields.hpp"
#include "modelreg/error.hpp"
#include "sql/sql_statements.hpp"
#include "utf8.hpp"

namespace modelreg::detail {
namespace {

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

// Non-finite metrics are strings in ModelMetrics' JSON ("NaN", "Infinity", "-Infinity").
std::string encode_metrics(const ModelMetrics& metrics, const std::string& full_name) {
  return dump_json(nlohmann::json(metrics), "metrics", full_name);
}

ModelMetrics decode_metrics(std::string_view text) {
  return nlohmann::json::parse(text).get<ModelMetrics>();
}

}  // namespace

std::string full_name(std::string_view model_name, std::string_view version) {
  return fmt::format("{}:{}", model_name, version);
}

EncodedVersion encode_version(const ModelVersion& version) {
  const std::string name = version.full_name();
  return EncodedVersion{encode_metrics(version.metrics, name),
                        dump_json(version.parameters, "parameters", name),
                        encode_tags(version.tags, name)};
}

namespace {

// Appends `text` as a JSON string (quotes, backslashes and control characters escaped).
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::string encode_tags(const std::map<std::string, std::string>& tags,
                        const std::string& full_name) {
  // Written directly: building a JSON document to dump it costs several times more, on every
  // registration and tag change.
  std::string out = "{";
  for (const auto& [key, value] : tags) {
    if (!is_valid_utf8(key) || !is_valid_utf8(value)) {
      throw InvalidArgumentError(fmt::format(
          "tags of {} cannot be stored: tag {} is not valid UTF-8", full_name,
          nlohmann::json(key).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)));
    }
    if (out.size() > 1) out += ',';
    append_json_string(out, key);
    out += ':';
    append_json_string(out, value);
  }
  out += '}';
  return out;
}

std::map<std::string, std::string> decode_tags(std::string_view text, const std::string& path,
                                               const std::string& full_name) {
  if (text == "{}") return {};
  try {
    return parse_string_map(text);
  } catch (const std::exception& e) {
    throw DataLossError(
        fmt::format("{}: the stored tags of {} are corrupt: {}", path, full_name, e.what()));
  }
}

ModelVersion read_version(const Statement& row, const std::string& path, int first) {
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
    if (const std::string_view metrics = row.text_view(first + 7); metrics != "{}") {
      version.metrics = decode_metrics(metrics);
    }
    if (const std::string_view parameters = row.text_view(first + 8); parameters != "{}") {
      version.parameters = nlohmann::json::parse(parameters);
    }
    if (const std::string_view tags = row.text_view(first + 9); tags != "{}") {
      version.tags = parse_string_map(tags);
    }
    version.description = row.text(first + 10);
    version.created_at = from_nanos(row.int64(first + 11));
    version.updated_at = from_nanos(row.int64(first + 12));
    if (!row.text_view(first + 13).empty()) {
      version.aliases = split_aliases(row.text_view(first + 13));
    }
  } catch (const DataLossError&) {
    throw;
  } catch (const std::exception& e) {
    throw DataLossError(fmt::format("{}: the stored row of {} is corrupt: {}", path,
                                    version.full_name(), e.what()));
  }
  return version;
}

std::vector<ModelVersion> read_versions(StatementUse& rows, const std::string& path) {
  std::vector<ModelVersion> versions;
  while (rows->step()) versions.push_back(read_version(*rows, path));
  return versions;
}

std::optional<ModelVersion> read_optional_version(StatementUse& rows, const std::string& path) {
  if (!rows->step()) return std::nullopt;
  return read_version(*rows, path);
}

std::optional<KeyRow> find_key(Connection& connection, std::string_view model_name,
                               std::string_view version) {
  auto row = use(connection, kFindKey);
  row->bind(1, model_name);
  row->bind(2, version);
  if (!row->step()) return std::nullopt;
  return KeyRow{row->int64(0),         row->int64(1), row->text(2),
                row->optional_text(3), row->text(4),  row->text(5)};
}

KeyRow require_visible(Connection& connection, std::string_view model_name,
                       std::string_view version) {
  auto key = find_key(connection, model_name, version);
  if (!key || !key->visible()) {
    throw NotFoundError(fmt::format("no version {}", full_name(model_name, version)));
  }
  return *key;
}

std::optional<std::int64_t> visible_model_id(Connection& connection, std::string_view model_name) {
  auto row = use(connection, kVisibleModelId);
  row->bind(1, model_name);
  if (!row->step()) return std::nullopt;
  return row->int64(0);
}

ModelVersion version_by_id(Connection& connection, std::int64_t id) {
  auto row = use(connection, kVersionById);
  row->bind(1, id);
  if (!row->step()) {
    throw StorageError(
        fmt::format("{}: version row {} vanished inside its transaction", connection.label(), id));
  }
  return read_version(*row, connection.label());
}

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

std::int64_t insert_event(Connection& connection, const ModelEvent& event) {
  auto insert = use(connection, kInsertEvent);
  insert->bind(1, to_nanos(event.time));
  insert->bind(2, to_string(event.type));
  insert->bind(3, event.model_name);
  insert->bind(4, event.version);
  insert->bind(5, event.key);
  insert->bind(6, event.old_value);
  insert->bind(7, event.new_value);
  insert->bind(8, event.actor);
  insert->bind(9, event.reason);
  return insert_returning(insert);
}

ModelEvent make_event(EventType type, std::string_view model, std::string_view version,
                      std::int64_t time_nanos, const Audit& audit) {
  ModelEvent event;
  event.type = type;
  event.model_name = std::string(model);
  event.version = std::string(version);
  event.time = from_nanos(time_nanos);
  event.actor = audit.actor;
  event.reason = audit.reason;
  return event;
}

ModelEvent read_event(const Statement& row, const std::string& path) {
  ModelEvent event;
  event.sequence = row.int64(0);
  try {
    event.time = from_nanos(row.int64(1));
    event.type = parse_event_type(row.text_view(2));
  } catch (const std::exception& e) {
    throw DataLossError(fmt::format("{}: event {} is corrupt: {}", path, event.sequence, e.what()));
  }
  event.model_name = row.text(3);
  event.version = row.text(4);
  event.key = row.text(5);
  event.old_value = row.optional_text(6);
  event.new_value = row.optional_text(7);
  event.actor = row.text(8);
  event.reason = row.text(9);
  return event;
}

void insert_tags_and_metrics(Connection& connection, std::int64_t version_id,
                             const ModelVersion& version) {
  if (!version.tags.empty()) {
    auto insert = use(connection, kInsertVersionTag);
    for (const auto& [key, value] : version.tags) {
      insert->bind(1, version_id);
      insert->bind(2, key);
      insert->bind(3, value);
      insert->run();
      insert->reset();
    }
  }
  const auto metrics = version.metrics.to_dict();
  if (!metrics.empty()) {
    auto insert = use(connection, kInsertVersionMetric);
    for (const auto& [name, value] : metrics) {
      if (std::isnan(value)) continue;  // matches no condition, sorts like a missing metric
      insert->bind(1, version_id);
      insert->bind(2, name);
      insert->bind(3, value);
      insert->run();
      insert->reset();
    }
  }
}

void delete_tags_and_metrics(Connection& connection, std::int64_t version_id) {
  std::optional<std::map<std::string, std::string>> tags;
  {
    auto row = use(connection, kVersionTagsColumn);
    row->bind(1, version_id);
    if (row->step()) {
      try {
        tags = parse_string_map(row->text_view(0));
      } catch (const std::exception&) {
        // A damaged tags column cannot say which rows are this version's: look at them all.
      }
    }
  }
  if (tags) {
    auto remove = use(connection, kDeleteVersionTag);
    for (const auto& [key, value] : *tags) {
      remove->bind(1, version_id);
      remove->bind(2, key);
      remove->bind(3, value);
      remove->run();
      remove->reset();
    }
  } else {
    auto remove = connection.use_dynamic("DELETE FROM version_tags WHERE version_id = ?1");
    remove->bind(1, version_id);
    remove->run();
  }
  auto metrics = use(connection, kDeleteVersionMetrics);
  metrics->bind(1, version_id);
  metrics->run();
}

std::string join_aliases(const std::vector<std::string>& aliases) {
  std::string text;
  for (const auto& alias : aliases) {
    if (!text.empty()) text += ' ';
    text += alias;
  }
  return text;
}

std::vector<std::string> split_aliases(std::string_view text) {
  std::vector<std::string> aliases;
  while (!text.empty()) {
    const auto space = text.find(' ');
    aliases.emplace_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return aliases;
}

void refresh_alias_column(Connection& connection, std::int64_t version_id) {
  std::vector<std::string> aliases;
  {
    auto rows = use(connection, kAliasesOfVersion);
    rows->bind(1, version_id);
    while (rows->step()) aliases.push_back(rows->text(0));
  }
  auto update = use(connection, kSetVersionAliases);
  update->bind(1, version_id);
  update->bind(2, join_aliases(aliases));
  update->run();
}

}  // namespace modelreg::detail

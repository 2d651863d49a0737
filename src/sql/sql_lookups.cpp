// SqlCatalog: lookups, listings and the history. A lookup is one statement, hence one snapshot;
// get_model reads several in one read transaction.

#include <limits>
#include <optional>
#include <string>

#include "sql/sql_catalog.hpp"
#include "sql/sql_rows.hpp"
#include "sql/sql_statements.hpp"

namespace modelreg {

using detail::Connection;
using detail::use;

namespace {

static_assert(detail::kSqlCount <= 256, "a lookup's key names its statement in one byte");

// One version by `sql`, a statement of the model's name (?1) and, with `key`, a version or alias
// (?2), through SqlDatabase::run_lookup. Its key there: the statement, the model and `key`
// (names hold no NUL).
std::optional<ModelVersion> lookup(const detail::SqlDatabase& db, std::string_view operation,
                                   detail::Sql sql, std::string_view model_name,
                                   std::optional<std::string_view> key = std::nullopt) {
  std::string cache_key;
  cache_key.reserve(2 + model_name.size() + (key ? key->size() : 0));
  cache_key += static_cast<char>(sql);
  cache_key += model_name;
  cache_key += '\0';
  if (key) cache_key += *key;
  return db.run_lookup(operation, cache_key, [&](Connection& connection) {
    auto rows = use(connection, sql);
    rows->bind(1, model_name);
    if (key) rows->bind(2, *key);
    return detail::read_optional_version(rows, connection.label());
  });
}

}  // namespace

std::optional<ModelVersion> detail::SqlCatalog::get_version(std::string_view model_name,
                                                            std::string_view version) const {
  return lookup(db_, "get_version", detail::kGetVersion, model_name, version);
}

std::optional<ModelVersion> detail::SqlCatalog::latest_version(std::string_view model_name) const {
  return lookup(db_, "latest_version", detail::kLatest, model_name);
}

std::optional<ModelVersion> detail::SqlCatalog::production_version(
    std::string_view model_name) const {
  return lookup(db_, "production_version", detail::kProduction, model_name);
}

std::optional<ModelVersion> detail::SqlCatalog::get_version_by_alias(std::string_view model_name,
                                                                     std::string_view alias) const {
  return lookup(db_, "get_version_by_alias", detail::kVersionByAlias, model_name, alias);
}

std::vector<ModelVersion> detail::SqlCatalog::list_versions(std::string_view model_name,
                                                            std::optional<ModelStage> stage) const {
  // Each listing is one statement, hence one snapshot.
  const auto list = [&](detail::Sql sql) {
    return db_.read("list_versions", [&](Connection& connection) {
      auto rows = use(connection, sql);
      rows->bind(1, model_name);
      return detail::read_versions(rows, connection.label());
    });
  };
  detail::Sql sql = detail::kListVersions;
  if (stage) {
    switch (*stage) {
      case ModelStage::Development:
        sql = detail::kListDevelopment;
        break;
      case ModelStage::Staging:
        sql = detail::kListStaging;
        break;
      case ModelStage::Production:
        sql = detail::kListProduction;
        break;
      case ModelStage::Archived:
        sql = detail::kListArchived;
        break;
    }
  }
  return list(sql);
}

namespace detail {

// The visible model `model_name` as lookups show it, inside the caller's read transaction.
std::optional<RegisteredModel> read_model(Connection& connection, std::string_view model_name) {
  RegisteredModel model;
  std::int64_t id = 0;
  {
    auto row = use(connection, kGetModel);
    row->bind(1, model_name);
    if (!row->step()) return std::nullopt;
    id = row->int64(0);
    model.name = std::string(model_name);
    model.description = row->text(1);
    model.created_at = from_nanos(row->int64(2));
  }
  {
    auto rows = use(connection, kModelTags);
    rows->bind(1, id);
    while (rows->step()) model.tags.emplace(rows->text(0), rows->text(1));
  }
  auto rows = use(connection, kListVersions);
  rows->bind(1, model_name);
  model.versions = read_versions(rows, connection.label());
  for (const auto& version : model.versions) {
    for (const auto& alias : version.aliases) model.aliases.emplace(alias, version.version);
  }
  return model;
}

}  // namespace detail

std::optional<RegisteredModel> detail::SqlCatalog::get_model(std::string_view model_name) const {
  return db_.read(
      "get_model",
      [&](Connection& connection) { return detail::read_model(connection, model_name); },
      /*snapshot=*/true);
}

std::vector<std::string> detail::SqlCatalog::list_models() const {
  return db_.read("list_models", [&](Connection& connection) {
    auto rows = use(connection, detail::kListModels);
    std::vector<std::string> names;
    while (rows->step()) names.push_back(rows->text(0));
    return names;
  });
}

std::vector<ModelEvent> detail::SqlCatalog::events(const EventQuery& query) const {
  const detail::Sql sql = !query.model_name ? detail::kEventsAll
                          : query.version   ? detail::kEventsOfVersion
                                            : detail::kEventsOfModel;
  return db_.read("events", [&](Connection& connection) {
    auto rows = use(connection, sql);
    rows->bind(1, query.after_sequence);
    if (query.model_name) rows->bind(2, *query.model_name);
    if (query.version) rows->bind(3, *query.version);
    rows->bind(4, query.limit == 0 ? std::numeric_limits<std::int64_t>::max()
                                   : static_cast<std::int64_t>(query.limit));
    std::vector<ModelEvent> events;
    while (rows->step()) events.push_back(detail::read_event(*rows, connection.label()));
    return events;
  });
}

std::int64_t detail::SqlCatalog::latest_event_sequence() const {
  return db_.read("latest_event_sequence", [&](Connection& connection) {
    auto row = use(connection, detail::kLatestEvent);
    return row->step() ? row->int64(0) : 0;
  });
}

}  // namespace modelreg

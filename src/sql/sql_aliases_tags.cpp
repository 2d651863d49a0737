// SqlCatalog: aliases, tags and descriptions. Each change is one write transaction
// that keeps the searchable tables (aliases, version_tags, model_tags) and the copies lookups
// read (versions.aliases, versions.tags) equal, and records its event.

#include <fmt/format.h>

#include "modelreg/error.hpp"
#include "sql/sql_catalog.hpp"
#include "sql/sql_rows.hpp"
#include "sql/sql_statements.hpp"

namespace modelreg {

using detail::Connection;
using detail::use;

namespace {

struct AliasRow {
  std::int64_t version_id = 0;
  std::string version;
};

std::optional<AliasRow> find_alias(Connection& connection, std::int64_t model_id,
                                   std::string_view alias) {
  auto row = use(connection, detail::kFindAlias);
  row->bind(1, model_id);
  row->bind(2, alias);
  if (!row->step()) return std::nullopt;
  return AliasRow{row->int64(0), row->text(1)};
}

std::int64_t require_model(Connection& connection, std::string_view model_name) {
  auto id = detail::visible_model_id(connection, model_name);
  if (!id) throw NotFoundError(fmt::format("no model named {}", model_name));
  return *id;
}

}  // namespace

ModelVersion detail::SqlCatalog::set_alias(std::string_view model_name, std::string_view alias,
                                           std::string_view version,
                                           const std::optional<std::string>& expected_version,
                                           Timestamp now, const Audit& audit) {
  return db_.write("set_alias", [&](Connection& connection) {
    detail::KeyRow key;
    try {
      key = detail::require_visible(connection, model_name, version);
    } catch (const NotFoundError&) {
      throw NotFoundError(fmt::format("cannot point alias '{}' at {}: no such version", alias,
                                      detail::full_name(model_name, version)));
    }
    const auto current = find_alias(connection, key.model_id, alias);
    std::optional<std::string> target;
    if (current) target = current->version;
    if (expected_version && target.value_or("") != *expected_version) {
      throw FailedPreconditionError(fmt::format(
          "alias '{}' of model {} names {}, not the expected {}; nothing was changed", alias,
          model_name, target ? "version " + *target : std::string("no version"),
          expected_version->empty() ? std::string("absence") : "version " + *expected_version));
    }
    if (current && current->version_id == key.id) return detail::version_by_id(connection, key.id);
    if (current) {
      auto move = use(connection, detail::kMoveAlias);
      move->bind(1, key.model_id);
      move->bind(2, alias);
      move->bind(3, key.id);
      move->run();
      detail::refresh_alias_column(connection, current->version_id);
    } else {
      auto insert = use(connection, detail::kInsertAlias);
      insert->bind(1, key.model_id);
      insert->bind(2, alias);
      insert->bind(3, key.id);
      insert->run();
    }
    detail::refresh_alias_column(connection, key.id);
    ModelEvent event =
        detail::make_event(EventType::AliasSet, model_name, version, detail::to_nanos(now), audit);
    event.key = std::string(alias);
    event.old_value = target;
    event.new_value = std::string(version);
    detail::insert_event(connection, event);
    return detail::version_by_id(connection, key.id);
  });
}

bool detail::SqlCatalog::delete_alias(std::string_view model_name, std::string_view alias,
                                      Timestamp now, const Audit& audit) {
  return db_.write("delete_alias", [&](Connection& connection) {
    const auto model_id = detail::visible_model_id(connection, model_name);
    if (!model_id) return false;
    const auto current = find_alias(connection, *model_id, alias);
    if (!current) return false;
    {
      auto remove = use(connection, detail::kDeleteAlias);
      remove->bind(1, *model_id);
      remove->bind(2, alias);
      remove->run();
    }
    detail::refresh_alias_column(connection, current->version_id);
    ModelEvent event = detail::make_event(EventType::AliasDeleted, model_name, current->version,
                                          detail::to_nanos(now), audit);
    event.key = std::string(alias);
    event.old_value = current->version;
    detail::insert_event(connection, event);
    return true;
  });
}

bool detail::SqlCatalog::set_model_tag(std::string_view model_name, std::string_view key,
                                       const std::optional<std::string_view>& value, Timestamp now,
                                       const Audit& audit) {
  return db_.write("set_model_tag", [&](Connection& connection) {
    const std::int64_t model_id = require_model(connection, model_name);
    std::optional<std::string> old_value;
    {
      auto row = use(connection, detail::kModelTag);
      row->bind(1, model_id);
      row->bind(2, key);
      if (row->step()) old_value = row->text(0);
    }
    if (!value && !old_value) return false;
    if (value && old_value == *value) return true;
    auto change = use(connection, value ? detail::kUpsertModelTag : detail::kDeleteModelTag);
    change->bind(1, model_id);
    change->bind(2, key);
    if (value) change->bind(3, *value);
    change->run();
    ModelEvent event =
        detail::make_event(value ? EventType::ModelTagSet : EventType::ModelTagDeleted, model_name,
                           {}, detail::to_nanos(now), audit);
    event.key = std::string(key);
    event.old_value = std::move(old_value);
    if (value) event.new_value = std::string(*value);
    detail::insert_event(connection, event);
    return true;
  });
}

void detail::SqlCatalog::set_model_description(std::string_view model_name,
                                               std::string_view description, Timestamp now,
                                               const Audit& audit) {
  db_.write("set_model_description", [&](Connection& connection) {
    const std::int64_t model_id = require_model(connection, model_name);
    std::string old_value;
    {
      auto row = use(connection, detail::kModelDescription);
      row->bind(1, model_id);
      if (row->step()) old_value = row->text(0);
    }
    if (old_value == description) return;
    {
      auto update = use(connection, detail::kSetModelDescription);
      update->bind(1, model_id);
      update->bind(2, description);
      update->run();
    }
    ModelEvent event = detail::make_event(EventType::ModelDescriptionSet, model_name, {},
                                          detail::to_nanos(now), audit);
    event.old_value = std::move(old_value);
    event.new_value = std::string(description);
    detail::insert_event(connection, event);
  });
}

std::optional<ModelVersion> detail::SqlCatalog::set_version_tag(
    std::string_view model_name, std::string_view version, std::string_view key,
    const std::optional<std::string_view>& value, Timestamp now, const Audit& audit) {
  const std::string name = detail::full_name(model_name, version);
  return db_.write("set_version_tag", [&](Connection& connection) -> std::optional<ModelVersion> {
    const detail::KeyRow row = detail::require_visible(connection, model_name, version);
    std::map<std::string, std::string> tags;
    {
      auto current = use(connection, detail::kVersionTagsAndDescription);
      current->bind(1, row.id);
      if (current->step())
        tags = detail::decode_tags(current->text_view(0), connection.label(), name);
    }
    auto it = tags.find(std::string(key));
    std::optional<std::string> old_value;
    if (it != tags.end()) old_value = it->second;
    if (!value && !old_value) return std::nullopt;
    if (value && old_value == *value) return detail::version_by_id(connection, row.id);
    if (value) {
      tags[std::string(key)] = std::string(*value);
    } else {
      tags.erase(it);
    }
    const std::int64_t now_ns = detail::to_nanos(now);
    if (old_value) {
      auto remove = use(connection, detail::kDeleteVersionTag);
      remove->bind(1, row.id);
      remove->bind(2, key);
      remove->bind(3, *old_value);
      remove->run();
    }
    if (value) {
      auto insert = use(connection, detail::kInsertVersionTag);
      insert->bind(1, row.id);
      insert->bind(2, key);
      insert->bind(3, *value);
      insert->run();
    }
    {
      auto update = use(connection, detail::kSetVersionTags);
      update->bind(1, row.id);
      update->bind(2, detail::encode_tags(tags, name));
      update->bind(3, now_ns);
      update->run();
    }
    ModelEvent event =
        detail::make_event(value ? EventType::VersionTagSet : EventType::VersionTagDeleted,
                           model_name, version, now_ns, audit);
    event.key = std::string(key);
    event.old_value = std::move(old_value);
    if (value) event.new_value = std::string(*value);
    detail::insert_event(connection, event);
    return detail::version_by_id(connection, row.id);
  });
}

ModelVersion detail::SqlCatalog::set_version_description(std::string_view model_name,
                                                         std::string_view version,
                                                         std::string_view description,
                                                         Timestamp now, const Audit& audit) {
  return db_.write("set_version_description", [&](Connection& connection) {
    const detail::KeyRow row = detail::require_visible(connection, model_name, version);
    std::string old_value;
    {
      auto current = use(connection, detail::kVersionTagsAndDescription);
      current->bind(1, row.id);
      if (current->step()) old_value = current->text(1);
    }
    if (old_value == description) return detail::version_by_id(connection, row.id);
    const std::int64_t now_ns = detail::to_nanos(now);
    {
      auto update = use(connection, detail::kSetVersionDescription);
      update->bind(1, row.id);
      update->bind(2, description);
      update->bind(3, now_ns);
      update->run();
    }
    ModelEvent event =
        detail::make_event(EventType::VersionDescriptionSet, model_name, version, now_ns, audit);
    event.old_value = std::move(old_value);
    event.new_value = std::string(description);
    detail::insert_event(connection, event);
    return detail::version_by_id(connection, row.id);
  });
}

}  // namespace modelreg

// SqlCatalog: registration, deletion (of versions and of models), recovery's
// reservations and stage transitions. Each operation is one write transaction that also appends
// its events to the history.

#include <fmt/format.h>

#include "modelreg/error.hpp"
#include "sql/sql_catalog.hpp"
#include "sql/sql_rows.hpp"
#include "sql/sql_statements.hpp"

namespace modelreg {

using detail::Connection;
using detail::KeyRow;
using detail::use;

namespace {

std::string stage_name(ModelStage stage) {
  return std::string(to_string(stage));
}

// Records the registration of a version that becomes visible; returns the event's sequence,
// which is the version's place in the registration order across models.
std::int64_t record_registration(Connection& connection, std::string_view model,
                                 std::string_view version, std::int64_t created_at,
                                 std::string_view stage, const Audit& audit) {
  ModelEvent event =
      detail::make_event(EventType::VersionRegistered, model, version, created_at, audit);
  event.new_value = std::string(stage);
  return detail::insert_event(connection, event);
}

}  // namespace

ModelVersion detail::SqlCatalog::create_version(const ModelVersion& version, std::string_view owner,
                                                const Audit& audit) {
  const detail::EncodedVersion encoded = detail::encode_version(version);
  const std::string stage = stage_name(version.stage);
  const std::string framework(to_string(version.framework));
  const bool reserved = !owner.empty();

  return db_.write(
      "create_version",
      [&](Connection& connection) {
        ModelVersion stored = version;
        stored.aliases.clear();
        std::int64_t model_id = 0;
        std::string model_state;
        {
          auto model = use(connection, detail::kFindModel);
          model->bind(1, version.model_name);
          if (model->step()) {
            model_id = model->int64(0);
            model_state = model->text(1);
          }
        }
        if (model_id != 0) {
          if (model_state == detail::kModelDeleting) {
            throw FailedPreconditionError(
                fmt::format("model {} is being deleted; register {} once the deletion has finished",
                            version.model_name, version.full_name()));
          }
          if (auto existing = detail::find_key(connection, version.model_name, version.version)) {
            throw AlreadyExistsError(fmt::format(
                "{} already exists{}", version.full_name(),
                existing->visible() ? "" : fmt::format(" (reserved: {})", existing->state)));
          }
        } else {
          model_state = reserved ? detail::kModelNew : detail::kModelVisible;
          auto insert = use(connection, detail::kInsertModel);
          insert->bind(1, version.model_name);
          insert->bind(2, detail::to_nanos(version.created_at));
          insert->bind(3, model_state);
          model_id = detail::insert_returning(insert);
        }

        auto insert = use(connection, detail::kInsertVersion);
        insert->bind(1, model_id);
        insert->bind(2, version.version);
        if (reserved) {
          insert->bind_null(3);  // the registration order is assigned when it is published
          insert->bind(4, detail::kRegistering);
          insert->bind(5, owner);
          insert->bind(6, detail::now_nanos());
          insert->bind_null(18);
        } else {
          const detail::Place place = detail::next_place(connection, model_id, version.created_at);
          if (place.created_at != detail::to_nanos(version.created_at)) {
            stored.created_at = detail::from_nanos(place.created_at);
            stored.updated_at = std::max(stored.updated_at, stored.created_at);
          }
          insert->bind(3, place.seq);
          insert->bind(4, detail::kVisible);
          insert->bind_null(5);
          insert->bind_null(6);
          insert->bind(18, record_registration(connection, version.model_name, version.version,
                                               place.created_at, stage, audit));
          if (model_state == detail::kModelNew) {
            auto visible = use(connection, detail::kMakeModelVisible);
            visible->bind(1, model_id);
            visible->bind(2, place.created_at);
            visible->run();
          }
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
        insert->bind(16, detail::to_nanos(stored.created_at));
        insert->bind(17, detail::to_nanos(stored.updated_at));
        detail::insert_tags_and_metrics(connection, detail::insert_returning(insert), version);
        return stored;
      },
      /*durable=*/!reserved);
}

ModelVersion detail::SqlCatalog::publish_version(std::string_view model_name,
                                                 std::string_view version, std::string_view owner,
                                                 const ArtifactInfo& artifact, Timestamp now,
                                                 const Audit& audit) {
  return db_.write("publish_version", [&](Connection& connection) {
    const auto key = detail::find_key(connection, model_name, version);
    if (!key || key->state != detail::kRegistering || !key->held_by(owner)) {
      throw FailedPreconditionError(fmt::format(
          "{} is not reserved for registration by '{}'{}", detail::full_name(model_name, version),
          owner,
          key ? fmt::format(" (it is {}{})", key->state,
                            key->owner ? fmt::format(", held by '{}'", *key->owner) : std::string())
              : std::string(" (no such version)")));
    }
    if (key->model_state == detail::kModelDeleting) {
      throw FailedPreconditionError(
          fmt::format("model {} was deleted while {} was being registered", model_name,
                      detail::full_name(model_name, version)));
    }
    const detail::Place place = detail::next_place(connection, key->model_id, now);
    {
      const std::int64_t reg =
          record_registration(connection, model_name, version, place.created_at, key->stage, audit);
      auto publish = use(connection, detail::kPublish);
      publish->bind(1, key->id);
      publish->bind(2, place.seq);
      publish->bind(3, artifact.path);
      publish->bind(4, static_cast<std::int64_t>(artifact.size));
      publish->bind(5, artifact.sha256);
      publish->bind(6, place.created_at);
      publish->bind(7, reg);
      publish->run();
    }
    if (key->model_state == detail::kModelNew) {
      auto visible = use(connection, detail::kMakeModelVisible);
      visible->bind(1, key->model_id);
      visible->bind(2, place.created_at);
      visible->run();
    }
    return detail::version_by_id(connection, key->id);
  });
}

bool detail::SqlCatalog::release_version(std::string_view model_name, std::string_view version,
                                         std::string_view owner, const Audit& audit) {
  return db_.write("release_version", [&](Connection& connection) {
    const auto key = detail::find_key(connection, model_name, version);
    if (!key || !key->held_by(owner)) return false;
    (void)audit;  // a deletion was recorded by begin_delete, a registration was never visible
    detail::delete_tags_and_metrics(connection, key->id);
    {
      auto remove = use(connection, detail::kDeleteVersion);
      remove->bind(1, key->id);
      remove->run();
    }
    auto remove_model = use(connection, detail::kDeleteModelIfGone);
    remove_model->bind(1, key->model_id);
    remove_model->run();
    return true;
  });
}

std::optional<ModelVersion> detail::SqlCatalog::begin_delete(std::string_view model_name,
                                                             std::string_view version,
                                                             std::string_view owner,
                                                             const Audit& audit) {
  return db_.write("begin_delete", [&](Connection& connection) -> std::optional<ModelVersion> {
    const auto key = detail::find_key(connection, model_name, version);
    if (!key || !key->visible()) return std::nullopt;
    ModelVersion as_it_was = detail::version_by_id(connection, key->id);
    const std::int64_t now = detail::now_nanos();
    // What every lookup sees from now on is a deleted version: record it so.
    if (!as_it_was.aliases.empty()) {
      for (const auto& alias : as_it_was.aliases) {
        ModelEvent event =
            detail::make_event(EventType::AliasDeleted, model_name, version, now, audit);
        event.key = alias;
        event.old_value = std::string(version);
        detail::insert_event(connection, event);
      }
      // The aliases column keeps the list, for cancel_delete to bring back.
      auto remove = use(connection, detail::kDeleteVersionAliases);
      remove->bind(1, key->id);
      remove->run();
    }
    {
      ModelEvent event =
          detail::make_event(EventType::VersionDeleted, model_name, version, now, audit);
      event.old_value = key->stage;
      detail::insert_event(connection, event);
    }
    auto reserve = use(connection, detail::kReserveForDelete);
    reserve->bind(1, key->id);
    reserve->bind(2, owner);
    reserve->bind(3, now);
    reserve->run();
    return as_it_was;
  });
}

bool detail::SqlCatalog::cancel_delete(std::string_view model_name, std::string_view version,
                                       std::string_view owner, const Audit& audit) {
  return db_.write("cancel_delete", [&](Connection& connection) {
    const auto key = detail::find_key(connection, model_name, version);
    if (!key || key->state != detail::kDeleting || !key->held_by(owner) ||
        key->model_state == detail::kModelDeleting) {
      return false;
    }
    const std::int64_t now = detail::now_nanos();
    ModelEvent event =
        detail::make_event(EventType::VersionRestored, model_name, version, now, audit);
    std::string stage = key->stage;
    std::optional<std::int64_t> updated_at;
    if (stage == to_string(ModelStage::Production)) {
      // Another version was promoted while this one was hidden; that later promotion wins, as
      // it would have archived this version had it been visible. Restoring it in Production
      // would make two.
      auto other = use(connection, detail::kOtherProduction);
      other->bind(1, key->model_id);
      other->bind(2, key->id);
      if (other->step()) {
        stage = stage_name(ModelStage::Archived);
        updated_at = now;
        event.key = other->text(1);
      }
    }
    event.new_value = stage;
    {
      auto restore = use(connection, detail::kRestoreVisible);
      restore->bind(1, key->id);
      restore->bind(2, stage);
      if (updated_at) {
        restore->bind(3, *updated_at);
      } else {
        restore->bind_null(3);
      }
      restore->run();
    }
    detail::insert_event(connection, event);
    // Its aliases come back, unless another version took them meanwhile.
    std::string aliases;
    {
      auto column = use(connection, detail::kVersionAliasesColumn);
      column->bind(1, key->id);
      if (column->step()) aliases = column->text(0);
    }
    if (!aliases.empty()) {
      for (const auto& alias : detail::split_aliases(aliases)) {
        {
          auto taken = use(connection, detail::kFindAlias);
          taken->bind(1, key->model_id);
          taken->bind(2, alias);
          if (taken->step()) continue;
        }
        {
          auto insert = use(connection, detail::kInsertAlias);
          insert->bind(1, key->model_id);
          insert->bind(2, alias);
          insert->bind(3, key->id);
          insert->run();
        }
        ModelEvent restored =
            detail::make_event(EventType::AliasSet, model_name, version, now, audit);
        restored.key = alias;
        restored.new_value = std::string(version);
        detail::insert_event(connection, restored);
      }
      detail::refresh_alias_column(connection, key->id);
    }
    return true;
  });
}

std::optional<std::vector<ModelVersion>> detail::SqlCatalog::begin_delete_model(
    std::string_view model_name, std::string_view owner, Timestamp now, const Audit& audit) {
  return db_.write("begin_delete_model",
                   [&](Connection& connection) -> std::optional<std::vector<ModelVersion>> {
                     const auto model_id = detail::visible_model_id(connection, model_name);
                     if (!model_id) return std::nullopt;
                     std::vector<ModelVersion> versions;
                     {
                       auto rows = use(connection, detail::kListVersions);
                       rows->bind(1, model_name);
                       versions = detail::read_versions(rows, connection.label());
                     }
                     const auto run = [&](detail::Sql sql) {
                       auto statement = use(connection, sql);
                       statement->bind(1, *model_id);
                       if (sql == detail::kHideModelVersions) {
                         statement->bind(2, owner);
                         statement->bind(3, detail::to_nanos(now));
                       }
                       statement->run();
                     };
                     run(detail::kHideModelVersions);
                     run(detail::kDeleteModelAliases);
                     run(detail::kClearModelAliasColumns);
                     run(detail::kSetModelDeleting);
                     detail::insert_event(
                         connection, detail::make_event(EventType::ModelDeleted, model_name, {},
                                                        detail::to_nanos(now), audit));
                     run(detail::kDeleteModelIfGone);  // a model without any version goes at once
                     return versions;
                   });
}

std::vector<PendingVersion> detail::SqlCatalog::list_pending() const {
  return db_.read("list_pending", [&](Connection& connection) {
    auto rows = use(connection, detail::kListPending);
    std::vector<PendingVersion> pending;
    while (rows->step()) {
      PendingVersion entry;
      entry.model_name = rows->text(0);
      entry.version = rows->text(1);
      entry.kind = rows->text(2) == detail::kDeleting ? PendingVersion::Kind::Deleting
                                                      : PendingVersion::Kind::Registering;
      entry.owner = rows->text(3);
      entry.artifact_path = rows->optional_text(4);
      entry.since = detail::from_nanos(rows->int64(5));
      pending.push_back(std::move(entry));
    }
    return pending;
  });
}

bool detail::SqlCatalog::claim_pending(std::string_view model_name, std::string_view version,
                                       std::string_view expected_owner,
                                       std::string_view new_owner) {
  return db_.write("claim_pending", [&](Connection& connection) {
    const auto key = detail::find_key(connection, model_name, version);
    if (!key || !key->held_by(expected_owner)) return false;
    auto claim = use(connection, detail::kSetOwner);
    claim->bind(1, key->id);
    claim->bind(2, new_owner);
    claim->run();
    return true;
  });
}

std::optional<ModelVersion> detail::SqlCatalog::set_stage(std::string_view model_name,
                                                          std::string_view version,
                                                          ModelStage stage,
                                                          std::optional<ModelStage> expected,
                                                          Timestamp now, const Audit& audit) {
  const std::string stage_text = stage_name(stage);
  const std::int64_t now_ns = detail::to_nanos(now);
  return db_.write("set_stage", [&](Connection& connection) -> std::optional<ModelVersion> {
    std::optional<KeyRow> key;
    ModelVersion updated;
    {
      auto row = use(connection, detail::kFindKeyWithVersion);
      row->bind(1, model_name);
      row->bind(2, version);
      if (!row->step()) return std::nullopt;
      key = KeyRow{row->int64(0),         row->int64(1), row->text(2),
                   row->optional_text(3), row->text(4),  row->text(5)};
      if (!key->visible()) return std::nullopt;
      updated = detail::read_version(*row, connection.label(), 6);
    }
    if (expected && key->stage != to_string(*expected)) {
      throw FailedPreconditionError(
          fmt::format("{} is in stage {}, not the expected {}; nothing was changed",
                      detail::full_name(model_name, version), key->stage, to_string(*expected)));
    }
    const auto set = [&](std::int64_t id, std::string_view to) {
      auto update = use(connection, detail::kSetStage);
      update->bind(1, id);
      update->bind(2, to);
      update->bind(3, now_ns);
      update->run();
    };
    if (stage == ModelStage::Production) {
      // Before the promotion, in the same transaction: the unique partial index would refuse a
      // second Production row, and no reader ever sees zero-then-one. Promoting the current
      // Production version again finds no other row and archives nothing.
      std::optional<std::pair<std::int64_t, std::string>> previous;
      {
        auto other = use(connection, detail::kOtherProduction);
        other->bind(1, key->model_id);
        other->bind(2, key->id);
        if (other->step()) previous.emplace(other->int64(0), other->text(1));
      }
      if (previous) {
        const std::string archived = stage_name(ModelStage::Archived);
        set(previous->first, archived);
        ModelEvent event = detail::make_event(EventType::StageChanged, model_name, previous->second,
                                              now_ns, audit);
        event.key = std::string(version);
        event.old_value = stage_name(ModelStage::Production);
        event.new_value = archived;
        detail::insert_event(connection, event);
      }
    }
    set(key->id, stage_text);
    if (key->stage != stage_text) {
      ModelEvent event =
          detail::make_event(EventType::StageChanged, model_name, version, now_ns, audit);
      event.old_value = key->stage;
      event.new_value = stage_text;
      detail::insert_event(connection, event);
    }
    updated.stage = stage;
    updated.updated_at = detail::from_nanos(now_ns);
    return updated;
  });
}

}  // namespace modelreg

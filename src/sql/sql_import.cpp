// SqlCatalog::import_model: a model from another registry, in one write transaction.

#include <fmt/format.h>

#include <map>

#include "modelreg/error.hpp"
#include "sql/sql_catalog.hpp"
#include "sql/sql_rows.hpp"
#include "sql/sql_statements.hpp"

namespace modelreg {

using detail::Connection;
using detail::use;

namespace {

// Rare statements: cached by their text, not given slots of their own.
constexpr const char* kImportedVersion =
    "UPDATE versions SET state = 'visible', owner = NULL, pending_since = NULL, seq = ?2, "
    "stage = ?3, artifact_path = ?4, artifact_size = ?5, artifact_sha256 = ?6, created_at = ?7, "
    "updated_at = ?8, reg = ?9, aliases = ?10 WHERE id = ?1";
constexpr const char* kVisibleProduction =
    "SELECT version FROM versions WHERE model_id = ?1 AND stage = 'production' AND "
    "state = 'visible'";
constexpr const char* kInsertTagIfAbsent =
    "INSERT INTO model_tags (model_id, key, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (model_id, key) DO NOTHING";
constexpr const char* kSetDescriptionIfEmpty =
    "UPDATE models SET description = ?2 WHERE id = ?1 AND description = ''";
constexpr const char* kSetCreatedAt = "UPDATE models SET created_at = ?2 WHERE id = ?1";

}  // namespace

void detail::SqlCatalog::import_model(const ModelImport& import, std::string_view owner,
                                      const Audit& audit) {
  db_.write("import_model", [&](Connection& connection) {
    std::int64_t model_id = 0;
    std::string model_state;
    {
      auto model = use(connection, detail::kFindModel);
      model->bind(1, import.model_name);
      if (model->step()) {
        model_id = model->int64(0);
        model_state = model->text(1);
      }
    }
    if (model_id == 0 && !import.versions.empty()) {
      throw FailedPreconditionError(
          fmt::format("model {} has no reservations of the import's versions", import.model_name));
    }
    if (model_state == detail::kModelDeleting) {
      throw FailedPreconditionError(
          fmt::format("model {} is being deleted; import it once the deletion has finished",
                      import.model_name));
    }
    // Every check before the first change (a throw rolls the transaction back anyway, but the
    // error should name the first conflict, not a constraint).
    std::vector<std::int64_t> ids;
    bool imports_production = false;
    for (const ModelVersion& version : import.versions) {
      const auto key = detail::find_key(connection, import.model_name, version.version);
      if (!key || key->state != detail::kRegistering || !key->held_by(owner)) {
        throw FailedPreconditionError(
            fmt::format("{} is not reserved for the import by '{}'", version.full_name(), owner));
      }
      ids.push_back(key->id);
      for (const std::string& alias : version.aliases) {
        auto found = use(connection, detail::kFindAlias);
        found->bind(1, model_id);
        found->bind(2, alias);
        if (found->step()) {
          throw AlreadyExistsError(fmt::format("model {} already has alias '{}' (it names {})",
                                               import.model_name, alias, found->text(1)));
        }
      }
      imports_production = imports_production || version.stage == ModelStage::Production;
    }
    if (imports_production) {
      auto production = connection.use_dynamic(kVisibleProduction);
      production->bind(1, model_id);
      if (production->step()) {
        throw FailedPreconditionError(
            fmt::format("model {} already has a Production version ({}); the import has one too",
                        import.model_name, production->text(0)));
      }
    }

    const bool was_new = model_id == 0 || model_state == detail::kModelNew;
    if (model_id == 0) {  // an import of a model without versions
      auto insert = use(connection, detail::kInsertModel);
      insert->bind(1, import.model_name);
      insert->bind(2, detail::to_nanos(import.created_at));
      insert->bind(3, detail::kModelVisible);
      model_id = detail::insert_returning(insert);
    }
    // The history first, so that each version's registration order is its imported event's.
    std::map<std::string, std::int64_t, std::less<>> registered;
    for (const ModelEvent& event : import.events) {
      const std::int64_t sequence = detail::insert_event(connection, event);
      if (event.type == EventType::VersionRegistered) registered[event.version] = sequence;
    }
    std::int64_t first_created = 0;
    for (std::size_t i = 0; i < import.versions.size(); ++i) {
      const ModelVersion& v = import.versions[i];
      const detail::Place place = detail::next_place(connection, model_id, v.created_at);
      const std::int64_t updated = std::max(place.created_at, detail::to_nanos(v.updated_at));
      if (i == 0) first_created = place.created_at;
      std::int64_t reg = 0;
      if (auto it = registered.find(v.version); it != registered.end()) {
        reg = it->second;
      } else {
        ModelEvent event = detail::make_event(EventType::VersionRegistered, v.model_name, v.version,
                                              place.created_at, audit);
        event.new_value = std::string(to_string(v.stage));
        reg = detail::insert_event(connection, event);
      }
      auto update = connection.use_dynamic(kImportedVersion);
      update->bind(1, ids[i]);
      update->bind(2, place.seq);
      update->bind(3, std::string(to_string(v.stage)));
      if (v.artifact_path) {
        update->bind(4, *v.artifact_path);
      } else {
        update->bind_null(4);
      }
      update->bind(5, static_cast<std::int64_t>(v.artifact_size));
      update->bind(6, v.artifact_sha256);
      update->bind(7, place.created_at);
      update->bind(8, updated);
      update->bind(9, reg);
      update->bind(10, detail::join_aliases(v.aliases));
      update->run();
      for (const std::string& alias : v.aliases) {
        auto insert = use(connection, detail::kInsertAlias);
        insert->bind(1, model_id);
        insert->bind(2, alias);
        insert->bind(3, ids[i]);
        insert->run();
      }
    }
    if (was_new) {
      auto visible = use(connection, detail::kMakeModelVisible);
      visible->bind(1, model_id);
      visible->bind(2, first_created);
      visible->run();
      if (import.created_at != Timestamp{}) {
        auto created = connection.use_dynamic(kSetCreatedAt);
        created->bind(1, model_id);
        created->bind(2, detail::to_nanos(import.created_at));
        created->run();
      }
    }
    {
      auto description = connection.use_dynamic(kSetDescriptionIfEmpty);
      description->bind(1, model_id);
      description->bind(2, import.description);
      description->run();
    }
    for (const auto& [key, value] : import.tags) {
      auto tag = connection.use_dynamic(kInsertTagIfAbsent);
      tag->bind(1, model_id);
      tag->bind(2, key);
      tag->bind(3, value);
      tag->run();
    }
  });
}

}  // namespace modelreg

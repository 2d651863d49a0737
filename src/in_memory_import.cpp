// InMemoryMetadataStore::import_model: a model from another registry, in one step.

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "in_memory_state.hpp"
#include "modelreg/error.hpp"

namespace modelreg {

using detail::Model;
using detail::ModelState;
using detail::Row;
using detail::RowState;

void InMemoryMetadataStore::import_model_impl(const ModelImport& import, std::string_view owner,
                                              const Audit& audit) {
  std::unique_lock lock(mutex_);
  Model* model = state_->find_model(import.model_name);
  // Every check first: nothing changes on any error.
  if (model == nullptr && !import.versions.empty()) {
    throw FailedPreconditionError(
        fmt::format("model {} has no reservations of the import's versions", import.model_name));
  }
  if (model != nullptr && model->state == ModelState::Deleting) {
    throw FailedPreconditionError(fmt::format(
        "model {} is being deleted; import it once the deletion has finished", import.model_name));
  }
  bool imports_production = false;
  for (const ModelVersion& version : import.versions) {
    auto it = model->rows.find(version.version);
    if (it == model->rows.end() || it->second.state != RowState::Registering ||
        it->second.owner != owner) {
      throw FailedPreconditionError(
          fmt::format("{} is not reserved for the import by '{}'", version.full_name(), owner));
    }
    for (const std::string& alias : version.aliases) {
      if (model->aliases.count(alias) != 0) {
        throw AlreadyExistsError(fmt::format("model {} already has alias '{}' (it names {})",
                                             import.model_name, alias, model->aliases[alias]));
      }
    }
    imports_production = imports_production || version.stage == ModelStage::Production;
  }
  if (imports_production && model != nullptr && model->production) {
    throw FailedPreconditionError(
        fmt::format("model {} already has a Production version ({}); the import has one too",
                    import.model_name, *model->production));
  }

  const bool was_new = model == nullptr || model->state == ModelState::New;
  if (model == nullptr) {  // an import of a model without versions
    model = &state_->models[import.model_name];
    model->info.name = import.model_name;
  }
  // The history first, so that each version's registration order is its imported event's.
  std::map<std::string, std::int64_t, std::less<>> registered;
  for (ModelEvent event : import.events) {
    const bool registration = event.type == EventType::VersionRegistered;
    const std::string version = event.version;
    const std::int64_t sequence = state_->record(std::move(event));
    if (registration) registered[version] = sequence;
  }
  for (const ModelVersion& version : import.versions) {
    Row& row = model->rows.find(version.version)->second;
    // The reservation has the rest (framework, metrics, parameters, tags, description).
    row.version.stage = version.stage;
    row.version.artifact_path = version.artifact_path;
    row.version.artifact_size = version.artifact_size;
    row.version.artifact_sha256 = version.artifact_sha256;
    row.version.aliases = version.aliases;
    std::sort(row.version.aliases.begin(), row.version.aliases.end());
    row.version.created_at = version.created_at;
    row.version.updated_at = version.updated_at;
    row.state = RowState::Visible;
    row.owner.clear();
    row.seq = model->next_seq++;
    model->visible_by_seq[row.seq] = version.version;
    ModelVersion& v = row.version;
    if (!model->created_by_seq.empty() && v.created_at < model->created_by_seq.rbegin()->second) {
      v.created_at = model->created_by_seq.rbegin()->second;
      v.updated_at = std::max(v.updated_at, v.created_at);
    }
    model->created_by_seq[row.seq] = v.created_at;
    if (model->state == ModelState::New) {
      model->info.created_at = v.created_at;
      model->state = ModelState::Visible;
    }
    if (auto it = registered.find(v.version); it != registered.end()) {
      row.reg = it->second;
    } else {
      ModelEvent event;
      event.type = EventType::VersionRegistered;
      event.model_name = v.model_name;
      event.version = v.version;
      event.time = v.created_at;
      event.new_value = std::string(to_string(v.stage));
      event.actor = audit.actor;
      event.reason = audit.reason;
      row.reg = state_->record(std::move(event));
    }
    for (const std::string& alias : v.aliases) model->aliases[alias] = v.version;
    if (v.stage == ModelStage::Production) model->production = v.version;
  }
  model->state = ModelState::Visible;
  if (was_new && import.created_at != Timestamp{}) model->info.created_at = import.created_at;
  if (model->info.description.empty()) model->info.description = import.description;
  for (const auto& [key, value] : import.tags) model->info.tags.emplace(key, value);
}

}  // namespace modelreg

#include "modelreg/in_memory_metadata_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <mutex>

#include "modelreg/error.hpp"

namespace modelreg {

namespace {

enum class RowState { Visible, Registering, Deleting };

struct Row {
  ModelVersion version;
  RowState state = RowState::Visible;
  std::string owner;
  std::uint64_t seq = 0;  // registration order among visible versions; 0 while registering
  Timestamp since{};      // when the current reservation was taken
};

struct Model {
  RegisteredModel info;  // name, description, tags, created_at; `versions` stays empty
  std::map<std::string, Row, std::less<>> rows;
  std::map<std::uint64_t, std::string> visible_by_seq;
  std::optional<std::string> production;
  std::uint64_t next_seq = 1;
  // created_at of every row that has a place in the registration order (visible, or being
  // deleted), by that place: the last entry dates the model's latest version.
  std::map<std::uint64_t, Timestamp> created_by_seq;
};

}  // namespace

struct InMemoryMetadataStore::State {
  std::map<std::string, Model, std::less<>> models;

  Model* find_model(std::string_view name) {
    auto it = models.find(name);
    return it == models.end() ? nullptr : &it->second;
  }
  const Model* find_model(std::string_view name) const {
    auto it = models.find(name);
    return it == models.end() ? nullptr : &it->second;
  }
  Row* find_row(std::string_view name, std::string_view version) {
    Model* model = find_model(name);
    if (model == nullptr) return nullptr;
    auto it = model->rows.find(version);
    return it == model->rows.end() ? nullptr : &it->second;
  }
  const Row* find_visible(std::string_view name, std::string_view version) const {
    const Model* model = find_model(name);
    if (model == nullptr) return nullptr;
    auto it = model->rows.find(version);
    if (it == model->rows.end() || it->second.state != RowState::Visible) return nullptr;
    return &it->second;
  }

  // Makes `row` visible as the newest version of `model`, dated no earlier than the version
  // made visible before it (see MetadataStore::create_version).
  static void make_visible(Model& model, Row& row) {
    row.state = RowState::Visible;
    row.owner.clear();
    row.seq = model.next_seq++;
    model.visible_by_seq[row.seq] = row.version.version;
    ModelVersion& v = row.version;
    if (!model.created_by_seq.empty() && v.created_at < model.created_by_seq.rbegin()->second) {
      v.created_at = model.created_by_seq.rbegin()->second;
      v.updated_at = std::max(v.updated_at, v.created_at);
    }
    model.created_by_seq[row.seq] = v.created_at;
  }
};

InMemoryMetadataStore::InMemoryMetadataStore() : state_(std::make_unique<State>()) {}
InMemoryMetadataStore::~InMemoryMetadataStore() = default;

ModelVersion InMemoryMetadataStore::create_version_impl(const ModelVersion& version,
                                                        std::string_view owner) {
  std::unique_lock lock(mutex_);
  auto [it, created] = state_->models.try_emplace(version.model_name);
  Model& model = it->second;
  if (created) {
    model.info.name = version.model_name;
    model.info.created_at = version.created_at;
  }
  if (model.rows.count(version.version) != 0) {
    throw AlreadyExistsError(
        fmt::format("version {} already exists for model {}", version.version, version.model_name));
  }
  Row& row = model.rows[version.version];
  row.version = version;
  row.since = version.created_at;
  if (owner.empty()) {
    State::make_visible(model, row);
  } else {
    row.state = RowState::Registering;
    row.owner = std::string(owner);
  }
  return row.version;
}

ModelVersion InMemoryMetadataStore::publish_version_impl(std::string_view model_name,
                                                         std::string_view version,
                                                         std::string_view owner,
                                                         const ArtifactInfo& artifact,
                                                         Timestamp now) {
  std::unique_lock lock(mutex_);
  Row* row = state_->find_row(model_name, version);
  if (row == nullptr || row->state != RowState::Registering || row->owner != owner) {
    throw FailedPreconditionError(
        fmt::format("{}:{} is not reserved for registration by this writer", model_name, version));
  }
  row->version.artifact_path = artifact.path;
  row->version.artifact_size = artifact.size;
  row->version.artifact_sha256 = artifact.sha256;
  row->version.created_at = now;
  row->version.updated_at = now;
  State::make_visible(*state_->find_model(model_name), *row);
  return row->version;
}

bool InMemoryMetadataStore::release_version_impl(std::string_view model_name,
                                                 std::string_view version, std::string_view owner) {
  std::unique_lock lock(mutex_);
  Model* model = state_->find_model(model_name);
  if (model == nullptr) return false;
  auto it = model->rows.find(version);
  if (it == model->rows.end() || it->second.state == RowState::Visible ||
      it->second.owner != owner) {
    return false;
  }
  model->created_by_seq.erase(it->second.seq);  // nothing for a registration's (seq 0)
  model->rows.erase(it);
  if (model->rows.empty()) state_->models.erase(state_->models.find(model_name));
  return true;
}

std::optional<ModelVersion> InMemoryMetadataStore::begin_delete_impl(std::string_view model_name,
                                                                     std::string_view version,
                                                                     std::string_view owner) {
  std::unique_lock lock(mutex_);
  Model* model = state_->find_model(model_name);
  Row* row = state_->find_row(model_name, version);
  if (row == nullptr || row->state != RowState::Visible) return std::nullopt;
  model->visible_by_seq.erase(row->seq);
  if (model->production == row->version.version) model->production.reset();
  row->state = RowState::Deleting;
  row->owner = std::string(owner);
  row->since = std::chrono::system_clock::now();
  return row->version;
}

bool InMemoryMetadataStore::cancel_delete_impl(std::string_view model_name,
                                               std::string_view version, std::string_view owner) {
  std::unique_lock lock(mutex_);
  Model* model = state_->find_model(model_name);
  Row* row = state_->find_row(model_name, version);
  if (row == nullptr || row->state != RowState::Deleting || row->owner != owner) return false;
  row->state = RowState::Visible;
  row->owner.clear();
  model->visible_by_seq[row->seq] = row->version.version;
  if (row->version.stage == ModelStage::Production) {
    // Another version was promoted meanwhile: it keeps Production, this one is archived.
    if (model->production) {
      row->version.stage = ModelStage::Archived;
    } else {
      model->production = row->version.version;
    }
  }
  return true;
}

std::vector<PendingVersion> InMemoryMetadataStore::list_pending_impl() const {
  std::shared_lock lock(mutex_);
  std::vector<PendingVersion> pending;
  for (const auto& [name, model] : state_->models) {
    for (const auto& [version, row] : model.rows) {
      if (row.state == RowState::Visible) continue;
      PendingVersion p;
      p.model_name = name;
      p.version = version;
      p.kind = row.state == RowState::Registering ? PendingVersion::Kind::Registering
                                                  : PendingVersion::Kind::Deleting;
      p.owner = row.owner;
      p.artifact_path = row.version.artifact_path;
      p.since = row.since;
      pending.push_back(std::move(p));
    }
  }
  std::stable_sort(
      pending.begin(), pending.end(),
      [](const PendingVersion& a, const PendingVersion& b) { return a.since < b.since; });
  return pending;
}

bool InMemoryMetadataStore::claim_pending_impl(std::string_view model_name,
                                               std::string_view version,
                                               std::string_view expected_owner,
                                               std::string_view new_owner) {
  std::unique_lock lock(mutex_);
  Row* row = state_->find_row(model_name, version);
  if (row == nullptr || row->state == RowState::Visible || row->owner != expected_owner) {
    return false;
  }
  row->owner = std::string(new_owner);
  return true;
}

std::optional<ModelVersion> InMemoryMetadataStore::set_stage_impl(
    std::string_view model_name, std::string_view version, ModelStage stage,
    std::optional<ModelStage> expected, Timestamp now) {
  std::unique_lock lock(mutex_);
  Model* model = state_->find_model(model_name);
  Row* row = state_->find_row(model_name, version);
  if (row == nullptr || row->state != RowState::Visible) return std::nullopt;
  if (expected && row->version.stage != *expected) {
    throw FailedPreconditionError(fmt::format("{}:{} is in stage {}, not {}", model_name, version,
                                              to_string(row->version.stage), to_string(*expected)));
  }
  if (stage == ModelStage::Production && model->production && *model->production != version) {
    Row& previous = model->rows.at(*model->production);
    previous.version.stage = ModelStage::Archived;
    previous.version.updated_at = now;
  }
  if (stage == ModelStage::Production) {
    model->production = std::string(version);
  } else if (model->production == version) {
    model->production.reset();
  }
  row->version.stage = stage;
  row->version.updated_at = now;
  return row->version;
}

std::optional<ModelVersion> InMemoryMetadataStore::get_version_impl(
    std::string_view model_name, std::string_view version) const {
  std::shared_lock lock(mutex_);
  const Row* row = state_->find_visible(model_name, version);
  if (row == nullptr) return std::nullopt;
  return row->version;
}

std::optional<ModelVersion> InMemoryMetadataStore::latest_version_impl(
    std::string_view model_name) const {
  std::shared_lock lock(mutex_);
  const Model* model = state_->find_model(model_name);
  if (model == nullptr || model->visible_by_seq.empty()) return std::nullopt;
  return model->rows.find(model->visible_by_seq.rbegin()->second)->second.version;
}

std::optional<ModelVersion> InMemoryMetadataStore::production_version_impl(
    std::string_view model_name) const {
  std::shared_lock lock(mutex_);
  const Model* model = state_->find_model(model_name);
  if (model == nullptr || !model->production) return std::nullopt;
  return model->rows.find(*model->production)->second.version;
}

std::vector<ModelVersion> InMemoryMetadataStore::list_versions_impl(
    std::string_view model_name, std::optional<ModelStage> stage) const {
  std::shared_lock lock(mutex_);
  std::vector<ModelVersion> versions;
  const Model* model = state_->find_model(model_name);
  if (model == nullptr) return versions;
  for (const auto& [seq, version] : model->visible_by_seq) {
    const ModelVersion& v = model->rows.find(version)->second.version;
    if (!stage || v.stage == *stage) versions.push_back(v);
  }
  return versions;
}

std::optional<RegisteredModel> InMemoryMetadataStore::get_model_impl(
    std::string_view model_name) const {
  std::shared_lock lock(mutex_);
  const Model* model = state_->find_model(model_name);
  if (model == nullptr || model->visible_by_seq.empty()) return std::nullopt;
  RegisteredModel result = model->info;
  for (const auto& [seq, version] : model->visible_by_seq) {
    result.versions.push_back(model->rows.find(version)->second.version);
  }
  return result;
}

std::vector<std::string> InMemoryMetadataStore::list_models_impl() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> names;
  names.reserve(state_->models.size());
  for (const auto& [name, model] : state_->models) {
    if (!model.visible_by_seq.empty()) names.push_back(name);
  }
  return names;
}

}  // namespace modelreg

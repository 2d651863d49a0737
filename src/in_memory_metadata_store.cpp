#include "modelreg/in_memory_metadata_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <mutex>

#include "in_memory_state.hpp"
#include "modelreg/error.hpp"
#include "owner_lease.hpp"

namespace modelreg {

using detail::Model;
using detail::ModelState;
using detail::Row;
using detail::RowState;

namespace {

Timestamp clock_now() {
  return std::chrono::system_clock::now();
}

ModelEvent make_event(EventType type, std::string_view model, std::string_view version,
                      Timestamp time, const Audit& audit) {
  ModelEvent event;
  event.type = type;
  event.model_name = std::string(model);
  event.version = std::string(version);
  event.time = time;
  event.actor = audit.actor;
  event.reason = audit.reason;
  return event;
}

std::string full_name(std::string_view model, std::string_view version) {
  return fmt::format("{}:{}", model, version);
}

void add_alias(ModelVersion& version, const std::string& alias) {
  auto& aliases = version.aliases;
  aliases.insert(std::lower_bound(aliases.begin(), aliases.end(), alias), alias);
}

void remove_alias(ModelVersion& version, std::string_view alias) {
  auto& aliases = version.aliases;
  aliases.erase(std::remove(aliases.begin(), aliases.end(), alias), aliases.end());
}

}  // namespace

// --- State --------------------------------------------------------------------------------

Model* InMemoryMetadataStore::State::find_model(std::string_view name) {
  auto it = models.find(name);
  return it == models.end() ? nullptr : &it->second;
}

const Model* InMemoryMetadataStore::State::find_model(std::string_view name) const {
  auto it = models.find(name);
  return it == models.end() ? nullptr : &it->second;
}

const Model* InMemoryMetadataStore::State::visible_model(std::string_view name) const {
  const Model* model = find_model(name);
  return model != nullptr && model->state == ModelState::Visible ? model : nullptr;
}

Model* InMemoryMetadataStore::State::visible_model(std::string_view name) {
  Model* model = find_model(name);
  return model != nullptr && model->state == ModelState::Visible ? model : nullptr;
}

Row* InMemoryMetadataStore::State::find_row(std::string_view name, std::string_view version) {
  Model* model = find_model(name);
  if (model == nullptr) return nullptr;
  auto it = model->rows.find(version);
  return it == model->rows.end() ? nullptr : &it->second;
}

const Row* InMemoryMetadataStore::State::find_visible(std::string_view name,
                                                      std::string_view version) const {
  const Model* model = find_model(name);
  if (model == nullptr) return nullptr;
  auto it = model->rows.find(version);
  if (it == model->rows.end() || it->second.state != RowState::Visible) return nullptr;
  return &it->second;
}

Row* InMemoryMetadataStore::State::find_visible(std::string_view name, std::string_view version) {
  return const_cast<Row*>(std::as_const(*this).find_visible(name, version));
}

std::int64_t InMemoryMetadataStore::State::record(ModelEvent event) {
  event.sequence = static_cast<std::int64_t>(events.size()) + 1;
  events.push_back(std::move(event));
  return events.back().sequence;
}

RegisteredModel InMemoryMetadataStore::State::snapshot(const Model& model) const {
  RegisteredModel result = model.info;
  for (const auto& [seq, version] : model.visible_by_seq) {
    result.versions.push_back(model.rows.find(version)->second.version);
  }
  result.aliases.insert(model.aliases.begin(), model.aliases.end());
  return result;
}

namespace {

using State = InMemoryMetadataStore::State;

// Makes `row` visible as the newest version of `model`, dated no earlier than the version made
// visible before it (see MetadataStore::create_version), and records its registration.
void make_visible(State& state, Model& model, Row& row, const Audit& audit) {
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
  if (model.state == ModelState::New) {
    model.info.created_at = v.created_at;  // a model is created when its first version shows
    model.state = ModelState::Visible;
  }
  ModelEvent event =
      make_event(EventType::VersionRegistered, v.model_name, v.version, v.created_at, audit);
  event.new_value = std::string(to_string(v.stage));
  row.reg = state.record(std::move(event));
}

// Removes the row `it` of `model`, and the model if that was its last row and it is not to stay.
void erase_row(State& state, Model& model, std::map<std::string, Row, std::less<>>::iterator it) {
  model.created_by_seq.erase(it->second.seq);  // nothing for a registration's (seq 0)
  model.rows.erase(it);
  if (model.rows.empty() && model.state != ModelState::Visible) {
    state.models.erase(state.models.find(model.info.name));
  }
}

}  // namespace

InMemoryMetadataStore::InMemoryMetadataStore()
    : state_(std::make_unique<State>()), writers_(std::make_shared<detail::LiveOwners>()) {}
InMemoryMetadataStore::~InMemoryMetadataStore() = default;

std::unique_ptr<WriterLease> InMemoryMetadataStore::acquire_writer_lease_impl() {
  return writers_->acquire();
}

bool InMemoryMetadataStore::is_writer_alive_impl(std::string_view owner) const {
  return writers_->is_alive(owner);
}

ModelVersion InMemoryMetadataStore::create_version_impl(const ModelVersion& version,
                                                        std::string_view owner,
                                                        const Audit& audit) {
  std::unique_lock lock(mutex_);
  auto [it, created] = state_->models.try_emplace(version.model_name);
  Model& model = it->second;
  if (created) {
    model.info.name = version.model_name;
    model.info.created_at = version.created_at;
  } else if (model.state == ModelState::Deleting) {
    throw FailedPreconditionError(
        fmt::format("model {} is being deleted; register {} once the deletion has finished",
                    version.model_name, version.full_name()));
  }
  if (model.rows.count(version.version) != 0) {
    throw AlreadyExistsError(
        fmt::format("version {} already exists for model {}", version.version, version.model_name));
  }
  Row& row = model.rows[version.version];
  row.version = version;
  row.version.aliases.clear();
  row.since = version.created_at;
  if (owner.empty()) {
    make_visible(*state_, model, row, audit);
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
                                                         Timestamp now, const Audit& audit) {
  std::unique_lock lock(mutex_);
  Row* row = state_->find_row(model_name, version);
  if (row == nullptr || row->state != RowState::Registering || row->owner != owner) {
    throw FailedPreconditionError(fmt::format("{} is not reserved for registration by this writer",
                                              full_name(model_name, version)));
  }
  Model& model = *state_->find_model(model_name);
  if (model.state == ModelState::Deleting) {
    throw FailedPreconditionError(fmt::format("model {} was deleted while {} was being registered",
                                              model_name, full_name(model_name, version)));
  }
  row->version.artifact_path = artifact.path;
  row->version.artifact_size = artifact.size;
  row->version.artifact_sha256 = artifact.sha256;
  row->version.created_at = now;
  row->version.updated_at = now;
  make_visible(*state_, model, *row, audit);
  return row->version;
}

bool InMemoryMetadataStore::release_version_impl(std::string_view model_name,
                                                 std::string_view version, std::string_view owner,
                                                 const Audit& audit) {
  std::unique_lock lock(mutex_);
  Model* model = state_->find_model(model_name);
  if (model == nullptr) return false;
  auto it = model->rows.find(version);
  if (it == model->rows.end() || it->second.state == RowState::Visible ||
      it->second.owner != owner) {
    return false;
  }
  (void)audit;  // a deletion was recorded by begin_delete, a registration was never visible
  erase_row(*state_, *model, it);
  return true;
}

std::optional<ModelVersion> InMemoryMetadataStore::begin_delete_impl(std::string_view model_name,
                                                                     std::string_view version,
                                                                     std::string_view owner,
                                                                     const Audit& audit) {
  std::unique_lock lock(mutex_);
  Model* model = state_->find_model(model_name);
  Row* row = state_->find_visible(model_name, version);
  if (row == nullptr) return std::nullopt;
  ModelVersion as_it_was = row->version;
  const Timestamp now = clock_now();
  // What every lookup sees from now on is a deleted version: record it so.
  for (const auto& alias : as_it_was.aliases) {
    model->aliases.erase(model->aliases.find(alias));
    ModelEvent event = make_event(EventType::AliasDeleted, model_name, version, now, audit);
    event.key = alias;
    event.old_value = std::string(version);
    state_->record(std::move(event));
  }
  // row->version.aliases keeps the list, for cancel_delete to bring back.
  ModelEvent event = make_event(EventType::VersionDeleted, model_name, version, now, audit);
  event.old_value = std::string(to_string(row->version.stage));
  state_->record(std::move(event));
  model->visible_by_seq.erase(row->seq);
  if (model->production == row->version.version) model->production.reset();
  row->state = RowState::Deleting;
  row->owner = std::string(owner);
  row->since = now;
  return as_it_was;
}

bool InMemoryMetadataStore::cancel_delete_impl(std::string_view model_name,
                                               std::string_view version, std::string_view owner,
                                               const Audit& audit) {
  std::unique_lock lock(mutex_);
  Model* model = state_->find_model(model_name);
  Row* row = state_->find_row(model_name, version);
  if (row == nullptr || row->state != RowState::Deleting || row->owner != owner ||
      model->state == ModelState::Deleting) {
    return false;
  }
  row->state = RowState::Visible;
  row->owner.clear();
  model->visible_by_seq[row->seq] = row->version.version;
  const Timestamp now = clock_now();
  ModelEvent event = make_event(EventType::VersionRestored, model_name, version, now, audit);
  if (row->version.stage == ModelStage::Production) {
    if (model->production) {
      // Another version was promoted meanwhile: it keeps Production, this one is archived, as
      // that promotion would have done had this version been visible.
      row->version.stage = ModelStage::Archived;
      row->version.updated_at = now;
      event.key = *model->production;
    } else {
      model->production = row->version.version;
    }
  }
  event.new_value = std::string(to_string(row->version.stage));
  state_->record(std::move(event));
  // Its aliases come back, unless another version took them meanwhile.
  std::vector<std::string> kept;
  for (const auto& alias : row->version.aliases) {
    if (!model->aliases.emplace(alias, row->version.version).second) continue;
    kept.push_back(alias);
    ModelEvent restored = make_event(EventType::AliasSet, model_name, version, now, audit);
    restored.key = alias;
    restored.new_value = std::string(version);
    state_->record(std::move(restored));
  }
  row->version.aliases = std::move(kept);
  return true;
}

std::optional<std::vector<ModelVersion>> InMemoryMetadataStore::begin_delete_model_impl(
    std::string_view model_name, std::string_view owner, Timestamp now, const Audit& audit) {
  std::unique_lock lock(mutex_);
  Model* model = state_->visible_model(model_name);
  if (model == nullptr) return std::nullopt;
  std::vector<ModelVersion> deleted;
  for (auto& [seq, version] : model->visible_by_seq) {
    Row& row = model->rows.find(version)->second;
    row.state = RowState::Deleting;
    row.owner = std::string(owner);
    row.since = now;
    deleted.push_back(row.version);
  }
  model->visible_by_seq.clear();
  model->production.reset();
  model->aliases.clear();
  for (auto& [version, row] : model->rows) row.version.aliases.clear();
  model->state = ModelState::Deleting;
  state_->record(make_event(EventType::ModelDeleted, model_name, {}, now, audit));
  if (model->rows.empty()) state_->models.erase(state_->models.find(model_name));
  return deleted;
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
    std::optional<ModelStage> expected, Timestamp now, const Audit& audit) {
  std::unique_lock lock(mutex_);
  Model* model = state_->find_model(model_name);
  Row* row = state_->find_visible(model_name, version);
  if (row == nullptr) return std::nullopt;
  if (expected && row->version.stage != *expected) {
    throw FailedPreconditionError(fmt::format("{} is in stage {}, not {}",
                                              full_name(model_name, version),
                                              to_string(row->version.stage), to_string(*expected)));
  }
  if (stage == ModelStage::Production && model->production && *model->production != version) {
    Row& previous = model->rows.at(*model->production);
    previous.version.stage = ModelStage::Archived;
    previous.version.updated_at = now;
    ModelEvent event =
        make_event(EventType::StageChanged, model_name, previous.version.version, now, audit);
    event.key = std::string(version);
    event.old_value = std::string(to_string(ModelStage::Production));
    event.new_value = std::string(to_string(ModelStage::Archived));
    state_->record(std::move(event));
  }
  if (stage == ModelStage::Production) {
    model->production = std::string(version);
  } else if (model->production == version) {
    model->production.reset();
  }
  const ModelStage from = row->version.stage;
  row->version.stage = stage;
  row->version.updated_at = now;
  if (from != stage) {
    ModelEvent event = make_event(EventType::StageChanged, model_name, version, now, audit);
    event.old_value = std::string(to_string(from));
    event.new_value = std::string(to_string(stage));
    state_->record(std::move(event));
  }
  return row->version;
}

ModelVersion InMemoryMetadataStore::set_alias_impl(
    std::string_view model_name, std::string_view alias, std::string_view version,
    const std::optional<std::string>& expected_version, Timestamp now, const Audit& audit) {
  std::unique_lock lock(mutex_);
  Row* row = state_->find_visible(model_name, version);
  if (row == nullptr) {
    throw NotFoundError(fmt::format("cannot point alias '{}' at {}: no such version", alias,
                                    full_name(model_name, version)));
  }
  Model& model = *state_->find_model(model_name);
  auto current = model.aliases.find(alias);  // aliases only ever name visible versions
  std::optional<std::string> target;
  if (current != model.aliases.end()) target = current->second;
  if (expected_version && target.value_or("") != *expected_version) {
    throw FailedPreconditionError(fmt::format(
        "alias '{}' of model {} names {}, not the expected {}; nothing was changed", alias,
        model_name, target ? "version " + *target : std::string("no version"),
        expected_version->empty() ? std::string("absence") : "version " + *expected_version));
  }
  if (target == version) return row->version;
  ModelEvent event = make_event(EventType::AliasSet, model_name, version, now, audit);
  event.key = std::string(alias);
  event.new_value = std::string(version);
  if (current != model.aliases.end()) {
    remove_alias(model.rows.find(current->second)->second.version, alias);
    event.old_value = current->second;
    current->second = std::string(version);
  } else {
    model.aliases.emplace(std::string(alias), std::string(version));
  }
  add_alias(row->version, std::string(alias));
  state_->record(std::move(event));
  return row->version;
}

bool InMemoryMetadataStore::delete_alias_impl(std::string_view model_name, std::string_view alias,
                                              Timestamp now, const Audit& audit) {
  std::unique_lock lock(mutex_);
  Model* model = state_->visible_model(model_name);
  if (model == nullptr) return false;
  auto current = model->aliases.find(alias);
  if (current == model->aliases.end()) return false;
  Row& target = model->rows.find(current->second)->second;
  remove_alias(target.version, alias);
  const std::string version = current->second;
  model->aliases.erase(current);
  ModelEvent event = make_event(EventType::AliasDeleted, model_name, version, now, audit);
  event.key = std::string(alias);
  event.old_value = version;
  state_->record(std::move(event));
  return true;
}

std::optional<ModelVersion> InMemoryMetadataStore::get_version_by_alias_impl(
    std::string_view model_name, std::string_view alias) const {
  std::shared_lock lock(mutex_);
  const Model* model = state_->visible_model(model_name);
  if (model == nullptr) return std::nullopt;
  auto current = model->aliases.find(alias);
  if (current == model->aliases.end()) return std::nullopt;
  return model->rows.find(current->second)->second.version;
}

bool InMemoryMetadataStore::set_model_tag_impl(std::string_view model_name, std::string_view key,
                                               const std::optional<std::string_view>& value,
                                               Timestamp now, const Audit& audit) {
  std::unique_lock lock(mutex_);
  Model* model = state_->visible_model(model_name);
  if (model == nullptr) throw NotFoundError(fmt::format("no model named {}", model_name));
  auto& tags = model->info.tags;
  auto it = tags.find(std::string(key));
  std::optional<std::string> old_value;
  if (it != tags.end()) old_value = it->second;
  if (!value) {
    if (it == tags.end()) return false;
    tags.erase(it);
  } else {
    if (old_value == *value) return true;
    tags[std::string(key)] = std::string(*value);
  }
  ModelEvent event = make_event(value ? EventType::ModelTagSet : EventType::ModelTagDeleted,
                                model_name, {}, now, audit);
  event.key = std::string(key);
  event.old_value = std::move(old_value);
  if (value) event.new_value = std::string(*value);
  state_->record(std::move(event));
  return true;
}

void InMemoryMetadataStore::set_model_description_impl(std::string_view model_name,
                                                       std::string_view description, Timestamp now,
                                                       const Audit& audit) {
  std::unique_lock lock(mutex_);
  Model* model = state_->visible_model(model_name);
  if (model == nullptr) throw NotFoundError(fmt::format("no model named {}", model_name));
  if (model->info.description == description) return;
  ModelEvent event = make_event(EventType::ModelDescriptionSet, model_name, {}, now, audit);
  event.old_value = model->info.description;
  event.new_value = std::string(description);
  model->info.description = std::string(description);
  state_->record(std::move(event));
}

std::optional<ModelVersion> InMemoryMetadataStore::set_version_tag_impl(
    std::string_view model_name, std::string_view version, std::string_view key,
    const std::optional<std::string_view>& value, Timestamp now, const Audit& audit) {
  std::unique_lock lock(mutex_);
  Row* row = state_->find_visible(model_name, version);
  if (row == nullptr) {
    throw NotFoundError(fmt::format("no version {}", full_name(model_name, version)));
  }
  auto& tags = row->version.tags;
  auto it = tags.find(std::string(key));
  std::optional<std::string> old_value;
  if (it != tags.end()) old_value = it->second;
  if (!value) {
    if (it == tags.end()) return std::nullopt;
    tags.erase(it);
  } else {
    if (old_value == *value) return row->version;
    tags[std::string(key)] = std::string(*value);
  }
  row->version.updated_at = now;
  ModelEvent event = make_event(value ? EventType::VersionTagSet : EventType::VersionTagDeleted,
                                model_name, version, now, audit);
  event.key = std::string(key);
  event.old_value = std::move(old_value);
  if (value) event.new_value = std::string(*value);
  state_->record(std::move(event));
  return row->version;
}

ModelVersion InMemoryMetadataStore::set_version_description_impl(std::string_view model_name,
                                                                 std::string_view version,
                                                                 std::string_view description,
                                                                 Timestamp now,
                                                                 const Audit& audit) {
  std::unique_lock lock(mutex_);
  Row* row = state_->find_visible(model_name, version);
  if (row == nullptr) {
    throw NotFoundError(fmt::format("no version {}", full_name(model_name, version)));
  }
  if (row->version.description == description) return row->version;
  ModelEvent event = make_event(EventType::VersionDescriptionSet, model_name, version, now, audit);
  event.old_value = row->version.description;
  event.new_value = std::string(description);
  row->version.description = std::string(description);
  row->version.updated_at = now;
  state_->record(std::move(event));
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
  const Model* model = state_->visible_model(model_name);
  if (model == nullptr) return std::nullopt;
  return state_->snapshot(*model);
}

std::vector<std::string> InMemoryMetadataStore::list_models_impl() const {
  std::shared_lock lock(mutex_);
  std::vector<std::string> names;
  names.reserve(state_->models.size());
  for (const auto& [name, model] : state_->models) {
    if (model.state == ModelState::Visible) names.push_back(name);
  }
  return names;
}

}  // namespace modelreg

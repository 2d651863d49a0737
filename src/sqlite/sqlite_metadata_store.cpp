// SqliteMetadataStore: opening, writer leases and the list cache; every other operation is the
// shared SQL catalog's (src/sql/), run on this store's SqliteDatabase.

#include "modelreg/sqlite_metadata_store.hpp"

#include <memory>

#include "owner_lease.hpp"
#include "public_call.hpp"
#include "sqlite/sqlite_store_impl.hpp"

namespace modelreg {

// The constructor is a public boundary too: a refused file is logged like any other error.
SqliteMetadataStore::SqliteMetadataStore(const std::filesystem::path& path, SqliteOptions options)
    : impl_(detail::public_call("SqliteMetadataStore::open",
                                [&] { return std::make_unique<Impl>(path, options); })) {}

SqliteMetadataStore::~SqliteMetadataStore() = default;

const std::filesystem::path& SqliteMetadataStore::path() const {
  return impl_->path();
}

const std::filesystem::path& SqliteMetadataStore::lock_directory() const {
  return impl_->lock_directory();
}

std::unique_ptr<WriterLease> SqliteMetadataStore::acquire_writer_lease_impl() {
  return std::make_unique<detail::FileLockLease>(impl_->lock_directory());
}

bool SqliteMetadataStore::is_writer_alive_impl(std::string_view owner) const {
  return detail::FileLockLease::is_alive(impl_->lock_directory(), owner);
}

std::vector<ModelVersion> SqliteMetadataStore::list_versions_impl(
    std::string_view model_name, std::optional<ModelStage> stage) const {
  if (stage || !impl_->list_cache_enabled())
    return impl_->catalog().list_versions(model_name, stage);
  const std::string name(model_name);
  const std::int64_t data_version = impl_->data_version();
  if (auto cached = impl_->cached_list(name, data_version)) return *cached;
  std::vector<ModelVersion> versions = impl_->catalog().list_versions(model_name, std::nullopt);
  if (!impl_->cacheable(versions.size())) return versions;  // no copy of a list not kept
  auto shared = std::make_shared<const std::vector<ModelVersion>>(std::move(versions));
  impl_->remember_list(name, data_version, shared);
  return *shared;
}

std::int64_t SqliteMetadataStore::latest_event_sequence_impl() const {
  return impl_->latest_event_sequence();
}

// --- the shared SQL catalog ------------------------------------------------------------------
ModelVersion SqliteMetadataStore::create_version_impl(const ModelVersion& version,
                                                      std::string_view owner, const Audit& audit) {
  return impl_->catalog().create_version(version, owner, audit);
}

ModelVersion SqliteMetadataStore::publish_version_impl(std::string_view model_name,
                                                       std::string_view version,
                                                       std::string_view owner,
                                                       const ArtifactInfo& artifact, Timestamp now,
                                                       const Audit& audit) {
  return impl_->catalog().publish_version(model_name, version, owner, artifact, now, audit);
}

void SqliteMetadataStore::import_model_impl(const ModelImport& import, std::string_view owner,
                                            const Audit& audit) {
  impl_->catalog().import_model(import, owner, audit);
}

bool SqliteMetadataStore::release_version_impl(std::string_view model_name,
                                               std::string_view version, std::string_view owner,
                                               const Audit& audit) {
  return impl_->catalog().release_version(model_name, version, owner, audit);
}

std::optional<ModelVersion> SqliteMetadataStore::begin_delete_impl(std::string_view model_name,
                                                                   std::string_view version,
                                                                   std::string_view owner,
                                                                   const Audit& audit) {
  return impl_->catalog().begin_delete(model_name, version, owner, audit);
}

bool SqliteMetadataStore::cancel_delete_impl(std::string_view model_name, std::string_view version,
                                             std::string_view owner, const Audit& audit) {
  return impl_->catalog().cancel_delete(model_name, version, owner, audit);
}

std::optional<std::vector<ModelVersion>> SqliteMetadataStore::begin_delete_model_impl(
    std::string_view model_name, std::string_view owner, Timestamp now, const Audit& audit) {
  return impl_->catalog().begin_delete_model(model_name, owner, now, audit);
}

std::vector<PendingVersion> SqliteMetadataStore::list_pending_impl() const {
  return impl_->catalog().list_pending();
}

bool SqliteMetadataStore::claim_pending_impl(std::string_view model_name, std::string_view version,
                                             std::string_view expected_owner,
                                             std::string_view new_owner) {
  return impl_->catalog().claim_pending(model_name, version, expected_owner, new_owner);
}

std::optional<ModelVersion> SqliteMetadataStore::set_stage_impl(std::string_view model_name,
                                                                std::string_view version,
                                                                ModelStage stage,
                                                                std::optional<ModelStage> expected,
                                                                Timestamp now, const Audit& audit) {
  return impl_->catalog().set_stage(model_name, version, stage, expected, now, audit);
}

ModelVersion SqliteMetadataStore::set_alias_impl(std::string_view model_name,
                                                 std::string_view alias, std::string_view version,
                                                 const std::optional<std::string>& expected_version,
                                                 Timestamp now, const Audit& audit) {
  return impl_->catalog().set_alias(model_name, alias, version, expected_version, now, audit);
}

bool SqliteMetadataStore::delete_alias_impl(std::string_view model_name, std::string_view alias,
                                            Timestamp now, const Audit& audit) {
  return impl_->catalog().delete_alias(model_name, alias, now, audit);
}

std::optional<ModelVersion> SqliteMetadataStore::get_version_by_alias_impl(
    std::string_view model_name, std::string_view alias) const {
  return impl_->catalog().get_version_by_alias(model_name, alias);
}

bool SqliteMetadataStore::set_model_tag_impl(std::string_view model_name, std::string_view key,
                                             const std::optional<std::string_view>& value,
                                             Timestamp now, const Audit& audit) {
  return impl_->catalog().set_model_tag(model_name, key, value, now, audit);
}

void SqliteMetadataStore::set_model_description_impl(std::string_view model_name,
                                                     std::string_view description, Timestamp now,
                                                     const Audit& audit) {
  impl_->catalog().set_model_description(model_name, description, now, audit);
}

std::optional<ModelVersion> SqliteMetadataStore::set_version_tag_impl(
    std::string_view model_name, std::string_view version, std::string_view key,
    const std::optional<std::string_view>& value, Timestamp now, const Audit& audit) {
  return impl_->catalog().set_version_tag(model_name, version, key, value, now, audit);
}

ModelVersion SqliteMetadataStore::set_version_description_impl(std::string_view model_name,
                                                               std::string_view version,
                                                               std::string_view description,
                                                               Timestamp now, const Audit& audit) {
  return impl_->catalog().set_version_description(model_name, version, description, now, audit);
}

std::optional<ModelVersion> SqliteMetadataStore::get_version_impl(std::string_view model_name,
                                                                  std::string_view version) const {
  return impl_->catalog().get_version(model_name, version);
}

std::optional<ModelVersion> SqliteMetadataStore::latest_version_impl(
    std::string_view model_name) const {
  return impl_->catalog().latest_version(model_name);
}

std::optional<ModelVersion> SqliteMetadataStore::production_version_impl(
    std::string_view model_name) const {
  return impl_->catalog().production_version(model_name);
}

std::optional<RegisteredModel> SqliteMetadataStore::get_model_impl(
    std::string_view model_name) const {
  return impl_->catalog().get_model(model_name);
}

std::vector<std::string> SqliteMetadataStore::list_models_impl() const {
  return impl_->catalog().list_models();
}

VersionPage SqliteMetadataStore::search_versions_impl(const VersionQuery& query) const {
  return impl_->catalog().search_versions(query);
}

ModelPage SqliteMetadataStore::search_models_impl(const ModelQuery& query) const {
  return impl_->catalog().search_models(query);
}

std::vector<ModelEvent> SqliteMetadataStore::events_impl(const EventQuery& query) const {
  return impl_->catalog().events(query);
}

}  // namespace modelreg

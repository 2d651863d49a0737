// PostgresMetadataStore: opening and writer leases; every other operation is the shared SQL
// catalog's (src/sql/), run on this store's pg::Database.

#include "modelreg/postgres_metadata_store.hpp"

#include <fmt/format.h>

#include <charconv>
#include <memory>
#include <mutex>

#include "postgres/pg_database.hpp"
#include "postgres/pg_notifier.hpp"
#include "public_call.hpp"

namespace modelreg {

namespace {

constexpr std::string_view kOwnerPrefix = "pg-writer-";

// A writer's liveness: the session advisory lock of its number, held by a connection of its
// own for as long as the lease lives. The server releases it when that connection ends, however
// the client ends.
class AdvisoryLockLease final : public WriterLease {
 public:
  AdvisoryLockLease(std::unique_ptr<detail::pg::Connection> connection, std::int64_t id)
      : WriterLease(fmt::format("{}{}", kOwnerPrefix, id)),
        connection_(std::move(connection)),
        id_(id) {}

  // Unlocks before disconnecting: the server ends a closed session's locks only once its
  // backend has exited, a moment later, and the owner must be dead as soon as the lease is.
  ~AdvisoryLockLease() override {
    if (connection_->bad()) return;
    const std::string unlock = fmt::format("SELECT pg_advisory_unlock({})", id_);
    PGresult* result = PQexec(connection_->handle(), unlock.c_str());
    PQclear(result);  // on failure the connection's end releases it all the same
  }

 private:
  std::unique_ptr<detail::pg::Connection> connection_;
  std::int64_t id_;
};

// The writer number in an owner name of ours; nullopt for any other name.
std::optional<std::int64_t> writer_id(std::string_view owner) {
  if (owner.substr(0, kOwnerPrefix.size()) != kOwnerPrefix) return std::nullopt;
  owner.remove_prefix(kOwnerPrefix.size());
  std::int64_t id = 0;
  const auto [end, error] = std::from_chars(owner.data(), owner.data() + owner.size(), id);
  if (error != std::errc() || end != owner.data() + owner.size() || id <= 0) return std::nullopt;
  return id;
}

}  // namespace

class PostgresMetadataStore::Impl {
 public:
  Impl(const std::string& conninfo, PostgresOptions options)
      : database_(conninfo, options), catalog_(database_, detail::SqlDialect::Postgres) {}

  detail::pg::Database& database() { return database_; }
  const detail::pg::Database& database() const { return database_; }
  detail::SqlCatalog& catalog() { return catalog_; }
  const detail::SqlCatalog& catalog() const { return catalog_; }

  // The notifier, started by the first registration.
  detail::pg::Notifier& notifier() const {
    std::lock_guard<std::mutex> lock(notifier_mutex_);
    if (!notifier_) notifier_ = std::make_unique<detail::pg::Notifier>(database_);
    return *notifier_;
  }

 private:
  detail::pg::Database database_;
  detail::SqlCatalog catalog_;
  mutable std::mutex notifier_mutex_;
  mutable std::unique_ptr<detail::pg::Notifier> notifier_;  // last: it uses database_
};

// The constructor is a public boundary too: a refused database is logged like any other error.
PostgresMetadataStore::PostgresMetadataStore(const std::string& conninfo, PostgresOptions options)
    : impl_(detail::public_call("PostgresMetadataStore::open",
                                [&] { return std::make_unique<Impl>(conninfo, options); })) {}

PostgresMetadataStore::~PostgresMetadataStore() = default;

const std::string& PostgresMetadataStore::database() const {
  return impl_->database().label();
}

std::unique_ptr<WriterLease> PostgresMetadataStore::acquire_writer_lease_impl() {
  std::unique_ptr<detail::pg::Connection> connection;
  try {
    connection = impl_->database().connect();
  } catch (const detail::pg::ConnectionLostError& e) {
    throw StorageError(fmt::format("acquire_writer_lease failed: {}", e.what()));
  }
  // A number nobody had, and its lock, which nobody else can hold.
  const auto id = connection->exec(
      "SELECT id FROM (SELECT nextval('writer_ids') AS id) AS n WHERE pg_try_advisory_lock(id)");
  if (!id) {
    throw StorageError(fmt::format(
        "{}: the advisory lock of a new writer number is held by another session (does another "
        "application use advisory locks in this database?)",
        impl_->database().label()));
  }
  return std::make_unique<AdvisoryLockLease>(std::move(connection), std::stoll(*id));
}

bool PostgresMetadataStore::is_writer_alive_impl(std::string_view owner) const {
  const auto id = writer_id(owner);
  if (!id) return true;  // not one of our leases: it cannot be judged dead
  return impl_->database().read("is_writer_alive", [&](detail::Connection& connection) {
    // pg_locks shows every session's locks; a bigint key is split into classid (high 32 bits)
    // and objid (low 32 bits), objsubid 1.
    auto row = connection.use_dynamic(
        "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND d.datname = current_database() AND l.objsubid = 1 "
        "AND l.classid = ?1 AND l.objid = ?2 AND l.granted)");
    row->bind(1, static_cast<std::int64_t>(static_cast<std::uint64_t>(*id) >> 32));
    row->bind(2, static_cast<std::int64_t>(static_cast<std::uint64_t>(*id) & 0xffffffffU));
    return row->step() && row->text_view(0) == "t";
  });
}

std::unique_ptr<CommitNotification> PostgresMetadataStore::notify_on_commit_impl(
    std::function<void(std::int64_t)> wake) const {
  return impl_->notifier().subscribe(std::move(wake));
}

// --- the shared SQL catalog ------------------------------------------------------------------

ModelVersion PostgresMetadataStore::create_version_impl(const ModelVersion& version,
                                                        std::string_view owner,
                                                        const Audit& audit) {
  return impl_->catalog().create_version(version, owner, audit);
}

ModelVersion PostgresMetadataStore::publish_version_impl(std::string_view model_name,
                                                         std::string_view version,
                                                         std::string_view owner,
                                                         const ArtifactInfo& artifact,
                                                         Timestamp now, const Audit& audit) {
  return impl_->catalog().publish_version(model_name, version, owner, artifact, now, audit);
}

void PostgresMetadataStore::import_model_impl(const ModelImport& import, std::string_view owner,
                                              const Audit& audit) {
  impl_->catalog().import_model(import, owner, audit);
}

bool PostgresMetadataStore::release_version_impl(std::string_view model_name,
                                                 std::string_view version, std::string_view owner,
                                                 const Audit& audit) {
  return impl_->catalog().release_version(model_name, version, owner, audit);
}

std::optional<ModelVersion> PostgresMetadataStore::begin_delete_impl(std::string_view model_name,
                                                                     std::string_view version,
                                                                     std::string_view owner,
                                                                     const Audit& audit) {
  return impl_->catalog().begin_delete(model_name, version, owner, audit);
}

bool PostgresMetadataStore::cancel_delete_impl(std::string_view model_name,
                                               std::string_view version, std::string_view owner,
                                               const Audit& audit) {
  return impl_->catalog().cancel_delete(model_name, version, owner, audit);
}

std::optional<std::vector<ModelVersion>> PostgresMetadataStore::begin_delete_model_impl(
    std::string_view model_name, std::string_view owner, Timestamp now, const Audit& audit) {
  return impl_->catalog().begin_delete_model(model_name, owner, now, audit);
}

std::vector<PendingVersion> PostgresMetadataStore::list_pending_impl() const {
  return impl_->catalog().list_pending();
}

bool PostgresMetadataStore::claim_pending_impl(std::string_view model_name,
                                               std::string_view version,
                                               std::string_view expected_owner,
                                               std::string_view new_owner) {
  return impl_->catalog().claim_pending(model_name, version, expected_owner, new_owner);
}

std::optional<ModelVersion> PostgresMetadataStore::set_stage_impl(
    std::string_view model_name, std::string_view version, ModelStage stage,
    std::optional<ModelStage> expected, Timestamp now, const Audit& audit) {
  return impl_->catalog().set_stage(model_name, version, stage, expected, now, audit);
}

ModelVersion PostgresMetadataStore::set_alias_impl(
    std::string_view model_name, std::string_view alias, std::string_view version,
    const std::optional<std::string>& expected_version, Timestamp now, const Audit& audit) {
  return impl_->catalog().set_alias(model_name, alias, version, expected_version, now, audit);
}

bool PostgresMetadataStore::delete_alias_impl(std::string_view model_name, std::string_view alias,
                                              Timestamp now, const Audit& audit) {
  return impl_->catalog().delete_alias(model_name, alias, now, audit);
}

std::optional<ModelVersion> PostgresMetadataStore::get_version_by_alias_impl(
    std::string_view model_name, std::string_view alias) const {
  return impl_->catalog().get_version_by_alias(model_name, alias);
}

bool PostgresMetadataStore::set_model_tag_impl(std::string_view model_name, std::string_view key,
                                               const std::optional<std::string_view>& value,
                                               Timestamp now, const Audit& audit) {
  return impl_->catalog().set_model_tag(model_name, key, value, now, audit);
}

void PostgresMetadataStore::set_model_description_impl(std::string_view model_name,
                                                       std::string_view description, Timestamp now,
                                                       const Audit& audit) {
  impl_->catalog().set_model_description(model_name, description, now, audit);
}

std::optional<ModelVersion> PostgresMetadataStore::set_version_tag_impl(
    std::string_view model_name, std::string_view version, std::string_view key,
    const std::optional<std::string_view>& value, Timestamp now, const Audit& audit) {
  return impl_->catalog().set_version_tag(model_name, version, key, value, now, audit);
}

ModelVersion PostgresMetadataStore::set_version_description_impl(std::string_view model_name,
                                                                 std::string_view version,
                                                                 std::string_view description,
                                                                 Timestamp now,
                                                                 const Audit& audit) {
  return impl_->catalog().set_version_description(model_name, version, description, now, audit);
}

std::optional<ModelVersion> PostgresMetadataStore::get_version_impl(
    std::string_view model_name, std::string_view version) const {
  return impl_->catalog().get_version(model_name, version);
}

std::optional<ModelVersion> PostgresMetadataStore::latest_version_impl(
    std::string_view model_name) const {
  return impl_->catalog().latest_version(model_name);
}

std::optional<ModelVersion> PostgresMetadataStore::production_version_impl(
    std::string_view model_name) const {
  return impl_->catalog().production_version(model_name);
}

std::vector<ModelVersion> PostgresMetadataStore::list_versions_impl(
    std::string_view model_name, std::optional<ModelStage> stage) const {
  return impl_->catalog().list_versions(model_name, stage);
}

std::optional<RegisteredModel> PostgresMetadataStore::get_model_impl(
    std::string_view model_name) const {
  return impl_->catalog().get_model(model_name);
}

std::vector<std::string> PostgresMetadataStore::list_models_impl() const {
  return impl_->catalog().list_models();
}

VersionPage PostgresMetadataStore::search_versions_impl(const VersionQuery& query) const {
  return impl_->catalog().search_versions(query);
}

ModelPage PostgresMetadataStore::search_models_impl(const ModelQuery& query) const {
  return impl_->catalog().search_models(query);
}

std::vector<ModelEvent> PostgresMetadataStore::events_impl(const EventQuery& query) const {
  return impl_->catalog().events(query);
}

std::int64_t PostgresMetadataStore::latest_event_sequence_impl() const {
  return impl_->catalog().latest_event_sequence();
}

}  // namespace modelreg

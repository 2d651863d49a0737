#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "modelreg/metadata_store.hpp"

namespace modelreg {

// Options of PostgresMetadataStore.
struct PostgresOptions {
  // How long opening a connection may take (libpq's connect_timeout, whole seconds, at least 2).
  std::chrono::milliseconds connect_timeout{10'000};
  // How many idle connections the store keeps for reuse (each thread in a call holds one).
  std::size_t max_idle_connections = 8;
  // How often a transaction that failed only because of concurrency (a serialization failure
  // or a deadlock the server broke) is run again before the call fails.
  int max_attempts = 10;
};

// The catalog in a PostgreSQL database, shared by every process and machine that connects to
// it. Part of the modelreg::postgres target (libpq).
//
// `conninfo` is anything libpq accepts: a URL (postgresql://user@host:5432/db?sslmode=require)
// or key=value pairs; what it leaves out comes from libpq's environment variables (PGHOST,
// PGUSER, PGPASSWORD, PGSSLMODE, ...), ~/.pgpass and service files (service=...), so TLS and
// authentication are whatever libpq offers. The tables live in the connection's current schema
// (options=-csearch_path=... chooses one).
//
// The database records its schema version: an empty database gets the schema when first
// opened, an older one is upgraded in one transaction, a newer one is refused
// (FailedPreconditionError). Every write is one transaction that first takes a transaction-scoped
// advisory lock, so writes apply one at a time in commit order (the history's sequence numbers
// grow in commit order, which is what lets watchers catch up by number); unique constraints
// back the invariants (one version per key, one visible Production version per model). A
// transaction that fails with a serialization failure or deadlock is run again from the start;
// a lost connection fails the call with StorageError (the server rolled it back) and the next
// call connects again. Writer leases are session-level advisory locks held by a connection of
// their own: the server releases them when their client dies, so any client can tell a dead
// writer from a live one. Watchers are woken through LISTEN/NOTIFY (notify_on_commit): the
// events table's trigger notifies each commit's newest sequence number, and a listener that
// reconnects has its watchers read the history from where they were. Thread-safe.
class PostgresMetadataStore final : public MetadataStore {
 public:
  // The schema version this build writes.
  static constexpr int kSchemaVersion = 1;

  // Connects and creates or checks the schema. Throws StorageError if the server cannot be
  // reached, FailedPreconditionError for a newer schema.
  explicit PostgresMetadataStore(const std::string& conninfo, PostgresOptions options = {});
  ~PostgresMetadataStore() override;

  PostgresMetadataStore(const PostgresMetadataStore&) = delete;
  PostgresMetadataStore& operator=(const PostgresMetadataStore&) = delete;

  // How messages name the database: host, port, database and user, never a password.
  const std::string& database() const;

 private:
  std::unique_ptr<WriterLease> acquire_writer_lease_impl() override;
  bool is_writer_alive_impl(std::string_view owner) const override;
  std::unique_ptr<CommitNotification> notify_on_commit_impl(
      std::function<void(std::int64_t)> wake) const override;

  ModelVersion create_version_impl(const ModelVersion& version, std::string_view owner,
                                   const Audit& audit) override;
  ModelVersion publish_version_impl(std::string_view model_name, std::string_view version,
                                    std::string_view owner, const ArtifactInfo& artifact,
                                    Timestamp now, const Audit& audit) override;
  void import_model_impl(const ModelImport& import, std::string_view owner,
                         const Audit& audit) override;
  bool release_version_impl(std::string_view model_name, std::string_view version,
                            std::string_view owner, const Audit& audit) override;
  std::optional<ModelVersion> begin_delete_impl(std::string_view model_name,
                                                std::string_view version, std::string_view owner,
                                                const Audit& audit) override;
  bool cancel_delete_impl(std::string_view model_name, std::string_view version,
                          std::string_view owner, const Audit& audit) override;
  std::optional<std::vector<ModelVersion>> begin_delete_model_impl(std::string_view model_name,
                                                                   std::string_view owner,
                                                                   Timestamp now,
                                                                   const Audit& audit) override;
  std::vector<PendingVersion> list_pending_impl() const override;
  bool claim_pending_impl(std::string_view model_name, std::string_view version,
                          std::string_view expected_owner, std::string_view new_owner) override;
  std::optional<ModelVersion> set_stage_impl(std::string_view model_name, std::string_view version,
                                             ModelStage stage, std::optional<ModelStage> expected,
                                             Timestamp now, const Audit& audit) override;
  ModelVersion set_alias_impl(std::string_view model_name, std::string_view alias,
                              std::string_view version,
                              const std::optional<std::string>& expected_version, Timestamp now,
                              const Audit& audit) override;
  bool delete_alias_impl(std::string_view model_name, std::string_view alias, Timestamp now,
                         const Audit& audit) override;
  std::optional<ModelVersion> get_version_by_alias_impl(std::string_view model_name,
                                                        std::string_view alias) const override;
  bool set_model_tag_impl(std::string_view model_name, std::string_view key,
                          const std::optional<std::string_view>& value, Timestamp now,
                          const Audit& audit) override;
  void set_model_description_impl(std::string_view model_name, std::string_view description,
                                  Timestamp now, const Audit& audit) override;
  std::optional<ModelVersion> set_version_tag_impl(std::string_view model_name,
                                                   std::string_view version, std::string_view key,
                                                   const std::optional<std::string_view>& value,
                                                   Timestamp now, const Audit& audit) override;
  ModelVersion set_version_description_impl(std::string_view model_name, std::string_view version,
                                            std::string_view description, Timestamp now,
                                            const Audit& audit) override;
  std::optional<ModelVersion> get_version_impl(std::string_view model_name,
                                               std::string_view version) const override;
  std::optional<ModelVersion> latest_version_impl(std::string_view model_name) const override;
  std::optional<ModelVersion> production_version_impl(std::string_view model_name) const override;
  std::vector<ModelVersion> list_versions_impl(std::string_view model_name,
                                               std::optional<ModelStage> stage) const override;
  std::optional<RegisteredModel> get_model_impl(std::string_view model_name) const override;
  std::vector<std::string> list_models_impl() const override;
  VersionPage search_versions_impl(const VersionQuery& query) const override;
  ModelPage search_models_impl(const ModelQuery& query) const override;
  std::vector<ModelEvent> events_impl(const EventQuery& query) const override;
  std::int64_t latest_event_sequence_impl() const override;

  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace modelreg

#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>

#include "modelreg/durability.hpp"
#include "modelreg/metadata_store.hpp"

namespace modelreg {

// Options of SqliteMetadataStore.
struct SqliteOptions {
  // Default Full: every committed change survives a power loss.
  Durability durability = Durability::Full;
  // How long one statement waits for another process's write lock before retrying; the whole
  // operation keeps retrying until `lock_timeout` has passed. Default 5 s / 60 s.
  std::chrono::milliseconds busy_timeout{5000};
  std::chrono::milliseconds lock_timeout{60000};
  // How many decoded versions list_versions(name) keeps in memory (about 1 KiB each), so that
  // listing a model again while nothing was committed costs a copy instead of decoding every
  // row. A model with more versions is decoded on every listing. 0 turns the cache off.
  std::size_t list_cache_versions = 20'000;
  // How many decoded versions each read connection keeps from single-version lookups
  // (get_version, latest_version, production_version, get_version_by_alias; about 1 KiB each),
  // so that asking again while nothing was committed costs a PRAGMA data_version and a copy
  // instead of a query and its decoding. A store has one read connection per thread reading at
  // once (at most 16 are kept). 0 turns the cache off.
  std::size_t lookup_cache_versions = 4'096;
};

// The catalog in one SQLite database file (WAL journal): durable, shared safely by many threads
// and processes on one machine. Part of the modelreg::sqlite target.
//
// The file records its schema version; a file of a newer schema is refused
// (FailedPreconditionError), a file that is not a modelreg database or is corrupt raises
// DataLossError naming the file, and in both cases the file is left untouched. Thread-safe.
class SqliteMetadataStore final : public MetadataStore {
 public:
  // The schema version this build writes. Files of an older schema are upgraded in place when
  // opened, in one transaction; a newer one is refused.
  static constexpr int kSchemaVersion = 3;

  // Opens or creates the database at `path` (its directory must exist). Throws as described above,
  // or StorageError if the file cannot be opened.
  explicit SqliteMetadataStore(const std::filesystem::path& path, SqliteOptions options = {});
  ~SqliteMetadataStore() override;

  SqliteMetadataStore(const SqliteMetadataStore&) = delete;
  SqliteMetadataStore& operator=(const SqliteMetadataStore&) = delete;

  // The database's path, made absolute when the store was opened (so that a later change of the
  // working directory does not change which file it uses).
  const std::filesystem::path& path() const;

  // Where the writers of this catalog hold their liveness locks: `locks` beside the database
  // file (dir/locks for ModelRegistry::open(dir)). A writer lease is a file there that its
  // process keeps flock'ed; the kernel releases the lock when the process dies.
  const std::filesystem::path& lock_directory() const;

 private:
  std::unique_ptr<WriterLease> acquire_writer_lease_impl() override;
  bool is_writer_alive_impl(std::string_view owner) const override;

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

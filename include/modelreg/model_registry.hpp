#pragma once

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/bytes.hpp"
#include "modelreg/metadata_store.hpp"
#include "modelreg/model_framework.hpp"
#include "modelreg/model_metrics.hpp"
#include "modelreg/model_stage.hpp"
#include "modelreg/model_store.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"
#include "modelreg/sqlite_metadata_store.hpp"

namespace modelreg {

// What register_version records besides the name and version (the seed's keyword arguments).
struct RegisterOptions {
  ModelFramework framework = ModelFramework::Custom;     // default Custom, as in the seed
  ModelMetrics metrics;                                  // default: no metrics
  nlohmann::json parameters = nlohmann::json::object();  // must be a JSON object (null = {})
  std::string description;                               // default empty
  std::map<std::string, std::string> tags;               // default none
  // The artifact, from at most one of these sources (default: none). Files and streams are
  // copied in bounded memory; the stream is read to its end and must outlive the call.
  std::optional<Bytes> artifact;
  std::optional<std::filesystem::path> artifact_file;
  std::istream* artifact_stream = nullptr;
};

// Options of ModelRegistry::open.
struct OpenOptions {
  // Default Full: every committed change survives a power loss. See Durability.
  Durability durability = Durability::Full;
  // Default true: on open, finish or undo the registrations and deletions of writers that died
  // midway (see ModelRegistry::recover).
  bool recover = true;
  // Decoded versions kept for list_versions; see SqliteOptions::list_cache_versions.
  std::size_t list_cache_versions = 20'000;
};

// What ModelRegistry::recover found and cleaned.
struct RecoveryReport {
  // Reserved versions of dead writers (or left behind by this registry's failed calls), removed.
  std::size_t registrations_rolled_back = 0;
  // Deletions of dead writers (or left unfinished by this registry's failed calls), finished.
  std::size_t deletions_completed = 0;
};

// The model registry: the façade over a ModelStore (artifact bytes) and a MetadataStore (the
// catalog), with the seed's API.
//
// Contracts:
// - Registering an existing (name, version) throws AlreadyExistsError and changes nothing: the
//   key is reserved in the catalog before any artifact byte is written.
// - A version becomes visible (get_*, list_*) only once its artifact is complete and durable.
// - Promoting a version to Production archives the previous Production version in the same
//   atomic step: no reader ever sees zero-then-one or two Production versions.
// - Every mutation is serialised by a mutex in-process and by the catalog's transactions across
//   processes. Artifact I/O happens outside the mutex.
// - Every artifact's size and SHA-256 are recorded and checked on every load.
// - Every error is logged through the "modelreg" logger once, then rethrown unchanged.
//
// Names and versions are checked with validate_model_name / validate_version: a bad one throws
// InvalidArgumentError before anything is read or written. All methods are thread-safe.
class ModelRegistry {
 public:
  // An in-memory registry (InMemoryModelStore + InMemoryMetadataStore), as the seed's
  // ModelRegistry().
  ModelRegistry();
  // The seed's ModelRegistry(store): artifacts in `store`, catalog in memory. Throws
  // InvalidArgumentError if `store` is null.
  explicit ModelRegistry(std::shared_ptr<ModelStore> store);
  // Any pair of stores. Throws InvalidArgumentError if either is null. On a catalog that other
  // processes can open (SqliteMetadataStore), the registry holds a lock file in the catalog's
  // owner_lock_directory() for its lifetime, as ModelRegistry::open's do, so that recovery by
  // any of them never takes a live registry's work for a dead writer's; StorageError if it
  // cannot.
  ModelRegistry(std::shared_ptr<ModelStore> store, std::shared_ptr<MetadataStore> metadata);

  // The durable embedded registry in `dir` (created if needed): SQLite catalog at
  // dir/registry.db, FileModelStore at dir/artifacts. Nothing absolute is stored, so the
  // directory may be moved or copied whole. Defined in the modelreg::sqlite library (link
  // modelreg::sqlite to use it). Throws StorageError, DataLossError (corrupt database) or
  // FailedPreconditionError (database of a newer schema).
  static ModelRegistry open(const std::filesystem::path& dir, const OpenOptions& options = {});

  ModelRegistry(ModelRegistry&&) noexcept;
  ModelRegistry& operator=(ModelRegistry&&) noexcept;
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;
  ~ModelRegistry();

  // The seed's register(): registers `version` of model `name` (creating the model if needed),
  // in stage Development, saving the artifact if one is given. Returns the registered version.
  // Throws InvalidArgumentError (bad name, version, tag, non-object parameters, more than one
  // artifact source), AlreadyExistsError (the version exists), NotFoundError (artifact_file
  // missing), StorageError (I/O). On any error nothing is left behind.
  ModelVersion register_version(std::string_view name, std::string_view version,
                                const RegisterOptions& options);
  // As above with default options: no artifact, framework Custom, no metrics.
  ModelVersion register_version(std::string_view name, std::string_view version);

  // A snapshot of the model and its versions; nullopt if no such model.
  std::optional<RegisteredModel> get_model(std::string_view name) const;
  // A snapshot of one version; nullopt if no such version.
  std::optional<ModelVersion> get_version(std::string_view name, std::string_view version) const;
  // The most recently registered version; nullopt if the model has none.
  std::optional<ModelVersion> get_latest(std::string_view name) const;
  // The version in Production; nullopt if there is none.
  std::optional<ModelVersion> get_production_model(std::string_view name) const;

  // Moves a version to `stage`; promoting to Production archives the previous Production version
  // atomically. With `expected_stage` set, the move happens only if the version is currently in
  // that stage (compare-and-swap), otherwise FailedPreconditionError. Returns the updated
  // version, or nullopt if no such version exists (as the seed returns None).
  std::optional<ModelVersion> transition_stage(
      std::string_view name, std::string_view version, ModelStage stage,
      std::optional<ModelStage> expected_stage = std::nullopt);

  // Names of all models, sorted.
  std::vector<std::string> list_models() const;
  // Versions of `name` in registration order, optionally only those in `stage`; empty if the
  // model does not exist.
  std::vector<ModelVersion> list_versions(std::string_view name,
                                          std::optional<ModelStage> stage = std::nullopt) const;

  // Deletes a version and its artifact. Returns false if no such version exists. If the
  // artifact cannot be deleted (I/O error) the version is kept and StorageError is thrown; if
  // the artifact went but a later step failed (syncing its directory), the deletion is finished
  // and the error thrown. Should the catalog fail too in either case, the version stays hidden
  // and recover() finishes its deletion; the caller gets the first error. An artifact that is
  // already missing is logged as a warning and the version is deleted.
  bool delete_version(std::string_view name, std::string_view version);

  // The artifact of a version, checked against its recorded size and SHA-256; nullopt if the
  // version does not exist or has no artifact (as the seed returns None). Throws DataLossError
  // if the stored bytes are missing, truncated or altered: corrupt bytes are never returned.
  std::optional<Bytes> load_artifact(std::string_view name, std::string_view version) const;
  // Streams the artifact to `out` in bounded memory. The bytes are verified before the first
  // one is written, so `out` receives only verified bytes: the store's stream is read twice, or,
  // if it cannot seek (a custom ModelStore), once into an unnamed temporary file. Returns false
  // where the overload above returns nullopt. Throws as above, or StorageError if `out` fails.
  bool load_artifact(std::string_view name, std::string_view version, std::ostream& out) const;
  // Writes the artifact to the file `destination` (replaced atomically, only with verified
  // bytes) in bounded memory. Returns false where the overload above returns nullopt.
  bool load_artifact(std::string_view name, std::string_view version,
                     const std::filesystem::path& destination) const;

  // Finishes or undoes the registrations and deletions of writers that died midway (their
  // reservations in the catalog), and removes their partial artifact files. Work of live
  // writers, in this or other processes, is left alone. This registry's own reservations that
  // no call is working on any more (a call failed to release them: its error was thrown) are
  // settled the same way. Each finding is logged as a warning. open() calls it unless told not
  // to.
  RecoveryReport recover();

  // The stores behind this registry (shared ownership).
  std::shared_ptr<ModelStore> store() const;
  std::shared_ptr<MetadataStore> metadata_store() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace modelreg

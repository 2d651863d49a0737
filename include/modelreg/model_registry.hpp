#pragma once

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/bytes.hpp"
#include "modelreg/metadata_store.hpp"
#include "modelreg/model_event.hpp"
#include "modelreg/model_stage.hpp"
#include "modelreg/model_store.hpp"
#include "modelreg/model_uri.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"
#include "modelreg/registry_options.hpp"
#include "modelreg/search.hpp"
#include "modelreg/watch.hpp"

namespace modelreg {

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
// - Every change of visible state (registration, deletion, stage, alias, tag, description) is
//   recorded in the catalog's append-only history in the same atomic step, with the Audit's
//   actor (or the registry's default actor) and reason.
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
  // Any pair of stores. Throws InvalidArgumentError if either is null. The registry holds a
  // writer lease of the catalog (MetadataStore::acquire_writer_lease) for its lifetime, as
  // ModelRegistry::open's do, so that recovery by any client of the catalog never takes a live
  // registry's work for a dead writer's; StorageError if it cannot.
  ModelRegistry(std::shared_ptr<ModelStore> store, std::shared_ptr<MetadataStore> metadata);

  // The durable embedded registry in `dir` (created if needed): SQLite catalog at
  // dir/registry.db, FileModelStore at dir/artifacts. Nothing absolute is stored, so the
  // directory may be moved or copied whole. Defined in the modelreg::sqlite library (link
  // modelreg::sqlite to use it). Throws StorageError, DataLossError (corrupt database) or
  // FailedPreconditionError (database of a newer schema).
  static ModelRegistry open(const std::filesystem::path& dir, const OpenOptions& options = {});

  // A registry whose catalog and artifacts are where two URLs say, e.g. a registry shared
  // across machines: open("postgresql://trainer@db/models", "s3://models/team-risk").
  //   catalog:   postgresql://... or postgres://... (any libpq URL; modelreg::postgres),
  //              sqlite:<path of the database file> (modelreg::sqlite), memory: (in memory)
  //   artifacts: s3://bucket/prefix (credentials and endpoint: S3Options; modelreg::s3),
  //              file:<directory> or a plain directory (FileModelStore), memory:
  // The catalog and artifact backends register their schemes with the core library when their
  // library is linked, so the core depends on none of libpq, libcurl or SQLite: a scheme whose
  // library is not linked is an InvalidArgumentError that names the library. Then as the
  // constructor from two stores, and recover() if options.recover. Throws what the backends
  // throw when opening (StorageError for an unreachable server).
  static ModelRegistry open(std::string_view catalog_url, std::string_view artifacts_url,
                            const OpenOptions& options = {});

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
                                const RegisterOptions& options, const Audit& audit = {});
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
      std::optional<ModelStage> expected_stage = std::nullopt, const Audit& audit = {});

  // Names of all models, sorted. A model stays listed (with its description, tags and
  // history) when its last version is deleted, until delete_model.
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
  // already missing is logged as a warning and the version is deleted. Its aliases go with it.
  bool delete_version(std::string_view name, std::string_view version, const Audit& audit = {});

  // Deletes the model: every version and artifact, its aliases and tags, as one recorded
  // operation (ModelDeleted). The model disappears from every lookup at once; the artifacts are
  // then removed. Should that fail midway (an I/O error, a crash), the rest stays hidden and
  // recover() finishes it; the caller gets the first error. Returns false if no such model.
  // Registrations of the model running meanwhile fail with FailedPreconditionError; a new
  // registration under the name waits until the deletion finished (FailedPreconditionError
  // until then).
  bool delete_model(std::string_view name, const Audit& audit = {});

  // The artifact of a version, checked against its recorded size and SHA-256; nullopt if the
  // version does not exist or has no artifact (as the seed returns None). Throws DataLossError
  // if the stored bytes are missing, truncated or altered: corrupt bytes are never returned.
  std::optional<Bytes> load_artifact(std::string_view name, std::string_view version) const;
  // Streams the artifact to `out` in bounded memory. The bytes are verified before the first
  // one is written. Where the store keeps files (FileModelStore), the stored file is verified in
  // one pass through a read-only descriptor, as open_verified_artifact does, and `out` gets the
  // bytes of that same descriptor; a write to the file meanwhile (which the library never does)
  // changes its size or times, and the load then ends in DataLossError: discard what `out`
  // received. Otherwise the store's stream is read twice (the second time block by block, each
  // block written only once its digest matches the first pass's, so a change meanwhile is
  // DataLossError and `out` holds at most a verified prefix), or, if it cannot seek (a custom
  // ModelStore), once into an unnamed temporary file. Returns false where the overload above
  // returns nullopt. Throws as above, or StorageError if `out` fails.
  bool load_artifact(std::string_view name, std::string_view version, std::ostream& out) const;
  // Writes the artifact to the file `destination` (replaced atomically, only with verified
  // bytes) in bounded memory. Returns false where the overload above returns nullopt.
  bool load_artifact(std::string_view name, std::string_view version,
                     const std::filesystem::path& destination) const;

  // The stored artifact itself, verified: opened read-only, checked against the recorded size
  // and SHA-256 in one pass (reading and hashing overlap), and handed out as an open descriptor
  // that serving code reads or mmaps without a copy. It stays valid, with the bytes that were
  // verified, while it is held, even if the version is deleted meanwhile: the library never
  // writes a stored artifact in place and keeps it read-only on disk. (Someone who can write
  // the registry directory and changes the file in place afterwards is outside what any check
  // can catch; see SECURITY.md.) A store without files gives a verified copy in an unnamed
  // temporary file (VerifiedArtifact::copied). nullopt where load_artifact returns nullopt;
  // throws as load_artifact does.
  std::optional<VerifiedArtifact> open_verified_artifact(std::string_view name,
                                                         std::string_view version) const;

  // --- aliases, tags, descriptions -------------------------------------------------------

  // Points `alias` of model `name` at `version`, creating or moving it; an alias names one
  // version, a version may have many. With `expected_version` set, a compare-and-swap: the
  // alias moves only if it currently names that version (or, when it is "", does not exist
  // yet); otherwise FailedPreconditionError and nothing changes. Returns the version it names
  // now. Throws InvalidArgumentError for a bad or reserved alias (validate_alias), NotFoundError
  // if the version does not exist.
  ModelVersion set_alias(std::string_view name, std::string_view alias, std::string_view version,
                         const std::optional<std::string>& expected_version = std::nullopt,
                         const Audit& audit = {});
  // Removes an alias. Returns false if the model has no such alias.
  bool delete_alias(std::string_view name, std::string_view alias, const Audit& audit = {});
  // The version `alias` names; nullopt if there is no such alias (or model).
  std::optional<ModelVersion> get_version_by_alias(std::string_view name,
                                                   std::string_view alias) const;

  // Sets a tag of a model (creates or updates it). Throws NotFoundError if there is no such
  // model, InvalidArgumentError for a bad key or value (validate_tag).
  void set_model_tag(std::string_view name, std::string_view key, std::string_view value,
                     const Audit& audit = {});
  // Removes a model tag. Returns false if the model had no such tag; NotFoundError if no model.
  bool delete_model_tag(std::string_view name, std::string_view key, const Audit& audit = {});
  // Sets a model's description (validate_description). Throws NotFoundError if no such model.
  void set_model_description(std::string_view name, std::string_view description,
                             const Audit& audit = {});
  // Sets a tag of a version; returns the updated version. Throws NotFoundError if the version
  // does not exist, InvalidArgumentError for a bad key or value.
  ModelVersion set_version_tag(std::string_view name, std::string_view version,
                               std::string_view key, std::string_view value,
                               const Audit& audit = {});
  // Removes a version tag. Returns false if the version had no such tag; NotFoundError if the
  // version does not exist.
  bool delete_version_tag(std::string_view name, std::string_view version, std::string_view key,
                          const Audit& audit = {});
  // Sets a version's description; returns the updated version. NotFoundError as above.
  ModelVersion set_version_description(std::string_view name, std::string_view version,
                                       std::string_view description, const Audit& audit = {});

  // --- search --------------------------------------------------------------------------

  // One page of the versions matching `query` (see VersionQuery). Throws InvalidArgumentError
  // for a malformed query or a page token of another query.
  VersionPage search_versions(const VersionQuery& query) const;
  // As above with a filter string in MLflow's grammar (parse_version_filter) and an order
  // clause (parse_version_order), e.g. search_versions("name = 'fraud' AND metrics.auc_roc >
  // 0.9", "metrics.auc_roc DESC"). Throws FilterParseError for a malformed filter or order.
  VersionPage search_versions(std::string_view filter, std::string_view order_by = {},
                              std::size_t max_results = 100,
                              std::string_view page_token = {}) const;
  // One page of the models matching `query` (ModelQuery), or a filter string over name and
  // tags (parse_model_filter) and an order clause (parse_model_order).
  ModelPage search_models(const ModelQuery& query) const;
  ModelPage search_models(std::string_view filter, std::string_view order_by = {},
                          std::size_t max_results = 100, std::string_view page_token = {}) const;
  // The version of `name` with the greatest (Maximize) or smallest (Minimize) value of
  // `metric`, optionally only among the versions in `stage`; the latest registered among
  // equals. Versions without the metric (or NaN) are never chosen. nullopt if none has it.
  std::optional<ModelVersion> best_version(std::string_view name, std::string_view metric,
                                           std::optional<ModelStage> stage = std::nullopt,
                                           MetricGoal goal = MetricGoal::Maximize) const;

  // --- history and watch ---------------------------------------------------------------

  // Every event of model `name` (of its deleted versions and earlier incarnations of the name
  // too), oldest first.
  std::vector<ModelEvent> history(std::string_view name) const;
  // The events of one version of `name` (also after it was deleted), oldest first.
  std::vector<ModelEvent> history(std::string_view name, std::string_view version) const;
  // The change feed: up to `limit` events (1..kMaxSearchResults) of every model with a
  // sequence greater than `sequence`, oldest first. Start from 0, continue from the last
  // sequence returned.
  std::vector<ModelEvent> events_after(std::int64_t sequence, std::size_t limit = 1000) const;
  // The sequence of the newest event (0 if none).
  std::int64_t latest_event_sequence() const;

  // Calls `callback` on a background thread with the new events of model `name` whenever its
  // Production version or one of its aliases changes (or with every event: WatchOptions), made
  // by this process or any other writing the same catalog, until the returned Subscription is
  // cancelled or destroyed. Events are those after the newest at the time of the call. The
  // model need not exist yet. Throws InvalidArgumentError for a bad name or options.
  Subscription watch(std::string_view name, WatchCallback callback,
                     const WatchOptions& options = {}) const;

  // --- model URIs ----------------------------------------------------------------------

  // The version a model URI names (see ModelUri): models:/name/3, models:/name@alias,
  // models:/name/Production, models:/name/latest; nullopt if nothing matches. Throws
  // InvalidArgumentError for a malformed URI.
  std::optional<ModelVersion> resolve(std::string_view uri) const;
  std::optional<ModelVersion> resolve(const ModelUri& uri) const;
  // load_artifact for the version a URI names; nullopt / false if it names none.
  std::optional<Bytes> load_artifact(std::string_view uri) const;
  std::optional<Bytes> load_artifact(const ModelUri& uri) const;
  bool load_artifact(const ModelUri& uri, std::ostream& out) const;
  bool load_artifact(const ModelUri& uri, const std::filesystem::path& destination) const;

  // --- the registry ----------------------------------------------------------------------

  // The actor recorded for changes made without an Audit::actor. Default: OpenOptions::actor,
  // or "user@host" of the process. Throws InvalidArgumentError for an invalid actor (see Audit).
  void set_default_actor(std::string actor);
  std::string default_actor() const;

  // Finishes or undoes the registrations and deletions of writers that died midway (their
  // reservations in the catalog), and removes their partial artifact files. Work of live
  // writers, in this or other processes, is left alone. This registry's own reservations that
  // no call is working on any more (a call failed to release them: its error was thrown) are
  // settled the same way. Each finding is logged as a warning, once. A reservation that cannot
  // be settled (its artifact cannot be deleted, say) does not stop the others: it is in the
  // report's `unsettled` (and logged once), for the next recover(). Throws only if the
  // reservations cannot be listed at all. open() calls it unless told not to, and opens the
  // registry even when some reservation stays unsettled.
  RecoveryReport recover();

  // The stores behind this registry (shared ownership).
  std::shared_ptr<ModelStore> store() const;
  std::shared_ptr<MetadataStore> metadata_store() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace modelreg

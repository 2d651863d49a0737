#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/model_event.hpp"
#include "modelreg/model_stage.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"
#include "modelreg/search.hpp"
#include "modelreg/timestamp.hpp"

namespace modelreg {

// The facts about a stored artifact that publish_version records.
struct ArtifactInfo {
  std::optional<std::string> path;  // nullopt: the version has no artifact
  std::uint64_t size = 0;
  std::string sha256;  // lower-case hex
};

// A version that is reserved but not visible: being registered (its artifact is being written)
// or being deleted (its artifact is being removed). `owner` names the writer that holds it.
struct PendingVersion {
  enum class Kind { Registering, Deleting };
  std::string model_name;
  std::string version;
  Kind kind = Kind::Registering;
  std::string owner;
  std::optional<std::string> artifact_path;
  Timestamp since{};
};

// A model as another registry had it, for MetadataStore::import_model (see model_archive.hpp).
struct ModelImport {
  std::string model_name;
  std::string description;                  // the model's (kept where the target has its own)
  std::map<std::string, std::string> tags;  // the model's (likewise, key by key)
  // When the model was created, for a model new to the target (zero: its first version's).
  Timestamp created_at{};
  // In registration order, each reserved for the importing writer (create_version), as they
  // are to become visible: stage, aliases, artifact, metrics, tags, created_at, updated_at.
  std::vector<ModelVersion> versions;
  // The source's history of the model, oldest first; `sequence` is ignored (renumbered).
  std::vector<ModelEvent> events;
};

// A writer registered with a catalog (see MetadataStore::acquire_writer_lease): its owner name
// goes into every reservation it takes, and while the lease object lives, every client of the
// catalog judges that owner alive, so recovery never takes over its work. When the object is
// destroyed, or its process dies, the owner is dead for everyone.
class WriterLease {
 public:
  virtual ~WriterLease();
  WriterLease(const WriterLease&) = delete;
  WriterLease& operator=(const WriterLease&) = delete;
  // This writer's name: non-empty, unique among the catalog's live writers.
  const std::string& owner() const noexcept { return owner_; }

 protected:
  explicit WriterLease(std::string owner);

 private:
  std::string owner_;
};

// A registration made by MetadataStore::notify_on_commit: while it lives, its callback is
// called; destroying it unregisters (waiting for a call in progress to return).
class CommitNotification {
 public:
  virtual ~CommitNotification();
  CommitNotification(const CommitNotification&) = delete;
  CommitNotification& operator=(const CommitNotification&) = delete;

 protected:
  CommitNotification() = default;
};

// Which events MetadataStore::events returns.
struct EventQuery {
  std::optional<std::string> model_name;  // only this model's events (nullopt: every model)
  std::optional<std::string> version;     // only this version's events (needs model_name)
  std::int64_t after_sequence = 0;        // only events with a greater sequence
  std::size_t limit = 0;                  // at most this many (0: no limit), oldest first
};

// The catalog of models, versions, aliases, tags and their history: what a catalog backend
// implements, and what ModelRegistry builds on. Application code uses ModelRegistry.
//
// Every method is one atomic step (a transaction in a database-backed store) with the
// postcondition written on it; readers never see a half-applied change. "Visible" versions are
// the registered ones; reserved (pending) versions occupy their (model, version) key so that
// nobody else can register it, but no lookup, listing or search returns them. A model is
// visible from the moment its first version becomes visible until delete_model: deleting its
// last version leaves the model (its description, tags and history) in place.
//
// Every change of visible state appends its events to the history in the same step (see
// EventType); `audit` says who made the change and why, `now` when. Public methods validate
// their arguments, log errors through the "modelreg" logger and call the private *_impl hooks
// that backends implement. Implementations are thread-safe and, where the backend is shared
// between processes, process-safe.
class MetadataStore {
 public:
  virtual ~MetadataStore();

  // --- versions --------------------------------------------------------------------------

  // create-version-if-absent: adds `version` (its model is created if needed) as a visible
  // version, unless `owner` is non-empty: then it is reserved for `owner` and stays invisible
  // until publish_version. The version's stage must not be Production (promote afterwards).
  // Returns the version as stored. Throws AlreadyExistsError if (model, version) exists in any
  // state, FailedPreconditionError if the model is being deleted; nothing is changed then.
  // A visible version records VersionRegistered (at its created_at).
  //
  // A version that becomes visible (here or in publish_version) is the latest of its model, and
  // its created_at is never earlier than that of the versions registered before it: a time
  // earlier than the latest version's is recorded as the latest version's (and updated_at as
  // that too, if it was earlier still). So the latest by created_at is the latest by
  // registration order, with ties broken by that order, whatever the clocks of concurrent
  // writers read. The version's `aliases` are ignored (set them with set_alias).
  ModelVersion create_version(const ModelVersion& version, std::string_view owner = {},
                              const Audit& audit = {});

  // Makes the version reserved by `owner` visible, recording `artifact` and `now` as
  // created_at/updated_at (or a later time: see create_version), and VersionRegistered. It
  // becomes the latest version of its model. Returns the visible version.
  // Throws FailedPreconditionError if `owner` holds no such reservation (e.g. recovery took it
  // over) or the model is being deleted.
  ModelVersion publish_version(std::string_view model_name, std::string_view version,
                               std::string_view owner, const ArtifactInfo& artifact, Timestamp now,
                               const Audit& audit = {});

  // Drops a reservation held by `owner` (for a deletion, this finishes it; nothing is recorded,
  // begin_delete did). A model that never had a visible version, or is being deleted, is removed
  // with its last reservation. Returns false if `owner` holds none for that key.
  bool release_version(std::string_view model_name, std::string_view version,
                       std::string_view owner, const Audit& audit = {});

  // Hides a visible version and reserves its key for `owner` as Deleting, so that its artifact
  // can be removed before release_version frees the key. The version's aliases are deleted and
  // the deletion recorded now (AliasDeleted each, then VersionDeleted), as it is what every
  // lookup sees from now on. Returns the version as it was, or nullopt if no visible version has
  // that key.
  std::optional<ModelVersion> begin_delete(std::string_view model_name, std::string_view version,
                                           std::string_view owner, const Audit& audit = {});

  // Undoes begin_delete (VersionRestored): the version is visible again with its tags, and its
  // aliases that no other version took meanwhile come back (AliasSet each, after
  // VersionRestored). A Production version comes back Archived if another version is in
  // Production now. Returns false if `owner` holds no Deleting reservation for that key (a
  // deletion of the whole model cannot be cancelled).
  bool cancel_delete(std::string_view model_name, std::string_view version, std::string_view owner,
                     const Audit& audit = {});

  // Hides the model and every visible version of it, reserving each for `owner` as Deleting,
  // drops its aliases and records ModelDeleted: one step, after which release_version of each
  // returned version (or recovery, if `owner` dies) finishes the deletion. Registrations of the
  // model still in flight then fail to publish. Returns the versions as they were, or nullopt if
  // no visible model has that name.
  std::optional<std::vector<ModelVersion>> begin_delete_model(std::string_view model_name,
                                                              std::string_view owner, Timestamp now,
                                                              const Audit& audit = {});

  // Makes the versions of `import`, each reserved by `owner` (create_version, which stored their
  // framework, metrics, parameters, tags and description), visible with the stage, aliases,
  // artifact, created_at and updated_at given here (a created_at earlier than the target's
  // latest version is raised to it, as in create_version), after the model's versions, and appends
  // `import.events` to the history with new sequence numbers, the rest of each event as given:
  // one step. Nothing else is recorded; a version without a VersionRegistered among the events
  // gets one (at its created_at, with `audit`). The model's description and each of its tags
  // are taken from `import` only where the target has none, so nothing is overwritten. Throws
  // FailedPreconditionError if `owner` does not hold every reservation, the model is being
  // deleted, or both the target and `import` have a Production version; AlreadyExistsError if
  // the target model has one of the aliases; InvalidArgumentError for a malformed import (two
  // Production versions, a duplicate version or alias, an event or version of another model).
  // Nothing changes on any error.
  void import_model(const ModelImport& import, std::string_view owner, const Audit& audit = {});

  // Every reservation, oldest first (for crash recovery).
  std::vector<PendingVersion> list_pending() const;

  // Moves a reservation from `expected_owner` to `new_owner` (recovery taking over the work of a
  // dead writer). Returns false if the key is not reserved by `expected_owner`.
  bool claim_pending(std::string_view model_name, std::string_view version,
                     std::string_view expected_owner, std::string_view new_owner);

  // set-stage-exclusive: sets the stage of a visible version and its updated_at to `now`. When
  // `stage` is Production, the model's previous Production version (if another) becomes Archived
  // in the same atomic step. If `expected` is set and the version's current stage differs,
  // throws FailedPreconditionError and changes nothing. Records StageChanged for each version
  // whose stage changed (the archived one first). Returns the updated version, or nullopt if no
  // visible version has that key.
  std::optional<ModelVersion> set_stage(std::string_view model_name, std::string_view version,
                                        ModelStage stage, std::optional<ModelStage> expected,
                                        Timestamp now, const Audit& audit = {});

  // --- aliases, tags, descriptions -------------------------------------------------------

  // Points `alias` of the model at `version`, creating or moving it (AliasSet; nothing is
  // recorded if it already pointed there). With `expected_version` set, only if the alias
  // currently names that version, or, when it is "", does not exist (compare-and-swap):
  // otherwise FailedPreconditionError and nothing changes. Returns the version it now names.
  // Throws NotFoundError if no visible version has that key, InvalidArgumentError for a bad or
  // reserved alias.
  ModelVersion set_alias(std::string_view model_name, std::string_view alias,
                         std::string_view version,
                         const std::optional<std::string>& expected_version, Timestamp now,
                         const Audit& audit = {});
  // Removes the alias (AliasDeleted). Returns false if the model has no such alias.
  bool delete_alias(std::string_view model_name, std::string_view alias, Timestamp now,
                    const Audit& audit = {});
  // The visible version the alias names; nullopt if none.
  std::optional<ModelVersion> get_version_by_alias(std::string_view model_name,
                                                   std::string_view alias) const;

  // Sets (creates or updates) a tag of a visible model (ModelTagSet unless unchanged). Throws
  // NotFoundError if there is no such model.
  void set_model_tag(std::string_view model_name, std::string_view key, std::string_view value,
                     Timestamp now, const Audit& audit = {});
  // Removes a model tag (ModelTagDeleted). Returns false if it had no such tag; throws
  // NotFoundError if there is no such model.
  bool delete_model_tag(std::string_view model_name, std::string_view key, Timestamp now,
                        const Audit& audit = {});
  // Sets the model's description (ModelDescriptionSet unless unchanged). Throws NotFoundError.
  void set_model_description(std::string_view model_name, std::string_view description,
                             Timestamp now, const Audit& audit = {});

  // As the model's, on a visible version; a change also sets the version's updated_at to
  // `now`. Return the updated version; throw NotFoundError if no visible version has that key.
  ModelVersion set_version_tag(std::string_view model_name, std::string_view version,
                               std::string_view key, std::string_view value, Timestamp now,
                               const Audit& audit = {});
  // Returns nullopt if the version had no such tag (nothing changes then).
  std::optional<ModelVersion> delete_version_tag(std::string_view model_name,
                                                 std::string_view version, std::string_view key,
                                                 Timestamp now, const Audit& audit = {});
  ModelVersion set_version_description(std::string_view model_name, std::string_view version,
                                       std::string_view description, Timestamp now,
                                       const Audit& audit = {});

  // --- lookups of visible state; nullopt / empty when absent -----------------------------

  std::optional<ModelVersion> get_version(std::string_view model_name,
                                          std::string_view version) const;
  // The most recently published version (greatest registration order).
  std::optional<ModelVersion> latest_version(std::string_view model_name) const;
  std::optional<ModelVersion> production_version(std::string_view model_name) const;
  // Visible versions in registration order, optionally only those in `stage`.
  std::vector<ModelVersion> list_versions(std::string_view model_name,
                                          std::optional<ModelStage> stage = std::nullopt) const;
  // The visible model with all its visible versions (possibly none).
  std::optional<RegisteredModel> get_model(std::string_view model_name) const;
  // Names of every visible model, sorted.
  std::vector<std::string> list_models() const;

  // One page of the visible versions matching `query`, in its order. Throws
  // InvalidArgumentError for a malformed query or a page token of another query.
  VersionPage search_versions(const VersionQuery& query) const;
  // One page of the visible models matching `query`. Throws as search_versions.
  ModelPage search_models(const ModelQuery& query) const;

  // --- history ---------------------------------------------------------------------------

  // The events selected by `query`, in sequence order.
  std::vector<ModelEvent> events(const EventQuery& query) const;
  // The sequence number of the newest event (0 if there is none). Cheap: watchers poll it.
  std::int64_t latest_event_sequence() const;
  // Has `wake` called, on a thread of the store's, soon after any client of the catalog (in any
  // process or machine) committed a change that appended events, with the newest sequence
  // number it knows of; also, with 0, after the store lost and regained its channel of
  // notifications (events may have been missed: read them). `wake` must return quickly and not
  // call the store. Returns nullptr if the catalog cannot notify (the default; PostgreSQL's
  // can, through LISTEN/NOTIFY): the caller polls latest_event_sequence then. Throws
  // StorageError.
  std::unique_ptr<CommitNotification> notify_on_commit(
      std::function<void(std::int64_t sequence)> wake) const;

  // --- writer liveness -------------------------------------------------------------------

  // Registers a new writer with the catalog (see WriterLease). The default, for a catalog that
  // cannot tell, names it with a random owner that is never judged dead (InMemoryMetadataStore
  // judges a writer dead once its lease is destroyed). Throws StorageError.
  std::unique_ptr<WriterLease> acquire_writer_lease();
  // False only if the writer named `owner` is certainly gone (so recovery may settle its
  // reservations); a live lease, in any process or machine that uses the catalog, is alive.
  bool is_writer_alive(std::string_view owner) const;

  // Checks `audit`'s limits (see Audit). Throws InvalidArgumentError.
  static void validate_audit(const Audit& audit);

 private:
  virtual std::unique_ptr<WriterLease> acquire_writer_lease_impl();
  virtual bool is_writer_alive_impl(std::string_view owner) const;
  virtual std::unique_ptr<CommitNotification> notify_on_commit_impl(
      std::function<void(std::int64_t sequence)> wake) const;

  virtual ModelVersion create_version_impl(const ModelVersion& version, std::string_view owner,
                                           const Audit& audit) = 0;
  virtual ModelVersion publish_version_impl(std::string_view model_name, std::string_view version,
                                            std::string_view owner, const ArtifactInfo& artifact,
                                            Timestamp now, const Audit& audit) = 0;
  virtual bool release_version_impl(std::string_view model_name, std::string_view version,
                                    std::string_view owner, const Audit& audit) = 0;
  virtual std::optional<ModelVersion> begin_delete_impl(std::string_view model_name,
                                                        std::string_view version,
                                                        std::string_view owner,
                                                        const Audit& audit) = 0;
  virtual bool cancel_delete_impl(std::string_view model_name, std::string_view version,
                                  std::string_view owner, const Audit& audit) = 0;
  virtual std::optional<std::vector<ModelVersion>> begin_delete_model_impl(
      std::string_view model_name, std::string_view owner, Timestamp now, const Audit& audit) = 0;
  virtual void import_model_impl(const ModelImport& import, std::string_view owner,
                                 const Audit& audit) = 0;
  virtual std::vector<PendingVersion> list_pending_impl() const = 0;
  virtual bool claim_pending_impl(std::string_view model_name, std::string_view version,
                                  std::string_view expected_owner, std::string_view new_owner) = 0;
  virtual std::optional<ModelVersion> set_stage_impl(std::string_view model_name,
                                                     std::string_view version, ModelStage stage,
                                                     std::optional<ModelStage> expected,
                                                     Timestamp now, const Audit& audit) = 0;

  virtual ModelVersion set_alias_impl(std::string_view model_name, std::string_view alias,
                                      std::string_view version,
                                      const std::optional<std::string>& expected_version,
                                      Timestamp now, const Audit& audit) = 0;
  virtual bool delete_alias_impl(std::string_view model_name, std::string_view alias, Timestamp now,
                                 const Audit& audit) = 0;
  virtual std::optional<ModelVersion> get_version_by_alias_impl(std::string_view model_name,
                                                                std::string_view alias) const = 0;
  // Tags and descriptions of models: `value` nullopt deletes the tag. Returns whether the tag
  // existed (for a set: always true).
  virtual bool set_model_tag_impl(std::string_view model_name, std::string_view key,
                                  const std::optional<std::string_view>& value, Timestamp now,
                                  const Audit& audit) = 0;
  virtual void set_model_description_impl(std::string_view model_name, std::string_view description,
                                          Timestamp now, const Audit& audit) = 0;
  // As above for versions; returns the version afterwards, nullopt when deleting a tag it did
  // not have.
  virtual std::optional<ModelVersion> set_version_tag_impl(
      std::string_view model_name, std::string_view version, std::string_view key,
      const std::optional<std::string_view>& value, Timestamp now, const Audit& audit) = 0;
  virtual ModelVersion set_version_description_impl(std::string_view model_name,
                                                    std::string_view version,
                                                    std::string_view description, Timestamp now,
                                                    const Audit& audit) = 0;

  virtual std::optional<ModelVersion> get_version_impl(std::string_view model_name,
                                                       std::string_view version) const = 0;
  virtual std::optional<ModelVersion> latest_version_impl(std::string_view model_name) const = 0;
  virtual std::optional<ModelVersion> production_version_impl(
      std::string_view model_name) const = 0;
  virtual std::vector<ModelVersion> list_versions_impl(std::string_view model_name,
                                                       std::optional<ModelStage> stage) const = 0;
  virtual std::optional<RegisteredModel> get_model_impl(std::string_view model_name) const = 0;
  virtual std::vector<std::string> list_models_impl() const = 0;
  virtual VersionPage search_versions_impl(const VersionQuery& query) const = 0;
  virtual ModelPage search_models_impl(const ModelQuery& query) const = 0;
  virtual std::vector<ModelEvent> events_impl(const EventQuery& query) const = 0;
  virtual std::int64_t latest_event_sequence_impl() const = 0;
};

}  // namespace modelreg

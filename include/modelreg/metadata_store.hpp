#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/model_stage.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"
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

// The catalog of models and versions. Every method is one atomic step (a transaction in a
// database-backed store); readers never see a half-applied change. "Visible" versions are the
// registered ones; reserved (pending) versions occupy their (model, version) key so that nobody
// else can register it, but no lookup or listing returns them.
//
// Public methods validate names, log errors through the "modelreg" logger and call the private
// *_impl hooks that backends implement. Implementations are thread-safe and, where the backend
// is shared between processes, process-safe.
class MetadataStore {
 public:
  virtual ~MetadataStore();

  // create-version-if-absent: adds `version` (its model is created if needed) as a visible
  // version, unless `owner` is non-empty: then it is reserved for `owner` and stays invisible
  // until publish_version. The version's stage must not be Production (promote afterwards).
  // Returns the version as stored. Throws AlreadyExistsError if (model, version) exists in any
  // state; nothing is changed then.
  //
  // A version that becomes visible (here or in publish_version) is the latest of its model, and
  // its created_at is never earlier than that of the versions registered before it: a time
  // earlier than the latest version's is recorded as the latest version's (and updated_at as
  // that too, if it was earlier still). So the latest by created_at is the latest by
  // registration order, with ties broken by that order, whatever the clocks of concurrent
  // writers read.
  ModelVersion create_version(const ModelVersion& version, std::string_view owner = {});

  // Makes the version reserved by `owner` visible, recording `artifact` and `now` as
  // created_at/updated_at (or a later time: see create_version). It becomes the latest version of
  // its model. Returns the visible version.
  // Throws FailedPreconditionError if `owner` holds no such reservation (e.g. recovery took it
  // over).
  ModelVersion publish_version(std::string_view model_name, std::string_view version,
                               std::string_view owner, const ArtifactInfo& artifact, Timestamp now);

  // Drops a reservation held by `owner` (registering or deleting); a model left without any
  // version, visible or reserved, is removed with it. Returns false if `owner` holds none for
  // that key.
  bool release_version(std::string_view model_name, std::string_view version,
                       std::string_view owner);

  // Hides a visible version and reserves its key for `owner` as Deleting, so that its artifact
  // can be removed before release_version frees the key. Returns the version as it was, or
  // nullopt if no visible version has that key.
  std::optional<ModelVersion> begin_delete(std::string_view model_name, std::string_view version,
                                           std::string_view owner);

  // Undoes begin_delete: the version is visible again as it was, except that a Production
  // version comes back Archived if another version was promoted meanwhile. Returns false if
  // `owner` holds no Deleting reservation for that key.
  bool cancel_delete(std::string_view model_name, std::string_view version, std::string_view owner);

  // Every reservation, oldest first (for crash recovery).
  std::vector<PendingVersion> list_pending() const;

  // Moves a reservation from `expected_owner` to `new_owner` (recovery taking over the work of a
  // dead writer). Returns false if the key is not reserved by `expected_owner`.
  bool claim_pending(std::string_view model_name, std::string_view version,
                     std::string_view expected_owner, std::string_view new_owner);

  // set-stage-exclusive: sets the stage of a visible version and its updated_at to `now`. When
  // `stage` is Production, the model's previous Production version (if another) becomes Archived
  // in the same atomic step. If `expected` is set and the version's current stage differs,
  // throws FailedPreconditionError and changes nothing. Returns the updated version, or nullopt
  // if no visible version has that key.
  std::optional<ModelVersion> set_stage(std::string_view model_name, std::string_view version,
                                        ModelStage stage, std::optional<ModelStage> expected,
                                        Timestamp now);

  // Lookups of visible state; nullopt / empty when absent.
  std::optional<ModelVersion> get_version(std::string_view model_name,
                                          std::string_view version) const;
  // The most recently published version (greatest registration order).
  std::optional<ModelVersion> latest_version(std::string_view model_name) const;
  std::optional<ModelVersion> production_version(std::string_view model_name) const;
  // Visible versions in registration order, optionally only those in `stage`.
  std::vector<ModelVersion> list_versions(std::string_view model_name,
                                          std::optional<ModelStage> stage = std::nullopt) const;
  // The model with all its visible versions; nullopt unless it has at least one visible version.
  std::optional<RegisteredModel> get_model(std::string_view model_name) const;
  // Names of every model with at least one visible version, sorted.
  std::vector<std::string> list_models() const;

  // Where the writers of a catalog that other processes can open hold their liveness locks, so
  // that crash recovery tells a dead writer's reservations from a live one's. Every registry on
  // the catalog, whatever built it, uses this directory. nullopt (the default) for a catalog
  // that lives inside one process.
  std::optional<std::filesystem::path> owner_lock_directory() const;

 private:
  virtual std::optional<std::filesystem::path> owner_lock_directory_impl() const;
  virtual ModelVersion create_version_impl(const ModelVersion& version, std::string_view owner) = 0;
  virtual ModelVersion publish_version_impl(std::string_view model_name, std::string_view version,
                                            std::string_view owner, const ArtifactInfo& artifact,
                                            Timestamp now) = 0;
  virtual bool release_version_impl(std::string_view model_name, std::string_view version,
                                    std::string_view owner) = 0;
  virtual std::optional<ModelVersion> begin_delete_impl(std::string_view model_name,
                                                        std::string_view version,
                                                        std::string_view owner) = 0;
  virtual bool cancel_delete_impl(std::string_view model_name, std::string_view version,
                                  std::string_view owner) = 0;
  virtual std::vector<PendingVersion> list_pending_impl() const = 0;
  virtual bool claim_pending_impl(std::string_view model_name, std::string_view version,
                                  std::string_view expected_owner, std::string_view new_owner) = 0;
  virtual std::optional<ModelVersion> set_stage_impl(std::string_view model_name,
                                                     std::string_view version, ModelStage stage,
                                                     std::optional<ModelStage> expected,
                                                     Timestamp now) = 0;
  virtual std::optional<ModelVersion> get_version_impl(std::string_view model_name,
                                                       std::string_view version) const = 0;
  virtual std::optional<ModelVersion> latest_version_impl(std::string_view model_name) const = 0;
  virtual std::optional<ModelVersion> production_version_impl(
      std::string_view model_name) const = 0;
  virtual std::vector<ModelVersion> list_versions_impl(std::string_view model_name,
                                                       std::optional<ModelStage> stage) const = 0;
  virtual std::optional<RegisteredModel> get_model_impl(std::string_view model_name) const = 0;
  virtual std::vector<std::string> list_models_impl() const = 0;
};

}  // namespace modelreg

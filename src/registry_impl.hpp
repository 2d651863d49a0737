#pragma once

// ModelRegistry's state, shared by the files that implement it (model_registry.cpp: versions and
// artifacts; registry_lifecycle.cpp: aliases, tags, search, history, URIs; watch.cpp).

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "modelreg/error.hpp"
#include "modelreg/metadata_store.hpp"
#include "modelreg/model_registry.hpp"
#include "modelreg/model_store.hpp"

namespace modelreg {

namespace detail {
struct FileStamp;  // file_copy.hpp
}  // namespace detail

inline Timestamp registry_now() {
  return std::chrono::system_clock::now();
}

// Whether two records of a version describe the same artifact of the same registration.
inline bool same_artifact(const ModelVersion& a, const ModelVersion& b) {
  return a.artifact_path == b.artifact_path && a.artifact_size == b.artifact_size &&
         a.artifact_sha256 == b.artifact_sha256 && a.created_at == b.created_at;
}

class ModelRegistry::Impl {
 public:
  Impl(std::shared_ptr<ModelStore> store, std::shared_ptr<MetadataStore> metadata);

  const std::string& owner() const { return lease->owner(); }

  // `audit` with the default actor filled in where it names none. Throws InvalidArgumentError
  // for an invalid audit.
  Audit audit(const Audit& given) const;

  // The version if it exists and has an artifact (what every load_artifact overload needs).
  std::optional<ModelVersion> version_with_artifact(std::string_view name,
                                                    std::string_view version) const {
    auto v = metadata->get_version(name, version);
    if (!v || !v->artifact_path) return std::nullopt;
    return v;
  }

  // Runs `read` on the record of a version that has an artifact, and returns what it returns;
  // nullopt when there is no such version or it has no artifact. `read` throws DataLossError
  // when the artifact is missing or differs from the record. That is also what a deletion, or a
  // deletion and a new registration of the same version, that ran between reading the record
  // and opening the artifact looks like: so the record is read again, and only a failure on an
  // unchanged record is reported. A changed record is read again from the start, a deleted one
  // answers "no such version", as it would have a moment later. An unchanged record gets one
  // more read before its failure is reported: a new registration of the same bytes can have the
  // very same record (created_at is raised to the model's latest, which may be the same time).
  template <typename Read>
  auto read_artifact(std::string_view name, std::string_view version, Read read) const
      -> std::optional<decltype(read(std::declval<const ModelVersion&>()))> {
    auto current = version_with_artifact(name, version);
    bool read_again = false;
    while (current) {
      try {
        return read(*current);
      } catch (const DataLossError&) {
        auto again = version_with_artifact(name, version);
        if (again && same_artifact(*again, *current)) {
          if (read_again) throw;
          read_again = true;
        }
        current = std::move(again);
      }
    }
    return std::nullopt;
  }

  // Whether the store still has the artifact at `path`; true when that cannot be told.
  bool artifact_exists(const std::string& path) const noexcept;

  // Opens the artifact of `version` for reading; a missing artifact is data loss, since the
  // version says it has one.
  std::unique_ptr<std::istream> open_artifact(const ModelVersion& version) const;
  // The stored file of `version` opened read-only (ModelStore::open_artifact_file); nullopt for
  // a store without files. A missing artifact is data loss, as above.
  std::optional<ArtifactFile> open_stored_file(const ModelVersion& version) const;
  // The same file, checked against the size and SHA-256 `version` recorded in one pass at
  // hashing speed (DataLossError if it differs), its offset at its start again. If `before` is
  // given, it receives the file's stamp taken before the check (file_copy.hpp).
  std::optional<ArtifactFile> open_verified_file(const ModelVersion& version,
                                                 detail::FileStamp* before = nullptr) const;
  // Writes the artifact of `version` into `fd` (the temporary file `temp` of a load to a file)
  // and checks its size and SHA-256: straight from the store where it fills files
  // (ModelStore::write_artifact_to; then read back to be hashed); from its stored file where it
  // keeps files (the kernel copying, the hash of what `fd` holds computed while it copies,
  // file_copy.hpp); else copied from its stream and hashed on the way. A missing artifact is
  // data loss, as above.
  void write_verified(const ModelVersion& version, int fd, const std::filesystem::path& temp) const;

  // Removes what an unfinished registration left in the store and its reservation. Used on
  // failure paths: a failure here is logged, the original error is what the caller sees.
  void undo_registration(std::string_view name, std::string_view version) noexcept;

  // Marks a key as in flight in this registry, from before it is reserved until the work on it
  // is settled (under `mutex`). recover() leaves keys in flight alone and settles this
  // registry's other reservations: the ones a failed release or cancel left behind.
  using Key = std::pair<std::string, std::string>;
  class InFlight {
   public:
    // Construct with `mutex` held.
    InFlight(Impl& impl, Key key) : impl_(impl), key_(std::move(key)) { ++impl_.in_flight[key_]; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    ~InFlight() {
      std::lock_guard<std::mutex> lock(impl_.mutex);
      auto it = impl_.in_flight.find(key_);
      if (--it->second == 0) impl_.in_flight.erase(it);
    }

   private:
    Impl& impl_;
    Key key_;
  };

  // Rolls back or finishes one reservation for recover(), counting it in `report`, unless its
  // writer is alive or (ours) a call of this registry is still working on it.
  void settle(const PendingVersion& pending, RecoveryReport& report);

  std::shared_ptr<ModelStore> store;
  std::shared_ptr<MetadataStore> metadata;
  std::unique_ptr<WriterLease> lease;
  std::mutex mutex;              // serialises this registry's mutations of the catalog
  std::map<Key, int> in_flight;  // how many calls work on each key; guarded by `mutex`

  mutable std::mutex actor_mutex;
  std::string default_actor;  // guarded by actor_mutex
};

// Throws DataLossError unless `size` and `sha256` are what `version` recorded at registration.
void check_integrity(const ModelVersion& version, std::uint64_t size, const std::string& sha256);

// The actor a registry records when it is told none: "user@host" of this process.
std::string process_actor();

}  // namespace modelreg

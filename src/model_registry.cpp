#include "modelreg/model_registry.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <istream>
#include <map>
#include <mutex>
#include <ostream>
#include <utility>

#include "hashing_stream.hpp"
#include "modelreg/error.hpp"
#include "modelreg/file_model_store.hpp"
#include "modelreg/in_memory_metadata_store.hpp"
#include "modelreg/in_memory_model_store.hpp"
#include "modelreg/validation.hpp"
#include "owner_lease.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace {

Timestamp now() {
  return std::chrono::system_clock::now();
}

// Checks everything about a registration that can be checked before touching a store.
void validate_registration(std::string_view name, std::string_view version,
                           const RegisterOptions& options) {
  validate_model_name(name);
  validate_version(version);
  for (const auto& [key, value] : options.tags) validate_tag(key, value);
  if (!options.parameters.is_null() && !options.parameters.is_object()) {
    throw InvalidArgumentError(
        fmt::format("parameters must be a JSON object, got {}", options.parameters.type_name()));
  }
  for (const auto& [metric, value] : options.metrics.to_dict()) {
    if (!std::isfinite(value)) {
      throw InvalidArgumentError(fmt::format("metric '{}' is not a finite number", metric));
    }
  }
  const int sources = (options.artifact ? 1 : 0) + (options.artifact_file ? 1 : 0) +
                      (options.artifact_stream != nullptr ? 1 : 0);
  if (sources > 1) {
    throw InvalidArgumentError(
        "give the artifact as bytes, a file or a stream, not several at once");
  }
  // The catalog stores text as JSON, which must be valid UTF-8: refuse it here, not later.
  try {
    (void)nlohmann::json{options.tags, options.description, options.parameters,
                         options.metrics.custom}
        .dump();
  } catch (const nlohmann::json::type_error& e) {
    throw InvalidArgumentError(fmt::format(
        "tags, description, parameters and metric names must be valid UTF-8: {}", e.what()));
  }
}

// Whether two records of a version describe the same artifact of the same registration.
bool same_artifact(const ModelVersion& a, const ModelVersion& b) {
  return a.artifact_path == b.artifact_path && a.artifact_size == b.artifact_size &&
         a.artifact_sha256 == b.artifact_sha256 && a.created_at == b.created_at;
}

// Reads `in` to its end, hashing, and checks the result against what `version` recorded.
// Throws DataLossError on any mismatch.
void check_integrity(const ModelVersion& version, std::uint64_t size, const std::string& sha256) {
  if (size != version.artifact_size) {
    throw DataLossError(
        fmt::format("artifact of {} is corrupt: {} bytes stored, {} recorded at registration",
                    version.full_name(), size, version.artifact_size));
  }
  if (sha256 != version.artifact_sha256) {
    throw DataLossError(fmt::format(
        "artifact of {} is corrupt: SHA-256 {} does not match {} recorded at registration",
        version.full_name(), sha256, version.artifact_sha256));
  }
}

// Checks what `hashing` read: a read failure is a StorageError, a size or digest that differs
// from what `version` recorded a DataLossError.
void check_integrity(const ModelVersion& version, detail::HashingInputBuf& hashing) {
  if (hashing.source_failed()) {
    throw StorageError(fmt::format("cannot read the artifact of {}", version.full_name()));
  }
  check_integrity(version, hashing.size(), hashing.hex_digest());
}

// The lease every registry on `metadata` uses, so that they all judge each other's liveness the
// same way: a lock file in the catalog's lock directory if other processes can open it.
std::unique_ptr<detail::OwnerLease> lease_for(const MetadataStore* metadata) {
  if (metadata != nullptr) {
    if (auto directory = metadata->owner_lock_directory()) {
      return std::make_unique<detail::FileLockLease>(std::move(*directory));
    }
  }
  return std::make_unique<detail::ProcessLocalLease>();
}

void drain(std::istream& in) {
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
  }
}

// Copies `in` to its end into `file` (a temporary file holding the artifact of `version`).
void copy_to_file(std::istream& in, std::FILE* file, const ModelVersion& version) {
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    const auto size = static_cast<std::size_t>(in.gcount());
    if (std::fwrite(buffer, 1, size, file) != size) {
      throw StorageError(fmt::format("cannot write the artifact of {} to a temporary file: {}",
                                     version.full_name(), std::strerror(errno)));
    }
  }
}

// Copies all of `file` (see copy_to_file) to `out`.
void copy_from_file(std::FILE* file, std::ostream& out, const ModelVersion& version) {
  std::rewind(file);
  char buffer[1 << 16];
  std::size_t size = 0;
  while (out && (size = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    out.write(buffer, static_cast<std::streamsize>(size));
  }
  if (std::ferror(file)) {
    throw StorageError(fmt::format("cannot read back the temporary copy of the artifact of {}",
                                   version.full_name()));
  }
  if (!out) {
    throw StorageError(
        fmt::format("cannot copy the artifact of {} to the stream", version.full_name()));
  }
}

}  // namespace

class ModelRegistry::Impl {
 public:
  Impl(std::shared_ptr<ModelStore> store_in, std::shared_ptr<MetadataStore> metadata_in,
       std::unique_ptr<detail::OwnerLease> lease_in)
      : store(std::move(store_in)), metadata(std::move(metadata_in)), lease(std::move(lease_in)) {
    if (!store) throw InvalidArgumentError("ModelRegistry needs a ModelStore, got null");
    if (!metadata) throw InvalidArgumentError("ModelRegistry needs a MetadataStore, got null");
  }

  const std::string& owner() const { return lease->owner(); }

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
  bool artifact_exists(const std::string& path) const noexcept {
    try {
      store->open_artifact(path);
      return true;
    } catch (const NotFoundError&) {
      return false;
    } catch (const std::exception& e) {
      detail::log_warning(
          fmt::format("cannot tell whether artifact '{}' is still stored: {}", path, e.what()));
      return true;
    } catch (...) {
      detail::log_warning(fmt::format("cannot tell whether artifact '{}' is still stored", path));
      return true;
    }
  }

  // Opens the artifact of `version` for reading; a missing artifact is data loss, since the
  // version says it has one.
  std::unique_ptr<std::istream> open_artifact(const ModelVersion& version) const {
    try {
      return store->open_artifact(*version.artifact_path);
    } catch (const NotFoundError&) {
      throw DataLossError(fmt::format("artifact of {} is missing from the store (expected '{}')",
                                      version.full_name(), *version.artifact_path));
    }
  }

  // Removes what an unfinished registration left in the store and its reservation. Used on
  // failure paths: a failure here is logged, the original error is what the caller sees.
  void undo_registration(std::string_view name, std::string_view version) noexcept {
    try {
      store->delete_artifact(ModelStore::artifact_path(name, version));
    } catch (const std::exception& e) {
      detail::log_warning(fmt::format("could not remove the partial artifact of {}:{}: {}", name,
                                      version, e.what()));
    }
    try {
      std::lock_guard<std::mutex> lock(mutex);
      metadata->release_version(name, version, owner());
    } catch (const std::exception& e) {
      detail::log_warning(
          fmt::format("could not release the reservation of {}:{} (recover() will): {}", name,
                      version, e.what()));
    }
  }

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
  void settle(const PendingVersion& pending, RecoveryReport& report) {
    const bool mine = pending.owner == owner();
    if (!mine && lease->is_alive(pending.owner)) return;
    std::optional<InFlight> working;
    {
      std::lock_guard<std::mutex> lock(mutex);
      const Key key(pending.model_name, pending.version);
      // This registry's own reservations are recovered only when no call of it is working on
      // them (a failed release or cancel left them behind).
      if (mine && in_flight.count(key) != 0) return;
      // Take the work over first, so that two recovering processes never both act on it. For
      // our own this checks that it is still reserved, now that no call of ours can settle it.
      if (!metadata->claim_pending(pending.model_name, pending.version, pending.owner, owner())) {
        return;
      }
      working.emplace(*this, key);
    }
    const bool registering = pending.kind == PendingVersion::Kind::Registering;
    detail::log_warning(fmt::format(
        "recovery: {} of {}:{} by {}; {}", registering ? "registration" : "deletion",
        pending.model_name, pending.version,
        mine ? "this registry, left unfinished by a failure" : "a writer that died midway",
        registering ? "rolling it back" : "completing it"));
    store->delete_artifact(ModelStore::artifact_path(pending.model_name, pending.version));
    std::lock_guard<std::mutex> lock(mutex);
    metadata->release_version(pending.model_name, pending.version, owner());
    ++(registering ? report.registrations_rolled_back : report.deletions_completed);
  }

  std::shared_ptr<ModelStore> store;
  std::shared_ptr<MetadataStore> metadata;
  std::unique_ptr<detail::OwnerLease> lease;
  std::mutex mutex;              // serialises this registry's mutations of the catalog
  std::map<Key, int> in_flight;  // how many calls work on each key; guarded by `mutex`
};

ModelRegistry::ModelRegistry()
    : ModelRegistry(std::make_shared<InMemoryModelStore>(),
                    std::make_shared<InMemoryMetadataStore>()) {}

ModelRegistry::ModelRegistry(std::shared_ptr<ModelStore> store)
    : ModelRegistry(std::move(store), std::make_shared<InMemoryMetadataStore>()) {}

ModelRegistry::ModelRegistry(std::shared_ptr<ModelStore> store,
                             std::shared_ptr<MetadataStore> metadata)
    : impl_(detail::public_call("ModelRegistry", [&] {
        auto lease = lease_for(metadata.get());
        return std::make_unique<Impl>(std::move(store), std::move(metadata), std::move(lease));
      })) {}

ModelRegistry::ModelRegistry(ModelRegistry&&) noexcept = default;
ModelRegistry& ModelRegistry::operator=(ModelRegistry&&) noexcept = default;
ModelRegistry::~ModelRegistry() = default;

ModelVersion ModelRegistry::register_version(std::string_view name, std::string_view version,
                                             const RegisterOptions& options) {
  return detail::public_call("register_version", [&] {
    validate_registration(name, version, options);

    ModelVersion v;
    v.model_name = std::string(name);
    v.version = std::string(version);
    v.framework = options.framework;
    v.metrics = options.metrics;
    v.parameters = options.parameters.is_null() ? nlohmann::json::object() : options.parameters;
    v.tags = options.tags;
    v.description = options.description;
    v.created_at = v.updated_at = now();

    // The artifact's source, opened before anything is reserved so that a missing file fails
    // without side effects.
    std::unique_ptr<std::istream> owned_source;
    std::istream* source = options.artifact_stream;
    std::optional<detail::MemoryInputBuf> memory;
    if (options.artifact) {
      memory.emplace(options.artifact->data(), options.artifact->size());
      owned_source = std::make_unique<std::istream>(&*memory);
      source = owned_source.get();
    } else if (options.artifact_file) {
      std::error_code ec;
      if (std::filesystem::is_directory(*options.artifact_file, ec)) {
        throw InvalidArgumentError(
            fmt::format("artifact file '{}' is a directory", options.artifact_file->string()));
      }
      auto file = std::make_unique<std::ifstream>(*options.artifact_file, std::ios::binary);
      if (!*file) {
        if (!std::filesystem::is_regular_file(*options.artifact_file, ec)) {
          throw NotFoundError(
              fmt::format("artifact file '{}' does not exist", options.artifact_file->string()));
        }
        throw StorageError(
            fmt::format("cannot open artifact file '{}'", options.artifact_file->string()));
      }
      owned_source = std::move(file);
      source = owned_source.get();
    }

    if (source == nullptr) {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      return impl_->metadata->create_version(v);
    }

    // Reserve the key first: a duplicate fails here, before any byte is written.
    std::optional<Impl::InFlight> in_flight;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      in_flight.emplace(*impl_, Impl::Key(name, version));
      impl_->metadata->create_version(v, impl_->owner());
    }
    try {
      detail::HashingInputBuf hashing(*source);
      std::istream hashed(&hashing);
      ArtifactInfo artifact;
      artifact.path = impl_->store->save_artifact(name, version, hashed);
      if (hashing.source_failed()) {
        throw StorageError(
            fmt::format("reading the artifact of {} failed before its end", v.full_name()));
      }
      artifact.size = hashing.size();
      artifact.sha256 = hashing.hex_digest();
      std::lock_guard<std::mutex> lock(impl_->mutex);
      return impl_->metadata->publish_version(name, version, impl_->owner(), artifact, now());
    } catch (...) {
      impl_->undo_registration(name, version);
      throw;
    }
  });
}

ModelVersion ModelRegistry::register_version(std::string_view name, std::string_view version) {
  // Out of line so that callers do not construct a RegisterOptions temporary (GCC 12 warns
  // falsely about its std::map at -O2 in the caller's code).
  return register_version(name, version, RegisterOptions{});
}

std::optional<RegisteredModel> ModelRegistry::get_model(std::string_view name) const {
  return detail::public_call("get_model", [&] { return impl_->metadata->get_model(name); });
}

std::optional<ModelVersion> ModelRegistry::get_version(std::string_view name,
                                                       std::string_view version) const {
  return detail::public_call("get_version",
                             [&] { return impl_->metadata->get_version(name, version); });
}

std::optional<ModelVersion> ModelRegistry::get_latest(std::string_view name) const {
  return detail::public_call("get_latest", [&] { return impl_->metadata->latest_version(name); });
}

std::optional<ModelVersion> ModelRegistry::get_production_model(std::string_view name) const {
  return detail::public_call("get_production_model",
                             [&] { return impl_->metadata->production_version(name); });
}

std::optional<ModelVersion> ModelRegistry::transition_stage(
    std::string_view name, std::string_view version, ModelStage stage,
    std::optional<ModelStage> expected_stage) {
  return detail::public_call("transition_stage", [&] {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->metadata->set_stage(name, version, stage, expected_stage, now());
  });
}

std::vector<std::string> ModelRegistry::list_models() const {
  return detail::public_call("list_models", [&] { return impl_->metadata->list_models(); });
}

std::vector<ModelVersion> ModelRegistry::list_versions(std::string_view name,
                                                       std::optional<ModelStage> stage) const {
  return detail::public_call("list_versions",
                             [&] { return impl_->metadata->list_versions(name, stage); });
}

bool ModelRegistry::delete_version(std::string_view name, std::string_view version) {
  return detail::public_call("delete_version", [&] {
    std::optional<ModelVersion> deleted;
    std::optional<Impl::InFlight> in_flight;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      in_flight.emplace(*impl_, Impl::Key(name, version));
      deleted = impl_->metadata->begin_delete(name, version, impl_->owner());
    }
    if (!deleted) return false;
    if (deleted->artifact_path) {
      bool removed = false;
      try {
        removed = impl_->store->delete_artifact(*deleted->artifact_path);
      } catch (...) {
        // If the artifact is still there the version keeps it: make it visible again. If it is
        // gone, only what followed its removal failed (e.g. syncing the directory): finish the
        // deletion rather than bring back a version without its artifact. Report either way.
        // If that fails too, the reservation is left for recover(), and the caller still gets
        // the original error.
        const bool kept = impl_->artifact_exists(*deleted->artifact_path);
        try {
          std::lock_guard<std::mutex> lock(impl_->mutex);
          if (kept) {
            impl_->metadata->cancel_delete(name, version, impl_->owner());
          } else {
            impl_->metadata->release_version(name, version, impl_->owner());
          }
        } catch (const std::exception& e) {
          detail::log_warning(
              fmt::format("could not {} the deletion of {} (recover() will "
                          "finish it): {}",
                          kept ? "cancel" : "finish", deleted->full_name(), e.what()));
        }
        throw;
      }
      if (!removed) {
        detail::log_warning(fmt::format("artifact of {} was already missing when it was deleted",
                                        deleted->full_name()));
      }
    }
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->metadata->release_version(name, version, impl_->owner());
    return true;
  });
}

std::optional<Bytes> ModelRegistry::load_artifact(std::string_view name,
                                                  std::string_view version) const {
  return detail::public_call("load_artifact", [&] {
    return impl_->read_artifact(name, version, [&](const ModelVersion& v) {
      auto in = impl_->open_artifact(v);
      detail::HashingInputBuf hashing(*in);
      std::istream hashed(&hashing);
      Bytes bytes;
      bytes.reserve(static_cast<std::size_t>(v.artifact_size));
      char buffer[1 << 16];
      while (hashed.read(buffer, sizeof buffer) || hashed.gcount() > 0) {
        bytes.insert(bytes.end(), buffer, buffer + hashed.gcount());
      }
      check_integrity(v, hashing);
      return bytes;
    });
  });
}

bool ModelRegistry::load_artifact(std::string_view name, std::string_view version,
                                  std::ostream& out) const {
  return detail::public_call("load_artifact", [&] {
    // First pass: verify, so that `out` never receives a corrupt byte. A store whose streams
    // cannot seek (the ModelStore interface does not promise it) cannot be read twice: its bytes
    // are copied to an unnamed temporary file as they are verified, and `out` gets that copy.
    std::unique_ptr<std::istream> in;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> spool(nullptr, &std::fclose);
    const auto v = impl_->read_artifact(name, version, [&](const ModelVersion& current) {
      in = impl_->open_artifact(current);
      const bool seekable = in->tellg() != std::istream::pos_type(-1);
      in->clear();
      spool.reset(seekable ? nullptr : std::tmpfile());
      if (!seekable && !spool) {
        throw StorageError(fmt::format("cannot create a temporary file to verify {}: {}",
                                       current.full_name(), std::strerror(errno)));
      }
      detail::HashingInputBuf hashing(*in);
      std::istream hashed(&hashing);
      if (spool) {
        copy_to_file(hashed, spool.get(), current);
      } else {
        drain(hashed);
      }
      check_integrity(current, hashing);
      return current;
    });
    if (!v) return false;
    if (spool) {
      copy_from_file(spool.get(), out, *v);
      return true;
    }
    // Second pass over the same open file (the same bytes, even if the path were replaced).
    in->clear();
    if (!in->seekg(0)) {
      throw StorageError(fmt::format("cannot rewind the artifact of {}", v->full_name()));
    }
    detail::HashingInputBuf hashing(*in);
    std::istream hashed(&hashing);
    out << hashed.rdbuf();
    if (v->artifact_size == 0) out.clear(out.rdstate() & ~std::ios::failbit);
    if (!out) {
      throw StorageError(
          fmt::format("cannot copy the artifact of {} to the stream", v->full_name()));
    }
    check_integrity(*v, hashing);
    return true;
  });
}

bool ModelRegistry::load_artifact(std::string_view name, std::string_view version,
                                  const std::filesystem::path& destination) const {
  return detail::public_call("load_artifact", [&] {
    return impl_
        ->read_artifact(name, version,
                        [&](const ModelVersion& v) {
                          auto in = impl_->open_artifact(v);
                          detail::HashingInputBuf hashing(*in);
                          std::istream hashed(&hashing);
                          detail::write_file_atomically(destination, hashed,
                                                        [&] { check_integrity(v, hashing); });
                          return true;
                        })
        .has_value();
  });
}

RecoveryReport ModelRegistry::recover() {
  return detail::public_call("recover", [&] {
    RecoveryReport report;
    // A reservation that cannot be settled (its artifact cannot be deleted, say) does not stop
    // the others; the first such error is thrown once all were tried.
    std::exception_ptr first_error;
    for (const auto& pending : impl_->metadata->list_pending()) {
      try {
        impl_->settle(pending, report);
      } catch (const std::exception& e) {
        detail::log_warning(
            fmt::format("recovery of {}:{} failed (the next recover() tries again): {}",
                        pending.model_name, pending.version, e.what()));
        if (!first_error) first_error = std::current_exception();
      }
    }
    if (first_error) std::rethrow_exception(first_error);
    return report;
  });
}

std::shared_ptr<ModelStore> ModelRegistry::store() const {
  return impl_->store;
}

std::shared_ptr<MetadataStore> ModelRegistry::metadata_store() const {
  return impl_->metadata;
}

}  // namespace modelreg

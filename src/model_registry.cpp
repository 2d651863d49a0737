#include "modelreg/model_registry.hpp"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <istream>
#include <list>
#include <map>
#include <mutex>
#include <ostream>
#include <utility>
#include <vector>

#include "block_digests.hpp"
#include "content_rules.hpp"
#include "fd_stream.hpp"
#include "file_copy.hpp"
#include "hash_pipeline.hpp"
#include "hashing_stream.hpp"
#include "io.hpp"
#include "modelreg/error.hpp"
#include "modelreg/file_model_store.hpp"
#include "modelreg/in_memory_metadata_store.hpp"
#include "modelreg/in_memory_model_store.hpp"
#include "modelreg/validation.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"
#include "registry_impl.hpp"
#include "sha256.hpp"

namespace modelreg {

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

namespace {

Timestamp now() {
  return std::chrono::system_clock::now();
}

// Checks everything about a registration that can be checked before touching a store.
void validate_registration(std::string_view name, std::string_view version,
                           const RegisterOptions& options) {
  validate_model_name(name);
  validate_version(version);
  // The rules every catalog applies (content_rules.hpp), checked before any artifact is written.
  detail::validate_tags(options.tags);
  validate_description(options.description);
  if (!options.parameters.is_null()) detail::validate_parameters(options.parameters);
  detail::validate_metrics(options.metrics);
  const int sources = (options.artifact ? 1 : 0) + (options.artifact_file ? 1 : 0) +
                      (options.artifact_stream != nullptr ? 1 : 0);
  if (sources > 1) {
    throw InvalidArgumentError(
        "give the artifact as bytes, a file or a stream, not several at once");
  }
}

// Reads `in` to its end, hashing, and checks the result against what `version` recorded.
// Throws DataLossError on any mismatch.
// Checks what `hashing` read: a read failure is a StorageError, a size or digest that differs
// from what `version` recorded a DataLossError.
void check_integrity(const ModelVersion& version, detail::HashingInputBuf& hashing) {
  if (hashing.source_failed()) {
    throw StorageError(fmt::format("cannot read the artifact of {}", version.full_name()));
  }
  check_integrity(version, hashing.size(), hashing.hex_digest());
}

// Checks the bytes the file `fd` (`path`) holds from its start against `version`.
void check_file_integrity(const ModelVersion& version, int fd, const std::filesystem::path& path) {
  detail::HashPipeline hash;
  const std::uint64_t size =
      detail::hash_file(fd, hash, fmt::format("{} from '{}'", version.full_name(), path.string()));
  check_integrity(version, size, hash.hex_digest());
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

std::string process_actor() {
  std::string user;
  if (const passwd* entry = ::getpwuid(::geteuid());
      entry != nullptr && entry->pw_name != nullptr) {
    user = entry->pw_name;
  } else if (const char* name = std::getenv("USER"); name != nullptr) {
    user = name;
  } else {
    user = fmt::format("uid{}", ::geteuid());
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof host, "localhost");
  }
  std::string actor = user + "@" + host;
  // Keep it within Audit's limits whatever the system says: printable, at most 255 bytes.
  for (char& c : actor) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (actor.size() > 255) actor.resize(255);
  return actor;
}

ModelRegistry::Impl::Impl(std::shared_ptr<ModelStore> store_in,
                          std::shared_ptr<MetadataStore> metadata_in)
    : store(std::move(store_in)), metadata(std::move(metadata_in)) {
  if (!store) throw InvalidArgumentError("ModelRegistry needs a ModelStore, got null");
  if (!metadata) throw InvalidArgumentError("ModelRegistry needs a MetadataStore, got null");
  lease = metadata->acquire_writer_lease();
  if (!lease || lease->owner().empty()) {
    throw StorageError("the catalog returned no writer lease");
  }
  default_actor = process_actor();
  try {
    MetadataStore::validate_audit(Audit{default_actor, {}});
  } catch (const InvalidArgumentError&) {
    default_actor = "unknown";  // a user or host name that is not UTF-8, say
  }
}

Audit ModelRegistry::Impl::audit(const Audit& given) const {
  Audit result = given;
  if (result.actor.empty()) {
    std::lock_guard<std::mutex> lock(actor_mutex);
    result.actor = default_actor;
  }
  MetadataStore::validate_audit(result);
  return result;
}

bool ModelRegistry::Impl::artifact_exists(const std::string& path) const noexcept {
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

namespace {

[[noreturn]] void throw_missing_artifact(const ModelVersion& version) {
  throw DataLossError(fmt::format("artifact of {} is missing from the store (expected '{}')",
                                  version.full_name(), *version.artifact_path));
}

}  // namespace

std::unique_ptr<std::istream> ModelRegistry::Impl::open_artifact(
    const ModelVersion& version) const {
  try {
    return store->open_artifact(*version.artifact_path);
  } catch (const NotFoundError&) {
    throw_missing_artifact(version);
  }
}

void ModelRegistry::Impl::write_verified(const ModelVersion& version, int fd,
                                         const std::filesystem::path& temp) const {
  bool written = false;
  try {
    written = store->write_artifact_to(*version.artifact_path, fd);
  } catch (const NotFoundError&) {
    throw_missing_artifact(version);
  }
  if (written) {
    check_file_integrity(version, fd, temp);
    return;
  }
  if (const auto stored = open_stored_file(version)) {
    detail::HashPipeline hash;
    detail::copy_file_hashed(stored->fd(), fd, hash, stored->path(), temp);
    check_integrity(version, hash.size(), hash.hex_digest());
    return;
  }
  auto in = open_artifact(version);
  detail::HashingInputBuf hashing(*in);
  std::istream hashed(&hashing);
  detail::copy_stream_to_fd(hashed, fd, temp);
  check_integrity(version, hashing);
}

void ModelRegistry::Impl::undo_registration(std::string_view name,
                                            std::string_view version) noexcept {
  try {
    store->delete_artifact(ModelStore::artifact_path(name, version));
  } catch (const std::exception& e) {
    detail::log_warning(
        fmt::format("could not remove the partial artifact of {}:{}: {}", name, version, e.what()));
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

void ModelRegistry::Impl::settle(const PendingVersion& pending, RecoveryReport& report) {
  const bool mine = pending.owner == owner();
  if (!mine && metadata->is_writer_alive(pending.owner)) return;
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
  Audit recovery;
  recovery.reason = "recovery: finished a deletion left unfinished";
  std::lock_guard<std::mutex> lock(mutex);
  metadata->release_version(pending.model_name, pending.version, owner(), audit(recovery));
  ++(registering ? report.registrations_rolled_back : report.deletions_completed);
}

ModelRegistry::ModelRegistry()
    : ModelRegistry(std::make_shared<InMemoryModelStore>(),
                    std::make_shared<InMemoryMetadataStore>()) {}

ModelRegistry::ModelRegistry(std::shared_ptr<ModelStore> store)
    : ModelRegistry(std::move(store), std::make_shared<InMemoryMetadataStore>()) {}

ModelRegistry::ModelRegistry(std::shared_ptr<ModelStore> store,
                             std::shared_ptr<MetadataStore> metadata)
    : impl_(detail::public_call("ModelRegistry", [&] {
        return std::make_unique<Impl>(std::move(store), std::move(metadata));
      })) {}

ModelRegistry::ModelRegistry(ModelRegistry&&) noexcept = default;
ModelRegistry& ModelRegistry::operator=(ModelRegistry&&) noexcept = default;
ModelRegistry::~ModelRegistry() = default;

ModelVersion ModelRegistry::register_version(std::string_view name, std::string_view version,
                                             const RegisterOptions& options, const Audit& audit) {
  return detail::public_call("register_version", [&] {
    validate_registration(name, version, options);
    const Audit change = impl_->audit(audit);

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
    int source_fd = -1;  // of artifact_file, owned by owned_source
    std::optional<detail::MemoryInputBuf> memory;
    if (options.artifact) {
      memory.emplace(options.artifact->data(), options.artifact->size());
      owned_source = std::make_unique<std::istream>(&*memory);
      source = owned_source.get();
    } else if (options.artifact_file) {
      detail::UniqueFd fd = detail::open_source_file(*options.artifact_file, "artifact file");
      source_fd = fd.get();
      owned_source = std::make_unique<detail::FdInputStream>(std::move(fd));
      source = owned_source.get();
    }

    if (source == nullptr) {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      return impl_->metadata->create_version(v, {}, change);
    }

    // Reserve the key first: a duplicate fails here, before any byte is written.
    std::optional<Impl::InFlight> in_flight;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      in_flight.emplace(*impl_, Impl::Key(name, version));
      impl_->metadata->create_version(v, impl_->owner());
    }
    try {
      ArtifactInfo artifact;
      if (source_fd >= 0) {
        // From a file into a store that keeps files: the kernel copies, and what the stored
        // file holds is hashed while the copy goes on (file_copy.hpp).
        detail::HashPipeline hash;
        artifact.path = impl_->store->fill_artifact(
            name, version, [&](int fd, const std::filesystem::path& temp) {
              detail::copy_file_hashed(source_fd, fd, hash, *options.artifact_file, temp);
            });
        if (artifact.path) {
          artifact.size = hash.size();
          artifact.sha256 = hash.hex_digest();
        } else if (auto sent = impl_->store->send_artifact_file(name, version, source_fd,
                                                                *options.artifact_file)) {
          // A store that sends files whole (S3: one PUT, which the server checks against the
          // hash taken first).
          artifact.path = std::move(sent->path);
          artifact.size = sent->size;
          artifact.sha256 = std::move(sent->sha256);
        }
      }
      if (!artifact.path) {
        detail::HashingInputBuf hashing(*source);
        std::istream hashed(&hashing);
        artifact.path = impl_->store->save_artifact(name, version, hashed);
        if (hashing.source_failed()) {
          throw StorageError(
              fmt::format("reading the artifact of {} failed before its end", v.full_name()));
        }
        artifact.size = hashing.size();
        artifact.sha256 = hashing.hex_digest();
      }
      std::lock_guard<std::mutex> lock(impl_->mutex);
      return impl_->metadata->publish_version(name, version, impl_->owner(), artifact, now(),
                                              change);
    } catch (...) {
      impl_->undo_registration(name, version);
      throw;
    }
  });
}

ModelVersion ModelRegistry::register_version(std::string_view name, std::string_view version) {
  // Out of line, and with options that live for the whole program, so that no RegisterOptions
  // temporary is built and destroyed here or in the caller's code: GCC 12 warns falsely
  // (-Wmaybe-uninitialized) about the destruction of its std::map members at -O2.
  static const RegisterOptions kDefaults;
  return register_version(name, version, kDefaults);
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
    std::optional<ModelStage> expected_stage, const Audit& audit) {
  return detail::public_call("transition_stage", [&] {
    const Audit change = impl_->audit(audit);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->metadata->set_stage(name, version, stage, expected_stage, now(), change);
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

bool ModelRegistry::delete_version(std::string_view name, std::string_view version,
                                   const Audit& audit) {
  return detail::public_call("delete_version", [&] {
    const Audit change = impl_->audit(audit);
    std::optional<ModelVersion> deleted;
    std::optional<Impl::InFlight> in_flight;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      in_flight.emplace(*impl_, Impl::Key(name, version));
      deleted = impl_->metadata->begin_delete(name, version, impl_->owner(), change);
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
            impl_->metadata->cancel_delete(name, version, impl_->owner(), change);
          } else {
            impl_->metadata->release_version(name, version, impl_->owner(), change);
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
    impl_->metadata->release_version(name, version, impl_->owner(), change);
    return true;
  });
}

bool ModelRegistry::delete_model(std::string_view name, const Audit& audit) {
  return detail::public_call("delete_model", [&] {
    validate_model_name(name);
    const Audit change = impl_->audit(audit);
    std::vector<ModelVersion> deleted;
    std::list<Impl::InFlight> in_flight;
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      auto hidden = impl_->metadata->begin_delete_model(name, impl_->owner(), now(), change);
      if (!hidden) return false;
      deleted = std::move(*hidden);
      for (const auto& v : deleted) in_flight.emplace_back(*impl_, Impl::Key(name, v.version));
    }
    // The deletion is recorded and cannot be undone: finish as much of it as possible, and leave
    // what fails to recover(), which settles this registry's reservations once no call works on
    // them.
    std::exception_ptr first_error;
    for (const auto& v : deleted) {
      try {
        if (v.artifact_path && !impl_->store->delete_artifact(*v.artifact_path)) {
          detail::log_warning(fmt::format(
              "artifact of {} was already missing when its model was deleted", v.full_name()));
        }
        std::lock_guard<std::mutex> lock(impl_->mutex);
        impl_->metadata->release_version(name, v.version, impl_->owner(), change);
      } catch (const std::exception& e) {
        detail::log_warning(fmt::format("deleting model {}: {} is left for recover() to finish: {}",
                                        name, v.full_name(), e.what()));
        if (!first_error) first_error = std::current_exception();
      }
    }
    if (first_error) std::rethrow_exception(first_error);
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
    // A store that keeps files (FileModelStore) hands out the stored file: it is verified in one
    // pass at hashing speed, as for open_verified_artifact, and `out` gets the bytes of that same
    // open file, which the library never writes in place and keeps read-only on disk; should
    // anyone write to it all the same while it is read, its stamp (file_copy.hpp) changes, and
    // the load ends in DataLossError.
    // Otherwise, first pass: verify, so that `out` never receives a corrupt byte, and record a
    // digest of every block, so that the second pass hands out a block only once it is the same
    // again (block_digests.hpp). A store whose streams cannot seek (the ModelStore interface
    // does not promise it) cannot be read twice: its bytes are copied to an unnamed temporary
    // file as they are verified, and `out` gets that copy.
    std::optional<ArtifactFile> verified;
    detail::FileStamp stamp;
    std::unique_ptr<std::istream> in;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> spool(nullptr, &std::fclose);
    detail::BlockDigests blocks;
    const auto v = impl_->read_artifact(name, version, [&](const ModelVersion& current) {
      verified = impl_->open_verified_file(current, &stamp);
      if (verified) return current;
      in = impl_->open_artifact(current);
      const bool seekable = in->tellg() != std::istream::pos_type(-1);
      in->clear();
      if (seekable) {
        if (!blocks.read(*in)) {
          throw StorageError(fmt::format("cannot read the artifact of {}", current.full_name()));
        }
        check_integrity(current, blocks.size(), blocks.hex_digest());
        return current;
      }
      spool.reset(std::tmpfile());
      if (!spool) {
        throw StorageError(fmt::format("cannot create a temporary file to verify {}: {}",
                                       current.full_name(), std::strerror(errno)));
      }
      detail::HashingInputBuf hashing(*in);
      std::istream hashed(&hashing);
      copy_to_file(hashed, spool.get(), current);
      check_integrity(current, hashing);
      return current;
    });
    if (!v) return false;
    if (verified) {
      const auto copied = detail::copy_file_to_stream(verified->fd(), out, v->full_name());
      if (copied != static_cast<std::uint64_t>(v->artifact_size) ||
          detail::stamp_of(verified->fd(), v->full_name()) != stamp) {
        throw DataLossError(fmt::format(
            "artifact of {} was written to while it was being read: discard what the stream "
            "received",
            v->full_name()));
      }
      return true;
    }
    if (spool) {
      copy_from_file(spool.get(), out, *v);
      return true;
    }
    // Second pass over the same open file (the same bytes, even if the path were replaced).
    in->clear();
    if (!in->seekg(0)) {
      throw StorageError(fmt::format("cannot rewind the artifact of {}", v->full_name()));
    }
    blocks.copy_verified(*in, out, v->full_name());
    return true;
  });
}

bool ModelRegistry::load_artifact(std::string_view name, std::string_view version,
                                  const std::filesystem::path& destination) const {
  return detail::public_call("load_artifact", [&] {
    return impl_
        ->read_artifact(name, version,
                        [&](const ModelVersion& v) {
                          detail::fill_file_atomically(
                              destination, [&](int fd, const std::filesystem::path& temp) {
                                impl_->write_verified(v, fd, temp);
                              });
                          return true;
                        })
        .has_value();
  });
}

RecoveryReport ModelRegistry::recover() {
  return detail::public_call("recover", [&] {
    RecoveryReport report;
    // A reservation that cannot be settled (its artifact cannot be deleted, say) does not stop
    // the others: it goes into the report, logged here once, and stays for the next recover().
    for (const auto& pending : impl_->metadata->list_pending()) {
      try {
        impl_->settle(pending, report);
      } catch (const std::exception& e) {
        RecoveryFailure failure;
        failure.model_name = pending.model_name;
        failure.version = pending.version;
        failure.deletion = pending.kind == PendingVersion::Kind::Deleting;
        const auto* error = dynamic_cast<const Error*>(&e);
        failure.code = error != nullptr ? error->code() : ErrorCode::Storage;
        failure.message = e.what();
        detail::log_warning(
            fmt::format("recovery of {}:{} failed (the next recover() tries again): {}",
                        pending.model_name, pending.version, e.what()));
        report.unsettled.push_back(std::move(failure));
      }
    }
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

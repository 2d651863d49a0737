#include "modelreg/maintenance.hpp"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <istream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "hashing_stream.hpp"
#include "modelreg/error.hpp"
#include "modelreg/file_model_store.hpp"
#include "modelreg/validation.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace fs = std::filesystem;

namespace {

// --- which artifacts are referenced -------------------------------------------------------

using Key = std::pair<std::string, std::string>;  // (model, version)

// The (model, version) of a store path "name/version/model.bin".
std::optional<Key> key_of(const std::string& path) {
  const auto first = path.find('/');
  const auto second = first == std::string::npos ? first : path.find('/', first + 1);
  if (second == std::string::npos) return std::nullopt;
  return Key(path.substr(0, first), path.substr(first + 1, second - first - 1));
}

// Adds what a version or reservation of (model, version) protects: the artifact path it recorded
// and the path of its key, where its registration writes (a reservation records no path).
void add_reference(std::set<std::string>& referenced, const ModelStore& store,
                   const std::optional<std::string>& recorded, const std::string& model,
                   const std::string& version) {
  if (recorded) {
    try {
      referenced.insert(store.normalize_path(*recorded));
    } catch (const InvalidArgumentError&) {
      // A recorded path outside the store names none of the store's artifacts.
    }
  }
  try {
    referenced.insert(ModelStore::artifact_path(model, version));
  } catch (const InvalidArgumentError&) {
    // An invalid key has no path in the store, so none of its artifacts is at stake.
  }
}

void add_pending(std::set<std::string>& referenced, const ModelStore& store,
                 const std::vector<PendingVersion>& pending) {
  for (const auto& p : pending) {
    add_reference(referenced, store, p.artifact_path, p.model_name, p.version);
  }
}

void add_version(std::set<std::string>& referenced, const ModelStore& store,
                 const ModelVersion& v) {
  add_reference(referenced, store, v.artifact_path, v.model_name, v.version);
}

std::vector<std::string> minus(const std::vector<std::string>& listed,
                               const std::set<std::string>& referenced) {
  std::vector<std::string> rest;
  for (const auto& path : listed) {
    if (referenced.count(path) == 0) rest.push_back(path);
  }
  return rest;
}

// --- verification -------------------------------------------------------------------------

struct Check {
  std::optional<ArtifactProblem> problem;
  std::uint64_t bytes = 0;  // re-hashed
};

// Re-hashes the artifact of `v` and compares it with what `v` recorded.
Check check_artifact(const ModelStore& store, const ModelVersion& v) {
  Check check;
  ArtifactProblem problem;
  problem.model_name = v.model_name;
  problem.version = v.version;
  problem.artifact_path = *v.artifact_path;
  const auto report = [&](ArtifactProblem::Kind kind, std::string message) {
    problem.kind = kind;
    problem.message = std::move(message);
    check.problem = problem;
  };
  try {
    auto in = store.open_artifact(*v.artifact_path);
    detail::HashingInputBuf hashing(*in);
    std::istream hashed(&hashing);
    std::vector<char> buffer(std::size_t{1} << 16);
    while (hashed.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) ||
           hashed.gcount() > 0) {
    }
    check.bytes = hashing.size();
    if (hashing.source_failed()) {
      report(ArtifactProblem::Kind::Unreadable,
             fmt::format("reading the artifact of {} failed after {} bytes", v.full_name(),
                         hashing.size()));
    } else if (hashing.size() != v.artifact_size) {
      report(ArtifactProblem::Kind::Truncated,
             fmt::format("artifact of {} has {} bytes, {} recorded at registration", v.full_name(),
                         hashing.size(), v.artifact_size));
    } else if (const std::string digest = hashing.hex_digest(); digest != v.artifact_sha256) {
      report(ArtifactProblem::Kind::Corrupt,
             fmt::format("artifact of {} has SHA-256 {}, {} recorded at registration",
                         v.full_name(), digest, v.artifact_sha256));
    }
  } catch (const NotFoundError& e) {
    report(ArtifactProblem::Kind::Missing, e.what());
  } catch (const InvalidArgumentError& e) {
    report(ArtifactProblem::Kind::Missing,
           fmt::format("the recorded artifact path of {} is not in the store: {}", v.full_name(),
                       e.what()));
  } catch (const DataLossError& e) {
    report(ArtifactProblem::Kind::Corrupt, e.what());
  } catch (const StorageError& e) {
    report(ArtifactProblem::Kind::Unreadable, e.what());
  }
  return check;
}

// Whether `v` is still visible with the artifact it had when it was listed (not deleted, nor
// deleted and registered again, meanwhile).
bool still_there(const ModelRegistry& registry, const ModelVersion& v) {
  const auto now = registry.get_version(v.model_name, v.version);
  return now && now->artifact_path == v.artifact_path && now->artifact_size == v.artifact_size &&
         now->artifact_sha256 == v.artifact_sha256 && now->created_at == v.created_at;
}

// --- garbage ------------------------------------------------------------------------------

// The size of the artifact at `path`, or nullopt if it is gone.
std::optional<std::uint64_t> stored_size(const ModelStore& store, const std::string& path) {
  std::unique_ptr<std::istream> in;
  try {
    in = store.open_artifact(path);
  } catch (const NotFoundError&) {
    return std::nullopt;  // removed since it was listed
  }
  if (in->seekg(0, std::ios::end)) {
    const auto end = in->tellg();
    if (end != std::istream::pos_type(-1)) return static_cast<std::uint64_t>(end);
  }
  in->clear();  // a stream that cannot seek is still at its start: count its bytes
  std::uint64_t size = 0;
  std::vector<char> buffer(std::size_t{1} << 16);
  while (in->read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in->gcount() > 0) {
    size += static_cast<std::uint64_t>(in->gcount());
  }
  if (in->bad()) throw StorageError(fmt::format("cannot read artifact '{}'", path));
  return size;
}

// Removes the unreferenced artifact at `path` while holding its key reserved for `lease` in the
// catalog, as a registration does before it writes: no registration of that key can write the
// file meanwhile. Returns its size, or nullopt if it was left alone (its key is in use now) or
// was gone already.
std::optional<std::uint64_t> remove_unreferenced(MetadataStore& catalog, ModelStore& store,
                                                 const WriterLease& lease,
                                                 const std::string& path) {
  const auto key = key_of(path);
  if (!key) return std::nullopt;  // list_artifacts returns no such path
  ModelVersion hold;
  hold.model_name = key->first;
  hold.version = key->second;
  hold.created_at = hold.updated_at = std::chrono::system_clock::now();
  try {
    catalog.create_version(hold, lease.owner());
  } catch (const AlreadyExistsError&) {
    return std::nullopt;  // registered, or being registered or deleted, since it was listed
  } catch (const FailedPreconditionError&) {
    return std::nullopt;  // its model is being deleted; the next collection judges it again
  }
  std::optional<std::uint64_t> bytes;
  try {
    bytes = stored_size(store, path);
    if (bytes && !store.delete_artifact(path)) bytes.reset();
  } catch (const std::exception&) {
    try {
      catalog.release_version(key->first, key->second, lease.owner());
    } catch (const std::exception& e) {
      detail::log_warning(
          fmt::format("garbage collection: the reservation of {}:{} is left for recover(): {}",
                      key->first, key->second, e.what()));
    }
    throw;
  }
  catalog.release_version(key->first, key->second, lease.owner());
  return bytes;
}

bool is_valid(const std::string& name, void (*validate)(std::string_view)) {
  try {
    validate(name);
    return true;
  } catch (const InvalidArgumentError&) {
    return false;  // not a directory of the store's layout: left alone
  }
}

// The entries of `directory` with their types (symlinks not followed); none if it is gone.
std::vector<std::pair<fs::path, fs::file_type>> entries_of(const fs::path& directory) {
  std::vector<std::pair<fs::path, fs::file_type>> entries;
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code status_ec;
    const auto type = it->symlink_status(status_ec).type();
    if (!status_ec) entries.emplace_back(it->path(), type);  // else: removed meanwhile
  }
  if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) {
    throw StorageError(fmt::format("cannot list '{}': {}", directory.string(), ec.message()));
  }
  return entries;
}

// The model and version directories below `base` that are empty, or (dry run) would be once
// the files in `going` are gone; with apply, removes them (rmdir, bottom up) and reports those
// it removed. A version directory whose artifact is in `artifacts_going` is not reported: it
// goes with the artifact (ModelStore::delete_artifact).
void collect_directories(const fs::path& base, const std::set<fs::path>& going,
                         const std::set<fs::path>& artifacts_going, bool apply,
                         std::vector<GarbageItem>& items) {
  const auto add = [&](const fs::path& directory) {
    GarbageItem item;
    item.kind = GarbageItem::Kind::EmptyDirectory;
    item.path = directory.string();
    items.push_back(std::move(item));
  };
  const auto goes = [&](const fs::path& directory, bool report) {
    if (!apply) {
      if (report) add(directory);
      return true;
    }
    if (!detail::remove_directory_if_empty(directory)) return false;  // a writer came
    add(directory);
    return true;
  };
  for (const auto& [model, model_type] : entries_of(base)) {
    if (model_type != fs::file_type::directory ||
        !is_valid(model.filename().string(), validate_model_name)) {
      continue;
    }
    bool model_empties = true;
    for (const auto& [entry, type] : entries_of(model)) {
      bool entry_goes = going.count(entry) != 0;
      if (type == fs::file_type::directory &&
          is_valid(entry.filename().string(), validate_version)) {
        bool empties = true;
        for (const auto& [file, file_type] : entries_of(entry)) {
          empties = empties && file_type != fs::file_type::directory && going.count(file) != 0;
        }
        entry_goes = empties && goes(entry, artifacts_going.count(entry / "model.bin") == 0);
      }
      model_empties = model_empties && entry_goes;
    }
    if (model_empties) goes(model, true);
  }
}

GarbageItem item_of(GarbageItem::Kind kind, std::string path, std::uint64_t bytes) {
  GarbageItem item;
  item.kind = kind;
  item.path = std::move(path);
  item.bytes = bytes;
  return item;
}

}  // namespace

const char* to_string(ArtifactProblem::Kind kind) noexcept {
  switch (kind) {
    case ArtifactProblem::Kind::Missing:
      return "missing";
    case ArtifactProblem::Kind::Truncated:
      return "truncated";
    case ArtifactProblem::Kind::Corrupt:
      return "corrupt";
    case ArtifactProblem::Kind::Unreadable:
      return "unreadable";
  }
  return "unknown";
}

const char* to_string(GarbageItem::Kind kind) noexcept {
  switch (kind) {
    case GarbageItem::Kind::UnreferencedArtifact:
      return "unreferenced-artifact";
    case GarbageItem::Kind::TemporaryFile:
      return "temporary-file";
    case GarbageItem::Kind::EmptyDirectory:
      return "empty-directory";
  }
  return "unknown";
}

VerifyReport verify_registry(const ModelRegistry& registry, const VerifyOptions& options) {
  return detail::public_call("verify_registry", [&] {
    const auto store = registry.store();
    const bool one_model = !options.model_name.empty();
    if (one_model && !registry.get_model(options.model_name)) {
      throw NotFoundError(fmt::format("no model named '{}'", options.model_name));
    }
    // Store, then reservations, then visible versions: the order collect_garbage uses, so that
    // a registration running meanwhile is not reported unreferenced (see collect_garbage).
    const auto listed = store->list_artifacts();
    std::set<std::string> referenced;
    add_pending(referenced, *store, registry.metadata_store()->list_pending());
    const auto models =
        one_model ? std::vector<std::string>{options.model_name} : registry.list_models();

    VerifyReport report;
    for (const auto& model : models) {
      for (const auto& v : registry.list_versions(model)) {
        add_version(referenced, *store, v);
        if (!v.artifact_path) {
          ++report.versions_checked;
          continue;
        }
        Check check = check_artifact(*store, v);
        // A problem may only be that the version went away meanwhile: then it is skipped.
        if (check.problem && !still_there(registry, v)) continue;
        ++report.versions_checked;
        ++report.artifacts_checked;
        report.bytes_checked += check.bytes;
        if (check.problem) report.problems.push_back(std::move(*check.problem));
      }
    }
    for (auto& path : minus(listed, referenced)) {
      const auto key = key_of(path);
      if (!one_model || (key && key->first == options.model_name)) {
        report.unreferenced_artifacts.push_back(std::move(path));
      }
    }
    return report;
  });
}

GcReport collect_garbage(ModelRegistry& registry, const GcOptions& options) {
  return detail::public_call("collect_garbage", [&] {
    GcReport report;
    report.applied = options.apply;
    if (options.apply) report.recovered = registry.recover();
    const auto store = registry.store();
    const auto catalog = registry.metadata_store();
    const auto files = std::dynamic_pointer_cast<FileModelStore>(store);

    // Temporary files: their writers' flocks tell the dead from the living.
    std::set<fs::path> going;
    if (files) {
      const auto temporary = options.apply ? files->remove_abandoned_temporary_files()
                                           : files->list_abandoned_temporary_files();
      for (const auto& file : temporary) {
        going.insert(file.path);
        report.items.push_back(
            item_of(GarbageItem::Kind::TemporaryFile, file.path.string(), file.bytes));
      }
    }

    // The order is what makes this safe against registrations in flight: a registration
    // reserves its key before it writes a byte, so an artifact listed here was reserved before;
    // its reservation is still listed next, or it has been published by the listing after.
    const auto listed = store->list_artifacts();
    std::set<std::string> referenced;
    add_pending(referenced, *store, catalog->list_pending());
    for (const auto& model : registry.list_models()) {
      for (const auto& v : registry.list_versions(model)) add_version(referenced, *store, v);
    }
    auto unreferenced = minus(listed, referenced);

    // The order leaves one race: a version deleted and registered again between the listing of
    // reservations and that of visible versions. So each artifact goes under a reservation of
    // its key (remove_unreferenced), which no registration can hold at the same time.
    std::set<fs::path> artifacts_going;
    if (options.apply) {
      if (!unreferenced.empty()) {
        // Once more right before deleting: it is cheap and spares reservations.
        add_pending(referenced, *store, catalog->list_pending());
        unreferenced = minus(unreferenced, referenced);
      }
      std::unique_ptr<WriterLease> lease;
      for (const auto& path : unreferenced) {
        if (!lease) lease = catalog->acquire_writer_lease();
        if (const auto bytes = remove_unreferenced(*catalog, *store, *lease, path)) {
          report.items.push_back(item_of(GarbageItem::Kind::UnreferencedArtifact, path, *bytes));
        }
      }
    } else {
      for (const auto& path : unreferenced) {
        if (const auto bytes = stored_size(*store, path)) {
          report.items.push_back(item_of(GarbageItem::Kind::UnreferencedArtifact, path, *bytes));
          if (files) {
            const auto file = files->resolve(path);
            going.insert(file);
            artifacts_going.insert(file);
          }
        }
      }
    }

    if (files) {
      // With apply the files are gone already; a dry run judges the directories as if they were.
      if (options.apply) going.clear();
      collect_directories(files->base_path(), going, artifacts_going, options.apply, report.items);
    }
    for (const auto& item : report.items) report.bytes += item.bytes;
    return report;
  });
}

}  // namespace modelreg

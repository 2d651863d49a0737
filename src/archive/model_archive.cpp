// export_model / import_model: a model and its artifacts in one tar archive.

#include "modelreg/model_archive.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <istream>
#include <nlohmann/json.hpp>
#include <set>
#include <streambuf>

#include "archive/archive_reader.hpp"
#include "archive/archive_writer.hpp"
#include "io.hpp"
#include "modelreg/error.hpp"
#include "modelreg/metadata_store.hpp"
#include "modelreg/model_store.hpp"
#include "modelreg/validation.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"
#include "sha256.hpp"

namespace modelreg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t kChunk = 1 << 20;
// Limits that no real model reaches and that keep a hostile manifest from exhausting memory.
constexpr std::uint64_t kMaxManifestBytes = 256ull << 20;
constexpr std::uint64_t kMaxArtifactBytes = 1ull << 44;  // 16 TiB

std::string artifact_entry(const std::string& version) {
  return "artifacts/" + version + "/model.bin";
}

std::int64_t seconds_of(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// --- the manifest ----------------------------------------------------------------------

struct ArtifactRecord {
  std::string version;
  std::string entry;
  std::uint64_t size = 0;
  std::string sha256;
};

struct Manifest {
  ModelImport model;  // versions with their aliases; events
  std::vector<ArtifactRecord> artifacts;
};

json encode_manifest(const RegisteredModel& model, const std::vector<ModelVersion>& versions,
                     const std::vector<ModelEvent>& events) {
  json doc;
  doc["format"] = kArchiveFormat;
  doc["format_version"] = kArchiveFormatVersion;
  doc["model"] = {{"name", model.name},
                  {"description", model.description},
                  {"tags", model.tags},
                  {"created_at", format_timestamp(model.created_at)}};
  doc["versions"] = json::array();
  doc["artifacts"] = json::array();
  for (const ModelVersion& version : versions) {
    doc["versions"].push_back(version);
    if (version.artifact_path) {
      doc["artifacts"].push_back({{"version", version.version},
                                  {"entry", artifact_entry(version.version)},
                                  {"size", version.artifact_size},
                                  {"sha256", version.artifact_sha256}});
    }
  }
  doc["events"] = events;
  return doc;
}

[[noreturn]] void bad_manifest(const fs::path& path, const std::string& why) {
  throw InvalidArgumentError(
      fmt::format("archive '{}' has an invalid {}: {}", path.string(), kArchiveManifestName, why));
}

bool is_hex_sha256(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Manifest decode_manifest(const json& doc, const fs::path& path) {
  if (!doc.is_object() || doc.value("format", json()) != kArchiveFormat) {
    bad_manifest(path, fmt::format("it is not a {} manifest", kArchiveFormat));
  }
  const json& format_version = doc.at("format_version");
  if (!format_version.is_number_integer() || format_version.get<int>() != kArchiveFormatVersion) {
    bad_manifest(path, fmt::format("format_version {} is not {} (made by another modelreg?)",
                                   format_version.dump(), kArchiveFormatVersion));
  }
  Manifest manifest;
  const json& model = doc.at("model");
  manifest.model.model_name = model.at("name").get<std::string>();
  validate_model_name(manifest.model.model_name);
  manifest.model.description = model.at("description").get<std::string>();
  manifest.model.tags = model.at("tags").get<std::map<std::string, std::string>>();
  manifest.model.created_at = parse_timestamp(model.at("created_at").get<std::string>());
  for (const json& version : doc.at("versions")) {
    manifest.model.versions.push_back(version.get<ModelVersion>());
  }
  for (const json& event : doc.at("events")) {
    manifest.model.events.push_back(event.get<ModelEvent>());
  }
  std::set<std::string> with_artifact;
  for (const ModelVersion& version : manifest.model.versions) {
    if (version.artifact_path) {
      if (*version.artifact_path !=
          ModelStore::artifact_path(version.model_name, version.version)) {
        bad_manifest(path, fmt::format("{} has artifact path '{}'", version.full_name(),
                                       *version.artifact_path));
      }
      if (version.artifact_size > kMaxArtifactBytes || !is_hex_sha256(version.artifact_sha256)) {
        bad_manifest(path, fmt::format("{} has an impossible artifact size or SHA-256",
                                       version.full_name()));
      }
      with_artifact.insert(version.version);
    }
  }
  for (const json& record : doc.at("artifacts")) {
    ArtifactRecord artifact;
    artifact.version = record.at("version").get<std::string>();
    artifact.entry = record.at("entry").get<std::string>();
    artifact.size = record.at("size").get<std::uint64_t>();
    artifact.sha256 = record.at("sha256").get<std::string>();
    manifest.artifacts.push_back(std::move(artifact));
  }
  // The artifacts list must be exactly the versions' artifacts, in their order.
  std::size_t next = 0;
  for (const ModelVersion& version : manifest.model.versions) {
    if (!version.artifact_path) continue;
    if (next >= manifest.artifacts.size()) {
      bad_manifest(path, fmt::format("no artifact entry for {}", version.full_name()));
    }
    const ArtifactRecord& artifact = manifest.artifacts[next++];
    if (artifact.version != version.version || artifact.entry != artifact_entry(version.version) ||
        artifact.size != version.artifact_size || artifact.sha256 != version.artifact_sha256) {
      bad_manifest(path, fmt::format("artifact entry '{}' does not match {}", artifact.entry,
                                     version.full_name()));
    }
  }
  if (next != manifest.artifacts.size()) {
    bad_manifest(path, fmt::format("artifact entry '{}' belongs to no version",
                                   manifest.artifacts[next].entry));
  }
  return manifest;
}

Manifest read_manifest(detail::ArchiveReader& reader) {
  const auto entry = reader.next();
  if (!entry || entry->name != kArchiveManifestName) {
    throw InvalidArgumentError(fmt::format("'{}' is not a modelreg archive: its first entry is {}",
                                           reader.path().string(),
                                           entry ? "'" + entry->name + "'" : "missing"));
  }
  if (!entry->regular_file || entry->is_link || !entry->size || *entry->size > kMaxManifestBytes) {
    bad_manifest(reader.path(), "it is not a regular file of a plausible size");
  }
  std::string text(static_cast<std::size_t>(*entry->size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const std::size_t n = reader.read(text.data() + got, text.size() - got);
    if (n == 0) {
      throw DataLossError(fmt::format("archive '{}' is truncated in {}", reader.path().string(),
                                      kArchiveManifestName));
    }
    got += n;
  }
  try {
    return decode_manifest(json::parse(text), reader.path());
  } catch (const json::exception& e) {
    bad_manifest(reader.path(), e.what());
  }
}

// --- artifact data through a stream ----------------------------------------------------

// The current archive entry as an istream that hashes and counts what it delivers and refuses
// to deliver more than `expected` bytes.
class EntryStreambuf : public std::streambuf {
 public:
  EntryStreambuf(detail::ArchiveReader& reader, std::uint64_t expected)
      : reader_(reader), expected_(expected), buffer_(kChunk) {}

  std::uint64_t count() const { return count_; }
  std::string digest() { return sha_.hex_digest(); }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    const std::size_t n = reader_.read(buffer_.data(), buffer_.size());
    if (n == 0) return traits_type::eof();
    count_ += n;
    if (count_ > expected_) {
      throw DataLossError(fmt::format("archive '{}': an artifact is longer than its manifest says",
                                      reader_.path().string()));
    }
    sha_.update(buffer_.data(), n);
    setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  detail::ArchiveReader& reader_;
  std::uint64_t expected_;
  std::vector<char> buffer_;
  std::uint64_t count_ = 0;
  detail::Sha256 sha_;
};

// --- export ----------------------------------------------------------------------------

// A temporary file beside the destination, removed unless committed.
class PendingFile {
 public:
  explicit PendingFile(const fs::path& destination)
      : destination_(destination),
        temp_(destination.parent_path() /
              (std::string(detail::kTempPrefix) + destination.filename().string() + "." +
               detail::random_suffix())) {
    fd_ = detail::UniqueFd(
        detail::io().open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd_.valid()) detail::throw_errno("cannot create archive", temp_);
  }
  ~PendingFile() {
    if (!committed_) detail::io().unlink(temp_.c_str());
  }
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  int fd() const { return fd_.get(); }
  std::uint64_t commit() {
    detail::fsync_fd(fd_.get(), temp_);
    const off_t size = ::lseek(fd_.get(), 0, SEEK_END);
    if (detail::io().rename(temp_.c_str(), destination_.c_str()) != 0) {
      detail::throw_errno("cannot rename archive into place", destination_);
    }
    committed_ = true;
    detail::fsync_directory(destination_.parent_path());
    return size < 0 ? 0 : static_cast<std::uint64_t>(size);
  }

 private:
  fs::path destination_;
  fs::path temp_;
  detail::UniqueFd fd_;
  bool committed_ = false;
};

void copy_artifact(const ModelRegistry& registry, const ModelVersion& version,
                   detail::ArchiveWriter& writer) {
  std::unique_ptr<std::istream> in;
  try {
    in = registry.store()->open_artifact(*version.artifact_path);
  } catch (const NotFoundError&) {
    if (!registry.get_version(version.model_name, version.version)) {
      throw StorageError(
          fmt::format("{} was deleted during the export; export again", version.full_name()));
    }
    throw DataLossError(
        fmt::format("the artifact of {} is missing from the store", version.full_name()));
  }
  writer.begin_entry(artifact_entry(version.version), version.artifact_size,
                     seconds_of(version.created_at));
  std::vector<char> buffer(kChunk);
  detail::Sha256 sha;
  std::uint64_t total = 0;
  while (*in) {
    in->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<std::size_t>(in->gcount());
    if (n == 0) break;
    total += n;
    if (total > version.artifact_size) break;
    sha.update(buffer.data(), n);
    writer.write(buffer.data(), n);
  }
  if (in->bad()) {
    throw StorageError(fmt::format("cannot read the artifact of {}", version.full_name()));
  }
  if (total != version.artifact_size || sha.hex_digest() != version.artifact_sha256) {
    throw DataLossError(fmt::format(
        "the artifact of {} does not match its recorded size and SHA-256; nothing was exported",
        version.full_name()));
  }
}

// --- import ----------------------------------------------------------------------------

// What an import has done to the target so far, undone unless it commits.
class ImportRollback {
 public:
  ImportRollback(ModelRegistry& registry, std::string model, std::string owner)
      : registry_(registry), model_(std::move(model)), owner_(std::move(owner)) {}
  ~ImportRollback() {
    if (committed_) return;
    for (const std::string& path : artifacts_) {
      try {
        registry_.store()->delete_artifact(path);
      } catch (const std::exception& e) {
        detail::log_warning(
            fmt::format("import of {}: cannot remove artifact {} ({}); recover() will", model_,
                        path, e.what()));
      }
    }
    for (const std::string& version : reserved_) {
      try {
        registry_.metadata_store()->release_version(model_, version, owner_);
      } catch (const std::exception& e) {
        detail::log_warning(fmt::format("import of {}: cannot release {} ({}); recover() will",
                                        model_, version, e.what()));
      }
    }
  }
  ImportRollback(const ImportRollback&) = delete;
  ImportRollback& operator=(const ImportRollback&) = delete;
  void reserved(const std::string& version) { reserved_.push_back(version); }
  void saved(const std::string& path) { artifacts_.push_back(path); }
  void commit() { committed_ = true; }

 private:
  ModelRegistry& registry_;
  std::string model_;
  std::string owner_;
  std::vector<std::string> reserved_;
  std::vector<std::string> artifacts_;
  bool committed_ = false;
};

void refuse_existing(const ModelRegistry& registry, const ModelImport& import) {
  std::vector<std::string> existing;
  for (const ModelVersion& version : import.versions) {
    if (registry.get_version(version.model_name, version.version)) {
      existing.push_back(version.version);
    }
  }
  if (!existing.empty()) {
    throw AlreadyExistsError(fmt::format(
        "model {} already has version{} {} of the archive; an import never overwrites: delete "
        "them or export the other versions only",
        import.model_name, existing.size() == 1 ? "" : "s", fmt::join(existing, ", ")));
  }
}

}  // namespace

ExportReport export_model(const ModelRegistry& registry, std::string_view name,
                          const fs::path& destination, const ExportOptions& options) {
  return detail::public_call("export_model", [&] {
    validate_model_name(name);
    for (const std::string& version : options.versions) validate_version(version);
    const auto model = registry.get_model(name);
    if (!model) throw NotFoundError(fmt::format("no model named {}", name));
    std::vector<ModelVersion> versions;
    if (options.versions.empty()) {
      versions = model->versions;
    } else {
      std::set<std::string> seen;
      for (const std::string& wanted : options.versions) {
        if (!seen.insert(wanted).second) continue;
        auto version = model->get_version(wanted);
        if (!version) throw NotFoundError(fmt::format("no version {}:{}", name, wanted));
        versions.push_back(std::move(*version));
      }
      // Registration order, whatever the order asked.
      std::stable_sort(versions.begin(), versions.end(), [&](const auto& a, const auto& b) {
        auto position = [&](const ModelVersion& v) {
          return std::find_if(model->versions.begin(), model->versions.end(),
                              [&](const ModelVersion& m) { return m.version == v.version; }) -
                 model->versions.begin();
        };
        return position(a) < position(b);
      });
    }
    const std::vector<ModelEvent> events = registry.history(name);
    const std::string manifest = encode_manifest(*model, versions, events).dump(1);

    const fs::path target = detail::absolute_path(destination, "archive");
    PendingFile file(target);
    detail::ArchiveWriter writer(file.fd(), target, options.compression);
    writer.begin_entry(std::string(kArchiveManifestName), manifest.size(),
                       seconds_of(model->created_at));
    writer.write(manifest.data(), manifest.size());
    ExportReport report;
    report.model_name = std::string(name);
    report.versions = versions.size();
    report.events = events.size();
    for (const ModelVersion& version : versions) {
      if (!version.artifact_path) continue;
      copy_artifact(registry, version, writer);
      ++report.artifacts;
      report.artifact_bytes += version.artifact_size;
    }
    writer.finish();
    report.archive_bytes = file.commit();
    return report;
  });
}

ImportReport import_model(ModelRegistry& registry, const fs::path& source,
                          const ImportOptions& options) {
  return detail::public_call("import_model", [&] {
    MetadataStore::validate_audit(options.audit);
    Audit audit = options.audit;
    if (audit.actor.empty()) audit.actor = registry.default_actor();

    detail::ArchiveReader reader(source);
    Manifest manifest = read_manifest(reader);
    ModelImport& import = manifest.model;
    refuse_existing(registry, import);

    auto metadata = registry.metadata_store();
    const auto lease = metadata->acquire_writer_lease();
    ImportRollback rollback(registry, import.model_name, lease->owner());
    for (const ModelVersion& version : import.versions) {
      ModelVersion reservation = version;
      reservation.stage = ModelStage::Development;  // its stage is set when it becomes visible
      reservation.aliases.clear();
      metadata->create_version(reservation, lease->owner(), audit);
      rollback.reserved(version.version);
    }

    ImportReport report;
    report.model_name = import.model_name;
    report.versions = import.versions.size();
    report.events = import.events.size();
    auto artifact = manifest.artifacts.begin();
    for (ModelVersion& version : import.versions) {
      if (!version.artifact_path) continue;
      const auto entry = reader.next();
      if (!entry) {
        throw DataLossError(fmt::format("archive '{}' ends before '{}' (truncated?)",
                                        source.string(), artifact->entry));
      }
      if (entry->name != artifact->entry) {
        throw InvalidArgumentError(fmt::format("archive '{}' has entry '{}' where '{}' belongs",
                                               source.string(), entry->name, artifact->entry));
      }
      if (!entry->regular_file || entry->is_link || entry->size != artifact->size) {
        throw InvalidArgumentError(fmt::format(
            "archive '{}': entry '{}' is not a regular file of the {} bytes its manifest says",
            source.string(), entry->name, artifact->size));
      }
      EntryStreambuf data(reader, artifact->size);
      std::istream in(&data);
      in.exceptions(std::ios::badbit);  // an error of the archive propagates as itself
      // Undone even if the save fails: one that fails after its rename (syncing the
      // directory) leaves the file in place.
      rollback.saved(ModelStore::artifact_path(import.model_name, version.version));
      const std::string path =
          registry.store()->save_artifact(import.model_name, version.version, in);
      if (path != ModelStore::artifact_path(import.model_name, version.version)) {
        rollback.saved(path);
      }
      if (data.count() != artifact->size || data.digest() != artifact->sha256) {
        throw DataLossError(fmt::format(
            "archive '{}': the artifact of {} does not match its SHA-256 or size (damaged "
            "archive); nothing was imported",
            source.string(), version.full_name()));
      }
      version.artifact_path = path;
      ++report.artifacts;
      report.artifact_bytes += artifact->size;
      ++artifact;
    }
    if (const auto extra = reader.next()) {
      throw InvalidArgumentError(
          fmt::format("archive '{}' has an entry its manifest does not name: '{}'", source.string(),
                      extra->name));
    }
    metadata->import_model(import, lease->owner(), audit);
    rollback.commit();
    return report;
  });
}

}  // namespace modelreg

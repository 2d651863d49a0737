#pragma once

// Export and import of models as archive files: the modelreg::archive library (libarchive).
//
// An archive is a POSIX tar file (optionally gzip or zstd compressed) that holds one model:
// first `modelreg-archive.json` (format "modelreg-archive", format_version 1: the model's
// description, tags and creation time, its versions with every field as ModelVersion's JSON,
// aliases included, the model's history, and for each artifact its entry name, size and
// SHA-256), then one entry `artifacts/<version>/model.bin` per version that has an artifact, in
// the order of the versions. Any tar tool can list or extract it.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/model_event.hpp"
#include "modelreg/model_registry.hpp"

namespace modelreg {

// The name of an archive's first entry, and its format's name and version.
inline constexpr std::string_view kArchiveManifestName = "modelreg-archive.json";
inline constexpr std::string_view kArchiveFormat = "modelreg-archive";
inline constexpr int kArchiveFormatVersion = 1;

enum class ArchiveCompression { None, Gzip, Zstd };

struct ExportOptions {
  // Only these versions of the model (each must exist: NotFoundError otherwise); empty: all.
  std::vector<std::string> versions;
  // None (the default) writes at the disk's speed; Gzip and Zstd trade speed for size.
  ArchiveCompression compression = ArchiveCompression::None;
};

struct ExportReport {
  std::string model_name;
  std::size_t versions = 0;          // versions written
  std::size_t artifacts = 0;         // artifacts among them
  std::size_t events = 0;            // history events written
  std::uint64_t artifact_bytes = 0;  // bytes of the artifacts
  std::uint64_t archive_bytes = 0;   // size of the archive file
};

// Writes model `name` (its description, tags, aliases, the chosen versions with their
// artifacts, and its whole history) to the archive file `destination`, replaced atomically and
// durably (a temporary file in the same directory, fsync'd and renamed). Artifacts are streamed
// in bounded memory and verified against their recorded size and SHA-256 on the way: a corrupt
// one fails the export (DataLossError) and leaves no archive. The history is read after the
// versions; a change made meanwhile may show in it. Throws NotFoundError (no such model or
// version), InvalidArgumentError (bad name), StorageError (I/O; also when a version is deleted
// while it is being exported: try again), DataLossError.
ExportReport export_model(const ModelRegistry& registry, std::string_view name,
                          const std::filesystem::path& destination,
                          const ExportOptions& options = {});

struct ImportOptions {
  // Who made the import and why: recorded for versions whose registration is not in the
  // archive's history (an empty actor: the registry's default actor). The archive's events keep
  // their own actors and reasons.
  Audit audit;
};

struct ImportReport {
  std::string model_name;
  std::size_t versions = 0;
  std::size_t artifacts = 0;
  std::size_t events = 0;
  std::uint64_t artifact_bytes = 0;
};

// Adds the model in the archive file `source` to `registry`, exactly as it was exported: every
// field of every version (stage, aliases, tags, metrics, parameters, description, created_at,
// updated_at, artifact size and SHA-256), the model's description, tags and creation time, and
// its history (appended with new sequence numbers, oldest first). Every artifact is streamed
// into the registry's store in bounded memory and checked against the manifest's size and
// SHA-256; the archive must hold exactly the entries its manifest names, in order, as regular
// files (no links, no other paths, no duplicates, sizes that match). The versions become visible
// in one step at the end: on any error nothing of the import is left (no version, no artifact,
// no event), and a crash midway leaves only reservations that recover() removes.
//
// Into a registry that has the model already (a merge): the versions must all be new
// (AlreadyExistsError naming those that exist, nothing changed; there is no overwrite), an
// alias the model has already is AlreadyExistsError, both having a Production version is
// FailedPreconditionError; the model keeps its own description and tags and gains the
// archive's only where it has none; imported versions come after its own in registration order
// (a created_at earlier than its latest version's is raised to it).
//
// Throws InvalidArgumentError for a malformed or hostile archive (not a modelreg archive, an
// unknown format version, a bad manifest, unexpected or missing entries), DataLossError for a
// damaged one (a truncated file, an artifact whose bytes do not match), StorageError for I/O
// errors; NotFoundError if `source` does not exist.
ImportReport import_model(ModelRegistry& registry, const std::filesystem::path& source,
                          const ImportOptions& options = {});

}  // namespace modelreg

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "modelreg/model_registry.hpp"

namespace modelreg {

// What verify_registry found wrong with one version's artifact.
struct ArtifactProblem {
  enum class Kind {
    Missing,    // the catalog names an artifact that is not in the store
    Truncated,  // the stored artifact is shorter (or longer) than the recorded size
    Corrupt,    // the size matches but the SHA-256 differs, or what is stored is not a file
    Unreadable  // the store failed to read it (I/O error); the message says why
  };
  std::string model_name;
  std::string version;
  std::string artifact_path;
  Kind kind = Kind::Missing;
  std::string message;  // one line, for people
};

// "missing", "truncated", "corrupt", "unreadable".
const char* to_string(ArtifactProblem::Kind kind) noexcept;

// What verify_registry checked and found.
struct VerifyReport {
  std::size_t versions_checked = 0;   // visible versions looked at
  std::size_t artifacts_checked = 0;  // artifacts re-hashed (versions that have one)
  std::uint64_t bytes_checked = 0;    // bytes re-hashed
  std::vector<ArtifactProblem> problems;
  // Artifacts in the store ("name/version/model.bin", sorted; only the model's with
  // VerifyOptions::model_name) that no visible or reserved version references, neither by its
  // recorded artifact path nor by its (model, version): what collect_garbage removes. Not a
  // problem of any version: verify reports them, healthy() ignores them.
  std::vector<std::string> unreferenced_artifacts;
  // True when no version has a problem.
  bool healthy() const noexcept { return problems.empty(); }
};

// Which versions verify_registry checks.
struct VerifyOptions {
  // Only this model's versions (empty: every model). NotFoundError if no such model.
  std::string model_name;
};

// Re-hashes the artifact of every visible version (in bounded memory) through
// ModelStore::open_artifact and compares it with the recorded size and SHA-256; lists the
// store's artifacts that no version references. Reads only, and never throws for a bad
// artifact (that is a problem in the report); safe while other threads or processes write the
// registry: a version deleted (or deleted and registered again) meanwhile is skipped, not
// reported. Throws NotFoundError if options.model_name names no model, InvalidArgumentError if
// it is not a valid name, StorageError if the catalog or the store cannot be listed.
// Thread-safe.
VerifyReport verify_registry(const ModelRegistry& registry, const VerifyOptions& options = {});

// One thing collect_garbage removes (or would remove, in a dry run).
struct GarbageItem {
  enum class Kind {
    UnreferencedArtifact,  // an artifact no visible or reserved version references
    TemporaryFile,         // a temporary file of a writer that died mid-save
    EmptyDirectory         // a version or model directory left with nothing in it
  };
  Kind kind = Kind::UnreferencedArtifact;
  // An artifact: its path in the store ("name/version/model.bin"). A temporary file or a
  // directory (only in a FileModelStore): its absolute path.
  std::string path;
  std::uint64_t bytes = 0;  // the file's size; 0 for a directory
};

// "unreferenced-artifact", "temporary-file", "empty-directory".
const char* to_string(GarbageItem::Kind kind) noexcept;

// What collect_garbage does.
struct GcOptions {
  // false (the default): a dry run that only reports. true: remove what is reported.
  bool apply = false;
};

// What collect_garbage found, and removed if it applied.
struct GcReport {
  // What was removed (apply) or would be (dry run): temporary files, then artifacts, then
  // directories.
  std::vector<GarbageItem> items;
  std::uint64_t bytes = 0;  // their total size
  bool applied = false;     // whether they were removed
  // With apply: the reservations of dead writers that recover() settled first.
  RecoveryReport recovered;
};

// Finds, and with `options.apply` removes, the store's artifacts that no version references
// (as VerifyReport::unreferenced_artifacts) and, in a FileModelStore, the temporary files of
// writers that died mid-save (whose lock can be taken) and the model and version directories
// left empty (never the store's base directory; a version directory that only held a removed
// artifact goes with it and is not listed). A dry run changes nothing at all: it reports the
// directories that would be left empty once the files it reports are gone.
//
// Never touches an artifact that a visible version, or a reservation (a registration or
// deletion running in this or another process), references: the store is listed before the
// catalog, a registration reserves its key before it writes a byte, and each artifact is
// removed while collect_garbage holds its (model, version) key reserved in the catalog itself
// (under a writer lease of its own), so a registration of that key cannot write it meanwhile.
// The price: a registration of exactly that key at that instant fails with AlreadyExistsError;
// an artifact whose key is in use by then is left alone and not reported. A directory is removed
// only while empty (rmdir), and writers create a vanished directory again. With apply,
// recover() runs first, so the work of dead writers is settled before their files are judged.
// Throws StorageError on I/O failure (the items removed so far stay removed; nothing referenced
// is). Thread-safe; safe against other processes using the registry.
GcReport collect_garbage(ModelRegistry& registry, const GcOptions& options = {});

}  // namespace modelreg

#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/artifact_file.hpp"
#include "modelreg/bytes.hpp"

namespace modelreg {

// Where artifact bytes live. A store knows bytes, never stages or metadata.
//
// An artifact is saved under (model_name, version) and then addressed by the path that
// save_artifact returns: "model_name/version/model.bin", relative to the store, so it stays valid
// when the store's directory moves. Public methods validate their arguments, log errors through
// the "modelreg" logger and call the private *_impl hooks that backends implement.
//
// Implementations must be thread-safe: every public method may be called from any thread.
class ModelStore {
 public:
  virtual ~ModelStore();

  // Saves `artifact` for (model_name, version), replacing any previous artifact there atomically
  // (a reader sees the old bytes or the new ones, never a mix). Returns the artifact's path.
  // Throws InvalidArgumentError for a bad name or version, StorageError on I/O failure.
  std::string save_artifact(std::string_view model_name, std::string_view version,
                            const Bytes& artifact);
  // As above, reading the artifact from `in` until end of stream in bounded memory. Throws
  // StorageError if `in` fails before its end.
  std::string save_artifact(std::string_view model_name, std::string_view version,
                            std::istream& in);
  // As above, copying the file at `source` in bounded memory. Throws NotFoundError if `source`
  // does not exist, InvalidArgumentError if it is a directory.
  std::string save_artifact(std::string_view model_name, std::string_view version,
                            const std::filesystem::path& source);

  // Writes the bytes of a new file into `fd` (`path` names it, for messages): an empty regular
  // file open for reading and writing, at offset 0. Throws to abandon the save.
  using FileFill = std::function<void(int fd, const std::filesystem::path& path)>;
  // Saves the artifact for (model_name, version) as save_artifact does, its bytes written by
  // `fill` into a new file of the store, which is then made durable and put in place
  // atomically; returns the artifact's path. nullopt, calling nothing, for a store that does
  // not keep artifacts as files (the default). The registry's register_version from a file uses
  // it to copy with the kernel and to hash what the store's file holds.
  std::optional<std::string> fill_artifact(std::string_view model_name, std::string_view version,
                                           const FileFill& fill);

  // What send_artifact_file stored.
  struct SentFile {
    std::string path;        // as save_artifact returns it
    std::uint64_t size = 0;  // bytes stored
    std::string sha256;      // their lower-case hex SHA-256
  };
  // Saves the artifact for (model_name, version) as save_artifact does, from the regular file
  // open at `fd`, its start to its end (read with pread: the descriptor's offset is left alone;
  // `source` names it in messages), if this store sends a file better than through a stream
  // (S3ModelStore: one streaming PUT, its SHA-256 computed first and checked by the server, so
  // that a file that changes in between is refused: StorageError); returns what it stored. nullopt,
  // storing nothing, for a store that does not (the default) and for a file it would rather take as
  // a stream. The registry's register_version from a file and save_artifact of a path use it.
  std::optional<SentFile> send_artifact_file(std::string_view model_name, std::string_view version,
                                             int fd, const std::filesystem::path& source);

  // Returns the bytes stored at `path` (as returned by save_artifact). Throws NotFoundError if
  // nothing is stored there, InvalidArgumentError for a path outside the store.
  Bytes load_artifact(std::string_view path) const;
  // Copies the artifact at `path` to `out` in bounded memory. Same errors as above, plus
  // StorageError if `out` fails. Unverified, and a store may stream the bytes as they come
  // (S3ModelStore does): after an error `out` may hold the first part of them (the registry's
  // load_artifact to a stream verifies first and hands out nothing unverified).
  void load_artifact(std::string_view path, std::ostream& out) const;

  // Opens the artifact at `path` for streaming reads; the stream stays valid if the artifact is
  // replaced or deleted meanwhile (it keeps reading the bytes it opened). Same errors as above.
  std::unique_ptr<std::istream> open_artifact(std::string_view path) const;

  // The artifact at `path` as an open read-only file, if this store keeps artifacts as files
  // (FileModelStore does); nullopt for a store that does not. Unverified: the registry's
  // open_verified_artifact checks it. Same errors as load_artifact.
  std::optional<ArtifactFile> open_artifact_file(std::string_view path) const;

  // Writes the artifact at `path` into `fd` (an empty regular file open for writing, at offset
  // 0) and returns true, if this store fills a file faster than through open_artifact's stream
  // (S3ModelStore: the GET's body goes straight into it); false, writing nothing, for a store
  // that does not (the default). Unverified: the registry's load_artifact to a file uses it and
  // checks what it wrote. Same errors as load_artifact, plus StorageError if writing fails.
  bool write_artifact_to(std::string_view path, int fd) const;

  // Deletes the artifact at `path`. Returns false (and logs a warning) if nothing was there.
  // Throws InvalidArgumentError for a path outside the store, StorageError on I/O failure.
  bool delete_artifact(std::string_view path);

  // Paths of every artifact in the store, sorted (for verification and garbage collection).
  std::vector<std::string> list_artifacts() const;

  // The path an artifact of (model_name, version) is stored under: "model_name/version/model.bin".
  // Throws InvalidArgumentError for a bad name or version.
  static std::string artifact_path(std::string_view model_name, std::string_view version);

  // The canonical form "model_name/version/model.bin" of an artifact path (an absolute path is
  // accepted if it lies inside the store). Throws InvalidArgumentError for anything else, so no
  // path a caller passes can reach outside the store.
  std::string normalize_path(std::string_view path) const;

 private:
  // Hooks for implementations. Arguments are validated and `path` is always of the form
  // "name/version/model.bin" with valid components. Errors are thrown as modelreg::Error.
  virtual void save_impl(const std::string& path, std::istream& in) = 0;
  virtual std::unique_ptr<std::istream> open_impl(const std::string& path) const = 0;
  virtual bool delete_impl(const std::string& path) = 0;
  virtual std::vector<std::string> list_impl() const = 0;
  // The artifact as an open read-only file; the default (a store without files) gives nullopt.
  virtual std::optional<ArtifactFile> open_file_impl(const std::string& path) const;
  // Fills `fd` with the artifact and returns true; the default returns false.
  virtual bool write_to_impl(const std::string& path, int fd) const;
  // Writes the artifact to `out` and returns true, if the store streams it faster than through
  // open_impl; the default returns false, writing nothing.
  virtual bool write_stream_impl(const std::string& path, std::ostream& out) const;
  // Saves the artifact through `fill` and returns true; the default returns false.
  virtual bool fill_impl(const std::string& path, const FileFill& fill);
  // Sends the file `fd` as the artifact at `path` and says what it stored; the default returns
  // nullopt.
  virtual std::optional<SentFile> send_file_impl(const std::string& path, int fd,
                                                 const std::filesystem::path& source);
  // Maps an absolute path into the store ("name/version/model.bin"), or nullopt if it lies
  // outside; the default accepts no absolute path.
  virtual std::optional<std::string> relative_path_impl(std::string_view absolute) const;
};

}  // namespace modelreg

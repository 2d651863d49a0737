#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "modelreg/model_store.hpp"

namespace modelreg {

// Keeps artifacts as files: `{base_path}/{model_name}/{version}/model.bin` (the seed's layout).
//
// Crash-safe: an artifact is written to a temporary file in its directory, fsync'd, renamed over
// model.bin and the directory fsync'd, so after a crash at any instant model.bin is either the
// old complete artifact, the new complete one, or absent. Directories are created on first save.
// Paths given to load/delete are resolved against base_path (absolute paths are accepted if
// they lie inside it); anything that would leave base_path is refused with InvalidArgumentError.
// Thread-safe (no shared mutable state besides the file system).
class FileModelStore final : public ModelStore {
 public:
  // Uses (and creates, if needed) the directory `base_path`. Throws StorageError if it cannot be
  // created.
  explicit FileModelStore(std::filesystem::path base_path);

  // The absolute, normalised base directory.
  const std::filesystem::path& base_path() const { return base_path_; }

  // The file an artifact path maps to. Throws InvalidArgumentError for a path outside the store.
  std::filesystem::path resolve(std::string_view path) const;

  // A temporary file of a save (named ".tmp-..." beside its artifact) and its size.
  struct TemporaryFile {
    std::filesystem::path path;  // absolute
    std::uint64_t bytes = 0;
  };

  // The temporary files, anywhere below base_path, of writers that were killed mid-save: what
  // remove_abandoned_temporary_files would remove now. Changes nothing: a writer holds an
  // exclusive lock (flock) on its temporary file while it saves, and a file is listed only if
  // that lock can be taken (it is released at once). Sorted by path. Throws StorageError if a
  // directory cannot be read.
  std::vector<TemporaryFile> list_abandoned_temporary_files() const;

  // Removes the temporary files of writers that were killed mid-save and returns them. Safe while
  // other threads or processes are saving: only files whose lock can be taken are removed, and
  // under that lock. Throws StorageError if a directory cannot be read or a file removed (the
  // files removed so far stay removed).
  std::vector<TemporaryFile> remove_abandoned_temporary_files();

  // As remove_abandoned_temporary_files; returns the number of files removed.
  std::size_t remove_temporary_files();

 private:
  void save_impl(const std::string& path, std::istream& in) override;
  bool fill_impl(const std::string& path, const FileFill& fill) override;
  std::unique_ptr<std::istream> open_impl(const std::string& path) const override;
  std::optional<ArtifactFile> open_file_impl(const std::string& path) const override;
  bool delete_impl(const std::string& path) override;
  std::vector<std::string> list_impl() const override;
  std::optional<std::string> relative_path_impl(std::string_view absolute) const override;

  std::filesystem::path base_path_;
};

}  // namespace modelreg

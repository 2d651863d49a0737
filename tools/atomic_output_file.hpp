#pragma once

// The output file of `get` when it shows a progress bar (the library's load_artifact(path) is
// used otherwise): written under a temporary name beside the destination and renamed over it
// only once complete, so that the destination is never a half-written file.

#include <filesystem>

namespace modelreg::cli {

class AtomicOutputFile {
 public:
  // Creates the temporary file in the destination's directory. Throws StorageError.
  explicit AtomicOutputFile(std::filesystem::path destination);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  // The temporary file's descriptor, to write the contents to.
  int fd() const { return fd_; }

  // Syncs the file, renames it over the destination and syncs the directory. Throws
  // StorageError (the temporary file is then removed by the destructor).
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace modelreg::cli

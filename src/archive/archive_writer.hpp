#pragma once

// A tar archive being written to a file descriptor, over libarchive (RAII).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "modelreg/model_archive.hpp"

struct archive;

namespace modelreg::detail {

class ArchiveWriter {
 public:
  // Starts a POSIX tar archive on `fd` (not owned), with `compression`. `path` names the file in
  // errors. Throws StorageError.
  ArchiveWriter(int fd, const std::filesystem::path& path, ArchiveCompression compression);
  ~ArchiveWriter();
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  // Starts a regular file entry of `size` bytes; its data follows through write().
  void begin_entry(const std::string& name, std::uint64_t size, std::int64_t mtime_seconds);
  void write(const void* data, std::size_t size);
  // Writes the end of the archive and flushes it to the descriptor. Call once, last.
  void finish();

 private:
  [[noreturn]] void fail(const char* what) const;

  struct archive* archive_ = nullptr;
  std::filesystem::path path_;
  int fd_;  // libarchive writes it through the library's I/O seam (io.hpp)
};

}  // namespace modelreg::detail

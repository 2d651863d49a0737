#pragma once

// A tar archive being read from a file, over libarchive (RAII). Only tar formats, and only the
// compressions modelreg writes, are accepted.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

struct archive;

namespace modelreg::detail {

class ArchiveReader {
 public:
  struct Entry {
    std::string name;
    bool regular_file = false;  // false: a directory, link, device, ... (never accepted)
    bool is_link = false;       // a hard or symbolic link
    std::optional<std::uint64_t> size;
  };

  // Opens `path`. Throws NotFoundError if it does not exist, StorageError if it cannot be read.
  explicit ArchiveReader(const std::filesystem::path& path);
  // The file, which libarchive reads through the library's I/O seam (io.hpp); it keeps an error
  // of the file (not of its contents), so that it is reported as a StorageError.
  struct Source;
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // The next entry's header, or nullopt at the end of the archive. Throws DataLossError for a
  // damaged or truncated archive, InvalidArgumentError for a file that is no tar archive.
  std::optional<Entry> next();
  // Reads up to `size` bytes of the current entry's data; 0 at its end. Throws DataLossError.
  std::size_t read(void* data, std::size_t size);

  const std::filesystem::path& path() const { return path_; }

 private:
  [[noreturn]] void fail(const char* what, bool damaged) const;

  struct archive* archive_ = nullptr;
  std::filesystem::path path_;
  bool first_ = true;
  std::unique_ptr<Source> source_;
};

}  // namespace modelreg::detail

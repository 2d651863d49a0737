#pragma once

// Verified copies between open files, at the speed of the slower of the copy and SHA-256 rather
// than their sum: the hashing runs on the thread of a HashPipeline (hash_pipeline.hpp) while the
// copy goes on, in bounded memory.

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>

#include "hash_pipeline.hpp"

namespace modelreg::detail {

// Copies all of the file `from` (open at offset 0; a pipe will do) to the regular file `to` (empty,
// at offset 0; the caller syncs it) and passes the bytes written through `hash`: where the kernel
// can copy between the two files (copy_file_range) it does, and each copied range is read back from
// `to` to be hashed while the next one is copied, so the hash is of what `to` holds; elsewhere
// read() and write() through the pipeline's buffers, the hash being of the very buffers written.
// Returns the number of bytes copied. Throws StorageError naming `from_path` or `to_path` if a call
// fails.
std::uint64_t copy_file_hashed(int from, int to, HashPipeline& hash,
                               const std::filesystem::path& from_path,
                               const std::filesystem::path& to_path);

// What changes when the bytes of a file do: its size and its modification and change times
// (writing a stored artifact needs write permission first, and giving it changes the change time
// as well). Two equal stamps of one open file say that nobody wrote to it in between.
struct FileStamp {
  std::int64_t size = 0;
  std::int64_t modified_ns = 0;
  std::int64_t changed_ns = 0;
  bool operator==(const FileStamp& other) const {
    return size == other.size && modified_ns == other.modified_ns && changed_ns == other.changed_ns;
  }
  bool operator!=(const FileStamp& other) const { return !(*this == other); }
};

// The stamp of the open file `fd`; throws StorageError naming `what` if fstat fails.
FileStamp stamp_of(int fd, const std::string& what);

// Passes all of the file `fd`, from its start to its end, through `hash` (read with pread: the
// descriptor's offset is left alone). Returns the number of bytes hashed. Throws StorageError
// naming `what` if a read fails.
std::uint64_t hash_file(int fd, HashPipeline& hash, const std::string& what);

// Writes all of the file `from` (from its start) to `out`. Returns the number of bytes written.
// Throws StorageError naming `what` if reading fails or `out` does.
std::uint64_t copy_file_to_stream(int from, std::ostream& out, const std::string& what);

}  // namespace modelreg::detail

#include "file_copy.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "io.hpp"
#include "modelreg/error.hpp"
#include "posix_file.hpp"

namespace modelreg::detail {
namespace {

// What one copy_file_range call may move: a few of the pipeline's buffers, so that the kernel
// copies the next range while the hasher works through the last one.
constexpr std::size_t kKernelCopyBuffers = 4;

// Errors of a first copy_file_range that mean "not between these two files" (other file
// systems, kernels or file types), not a failure of the copy.
bool kernel_copy_unsupported(int error) {
  return error == EXDEV || error == EINVAL || error == ENOSYS || error == EOPNOTSUPP ||
         error == EBADF || error == ETXTBSY;
}

// Reads `size` bytes of `fd` at `offset` into `data`; false (errno set) if a read fails, and
// ENODATA if the file ends first.
bool pread_all(int fd, char* data, std::size_t size, off_t offset) {
  while (size > 0) {
    const ssize_t got = io().pread(fd, data, size, offset);
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (got == 0) {
      errno = ENODATA;
      return false;
    }
    data += got;
    size -= static_cast<std::size_t>(got);
    offset += got;
  }
  return true;
}

// Starts writing `size` bytes of `fd` at `offset` to disk now, so that the caller's fsync does
// not wait for the whole file at the end. A hint: an error comes back from that fsync.
void start_writeback(int fd, std::uint64_t offset, std::uint64_t size) {
  ::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(size),
                    SYNC_FILE_RANGE_WRITE);
}

// The read()/write() copy: each buffer is read, handed to the hasher and written from the same
// memory while the hasher works on it.
std::uint64_t copy_through_buffers(int from, int to, HashPipeline& hash,
                                   const std::filesystem::path& from_path,
                                   const std::filesystem::path& to_path) {
  std::uint64_t total = 0;
  std::uint64_t written_back = 0;  // bytes whose write to disk was started (as below)
  for (;;) {
    char* buffer = hash.acquire();
    const ssize_t got = io().read(from, buffer, hash.buffer_size());
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", from_path);
    }
    if (got == 0) return total;
    hash.submit(static_cast<std::size_t>(got));
    write_all(to, buffer, static_cast<std::size_t>(got), to_path);
    total += static_cast<std::uint64_t>(got);
    if (total - written_back >= hash.buffer_size() * kKernelCopyBuffers) {
      start_writeback(to, written_back, total - written_back);
      written_back = total;
    }
  }
}

}  // namespace

std::uint64_t copy_file_hashed(int from, int to, HashPipeline& hash,
                               const std::filesystem::path& from_path,
                               const std::filesystem::path& to_path) {
  ::posix_fadvise(from, 0, 0, POSIX_FADV_SEQUENTIAL);
  off_t copied = 0;  // of `from`, and written to `to`
  off_t hashed = 0;  // of `to`, read back and submitted
  const std::size_t range = hash.buffer_size() * kKernelCopyBuffers;
  for (;;) {
    off_t from_offset = copied;
    off_t to_offset = copied;
    const ssize_t moved = io().copy_file_range(from, &from_offset, to, &to_offset, range);
    if (moved < 0) {
      if (errno == EINTR) continue;
      if (copied == 0 && kernel_copy_unsupported(errno)) {
        // The kernel copy moved neither file's offset (it was given offsets of its own).
        return copy_through_buffers(from, to, hash, from_path, to_path);
      }
      throw StorageError(fmt::format("cannot copy '{}' to '{}': {}", from_path.string(),
                                     to_path.string(), std::strerror(errno)));
    }
    if (moved == 0 && copied == 0) {
      // Nothing at all: an empty file, or one whose size the file system does not report (a
      // kernel copy of such a file gives 0, not its bytes). read() tells the two apart.
      return copy_through_buffers(from, to, hash, from_path, to_path);
    }
    if (moved > 0) start_writeback(to, copied, static_cast<std::uint64_t>(moved));
    copied += moved;
    // Hash what `to` now holds, buffer by buffer, while the hasher catches up.
    while (hashed < copied) {
      const auto size =
          std::min<std::size_t>(hash.buffer_size(), static_cast<std::size_t>(copied - hashed));
      char* buffer = hash.acquire();
      if (!pread_all(to, buffer, size, hashed)) throw_errno("cannot read back", to_path);
      hash.submit(size);
      hashed += static_cast<off_t>(size);
    }
    if (moved == 0) return static_cast<std::uint64_t>(copied);
  }
}

FileStamp stamp_of(int fd, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw StorageError(
        fmt::format("cannot stat the artifact of {}: {}", what, std::strerror(errno)));
  }
  constexpr std::int64_t kNs = 1'000'000'000;
  return FileStamp{static_cast<std::int64_t>(st.st_size),
                   static_cast<std::int64_t>(st.st_mtim.tv_sec) * kNs + st.st_mtim.tv_nsec,
                   static_cast<std::int64_t>(st.st_ctim.tv_sec) * kNs + st.st_ctim.tv_nsec};
}

std::uint64_t hash_file(int fd, HashPipeline& hash, const std::string& what) {
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  // While the file comes from the page cache, a read costs a memory copy, a twentieth of the
  // hashing: the bytes are hashed on this thread, which a second one would only slow down
  // with its hand-offs (64 MiB cached: 0.78 of a one-pass read + SHA-256 with the thread, 0.97
  // without). From the first read that would wait for the device on, or once the file proves
  // large (where overlapping those copies with the hashing pays: 2 GiB cached, 1.10 with the
  // thread against 1.01 without), the thread hashes while this one reads.
  constexpr std::uint64_t kInlineLimit = std::uint64_t{128} << 20;
  bool cached = true;  // reading from the page cache, hashing on this thread
  std::uint64_t total = 0;
  for (;;) {
    char* buffer = hash.acquire();
    const auto offset = static_cast<off_t>(total);
    ssize_t got = -1;
    cached = cached && total < kInlineLimit;
    if (cached) {
      got = io().pread_cached(fd, buffer, hash.buffer_size(), offset);
      cached = !(got < 0 && errno == EAGAIN);
    }
    hash.hash_inline(cached);
    if (!cached && got < 0) got = io().pread(fd, buffer, hash.buffer_size(), offset);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw StorageError(
          fmt::format("cannot read the artifact of {}: {}", what, std::strerror(errno)));
    }
    if (got == 0) return total;
    hash.submit(static_cast<std::size_t>(got));
    total += static_cast<std::uint64_t>(got);
  }
}

std::uint64_t copy_file_to_stream(int from, std::ostream& out, const std::string& what) {
  ::posix_fadvise(from, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<char> buffer(std::size_t{1} << 20);
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t got = io().pread(from, buffer.data(), buffer.size(), static_cast<off_t>(total));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw StorageError(
          fmt::format("cannot read the artifact of {}: {}", what, std::strerror(errno)));
    }
    if (got == 0) return total;
    out.write(buffer.data(), got);
    if (!out) throw StorageError(fmt::format("cannot copy the artifact of {} to the stream", what));
    total += static_cast<std::uint64_t>(got);
  }
}

}  // namespace modelreg::detail

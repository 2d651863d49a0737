#pragma once

// The seam every file operation of the library goes through (the role leveldb's Env plays):
// the calls keep their POSIX meaning (a result of -1 sets errno), so the code above them reads
// like plain POSIX, and a test can install an Io that fails the k-th call with the error of its
// choice (EIO, ENOSPC, a short write, an EINTR the caller must retry). Internal: users never see
// it. SQLite's own file I/O goes through SQLite's VFS, not through this.

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>

namespace modelreg::detail {

class Io {
 public:
  virtual ~Io() = default;

  // Path-based calls are the *at calls with AT_FDCWD. Every descriptor opened is O_CLOEXEC by
  // the caller's flags.
  virtual int openat(int directory, const char* path, int flags, mode_t mode);
  virtual ssize_t read(int fd, void* data, std::size_t size);
  virtual ssize_t write(int fd, const void* data, std::size_t size);
  virtual ssize_t pread(int fd, void* data, std::size_t size, off_t offset);
  // As pread, but only what the page cache holds (Linux preadv2 with RWF_NOWAIT): -1 with
  // EAGAIN when the first bytes would have to come from the device, a short count when later
  // ones would. Where the kernel or the file system cannot tell, always -1 with EAGAIN.
  virtual ssize_t pread_cached(int fd, void* data, std::size_t size, off_t offset);
  // The kernel's copy between two files (Linux copy_file_range(2), flags 0).
  virtual ssize_t copy_file_range(int from, off_t* from_offset, int to, off_t* to_offset,
                                  std::size_t size);
  // Of a file or a directory descriptor.
  virtual int fsync(int fd);
  virtual int fstat(int fd, struct stat* status);
  virtual int flock(int fd, int operation);
  virtual int renameat(int from_directory, const char* from, int to_directory, const char* to);
  // `flags` 0 removes a file, AT_REMOVEDIR an empty directory.
  virtual int unlinkat(int directory, const char* path, int flags);
  virtual int mkdirat(int directory, const char* path, mode_t mode);

  int open(const char* path, int flags, mode_t mode = 0);
  int unlink(const char* path);
  int rmdir(const char* path);
  int rename(const char* from, const char* to);
};

// The Io in use: the POSIX one unless a test installed another.
Io& io();

// Installs `replacement` (which must outlive it) while it lives, and the previous one again on
// destruction. For tests, while no other thread does file I/O through the library.
class ScopedIo {
 public:
  explicit ScopedIo(Io& replacement);
  ~ScopedIo();
  ScopedIo(const ScopedIo&) = delete;
  ScopedIo& operator=(const ScopedIo&) = delete;

 private:
  Io* previous_;
};

}  // namespace modelreg::detail

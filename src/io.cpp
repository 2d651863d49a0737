#include "io.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace modelreg::detail {

int Io::openat(int directory, const char* path, int flags, mode_t mode) {
  return ::openat(directory, path, flags, mode);
}
ssize_t Io::read(int fd, void* data, std::size_t size) {
  return ::read(fd, data, size);
}
ssize_t Io::write(int fd, const void* data, std::size_t size) {
  return ::write(fd, data, size);
}
ssize_t Io::pread(int fd, void* data, std::size_t size, off_t offset) {
  return ::pread(fd, data, size, offset);
}

ssize_t Io::pread_cached(int fd, void* data, std::size_t size, off_t offset) {
#ifdef RWF_NOWAIT
  iovec range{data, size};
  const ssize_t got = ::preadv2(fd, &range, 1, offset, RWF_NOWAIT);
  // Other errors (EOPNOTSUPP on a file system without it, ENOSYS or EINVAL from an older
  // kernel) only say that it cannot tell.
  if (got >= 0 || errno == EAGAIN || errno == EINTR || errno == EIO || errno == EBADF) return got;
#else
  (void)fd;
  (void)data;
  (void)size;
  (void)offset;
#endif
  errno = EAGAIN;
  return -1;
}

ssize_t Io::copy_file_range(int from, off_t* from_offset, int to, off_t* to_offset,
                            std::size_t size) {
  return ::copy_file_range(from, from_offset, to, to_offset, size, 0);
}
int Io::fsync(int fd) {
  return ::fsync(fd);
}
int Io::fstat(int fd, struct stat* status) {
  return ::fstat(fd, status);
}
int Io::flock(int fd, int operation) {
  return ::flock(fd, operation);
}
int Io::renameat(int from_directory, const char* from, int to_directory, const char* to) {
  return ::renameat(from_directory, from, to_directory, to);
}
int Io::unlinkat(int directory, const char* path, int flags) {
  return ::unlinkat(directory, path, flags);
}
int Io::mkdirat(int directory, const char* path, mode_t mode) {
  return ::mkdirat(directory, path, mode);
}

int Io::open(const char* path, int flags, mode_t mode) {
  return openat(AT_FDCWD, path, flags, mode);
}
int Io::unlink(const char* path) {
  return unlinkat(AT_FDCWD, path, 0);
}
int Io::rmdir(const char* path) {
  return unlinkat(AT_FDCWD, path, AT_REMOVEDIR);
}
int Io::rename(const char* from, const char* to) {
  return renameat(AT_FDCWD, from, AT_FDCWD, to);
}

namespace {

Io& posix_io() {
  static Io posix;
  return posix;
}

std::atomic<Io*>& current() {
  static std::atomic<Io*> io{&posix_io()};
  return io;
}

}  // namespace

Io& io() {
  return *current().load(std::memory_order_acquire);
}

ScopedIo::ScopedIo(Io& replacement)
    : previous_(current().exchange(&replacement, std::memory_order_acq_rel)) {}

ScopedIo::~ScopedIo() {
  current().store(previous_, std::memory_order_release);
}

}  // namespace modelreg::detail

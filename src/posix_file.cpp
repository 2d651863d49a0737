#include "posix_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <istream>
#include <vector>

#include "modelreg/error.hpp"

namespace modelreg::detail {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int UniqueFd::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void throw_errno(const std::string& what, const std::filesystem::path& path) {
  const int error = errno;
  throw StorageError(fmt::format("{} '{}': {}", what, path.string(), std::strerror(error)));
}

void fsync_fd(int fd, const std::filesystem::path& path_for_errors) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) throw_errno("cannot fsync", path_for_errors);
  }
}

void fsync_directory(const std::filesystem::path& directory) {
  UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) throw_errno("cannot open directory", directory);
  fsync_fd(fd.get(), directory);
}

std::filesystem::path absolute_path(const std::filesystem::path& path, std::string_view what) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec) {
    throw StorageError(
        fmt::format("cannot resolve {} '{}': {}", what, path.string(), ec.message()));
  }
  return absolute.lexically_normal();
}

void create_directories_durably(const std::filesystem::path& directory) {
  std::error_code ec;
  if (std::filesystem::is_directory(directory, ec)) return;
  const auto parent = directory.parent_path();
  if (!parent.empty() && parent != directory) create_directories_durably(parent);
  if (::mkdir(directory.c_str(), 0777) != 0) {
    if (errno == EEXIST) {
      if (std::filesystem::is_directory(directory, ec)) return;
      throw StorageError(fmt::format("'{}' exists and is not a directory", directory.string()));
    }
    throw_errno("cannot create directory", directory);
  }
  if (!parent.empty()) fsync_directory(parent);
}

std::string random_suffix() {
  // From the kernel each time: a generator seeded once would be copied into every fork()ed
  // child, which would then pick the same names as its parent and siblings.
  std::uint64_t value = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(&value);
  std::size_t filled = 0;
  while (filled < sizeof value) {
    const ssize_t got = ::getrandom(bytes + filled, sizeof value - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw StorageError(fmt::format("getrandom failed: {}", std::strerror(errno)));
    }
    filled += static_cast<std::size_t>(got);
  }
  return fmt::format("{:016x}", value);
}

namespace {

void write_all(int fd, const char* data, std::size_t size, const std::filesystem::path& path) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path);
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

}  // namespace

void write_file_atomically(const std::filesystem::path& target, std::istream& in,
                           const std::function<void()>& before_rename) {
  // A bare file name lives in the current directory.
  const auto directory = target.has_parent_path() ? target.parent_path() : ".";
  create_directories_durably(directory);
  std::filesystem::path temp;
  UniqueFd fd;
  // Between open and flock a recovering process may take the new file for an abandoned one
  // and unlink it (under its lock); then this writer sees no link left and starts over.
  for (;;) {
    temp = directory / (kTempPrefix + target.filename().string() + "-" + random_suffix());
    fd = UniqueFd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) throw_errno("cannot create", temp);
    if (::flock(fd.get(), LOCK_EX) != 0) {
      ::unlink(temp.c_str());
      throw_errno("cannot lock", temp);
    }
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) {
      ::unlink(temp.c_str());
      throw_errno("cannot stat", temp);
    }
    if (status.st_nlink > 0) break;
  }
  try {
    std::vector<char> buffer(std::size_t{1} << 20);
    while (in.good()) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto got = in.gcount();
      if (got > 0) write_all(fd.get(), buffer.data(), static_cast<std::size_t>(got), temp);
    }
    if (in.bad() || !in.eof()) {
      throw StorageError(fmt::format("reading the artifact failed before its end (writing '{}')",
                                     target.string()));
    }
    fsync_fd(fd.get(), temp);
    if (before_rename) before_rename();
    if (::rename(temp.c_str(), target.c_str()) != 0) throw_errno("cannot rename into", target);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  fd.reset();
  fsync_directory(directory);
}

bool remove_if_abandoned(const std::filesystem::path& path) {
  if (path.filename().string().rfind(kTempPrefix, 0) != 0) return false;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return false;
  // A writer holds LOCK_EX until it has renamed or removed its file; getting the lock means it
  // is gone. Unlink while holding the lock (see write_file_atomically).
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return false;
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw_errno("cannot remove abandoned temporary file", path);
  }
  return true;
}

}  // namespace modelreg::detail

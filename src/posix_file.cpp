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

bool fsync_directory_if_present(const std::filesystem::path& directory) {
  UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw_errno("cannot open directory", directory);
  }
  fsync_fd(fd.get(), directory);
  return true;
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

namespace {

// How often a file or directory is created again when its parent directory vanishes meanwhile
// (garbage collection removes empty directories); only a pathological race needs more than one.
constexpr int kVanishedParentRetries = 64;

// Creates `directory` and any missing parents, without syncing anything, and appends each one
// it created to `created`. No fsync between two mkdirs: a new directory is empty, and garbage
// collection may take it, until the next one (or the file) is made in it.
void make_directories(const std::filesystem::path& directory,
                      std::vector<std::filesystem::path>& created) {
  const auto parent = directory.parent_path();
  for (int attempt = 1;; ++attempt) {
    std::error_code ec;
    if (std::filesystem::is_directory(directory, ec)) return;
    if (!parent.empty() && parent != directory) make_directories(parent, created);
    // 0775 less the umask: a team may share the registry through its group, the world never.
    if (::mkdir(directory.c_str(), 0775) == 0) {
      created.push_back(directory);
      return;
    }
    if (errno == EEXIST) {
      if (std::filesystem::is_directory(directory, ec)) return;
      throw StorageError(fmt::format("'{}' exists and is not a directory", directory.string()));
    }
    if (errno != ENOENT || attempt == kVanishedParentRetries) {
      throw_errno("cannot create directory", directory);
    }
  }
}

// Makes the entries of the `created` directories durable (fsync of each one's parent). A parent
// gone again already took its new directory with it: the caller's next step there finds out.
void sync_created(const std::vector<std::filesystem::path>& created) {
  for (const auto& directory : created) {
    const auto parent = directory.parent_path();
    if (!parent.empty()) fsync_directory_if_present(parent);
  }
}

}  // namespace

void create_directories_durably(const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> created;
  make_directories(directory, created);
  sync_created(created);
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
  std::vector<std::filesystem::path> created;
  make_directories(directory, created);
  std::filesystem::path temp;
  UniqueFd fd;
  // Between open and flock a recovering process may take the new file for an abandoned one
  // and unlink it (under its lock); then this writer sees no link left and starts over.
  // An empty directory may be removed by garbage collection until the temporary file is in it:
  // then it is created again.
  int vanished = 0;
  for (;;) {
    temp = directory / (kTempPrefix + target.filename().string() + "-" + random_suffix());
    fd = UniqueFd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) {
      if (errno == ENOENT && ++vanished < kVanishedParentRetries) {
        make_directories(directory, created);
        continue;
      }
      throw_errno("cannot create", temp);
    }
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
    // Now that the temporary file keeps them from being taken as empty, the new directories are
    // made durable, before the artifact can be.
    sync_created(created);
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
  // The directory can vanish only once the renamed file is gone from it again (garbage
  // collection removing an artifact nobody references, then its empty directory): that removal
  // came after this write, and nothing of it is left to make durable.
  fsync_directory_if_present(directory);
}

namespace {

// Opens `path` if it is a temporary file whose writer is gone, and returns it locked (LOCK_EX)
// with its size; an invalid descriptor otherwise.
UniqueFd lock_abandoned(const std::filesystem::path& path, std::uint64_t& size) {
  if (path.filename().string().rfind(kTempPrefix, 0) != 0) return UniqueFd();
  // O_NONBLOCK: a FIFO under such a name must not make the open wait for a writer.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) return UniqueFd();
  // A writer holds LOCK_EX until it has renamed or removed its file; getting the lock means it
  // is gone.
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return UniqueFd();
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0 || !S_ISREG(status.st_mode)) return UniqueFd();
  size = static_cast<std::uint64_t>(status.st_size);
  return fd;
}

}  // namespace

bool remove_if_abandoned(const std::filesystem::path& path, std::uint64_t* bytes) {
  std::uint64_t size = 0;
  const UniqueFd fd = lock_abandoned(path, size);
  if (!fd.valid()) return false;
  // Unlink while holding the lock (see write_file_atomically).
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw_errno("cannot remove abandoned temporary file", path);
  }
  if (bytes != nullptr) *bytes = size;
  return true;
}

std::optional<std::uint64_t> abandoned_temporary_file_size(const std::filesystem::path& path) {
  std::uint64_t size = 0;
  if (!lock_abandoned(path, size).valid()) return std::nullopt;
  return size;  // the descriptor, and with it the lock, is gone again
}

bool remove_directory_if_empty(const std::filesystem::path& directory) {
  if (::rmdir(directory.c_str()) == 0) return true;
  if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOENT) return false;
  throw_errno("cannot remove directory", directory);
}

}  // namespace modelreg::detail

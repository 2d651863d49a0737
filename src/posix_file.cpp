#include "posix_file.hpp"

#include <dirent.h>
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

#include "io.hpp"
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

UniqueFd open_source_file(const std::filesystem::path& path, const std::string& noun) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw InvalidArgumentError(fmt::format("{} '{}' is a directory", noun, path.string()));
  }
  UniqueFd fd(io().open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) {
      throw NotFoundError(fmt::format("{} '{}' does not exist", noun, path.string()));
    }
    throw_errno("cannot open " + noun, path);
  }
  return fd;
}

void fsync_fd(int fd, const std::filesystem::path& path_for_errors) {
  while (io().fsync(fd) != 0) {
    if (errno != EINTR) throw_errno("cannot fsync", path_for_errors);
  }
}

void fsync_directory(const std::filesystem::path& directory) {
  UniqueFd fd(io().open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) throw_errno("cannot open directory", directory);
  fsync_fd(fd.get(), directory);
}

bool fsync_directory_if_present(const std::filesystem::path& directory) {
  UniqueFd fd(io().open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
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
    if (io().mkdirat(AT_FDCWD, directory.c_str(), 0775) == 0) {
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

void write_all(int fd, const char* data, std::size_t size, const std::filesystem::path& path) {
  while (size > 0) {
    const ssize_t written = io().write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path);
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

namespace {

// flock that waits, retrying when a signal interrupts the wait.
int lock_waiting(int fd) {
  for (;;) {
    const int result = io().flock(fd, LOCK_EX);
    if (result == 0 || errno != EINTR) return result;
  }
}

// The core of write_file_atomically and write_file_beneath: `open_directory` opens (creating
// it if needed) the directory the file goes into; it is called again when that directory is
// removed (by garbage collection, while empty) before the temporary file is in it.
void write_into(const std::function<DirectoryWalk()>& open_directory,
                const std::filesystem::path& target, const FileFiller& fill,
                const std::function<void()>& before_rename, mode_t mode) {
  const std::string name = target.filename().string();
  DirectoryWalk directory;
  std::string temp_name;
  std::filesystem::path temp;
  UniqueFd fd;
  // Between open and flock a recovering process may take the new file for an abandoned one
  // and unlink it (under its lock); then this writer sees no link left and starts over.
  int vanished = 0;
  for (;;) {
    if (directory.chain.empty()) directory = open_directory();
    temp_name = kTempPrefix + name + "-" + random_suffix();
    temp = target.parent_path() / temp_name;
    fd = UniqueFd(io().openat(directory.fd(), temp_name.c_str(),
                              O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!fd.valid()) {
      if (errno == ENOENT && ++vanished < kVanishedParentRetries) {
        directory = DirectoryWalk();  // removed while empty: make it again
        continue;
      }
      throw_errno("cannot create", temp);
    }
    if (lock_waiting(fd.get()) != 0) {
      const int error = errno;
      io().unlinkat(directory.fd(), temp_name.c_str(), 0);
      errno = error;
      throw_errno("cannot lock", temp);
    }
    struct stat status {};
    if (io().fstat(fd.get(), &status) != 0) {
      const int error = errno;
      io().unlinkat(directory.fd(), temp_name.c_str(), 0);
      errno = error;
      throw_errno("cannot stat", temp);
    }
    if (status.st_nlink > 0) break;
  }
  try {
    // Now that the temporary file keeps them from being taken as empty, the new directories are
    // made durable, before the artifact can be.
    for (const std::size_t grew : directory.grew) {
      fsync_fd(directory.chain[grew].get(), directory.paths[grew]);
    }
    fill(fd.get(), temp);
    fsync_fd(fd.get(), temp);
    if (before_rename) before_rename();
    if (io().renameat(directory.fd(), temp_name.c_str(), directory.fd(), name.c_str()) != 0) {
      throw_errno("cannot rename into", target);
    }
  } catch (...) {
    io().unlinkat(directory.fd(), temp_name.c_str(), 0);
    throw;
  }
  fd.reset();
  // The directory may be gone again (garbage collection removing an artifact nobody
  // references, then its empty directory): that came after this write, and syncing the
  // descriptor of a removed directory is harmless.
  fsync_fd(directory.fd(), target.parent_path());
}

UniqueFd open_directory(int parent, const std::string& name) {
  return UniqueFd(
      io().openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0));
}

[[noreturn]] void refuse_component(int parent, const std::filesystem::path& path, bool create) {
  struct stat status {};
  if (::fstatat(parent, path.filename().c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(status.st_mode)) {
    throw StorageError(fmt::format(
        "'{}' is a symbolic link; the store does not follow links inside its tree", path.string()));
  }
  if (create) {
    throw StorageError(fmt::format("'{}' exists and is not a directory", path.string()));
  }
  throw DataLossError(fmt::format("'{}' is not a directory", path.string()));
}

}  // namespace

void copy_stream_to_fd(std::istream& in, int fd, const std::filesystem::path& path) {
  std::vector<char> buffer(std::size_t{1} << 20);
  while (in.good()) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    if (got > 0) write_all(fd, buffer.data(), static_cast<std::size_t>(got), path);
  }
  if (in.bad() || !in.eof()) {
    throw StorageError(
        fmt::format("reading the artifact failed before its end (writing '{}')", path.string()));
  }
}

void fill_file_atomically(const std::filesystem::path& target, const FileFiller& fill,
                          const std::function<void()>& before_rename) {
  // A bare file name lives in the current directory.
  const auto directory = target.has_parent_path() ? target.parent_path() : ".";
  const auto open = [&] {
    DirectoryWalk walk;
    for (int attempt = 1;; ++attempt) {
      std::vector<std::filesystem::path> created;
      make_directories(directory, created);
      for (const auto& made : created) {
        // A parent gone again took its new directory along: the open below finds out.
        UniqueFd parent(io().open(made.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!parent.valid()) continue;
        walk.grew.push_back(walk.chain.size());
        walk.chain.push_back(std::move(parent));
        walk.paths.push_back(made.parent_path());
      }
      UniqueFd fd(io().open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (fd.valid()) {
        walk.chain.push_back(std::move(fd));
        walk.paths.push_back(directory);
        return walk;
      }
      if (errno != ENOENT || attempt == kVanishedParentRetries) {
        throw_errno("cannot open directory", directory);
      }
    }
  };
  write_into(open, target, fill, before_rename, 0644);
}

void write_file_atomically(const std::filesystem::path& target, std::istream& in,
                           const std::function<void()>& before_rename) {
  fill_file_atomically(
      target, [&](int fd, const std::filesystem::path& temp) { copy_stream_to_fd(in, fd, temp); },
      before_rename);
}

namespace {

// One pass of walk_beneath; false if a directory on the way was removed meanwhile (garbage
// collection takes empty ones) after this pass opened it, so that the walk must start over.
bool walk_once(const std::filesystem::path& root, const std::filesystem::path& relative,
               bool create, DirectoryWalk& walk) {
  walk = DirectoryWalk();
  UniqueFd top(io().open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!top.valid()) {
    if (errno == ENOENT && !create) return true;
    throw_errno("cannot open directory", root);
  }
  walk.chain.push_back(std::move(top));
  walk.paths.push_back(root);
  std::filesystem::path path = root;
  for (const auto& component : relative) {
    const std::string name = component.string();
    if (name.empty() || name == ".") continue;
    path /= component;
    for (;;) {
      UniqueFd next = open_directory(walk.fd(), name);
      if (next.valid()) {
        walk.chain.push_back(std::move(next));
        walk.paths.push_back(path);
        break;
      }
      if (errno == ENOTDIR || errno == ELOOP) refuse_component(walk.fd(), path, create);
      if (errno != ENOENT) throw_errno("cannot open directory", path);
      if (!create) {
        walk = DirectoryWalk();
        return true;
      }
      if (io().mkdirat(walk.fd(), name.c_str(), 0775) == 0) {
        walk.grew.push_back(walk.chain.size() - 1);
      } else if (errno == ENOENT) {
        return false;
      } else if (errno != EEXIST) {
        throw_errno("cannot create directory", path);
      }
    }
  }
  return true;
}

}  // namespace

DirectoryWalk walk_beneath(const std::filesystem::path& root, const std::filesystem::path& relative,
                           bool create) {
  DirectoryWalk walk;
  for (int attempt = 1; !walk_once(root, relative, create, walk); ++attempt) {
    if (attempt == kVanishedParentRetries) {
      throw StorageError(fmt::format("cannot create directory '{}': removed again {} times",
                                     (root / relative).string(), attempt));
    }
  }
  return walk;
}

void write_file_beneath(const std::filesystem::path& root, const std::filesystem::path& relative,
                        std::istream& in, const std::function<void()>& before_rename, mode_t mode) {
  const auto target = root / relative;
  write_file_beneath(
      root, relative,
      [&](int fd, const std::filesystem::path& temp) { copy_stream_to_fd(in, fd, temp); },
      before_rename, mode);
}

void write_file_beneath(const std::filesystem::path& root, const std::filesystem::path& relative,
                        const FileFiller& fill, const std::function<void()>& before_rename,
                        mode_t mode) {
  write_into([&] { return walk_beneath(root, relative.parent_path(), true); }, root / relative,
             fill, before_rename, mode);
}

namespace {

// Opens `name` in `directory` if it is a temporary file whose writer is gone, and returns it
// locked (LOCK_EX) with its size; an invalid descriptor otherwise.
UniqueFd lock_abandoned(int directory, const std::string& name, std::uint64_t& size) {
  if (name.rfind(kTempPrefix, 0) != 0) return UniqueFd();
  // O_NONBLOCK: a FIFO under such a name must not make the open wait for a writer.
  UniqueFd fd(
      io().openat(directory, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0));
  if (!fd.valid()) return UniqueFd();
  // A writer holds LOCK_EX until it has renamed or removed its file; getting the lock means it
  // is gone.
  if (io().flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return UniqueFd();
  struct stat status {};
  if (io().fstat(fd.get(), &status) != 0 || !S_ISREG(status.st_mode)) return UniqueFd();
  size = static_cast<std::uint64_t>(status.st_size);
  return fd;
}

// The directory of `path` and its file name, for the *at calls.
std::pair<std::filesystem::path, std::string> split(const std::filesystem::path& path) {
  return {path.has_parent_path() ? path.parent_path() : ".", path.filename().string()};
}

}  // namespace

std::vector<std::string> temporary_names_in(int directory,
                                            const std::filesystem::path& path_for_errors) {
  // readdir on a descriptor of its own, so that `directory` stays open and unmoved.
  const int own = io().openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  DIR* stream = own >= 0 ? ::fdopendir(own) : nullptr;
  if (stream == nullptr) {
    const int error = errno;
    if (own >= 0) ::close(own);
    errno = error;
    throw_errno("cannot list", path_for_errors);
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(stream)) {
    if (std::strncmp(entry->d_name, kTempPrefix, std::strlen(kTempPrefix)) == 0) {
      names.emplace_back(entry->d_name);
    }
    errno = 0;
  }
  const int error = errno;
  ::closedir(stream);
  if (error != 0) {
    errno = error;
    throw_errno("cannot list", path_for_errors);
  }
  return names;
}

bool remove_if_abandoned_at(int directory, const std::string& name,
                            const std::filesystem::path& path_for_errors, std::uint64_t* bytes) {
  std::uint64_t size = 0;
  const UniqueFd fd = lock_abandoned(directory, name, size);
  if (!fd.valid()) return false;
  // Unlink while holding the lock (see write_file_atomically).
  if (io().unlinkat(directory, name.c_str(), 0) != 0) {
    if (errno == ENOENT) return false;
    throw_errno("cannot remove abandoned temporary file", path_for_errors);
  }
  if (bytes != nullptr) *bytes = size;
  return true;
}

bool remove_if_abandoned(const std::filesystem::path& path, std::uint64_t* bytes) {
  const auto [directory, name] = split(path);
  UniqueFd fd(io().open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return false;
  return remove_if_abandoned_at(fd.get(), name, path, bytes);
}

std::optional<std::uint64_t> abandoned_temporary_file_size(const std::filesystem::path& path) {
  const auto [directory, name] = split(path);
  UniqueFd fd(io().open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::uint64_t size = 0;
  if (!fd.valid() || !lock_abandoned(fd.get(), name, size).valid()) return std::nullopt;
  return size;  // the descriptor, and with it the lock, is gone again
}

bool remove_directory_if_empty(const std::filesystem::path& directory) {
  if (io().rmdir(directory.c_str()) == 0) return true;
  if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOENT) return false;
  throw_errno("cannot remove directory", directory);
}

}  // namespace modelreg::detail

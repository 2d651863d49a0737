#pragma once

// Durable file operations on POSIX: RAII descriptors, fsync of files and directories, and the
// write-temporary / fsync / rename / fsync-directory sequence that makes a file appear whole or
// not at all after a crash.

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace modelreg::detail {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() noexcept;
  void reset() noexcept;

 private:
  int fd_ = -1;
};

// Throws StorageError "<what> '<path>': <strerror(errno)>".
[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& path);

// fsync of a file descriptor / of a directory, so that a rename or creation in it is durable.
void fsync_fd(int fd, const std::filesystem::path& path_for_errors);
void fsync_directory(const std::filesystem::path& directory);

// `path` made absolute against the current directory and lexically normal, so that it keeps
// naming the same file if the process changes its working directory later. Throws StorageError
// naming `what` (e.g. "store directory") if the current directory cannot be read.
std::filesystem::path absolute_path(const std::filesystem::path& path, std::string_view what);

// Creates `directory` and any missing parents, fsyncing the parent of each created one so the
// new entries survive a power loss. Throws StorageError.
void create_directories_durably(const std::filesystem::path& directory);

// A random suffix for temporary names: 16 hex digits.
std::string random_suffix();

// The prefix of every temporary file name; such files are never artifacts.
inline constexpr const char* kTempPrefix = ".tmp-";

// Copies `in` to `target` crash-safely: a locked temporary file in target's directory
// (".tmp-<name>-<random>"), fsync, rename over `target`, fsync of the directory. The temporary
// file is locked (flock) while it is written, so that remove_if_abandoned can tell a live
// writer's file from a dead one's. On failure the temporary file is removed and StorageError is
// thrown; `target` is untouched. `before_rename`, if given, runs once the bytes are durable and
// may throw to abandon the write (e.g. when their checksum does not match).
void write_file_atomically(const std::filesystem::path& target, std::istream& in,
                           const std::function<void()>& before_rename = {});

// Removes `path` if it is a temporary file whose writer is gone (no lock held on it). Returns
// true if it removed it. Safe against a writer that is just creating the file.
bool remove_if_abandoned(const std::filesystem::path& path);

}  // namespace modelreg::detail

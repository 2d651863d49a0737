#pragma once

// Durable file operations on POSIX: RAII descriptors, fsync of files and directories, and the
// write-temporary / fsync / rename / fsync-directory sequence that makes a file appear whole or
// not at all after a crash.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Opens the file a caller gave as an artifact's source, read-only. Throws InvalidArgumentError
// "<noun> '<path>' is a directory", NotFoundError "<noun> '<path>' does not exist", or
// StorageError "cannot open <noun> '<path>': ..." for any other failure.
UniqueFd open_source_file(const std::filesystem::path& path, const std::string& noun);

// fsync of a file descriptor / of a directory, so that a rename or creation in it is durable.
void fsync_fd(int fd, const std::filesystem::path& path_for_errors);
void fsync_directory(const std::filesystem::path& directory);
// As fsync_directory, but a directory that no longer exists (removed meanwhile, e.g. by garbage
// collection), or is no directory, is not an error: returns false then.
bool fsync_directory_if_present(const std::filesystem::path& directory);

// `path` made absolute against the current directory and lexically normal, so that it keeps
// naming the same file if the process changes its working directory later. Throws StorageError
// naming `what` (e.g. "store directory") if the current directory cannot be read.
std::filesystem::path absolute_path(const std::filesystem::path& path, std::string_view what);

// Creates `directory` and any missing parents, fsyncing the parent of each created one so the
// new entries survive a power loss. A parent that another process removes meanwhile (an empty
// directory garbage collection took) is created again. Throws StorageError.
void create_directories_durably(const std::filesystem::path& directory);

// A random suffix for temporary names: 16 hex digits.
std::string random_suffix();

// The prefix of every temporary file name; such files are never artifacts.
inline constexpr const char* kTempPrefix = ".tmp-";

// Copies `in` to `target` crash-safely: a locked temporary file in target's directory
// (".tmp-<name>-<random>"), fsync, rename over `target`, fsync of the directory. The temporary
// file is locked (flock) while it is written, so that remove_if_abandoned can tell a live
// writer's file from a dead one's. On failure the temporary file is removed and StorageError is
// thrown. `before_rename`, if given, runs once the bytes are durable and
// may throw to abandon the write (e.g. when their checksum does not match). Only the last step,
// syncing the directory after the rename, can fail with `target` already replaced: the caller
// that must leave nothing behind removes it then. Target's directory
// may be removed by another process while it is empty (before the temporary file exists): it is
// created again; once the file is renamed into it, its removal (with the file) is another
// writer's later step, not a failure of this one.
void write_file_atomically(const std::filesystem::path& target, std::istream& in,
                           const std::function<void()>& before_rename = {});

// Writes all `size` bytes of `data` into `fd` (`path`, for messages), retrying short writes and
// EINTR; throws StorageError if writing fails.
void write_all(int fd, const char* data, std::size_t size, const std::filesystem::path& path);

// Copies `in` to its end into the file `fd` (`path`, for messages) in bounded memory; throws
// StorageError if `in` fails before its end or writing fails.
void copy_stream_to_fd(std::istream& in, int fd, const std::filesystem::path& path);

// Writes the bytes of a new file into `fd`, the temporary file `temp` (empty, open for reading
// and writing at offset 0); throws to abandon the write.
using FileFiller = std::function<void(int fd, const std::filesystem::path& temp)>;

// As write_file_atomically, with `fill` writing the temporary file instead of a stream's copy
// (a store that can download straight into a file, say).
void fill_file_atomically(const std::filesystem::path& target, const FileFiller& fill,
                          const std::function<void()>& before_rename = {});

// The directory `root`/`relative`, opened one component at a time below `root` with O_NOFOLLOW,
// so that a symlink planted in place of a directory inside the tree is refused rather than
// followed: nothing outside `root` is read or written through it.
struct DirectoryWalk {
  std::vector<UniqueFd> chain;               // root first, then each component of `relative`
  std::vector<std::filesystem::path> paths;  // of each one in chain, for messages
  std::vector<std::size_t> grew;             // indexes into chain of directories given a new entry
  int fd() const { return chain.back().get(); }
};

// Opens `relative` below `root` as above. A missing component is created (0775 less the umask)
// if `create`, else the result has an empty chain. A component that is a symlink is a
// StorageError naming it; one that is no directory is a StorageError if `create` (it cannot be
// made) and a DataLossError otherwise (what was stored there is gone).
DirectoryWalk walk_beneath(const std::filesystem::path& root, const std::filesystem::path& relative,
                           bool create);

// As write_file_atomically, into `relative` (a file name below directories) below `root`,
// through walk_beneath: a symlinked directory on the way is refused, not followed.
// The file is created with `mode` (less the umask).
void write_file_beneath(const std::filesystem::path& root, const std::filesystem::path& relative,
                        std::istream& in, const std::function<void()>& before_rename = {},
                        mode_t mode = 0644);
// As above, with `fill` writing the temporary file instead of a stream's copy.
void write_file_beneath(const std::filesystem::path& root, const std::filesystem::path& relative,
                        const FileFiller& fill, const std::function<void()>& before_rename = {},
                        mode_t mode = 0644);

// The names in the open directory `directory` that start with kTempPrefix. Throws StorageError
// naming `path_for_errors` if it cannot be read.
std::vector<std::string> temporary_names_in(int directory,
                                            const std::filesystem::path& path_for_errors);

// As remove_if_abandoned, for the entry `name` of the open directory `directory`.
bool remove_if_abandoned_at(int directory, const std::string& name,
                            const std::filesystem::path& path_for_errors,
                            std::uint64_t* bytes = nullptr);

// Removes `path` if it is a temporary file (a regular file named kTempPrefix...) whose writer is
// gone (no lock held on it). Returns true if it removed it, and then its size in `*bytes` if
// `bytes` is given. Safe against a writer that is just creating the file. Throws StorageError if
// it cannot be removed.
bool remove_if_abandoned(const std::filesystem::path& path, std::uint64_t* bytes = nullptr);

// The size of `path` if it is a temporary file whose writer is gone (what remove_if_abandoned
// would remove), nullopt otherwise. Changes nothing: the lock is taken only to test it, and
// released at once (a writer that is just creating the file waits for that instant).
std::optional<std::uint64_t> abandoned_temporary_file_size(const std::filesystem::path& path);

// Removes `directory` if it is empty (rmdir). Returns false if it is not empty or no longer
// exists, which is harmless when another process just created a file in it or removed it.
// Throws StorageError for any other failure.
bool remove_directory_if_empty(const std::filesystem::path& directory);

}  // namespace modelreg::detail

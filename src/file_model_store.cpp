#include "modelreg/file_model_store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <functional>
#include <system_error>

#include "fd_stream.hpp"
#include "io.hpp"
#include "modelreg/error.hpp"
#include "modelreg/validation.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace fs = std::filesystem;

namespace {

fs::path absolute_base(const fs::path& base_path) {
  if (base_path.empty()) throw InvalidArgumentError("FileModelStore base path must not be empty");
  return detail::absolute_path(base_path, "store directory");
}

bool is_valid_name(const std::string& name, void (*validate)(std::string_view)) {
  try {
    validate(name);
    return true;
  } catch (const InvalidArgumentError&) {
    return false;  // not one of ours: listing skips it
  }
}

bool vanished(const std::error_code& ec) {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

// Calls `visit` with every entry below `directory` that is not a directory (symlinks are not
// followed). A directory removed meanwhile (by a deletion or garbage collection) is skipped; any
// other error throws StorageError.
void for_each_file_below(const fs::path& directory,
                         const std::function<void(const fs::path&)>& visit) {
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code status_ec;
    const fs::file_status status = it->symlink_status(status_ec);
    if (status_ec) {
      if (vanished(status_ec)) continue;
      ec = status_ec;
      break;
    }
    if (fs::is_directory(status)) {
      for_each_file_below(it->path(), visit);
    } else {
      visit(it->path());
    }
  }
  if (ec && !vanished(ec)) {
    throw StorageError(fmt::format("cannot list '{}': {}", directory.string(), ec.message()));
  }
}

bool has_temporary_name(const fs::path& path) {
  return path.filename().string().rfind(detail::kTempPrefix, 0) == 0;
}

}  // namespace

FileModelStore::FileModelStore(fs::path base_path)
    : base_path_(detail::public_call("FileModelStore", [&] { return absolute_base(base_path); })) {
  detail::public_call("FileModelStore", [&] { detail::create_directories_durably(base_path_); });
}

fs::path FileModelStore::resolve(std::string_view path) const {
  return detail::public_call("FileModelStore::resolve",
                             [&] { return base_path_ / normalize_path(path); });
}

void FileModelStore::save_impl(const std::string& path, std::istream& in) {
  // Directory by directory from the base, never through a symlink planted in the tree; read-only
  // on disk, since a stored artifact is never changed in place (open_verified_artifact relies on
  // it).
  detail::write_file_beneath(base_path_, path, in, {}, 0444);
}

bool FileModelStore::fill_impl(const std::string& path, const FileFill& fill) {
  detail::write_file_beneath(base_path_, path, fill, {}, 0444);  // as save_impl
  return true;
}

namespace {

// Opens the artifact `path` below `base` read-only: walked to without following a symlink, the
// file itself with O_NOFOLLOW and only if it is a regular file.
detail::UniqueFd open_stored(const fs::path& base, const std::string& path) {
  const fs::path relative(path);
  const fs::path file = base / relative;
  const detail::DirectoryWalk directory = detail::walk_beneath(base, relative.parent_path(), false);
  if (directory.chain.empty()) {
    throw NotFoundError(fmt::format("artifact not found: '{}'", file.string()));
  }
  // O_NONBLOCK: opening a FIFO left in the artifact's place must not wait for a writer (it is
  // refused below).
  detail::UniqueFd fd(detail::io().openat(directory.fd(), relative.filename().c_str(),
                                          O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      throw NotFoundError(fmt::format("artifact not found: '{}'", file.string()));
    }
    detail::throw_errno("cannot open artifact", file);
  }
  struct stat status {};
  if (detail::io().fstat(fd.get(), &status) != 0) {
    detail::throw_errno("cannot stat artifact", file);
  }
  if (!S_ISREG(status.st_mode)) {
    throw DataLossError(fmt::format("artifact '{}' is not a regular file", file.string()));
  }
  return fd;
}

}  // namespace

std::unique_ptr<std::istream> FileModelStore::open_impl(const std::string& path) const {
  // Read through the descriptor itself: the very file checked, without /proc.
  return std::make_unique<detail::FdInputStream>(open_stored(base_path_, path));
}

std::optional<ArtifactFile> FileModelStore::open_file_impl(const std::string& path) const {
  detail::UniqueFd fd = open_stored(base_path_, path);
  return ArtifactFile(fd.release(), base_path_ / path);
}

bool FileModelStore::delete_impl(const std::string& path) {
  const fs::path relative(path);
  const fs::path file = base_path_ / relative;
  const fs::path version_dir = file.parent_path();
  // A symlink or a file in place of a directory is refused (not followed, not removed).
  const detail::DirectoryWalk directory =
      detail::walk_beneath(base_path_, relative.parent_path(), false);
  if (directory.chain.empty()) return false;
  // Partial files of writers that died saving this artifact go too (a live writer's are locked
  // and stay).
  for (const std::string& name : detail::temporary_names_in(directory.fd(), version_dir)) {
    detail::remove_if_abandoned_at(directory.fd(), name, version_dir / name);
  }
  bool deleted = true;
  if (detail::io().unlinkat(directory.fd(), relative.filename().c_str(), 0) != 0) {
    if (errno != ENOENT) detail::throw_errno("cannot delete artifact", file);
    deleted = false;
  }
  // The version directory belongs to this (model, version) alone, so removing it when empty
  // cannot race with another writer; the model directory is shared and stays.
  const std::size_t depth = directory.chain.size();
  if (depth >= 2 && detail::io().unlinkat(directory.chain[depth - 2].get(),
                                          version_dir.filename().c_str(), AT_REMOVEDIR) == 0) {
    // Garbage collection may have taken the model directory, empty now, meanwhile: syncing
    // the descriptor of a removed directory is harmless.
    detail::fsync_fd(directory.chain[depth - 2].get(), version_dir.parent_path());
  } else {
    detail::fsync_fd(directory.fd(), version_dir);
  }
  return deleted;
}

std::vector<std::string> FileModelStore::list_impl() const {
  std::vector<std::string> paths;
  const auto fail = [&](const fs::path& directory, const std::error_code& ec) {
    throw StorageError(fmt::format("cannot list store '{}': {}", directory.string(), ec.message()));
  };
  // Entries are taken as they are, symlinks not followed: a symlinked model or version
  // directory, or artifact, is none of the store's.
  const auto is = [](const fs::directory_entry& entry, fs::file_type type) {
    std::error_code ec;
    return entry.symlink_status(ec).type() == type;
  };
  std::error_code ec;
  for (fs::directory_iterator model(base_path_, ec), end; !ec && model != end;
       model.increment(ec)) {
    const std::string name = model->path().filename().string();
    if (!is(*model, fs::file_type::directory) || !is_valid_name(name, validate_model_name)) {
      continue;
    }
    // A model directory removed meanwhile (its last version deleted) holds no artifact.
    std::error_code model_ec;
    for (fs::directory_iterator version(model->path(), model_ec); !model_ec && version != end;
         version.increment(model_ec)) {
      const std::string v = version->path().filename().string();
      if (!is(*version, fs::file_type::directory) || !is_valid_name(v, validate_version)) {
        continue;
      }
      std::error_code file_ec;
      if (fs::symlink_status(version->path() / "model.bin", file_ec).type() ==
          fs::file_type::regular) {
        paths.push_back(name + "/" + v + "/model.bin");
      }
    }
    if (model_ec && !vanished(model_ec)) fail(model->path(), model_ec);
  }
  if (ec) fail(base_path_, ec);
  return paths;
}

std::optional<std::string> FileModelStore::relative_path_impl(std::string_view absolute) const {
  const fs::path relative =
      fs::path(std::string(absolute)).lexically_normal().lexically_relative(base_path_);
  if (relative.empty() || relative.is_absolute() || *relative.begin() == "..") return std::nullopt;
  return relative.generic_string();
}

std::vector<FileModelStore::TemporaryFile> FileModelStore::list_abandoned_temporary_files() const {
  return detail::public_call("list_abandoned_temporary_files", [&] {
    std::vector<TemporaryFile> files;
    for_each_file_below(base_path_, [&](const fs::path& path) {
      if (!has_temporary_name(path)) return;
      if (const auto bytes = detail::abandoned_temporary_file_size(path)) {
        files.push_back(TemporaryFile{path, *bytes});
      }
    });
    std::sort(files.begin(), files.end(),
              [](const TemporaryFile& a, const TemporaryFile& b) { return a.path < b.path; });
    return files;
  });
}

std::vector<FileModelStore::TemporaryFile> FileModelStore::remove_abandoned_temporary_files() {
  return detail::public_call("remove_abandoned_temporary_files", [&] {
    std::vector<TemporaryFile> removed;
    for_each_file_below(base_path_, [&](const fs::path& path) {
      std::uint64_t bytes = 0;
      if (has_temporary_name(path) && detail::remove_if_abandoned(path, &bytes)) {
        removed.push_back(TemporaryFile{path, bytes});
      }
    });
    std::sort(removed.begin(), removed.end(),
              [](const TemporaryFile& a, const TemporaryFile& b) { return a.path < b.path; });
    return removed;
  });
}

std::size_t FileModelStore::remove_temporary_files() {
  return detail::public_call("remove_temporary_files",
                             [&] { return remove_abandoned_temporary_files().size(); });
}

}  // namespace modelreg

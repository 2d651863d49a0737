#include "modelreg/file_model_store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

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
  detail::write_file_atomically(base_path_ / path, in);
}

std::unique_ptr<std::istream> FileModelStore::open_impl(const std::string& path) const {
  const fs::path file = base_path_ / path;
  // Open the descriptor ourselves (O_NOFOLLOW on the file, a regular file only) so that a
  // planted symlink cannot redirect a read outside the store. O_NONBLOCK: opening a FIFO left
  // in the artifact's place must not wait for a writer (it is refused below).
  detail::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) {
      throw NotFoundError(fmt::format("artifact not found: '{}'", file.string()));
    }
    detail::throw_errno("cannot open artifact", file);
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) detail::throw_errno("cannot stat artifact", file);
  if (!S_ISREG(status.st_mode)) {
    throw DataLossError(fmt::format("artifact '{}' is not a regular file", file.string()));
  }
  // libstdc++'s filebuf cannot adopt a descriptor; reopen by /proc path keeps the same inode.
  auto stream =
      std::make_unique<std::ifstream>(fmt::format("/proc/self/fd/{}", fd.get()), std::ios::binary);
  if (!*stream) detail::throw_errno("cannot open artifact", file);
  return stream;
}

bool FileModelStore::delete_impl(const std::string& path) {
  const fs::path file = base_path_ / path;
  const fs::path version_dir = file.parent_path();
  // Partial files of writers that died saving this artifact go too (a live writer's are locked
  // and stay).
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(version_dir, ec)) {
    detail::remove_if_abandoned(entry.path());
  }
  bool deleted = true;
  if (::unlink(file.c_str()) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) detail::throw_errno("cannot delete artifact", file);
    deleted = false;
  }
  // The version directory belongs to this (model, version) alone, so removing it when empty
  // cannot race with another writer; the model directory is shared and stays.
  if (::rmdir(version_dir.c_str()) == 0) {
    detail::fsync_directory(version_dir.parent_path());
  } else if (fs::is_directory(version_dir, ec)) {
    detail::fsync_directory(version_dir);
  }
  return deleted;
}

std::vector<std::string> FileModelStore::list_impl() const {
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& model : fs::directory_iterator(base_path_, ec)) {
    const std::string name = model.path().filename().string();
    if (!model.is_directory() || !is_valid_name(name, validate_model_name)) continue;
    for (const auto& version : fs::directory_iterator(model.path(), ec)) {
      const std::string v = version.path().filename().string();
      if (!version.is_directory() || !is_valid_name(v, validate_version)) continue;
      if (fs::is_regular_file(version.path() / "model.bin")) {
        paths.push_back(name + "/" + v + "/model.bin");
      }
    }
  }
  if (ec) {
    throw StorageError(
        fmt::format("cannot list store '{}': {}", base_path_.string(), ec.message()));
  }
  return paths;
}

std::optional<std::string> FileModelStore::relative_path_impl(std::string_view absolute) const {
  const fs::path relative =
      fs::path(std::string(absolute)).lexically_normal().lexically_relative(base_path_);
  if (relative.empty() || relative.is_absolute() || *relative.begin() == "..") return std::nullopt;
  return relative.generic_string();
}

std::size_t FileModelStore::remove_temporary_files() {
  return detail::public_call("remove_temporary_files", [&] {
    std::size_t removed = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(base_path_, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it->is_regular_file() && detail::remove_if_abandoned(it->path())) ++removed;
    }
    return removed;
  });
}

}  // namespace modelreg

// ModelRegistry::open_verified_artifact: the stored file itself, checked in one pass at hashing
// speed (reading and hashing overlap, hash_pipeline.hpp), or, for a store without files, a
// verified copy in an unnamed temporary file.

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <istream>

#include "file_copy.hpp"
#include "hash_pipeline.hpp"
#include "io.hpp"
#include "modelreg/error.hpp"
#include "modelreg/model_registry.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"
#include "registry_impl.hpp"

namespace modelreg {
namespace {

// Copies `in` into a new unnamed temporary file through `hash`, and returns it opened
// read-only: the file has no name left by then, so it goes away with the descriptor.
ArtifactFile copy_to_unnamed_file(std::istream& in, detail::HashPipeline& hash,
                                  const ModelVersion& version) {
  const auto directory = detail::absolute_path(std::filesystem::temp_directory_path(), "temp");
  const auto path =
      directory / (std::string(detail::kTempPrefix) + "verified-" + detail::random_suffix());
  detail::UniqueFd writer(
      detail::io().open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!writer.valid()) detail::throw_errno("cannot create a temporary file", path);
  detail::UniqueFd reader(detail::io().open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int open_error = errno;
  detail::io().unlink(path.c_str());
  if (!reader.valid()) {
    errno = open_error;
    detail::throw_errno("cannot open the temporary file", path);
  }
  for (;;) {
    char* buffer = hash.acquire();
    in.read(buffer, static_cast<std::streamsize>(hash.buffer_size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    hash.submit(got);
    for (std::size_t done = 0; done < got;) {
      const ssize_t written = detail::io().write(writer.get(), buffer + done, got - done);
      if (written < 0) {
        if (errno == EINTR) continue;
        detail::throw_errno("cannot write the temporary file", path);
      }
      done += static_cast<std::size_t>(written);
    }
  }
  if (in.bad()) {
    throw StorageError(fmt::format("cannot read the artifact of {}", version.full_name()));
  }
  return ArtifactFile(reader.release(), {});
}

}  // namespace

std::optional<ArtifactFile> ModelRegistry::Impl::open_stored_file(
    const ModelVersion& version) const {
  try {
    return store->open_artifact_file(*version.artifact_path);
  } catch (const NotFoundError&) {
    throw DataLossError(fmt::format("artifact of {} is missing from the store (expected '{}')",
                                    version.full_name(), *version.artifact_path));
  }
}

std::optional<ArtifactFile> ModelRegistry::Impl::open_verified_file(
    const ModelVersion& version, detail::FileStamp* before) const {
  auto file = open_stored_file(version);
  if (!file) return std::nullopt;
  if (before != nullptr) *before = detail::stamp_of(file->fd(), version.full_name());
  detail::HashPipeline hash;
  detail::hash_file(file->fd(), hash, version.full_name());
  check_integrity(version, hash.size(), hash.hex_digest());
  return file;
}

std::optional<VerifiedArtifact> ModelRegistry::open_verified_artifact(
    std::string_view name, std::string_view version) const {
  return detail::public_call("open_verified_artifact", [&] {
    return impl_->read_artifact(name, version, [&](const ModelVersion& v) {
      if (auto file = impl_->open_verified_file(v)) {
        return VerifiedArtifact{std::move(*file), v, false};
      }
      detail::HashPipeline hash;
      const auto in = impl_->open_artifact(v);
      auto copy = copy_to_unnamed_file(*in, hash, v);
      check_integrity(v, hash.size(), hash.hex_digest());
      return VerifiedArtifact{std::move(copy), v, true};
    });
  });
}

}  // namespace modelreg

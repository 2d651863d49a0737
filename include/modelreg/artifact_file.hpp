#pragma once

#include <filesystem>
#include <optional>

#include "modelreg/model_version.hpp"

namespace modelreg {

// An artifact as an open, read-only file descriptor, owned: closed when this object is
// destroyed. The descriptor stays valid, reading the same bytes, while it is held, even if the
// version is deleted or its path replaced meanwhile (the file is unlinked, not changed: the
// library never writes a stored artifact in place, and stores them read-only on disk).
class ArtifactFile {
 public:
  // Takes ownership of `fd`. `path` is where the file was when it was opened (empty for an
  // unnamed file).
  ArtifactFile(int fd, std::filesystem::path path) noexcept;
  ~ArtifactFile();
  ArtifactFile(ArtifactFile&& other) noexcept;
  ArtifactFile& operator=(ArtifactFile&& other) noexcept;
  ArtifactFile(const ArtifactFile&) = delete;
  ArtifactFile& operator=(const ArtifactFile&) = delete;

  // The descriptor, for read(), pread() or mmap(PROT_READ); -1 once released.
  int fd() const noexcept { return fd_; }
  // Where the file was stored when it was opened; it may be gone since (a deleted version), the
  // descriptor is not. Empty for a verified copy (VerifiedArtifact::copied).
  const std::filesystem::path& path() const noexcept { return path_; }
  // Gives the descriptor up to the caller, who closes it then.
  int release() noexcept;

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

// The stored artifact of a version, verified against its recorded size and SHA-256 in one pass
// at hashing speed, and handed out as the file itself: serving code reads or maps the bytes
// that were checked, without a copy (see ModelRegistry::open_verified_artifact).
struct VerifiedArtifact {
  ArtifactFile file;
  ModelVersion version;
  // True if the store keeps no artifact files (an in-memory or custom store): `file` is then a
  // verified copy in an unnamed temporary file, which goes away with the descriptor.
  bool copied = false;
};

}  // namespace modelreg

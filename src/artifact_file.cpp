#include "modelreg/artifact_file.hpp"

#include <unistd.h>

#include <utility>

namespace modelreg {

ArtifactFile::ArtifactFile(int fd, std::filesystem::path path) noexcept
    : fd_(fd), path_(std::move(path)) {}

ArtifactFile::~ArtifactFile() {
  if (fd_ >= 0) ::close(fd_);
}

ArtifactFile::ArtifactFile(ArtifactFile&& other) noexcept
    : fd_(other.release()), path_(std::move(other.path_)) {}

ArtifactFile& ArtifactFile::operator=(ArtifactFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
    path_ = std::move(other.path_);
  }
  return *this;
}

int ArtifactFile::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

}  // namespace modelreg

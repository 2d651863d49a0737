#include "atomic_output_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include "modelreg/error.hpp"

namespace modelreg::cli {
namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path) {
  throw StorageError(what + " '" + path.string() + "': " + std::strerror(errno));
}

}  // namespace

AtomicOutputFile::AtomicOutputFile(std::filesystem::path destination)
    : destination_(std::move(destination)) {
  std::filesystem::path dir = destination_.parent_path();
  if (dir.empty()) dir = ".";
  // O_EXCL under a random name (not mkstemp, whose 0600 would need the process-wide umask to
  // correct): the file gets the mode any new file gets.
  std::random_device random;
  for (int attempt = 0; fd_ < 0; ++attempt) {
    temp_ = dir / ("." + destination_.filename().string() + ".modelreg-" +
                   std::to_string(random()) + ".tmp");
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0664);
    if (fd_ < 0 && (errno != EEXIST || attempt == 100)) {
      temp_.clear();
      fail("cannot create a temporary file in", dir);
    }
  }
}

AtomicOutputFile::~AtomicOutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicOutputFile::commit() {
  if (::fsync(fd_) != 0) fail("cannot sync", temp_);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot close", temp_);
  if (::rename(temp_.c_str(), destination_.c_str()) != 0) fail("cannot rename to", destination_);
  committed_ = true;
  std::filesystem::path dir = destination_.parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) fail("cannot open directory", dir);
  const int synced = ::fsync(dir_fd);
  ::close(dir_fd);
  if (synced != 0) fail("cannot sync directory", dir);
}

}  // namespace modelreg::cli

#include "owner_lease.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "fork_guard.hpp"
#include "io.hpp"

namespace modelreg::detail {
namespace {

constexpr const char* kLockSuffix = ".lock";

}  // namespace

std::string new_owner_name() {
  return random_suffix() + random_suffix();
}

ProcessLocalLease::ProcessLocalLease() : WriterLease(new_owner_name()) {}

class LiveOwners::Lease final : public WriterLease {
 public:
  Lease(std::string owner, std::shared_ptr<LiveOwners> owners)
      : WriterLease(std::move(owner)), owners_(std::move(owners)) {}
  ~Lease() override {
    std::lock_guard<std::mutex> lock(owners_->mutex_);
    owners_->owners_.erase(owner());
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

 private:
  std::shared_ptr<LiveOwners> owners_;
};

std::unique_ptr<WriterLease> LiveOwners::acquire() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string owner;
  do {
    owner = new_owner_name();
  } while (owners_.count(owner) != 0);
  owners_.insert(owner);
  return std::make_unique<Lease>(std::move(owner), shared_from_this());
}

bool LiveOwners::is_alive(std::string_view owner) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return owners_.find(owner) != owners_.end();
}

FileLockLease::FileLockLease(std::filesystem::path directory)
    : FileLockLease(directory, acquire(directory)) {}

FileLockLease::FileLockLease(std::filesystem::path directory, Lock lock)
    : WriterLease(std::move(lock.owner)),
      directory_(std::move(directory)),
      lock_(std::move(lock.fd)),
      creator_(::getpid()) {
  guard_from_fork(lock_.get());
  // Lock files of dead owners whose reservations are all gone would pile up otherwise.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory_, ec)) {
    const auto name = entry.path().filename().string();
    const auto suffix = name.rfind(kLockSuffix);
    if (suffix == std::string::npos || name.substr(0, suffix) == owner()) continue;
    is_alive(directory_, name.substr(0, suffix));
  }
}

FileLockLease::Lock FileLockLease::acquire(const std::filesystem::path& directory) {
  create_directories_durably(directory);
  for (;;) {
    Lock lock{new_owner_name(), UniqueFd()};
    const auto path = directory / (lock.owner + kLockSuffix);
    lock.fd = UniqueFd(io().open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!lock.fd.valid()) {
      if (errno == EEXIST) continue;  // the name is taken: draw another
      throw_errno("cannot create lock file", path);
    }
    // Between creating and locking the file, another process may find it unlocked, take its
    // owner for dead and unlink it (see is_alive); a lock on an unlinked file protects
    // nothing, so start over with a new name.
    if (io().flock(lock.fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
    struct stat status {};
    if (io().fstat(lock.fd.get(), &status) != 0) throw_errno("cannot stat", path);
    if (status.st_nlink > 0) return lock;
  }
}

FileLockLease::~FileLockLease() {
  unguard_from_fork(lock_.get());
  // A forked child's copy of the lease is not the lease: its lock file stays the parent's.
  if (::getpid() != creator_) return;
  const auto path = directory_ / (owner() + kLockSuffix);
  io().unlink(path.c_str());  // before closing: nobody may see it unlocked and take it for dead
}

bool FileLockLease::is_alive(const std::filesystem::path& directory, std::string_view owner) {
  // Owner names are our own hex strings; anything else cannot name a file here.
  if (owner.empty() || owner.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return false;
  }
  const auto path = directory / (std::string(owner) + kLockSuffix);
  UniqueFd fd(io().open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return errno != ENOENT;
  if (io().flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return true;
  io().unlink(path.c_str());
  return false;
}

}  // namespace modelreg::detail

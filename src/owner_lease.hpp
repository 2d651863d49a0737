#pragma once

// Who holds a reservation in the catalog, and whether that writer is still alive: recovery must
// undo the half-done work of dead writers and never touch a live one's.

#include <filesystem>
#include <string>

#include "posix_file.hpp"

namespace modelreg::detail {

class OwnerLease {
 public:
  virtual ~OwnerLease() = default;
  // This writer's name, written into every reservation it takes.
  const std::string& owner() const { return owner_; }
  // False only if `owner` is certainly gone (its reservations may be recovered).
  virtual bool is_alive(const std::string& owner) const = 0;

 protected:
  explicit OwnerLease(std::string owner) : owner_(std::move(owner)) {}

 private:
  std::string owner_;
};

// For catalogs that live inside this process: no other writer can be known dead, so nothing is
// ever recovered from others.
class ProcessLocalLease final : public OwnerLease {
 public:
  ProcessLocalLease();
  bool is_alive(const std::string& owner) const override;
};

// For catalogs shared by processes on one machine: the owner holds an exclusive flock on
// `<directory>/<owner>.lock` for its lifetime; the kernel drops the lock when the process dies
// (kill -9 included), so a lock file that can be locked belongs to a dead writer.
class FileLockLease final : public OwnerLease {
 public:
  // Creates `directory` if needed, takes this owner's lock, and removes lock files of dead
  // owners. Throws StorageError.
  explicit FileLockLease(std::filesystem::path directory);
  ~FileLockLease() override;
  bool is_alive(const std::string& owner) const override;

 private:
  struct Lock {
    std::string owner;
    UniqueFd fd;
  };
  FileLockLease(std::filesystem::path directory, Lock lock);
  // Creates and locks a lock file under a new owner name.
  static Lock acquire(const std::filesystem::path& directory);

  std::filesystem::path directory_;
  UniqueFd lock_;
};

}  // namespace modelreg::detail

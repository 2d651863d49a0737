#pragma once

// Writer leases of the catalogs that ship with the library: recovery must undo the half-done
// work of dead writers and never touch a live one's.

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "modelreg/metadata_store.hpp"
#include "posix_file.hpp"

namespace modelreg::detail {

// A fresh random owner name (hex).
std::string new_owner_name();

// For catalogs that live inside this process: no other writer can be known dead, so nothing is
// ever recovered from others.
class ProcessLocalLease final : public WriterLease {
 public:
  ProcessLocalLease();
};

// The writers of a catalog that lives inside this process (InMemoryMetadataStore): alive exactly
// while their lease is held, so that a registry destroyed midway leaves reservations that
// another registry on the same catalog can recover. Thread-safe; leases keep it alive.
class LiveOwners : public std::enable_shared_from_this<LiveOwners> {
 public:
  // A lease under a new owner name, counted alive until it is destroyed.
  std::unique_ptr<WriterLease> acquire();
  // Whether `owner` holds a lease from acquire() (an owner it never issued: no).
  bool is_alive(std::string_view owner) const;

 private:
  class Lease;
  mutable std::mutex mutex_;
  std::set<std::string, std::less<>> owners_;
};

// For catalogs shared by processes on one machine: the owner holds an exclusive flock on
// `<directory>/<owner>.lock` for its lifetime; the kernel drops the lock when the process dies
// (kill -9 included), so a lock file that can be locked belongs to a dead writer. A child forked
// meanwhile neither keeps the lock (fork_guard.hpp) nor removes the file.
class FileLockLease final : public WriterLease {
 public:
  // Creates `directory` if needed, takes this owner's lock, and removes lock files of dead
  // owners. Throws StorageError.
  explicit FileLockLease(std::filesystem::path directory);
  ~FileLockLease() override;

  // Whether the writer `owner` of the leases in `directory` is alive (false only if certainly
  // gone; its lock file is then removed).
  static bool is_alive(const std::filesystem::path& directory, std::string_view owner);

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
  pid_t creator_;  // the process that holds the lease (not a forked child)
};

}  // namespace modelreg::detail

#include "fork_guard.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstddef>

namespace modelreg::detail {
namespace {

// One slot per guarded descriptor, -1 when free. Each writer lease takes one; a process with
// more than this many leases at once leaves the rest unguarded (as before).
constexpr std::size_t kSlots = 256;

struct Table {
  std::array<std::atomic<int>, kSlots> slots;
  Table() {
    for (auto& slot : slots) slot.store(-1, std::memory_order_relaxed);
    ::pthread_atfork(nullptr, nullptr, &Table::in_child);
  }

  // Only async-signal-safe calls: the child of a multithreaded process may run nothing else
  // before exec.
  static void in_child() noexcept;
};

Table& table() {
  static Table instance;
  return instance;
}

void Table::in_child() noexcept {
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (auto& slot : table().slots) {
    const int fd = slot.load(std::memory_order_acquire);
    if (fd < 0) continue;
    // dup3 closes `fd` and reopens it on /dev/null in one step: the number stays taken, so the
    // child's own later close of it (its copy of the lease) closes nothing else.
    if (null_fd < 0 || ::dup3(null_fd, fd, O_CLOEXEC) < 0) ::close(fd);
  }
  if (null_fd >= 0) ::close(null_fd);
}

}  // namespace

bool guard_from_fork(int fd) noexcept {
  if (fd < 0) return false;
  for (auto& slot : table().slots) {
    int expected = -1;
    if (slot.compare_exchange_strong(expected, fd, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void unguard_from_fork(int fd) noexcept {
  if (fd < 0) return;
  for (auto& slot : table().slots) {
    int expected = fd;
    if (slot.compare_exchange_strong(expected, -1, std::memory_order_acq_rel)) return;
  }
}

}  // namespace modelreg::detail

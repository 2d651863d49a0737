#pragma once

// Lock descriptors that a forked child must not keep. A flock lock belongs to the open file
// description, which fork() shares with the child: a child outliving its parent would keep the
// parent's writer lease locked, and so "alive" to recovery, for as long as it runs. Right after
// fork, in the child (pthread_atfork), every guarded descriptor is pointed at /dev/null, so the
// child's copy no longer references the locked file and the parent's lock dies with the parent.
// O_CLOEXEC covers fork() followed by exec(); this covers fork() alone.

namespace modelreg::detail {

// Guards `fd` until unguard_from_fork(fd), which must come before `fd` is closed. Returns false
// (and guards nothing) if the fixed table of guarded descriptors is full. Thread-safe and
// lock-free, so that the child handler needs no lock another thread may have held at the fork.
bool guard_from_fork(int fd) noexcept;
void unguard_from_fork(int fd) noexcept;

}  // namespace modelreg::detail

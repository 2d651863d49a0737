#pragma once

namespace modelreg {

// How much a committed change survives.
enum class Durability {
  // Every commit is fsync'd before it returns: a committed change survives a power loss.
  Full,
  // Commits are not fsync'd (SQLite WAL with synchronous=NORMAL): a committed change survives a
  // crash of the process, the last commits may be lost on a power loss, the database is never
  // corrupted. Artifacts are always fsync'd before their version becomes visible.
  Relaxed,
};

}  // namespace modelreg

#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "modelreg/model_event.hpp"

namespace modelreg {

// Options of ModelRegistry::watch.
struct WatchOptions {
  // How often the catalog is checked for new events, 1 ms .. 1 h. Default 100 ms. For SQLite a
  // check that finds nothing new is one `PRAGMA data_version` (no table is read); a change made
  // by any process on the same registry is seen at the next check. A catalog that notifies of
  // commits (PostgreSQL, through LISTEN/NOTIFY) has the change seen as soon as it is committed;
  // the checks are then only the fallback.
  std::chrono::milliseconds poll_interval{100};
  // Default false: only events that change what serves the model (ModelEvent::changes_serving:
  // Production moves, alias moves, deletions of those). True: every event of the model.
  bool all_events = false;
};

// Called on the subscription's own thread with the new events of the watched model, oldest
// first, in sequence order. Never called while any lock of the registry is held, so it may call
// the registry (load the new Production version, say). An exception it throws is logged and
// the subscription goes on.
using WatchCallback = std::function<void(const std::vector<ModelEvent>& events)>;

// An active watch, returned by ModelRegistry::watch: the callback is called until the
// subscription is cancelled or destroyed (RAII). Move-only.
class Subscription {
 public:
  class State;  // internal

  Subscription() noexcept;  // an inactive subscription
  explicit Subscription(std::unique_ptr<State> state) noexcept;
  Subscription(Subscription&&) noexcept;
  Subscription& operator=(Subscription&&) noexcept;  // cancels the subscription it replaces
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();  // cancel()

  // Stops the watch: when cancel returns, the callback is not running and will not be called
  // again (called from inside the callback, it returns at once and the callback is not called
  // again after it returns). Idempotent; thread-safe.
  void cancel() noexcept;

  // Whether the watch is running (false after cancel, or for a default-constructed one).
  bool active() const noexcept;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace modelreg

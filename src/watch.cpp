// ModelRegistry::watch: one background thread per subscription polls the catalog's newest event
// sequence (cheap: for SQLite a PRAGMA data_version when nothing changed), reads the watched
// model's new events when it moved, and hands them to the callback with no lock held. A catalog
// that notifies of commits (MetadataStore::notify_on_commit) wakes the thread at once; the poll
// interval is then only the fallback.

#include "modelreg/watch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "modelreg/error.hpp"
#include "modelreg/model_registry.hpp"
#include "modelreg/validation.hpp"
#include "public_call.hpp"
#include "registry_impl.hpp"

namespace modelreg {
namespace {

// Events are read in batches of this many, so that a burst of changes is delivered in bounded
// memory.
constexpr std::size_t kBatch = 1000;

// What the watcher thread and the Subscription share: the thread keeps it alive, so that a
// callback that destroys its own subscription does not pull the state from under the thread.
struct Shared {
  std::shared_ptr<MetadataStore> metadata;
  std::string model;
  WatchCallback callback;
  WatchOptions options;
  std::int64_t after = 0;  // newest sequence already looked at; only the thread uses it

  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable idle;  // notified when a callback returns
  bool stopped = false;          // guarded by mutex
  bool calling = false;          // the callback is running; guarded by mutex
  bool notified = false;         // the catalog said something was committed; guarded by mutex

  // Last, so that it is destroyed (unregistered) before the members its callback uses.
  std::unique_ptr<CommitNotification> notification;

  void notify() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      notified = true;
    }
    wake.notify_all();
  }

  bool stopping() {
    std::lock_guard<std::mutex> lock(mutex);
    return stopped;
  }

  // Reads and delivers what happened since `after`. Throws what the catalog throws.
  void poll() {
    std::int64_t latest = metadata->latest_event_sequence();
    while (latest > after && !stopping()) {
      EventQuery query;
      query.model_name = model;
      query.after_sequence = after;
      query.limit = kBatch;
      auto events = metadata->events(query);
      // Every event up to `latest` existed when it was read, so fewer than a batch means all of
      // the model's events up to there (and perhaps later ones) were returned.
      const std::int64_t last_read = events.empty() ? latest : events.back().sequence;
      after = events.size() < kBatch ? std::max(latest, last_read) : last_read;
      if (!options.all_events) {
        events.erase(std::remove_if(events.begin(), events.end(),
                                    [](const ModelEvent& e) { return !e.changes_serving(); }),
                     events.end());
      }
      if (!events.empty()) deliver(events);
      if (after >= latest) latest = metadata->latest_event_sequence();
    }
  }

  void deliver(const std::vector<ModelEvent>& events) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopped) return;
      calling = true;
    }
    try {
      callback(events);
    } catch (const std::exception& e) {
      logger_error(fmt::format("watch of model {}: the callback threw: {}", model, e.what()));
    } catch (...) {
      logger_error(
          fmt::format("watch of model {}: the callback threw a non-standard exception", model));
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      calling = false;
    }
    idle.notify_all();
  }

  static void logger_error(const std::string& message) noexcept {
    detail::log_error("watch", StorageError(message));
  }

  void run() {
    bool failing = false;
    for (;;) {
      try {
        poll();
        if (failing) {
          detail::log_warning(fmt::format("watch of model {}: the catalog answers again", model));
          failing = false;
        }
      } catch (const std::exception& e) {
        // A catalog that cannot be read now may be readable at the next poll (a locked or busy
        // database, a dropped connection): report it once, keep trying.
        if (!failing) {
          detail::log_warning(fmt::format(
              "watch of model {}: cannot read the catalog (retrying): {}", model, e.what()));
        }
        failing = true;
      }
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait_for(lock, options.poll_interval, [&] { return stopped || notified; });
      if (stopped) return;
      notified = false;
    }
  }
};

}  // namespace

class Subscription::State {
 public:
  explicit State(std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)),
        thread_([shared = shared_] { shared->run(); }),
        thread_id_(thread_.get_id()) {}
  ~State() { cancel(); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  void cancel() noexcept {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->stopped = true;
    }
    shared_->wake.notify_all();
    // One caller at a time joins or detaches the thread (two cancels may run at once).
    if (thread_id_ == std::this_thread::get_id()) {
      // Cancelled from inside the callback: the thread ends when the callback returns, and
      // keeps the shared state alive until then. If another thread is joining it right now,
      // that join completes once the callback returns; otherwise nobody will join it.
      std::unique_lock<std::mutex> lock(join_mutex_, std::try_to_lock);
      if (lock.owns_lock() && thread_.joinable()) thread_.detach();
      return;
    }
    {
      // A callback that cancelled its own subscription detached the thread, and nobody joins
      // it: wait here for that callback to return.
      std::unique_lock<std::mutex> lock(shared_->mutex);
      shared_->idle.wait(lock, [&] { return !shared_->calling; });
    }
    std::lock_guard<std::mutex> join(join_mutex_);
    if (thread_.joinable()) thread_.join();
  }

  bool active() const noexcept {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return !shared_->stopped;
  }

 private:
  std::shared_ptr<Shared> shared_;
  std::mutex join_mutex_;  // held while the thread is joined or detached
  std::thread thread_;
  const std::thread::id thread_id_;  // thread_.get_id() is not safe once another cancel joined
};

Subscription::Subscription() noexcept = default;
Subscription::Subscription(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Subscription::Subscription(Subscription&&) noexcept = default;

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    cancel();
    state_ = std::move(other.state_);
  }
  return *this;
}

Subscription::~Subscription() {
  cancel();
}

void Subscription::cancel() noexcept {
  if (state_) state_->cancel();
}

bool Subscription::active() const noexcept {
  return state_ && state_->active();
}

Subscription ModelRegistry::watch(std::string_view name, WatchCallback callback,
                                  const WatchOptions& options) const {
  return detail::public_call("watch", [&] {
    validate_model_name(name);
    if (!callback) throw InvalidArgumentError("watch needs a callback");
    using std::chrono::milliseconds;
    if (options.poll_interval < milliseconds(1) || options.poll_interval > milliseconds(3600000)) {
      throw InvalidArgumentError(
          fmt::format("poll interval {} ms is outside 1 ms .. 1 h", options.poll_interval.count()));
    }
    auto shared = std::make_shared<Shared>();
    shared->metadata = impl_->metadata;
    shared->model = std::string(name);
    shared->callback = std::move(callback);
    shared->options = options;
    // Registered before the starting point is read, so that no commit falls in between.
    shared->notification =
        impl_->metadata->notify_on_commit([raw = shared.get()](std::int64_t) { raw->notify(); });
    shared->after = impl_->metadata->latest_event_sequence();
    return Subscription(std::make_unique<Subscription::State>(std::move(shared)));
  });
}

}  // namespace modelreg

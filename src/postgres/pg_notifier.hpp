#pragma once

// PostgresMetadataStore::notify_on_commit: one thread per store LISTENs on a connection of its
// own to the channel that the events table's trigger notifies (payload: the newest sequence
// number of the statement's events) and calls every registered callback. When its connection
// breaks it connects again, and after every LISTEN it calls the callbacks with 0, since
// notifications sent while it was not listening are lost: the watchers then read the history
// from where they were.

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "modelreg/metadata_store.hpp"
#include "postgres/pg_database.hpp"

namespace modelreg::detail::pg {

// The channel the schema's trigger notifies.
inline constexpr const char* kEventsChannel = "modelreg_events";

class Notifier {
 public:
  // Starts the listening thread. Throws StorageError if it cannot be started.
  explicit Notifier(const Database& database);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  std::unique_ptr<CommitNotification> subscribe(std::function<void(std::int64_t)> wake);

 private:
  class Registration;

  void run();
  // Waits until the socket is readable, the notifier is stopped or `timeout_ms` passed (-1:
  // no limit). Returns false once stopped.
  bool wait(int socket, int timeout_ms);
  void call_all(std::int64_t sequence);
  void unsubscribe(std::uint64_t id);

  const Database& database_;
  std::mutex mutex_;  // guards subscribers_ and next_id_; held while callbacks run
  std::map<std::uint64_t, std::function<void(std::int64_t)>> subscribers_;
  std::uint64_t next_id_ = 1;
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;  // an eventfd that the destructor signals
  std::thread thread_;
};

}  // namespace modelreg::detail::pg

#include "postgres/pg_notifier.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "public_call.hpp"

namespace modelreg::detail::pg {

class Notifier::Registration final : public CommitNotification {
 public:
  Registration(Notifier& notifier, std::uint64_t id) : notifier_(notifier), id_(id) {}
  ~Registration() override { notifier_.unsubscribe(id_); }

 private:
  Notifier& notifier_;
  std::uint64_t id_;
};

Notifier::Notifier(const Database& database) : database_(database) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    throw StorageError(fmt::format("{}: cannot create an eventfd for notifications: {}",
                                   database_.label(), std::strerror(errno)));
  }
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    ::close(wake_fd_);
    throw StorageError(
        fmt::format("{}: cannot start the notification thread: {}", database_.label(), e.what()));
  }
}

Notifier::~Notifier() {
  stop_ = true;
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(wake_fd_);
}

std::unique_ptr<CommitNotification> Notifier::subscribe(std::function<void(std::int64_t)> wake) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::uint64_t id = next_id_++;
  subscribers_.emplace(id, std::move(wake));
  return std::make_unique<Registration>(*this, id);
}

void Notifier::unsubscribe(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  subscribers_.erase(id);
}

void Notifier::call_all(std::int64_t sequence) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, wake] : subscribers_) wake(sequence);
}

bool Notifier::wait(int socket, int timeout_ms) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
  const nfds_t count = socket >= 0 ? 2 : 1;
  while (::poll(fds, count, timeout_ms) < 0 && errno == EINTR) {
  }
  return !stop_;
}

void Notifier::run() {
  bool failing = false;
  int backoff_ms = 50;
  while (!stop_) {
    std::unique_ptr<Connection> connection;
    try {
      connection = database_.connect();
      connection->exec(fmt::format("LISTEN {}", kEventsChannel).c_str());
    } catch (const std::exception& e) {
      if (!failing) {
        log_warning(
            fmt::format("{}: cannot listen for commits (retrying; watchers poll "
                        "meanwhile): {}",
                        database_.label(), e.what()));
      }
      failing = true;
      if (!wait(-1, backoff_ms)) return;
      backoff_ms = std::min(backoff_ms * 2, 2000);
      continue;
    }
    if (failing) log_warning(fmt::format("{}: listening for commits again", database_.label()));
    failing = false;
    backoff_ms = 50;
    call_all(0);  // whatever was committed while nobody listened
    PGconn* conn = connection->handle();
    while (wait(PQsocket(conn), -1)) {
      if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) break;  // reconnect
      std::int64_t newest = -1;
      while (PGnotify* notification = PQnotifies(conn)) {
        newest = std::max<std::int64_t>(newest, std::strtoll(notification->extra, nullptr, 10));
        PQfreemem(notification);
      }
      if (newest >= 0) call_all(newest);
    }
  }
}

}  // namespace modelreg::detail::pg

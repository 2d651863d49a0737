#pragma once

// Running test code in forked child processes: forking, waiting with a deadline, reaping
// whatever a failed test leaves running, a start gate that lets children go at once, and the
// artifact source that stops a child midway.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "modelreg/logging.hpp"

namespace modelreg::testing {

// Replaces modelreg's logger with one that discards everything: in a child process, expected
// errors would otherwise flood the test output.
inline void silence_modelreg_logging() {
  set_logger(std::make_shared<spdlog::logger>("modelreg-child",
                                              std::make_shared<spdlog::sinks::null_sink_mt>()));
}

// Runs `body` in a new child process and returns the child's pid (-1, with errno, if fork
// failed). The child dies with its parent and leaves through _exit with the value `body`
// returns, so that nothing of the parent's test runner runs twice; an exception escaping `body`
// is reported on stderr and exits with 120.
inline pid_t fork_child(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int status = 120;
  try {
    status = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %d threw: %s\n", static_cast<int>(::getpid()), e.what());
  } catch (...) {
    std::fprintf(stderr, "child %d threw\n", static_cast<int>(::getpid()));
  }
  ::_exit(status);
}

struct ChildWait {
  int status = -1;         // as waitpid reports it
  bool timed_out = false;  // the child was still running at the deadline and has been killed
};

// Waits for `pid` until `deadline`. A child still running then is killed with SIGKILL and
// reaped, so that a hung child fails the test instead of hanging it.
inline ChildWait wait_for_child(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  ChildWait result;
  for (;;) {
    const pid_t done = ::waitpid(pid, &result.status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) return result;
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &result.status, 0) < 0 && errno == EINTR) {
      }
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling waitpid, no timing
  }
}

inline bool exited_cleanly(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

inline bool killed_by_sigkill(int status) {
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

// Forked child processes, killed and reaped if the test ends before they do.
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (pid_t pid : running_) ::kill(pid, SIGKILL);
    for (pid_t pid : running_) ::waitpid(pid, nullptr, 0);
  }

  // Runs `body` in a new child process (see fork_child); its return value is the child's exit
  // status.
  pid_t spawn(const std::function<int()>& body) {
    const pid_t pid = fork_child(body);
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    running_.push_back(pid);
    return pid;
  }

  // Waits for `pid` and returns its wait status. A child still running at `deadline` is killed
  // (and reported as killed), so that a hung child fails the test instead of hanging it. Callers
  // waiting for several children pass them one deadline, so that timeouts do not add up.
  int wait(pid_t pid, std::chrono::steady_clock::time_point deadline) {
    const ChildWait result = wait_for_child(pid, deadline);
    if (result.timed_out) {
      std::fprintf(stderr, "child %d still running at its deadline: killed\n",
                   static_cast<int>(pid));
    }
    running_.erase(std::remove(running_.begin(), running_.end(), pid), running_.end());
    return result.status;
  }

 private:
  std::vector<pid_t> running_;
};

// The lines of a text file (none if it cannot be read).
inline std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Writes a child's outcome file in one go at the end, through a temporary name, so that the
// parent never mistakes a child that died midway for one that finished.
inline void write_outcome(const std::filesystem::path& path, const std::string& contents) {
  const std::filesystem::path temp = path.string() + ".partial";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << contents;
  }
  std::filesystem::rename(temp, path);
}

// A start line for processes. Created before forking; each child calls child_side() first
// thing, then arrive_and_wait() once it is ready; the parent calls release() once it has forked
// every child (and done whatever must happen before the children go): it waits until all are
// ready, then lets them go at the same instant (the end of file on the "go" pipe wakes every
// reader at once).
class StartGate {
 public:
  StartGate() {
    if (::pipe2(ready_, O_CLOEXEC) != 0 || ::pipe2(go_, O_CLOEXEC) != 0) {
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
  }
  ~StartGate() {
    for (int fd : {ready_[0], ready_[1], go_[0], go_[1]}) {
      if (fd >= 0) ::close(fd);
    }
  }
  StartGate(const StartGate&) = delete;
  StartGate& operator=(const StartGate&) = delete;

  void child_side() {
    close_fd(go_[1]);
    close_fd(ready_[0]);
  }

  void arrive_and_wait() {
    const char ready = 'r';
    while (::write(ready_[1], &ready, 1) < 0 && errno == EINTR) {
    }
    close_fd(ready_[1]);
    char go = 0;
    while (::read(go_[0], &go, 1) < 0 && errno == EINTR) {
    }
    close_fd(go_[0]);
  }

  // Returns false if fewer than `count` children became ready within `timeout` (some died);
  // the gate opens in any case so that no child waits forever.
  bool release(int count, std::chrono::seconds timeout) {
    close_fd(ready_[1]);
    close_fd(go_[0]);
    int arrived = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (arrived < count && std::chrono::steady_clock::now() < deadline) {
      pollfd fd{ready_[0], POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (::poll(&fd, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) continue;
      char buffer[16];
      const ssize_t n = ::read(ready_[0], buffer, sizeof buffer);
      if (n == 0) break;  // every child has closed its end: the missing ones died
      if (n > 0) arrived += static_cast<int>(n);
    }
    close_fd(go_[1]);
    return arrived == count;
  }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  int ready_[2] = {-1, -1};
  int go_[2] = {-1, -1};
};

// An artifact source of `size` bytes that calls `at_stop` once `stop_after` of them have been
// delivered (to kill its own process, or to pause it), then delivers the rest.
class InterruptingStreamBuf : public std::streambuf {
 public:
  InterruptingStreamBuf(std::size_t size, std::size_t stop_after, std::function<void()> at_stop)
      : size_(size), stop_after_(stop_after), at_stop_(std::move(at_stop)) {}

 protected:
  int_type underflow() override {
    if (delivered_ >= size_) return traits_type::eof();
    if (!stopped_ && delivered_ >= stop_after_) {
      stopped_ = true;
      at_stop_();
    }
    std::size_t n = std::min(chunk_.size(), size_ - delivered_);
    if (!stopped_) n = std::min(n, stop_after_ - delivered_);
    for (std::size_t i = 0; i < n; ++i) chunk_[i] = static_cast<char>((delivered_ + i) * 31 % 251);
    delivered_ += n;
    setg(chunk_.data(), chunk_.data(), chunk_.data() + n);
    return traits_type::to_int_type(chunk_[0]);
  }

 private:
  std::size_t size_;
  std::size_t stop_after_;
  std::function<void()> at_stop_;
  std::size_t delivered_ = 0;
  bool stopped_ = false;
  std::array<char, 1 << 16> chunk_{};
};

}  // namespace modelreg::testing

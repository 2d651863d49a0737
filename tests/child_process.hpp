#pragma once

// Running test code in forked child processes: forking, waiting with a deadline, reaping
// whatever a failed test leaves running, and the artifact source that stops a child midway.

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

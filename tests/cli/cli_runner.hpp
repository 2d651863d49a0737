#pragma once

// Driving the installed modelreg binary (MODELREG_CLI_PATH) from GoogleTest: spawning it with
// posix_spawn, its stdout and stderr captured through pipes (or stderr on a pseudo-terminal),
// its exit code; and a fixture with a fresh registry directory per test.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_dir.hpp"

extern char** environ;

namespace modelreg::cli_testing {

using namespace std::chrono_literals;

// How to start the tool.
struct SpawnOptions {
  // MODELREG_REGISTRY for the child; nullopt: unset (an inherited one is removed too).
  std::optional<std::filesystem::path> registry;
  // stderr on a pseudo-terminal (isatty(2) is true in the child) instead of a pipe.
  bool stderr_tty = false;
};

// A running modelreg: its output is read as it comes. Killed and reaped by the destructor if it
// is still running.
class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& args, const SpawnOptions& options) {
    int out_pipe[2];
    int err_pipe[2] = {-1, -1};
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::string tty_name;
    if (options.stderr_tty) {
      err_fd_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (err_fd_ < 0 || ::grantpt(err_fd_) != 0 || ::unlockpt(err_fd_) != 0) {
        throw std::runtime_error("no pseudo-terminal");
      }
      tty_name = ::ptsname(err_fd_);
    } else if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    if (options.stderr_tty) {
      posix_spawn_file_actions_addopen(&actions, 2, tty_name.c_str(), O_RDWR | O_NOCTTY, 0);
    } else {
      posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    }

    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "MODELREG_REGISTRY=", 18) != 0) env.emplace_back(*e);
    }
    if (options.registry) env.push_back("MODELREG_REGISTRY=" + options.registry->string());
    std::vector<char*> envp;
    for (auto& entry : env) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_storage{MODELREG_CLI_PATH};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);

    const int spawned =
        ::posix_spawn(&pid_, MODELREG_CLI_PATH, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    out_fd_ = out_pipe[0];
    if (!options.stderr_tty) {
      ::close(err_pipe[1]);
      err_fd_ = err_pipe[0];
    }
    if (spawned != 0) {
      pid_ = -1;
      throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(spawned));
    }
  }

  ~CliProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  // Reads stdout and stderr until `done()` holds, both are closed, or `timeout` passes.
  // Returns whether `done()` held.
  bool read_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (out_fd_ < 0 && err_fd_ < 0) return done();
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return done();
      pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(std::min<long>(left.count(), 100)));
      if (ready < 0 && errno != EINTR) throw std::runtime_error("poll failed");
      if (ready <= 0) continue;
      drain(fds[0], out_fd_, out_);
      drain(fds[1], err_fd_, err_);
    }
    return true;
  }

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

  void send(int signal_number) { ::kill(pid_, signal_number); }

  // Reads the output to its end and reaps the process. Returns its exit code, 128 + the signal
  // if a signal ended it, or -1 if it was still running after `timeout` (then it is killed).
  int finish(std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    read_until([] { return false; }, timeout);
    int status = 0;
    for (;;) {
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        ADD_FAILURE() << "modelreg still running after its deadline: killed";
        return -1;
      }
      std::this_thread::sleep_for(5ms);
    }
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
  }

 private:
  static void drain(const pollfd& fd, int& owned, std::string& into) {
    if (owned < 0 || (fd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) return;
    char buffer[65536];
    const ssize_t n = ::read(owned, buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {  // end of file; EIO from a pty whose child is gone
      ::close(owned);
      owned = -1;
    }
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;

  // stdout as one JSON document (a test failure, and null, if it is not one).
  nlohmann::json json() const {
    nlohmann::json document = nlohmann::json::parse(out, nullptr, false);
    if (document.is_discarded()) ADD_FAILURE() << "stdout is not JSON:\n" << out;
    return document;
  }
};

inline std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  return os << "exit " << r.exit_code << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

inline RunResult run_cli(const std::vector<std::string>& args, const SpawnOptions& options,
                         std::chrono::milliseconds timeout = 60s) {
  CliProcess process(args, options);
  RunResult result;
  result.exit_code = process.finish(timeout);
  result.out = process.out();
  result.err = process.err();
  return result;
}

// A test with its own registry directory (MODELREG_REGISTRY), not created until a command
// creates it.
class CliTest : public ::testing::Test {
 protected:
  std::filesystem::path registry() const { return dir_.path() / "registry"; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  RunResult run(const std::vector<std::string>& args) const {
    return run_cli(args, SpawnOptions{registry(), false});
  }

  // Runs a command that must succeed.
  RunResult ok(const std::vector<std::string>& args) const {
    RunResult result = run(args);
    EXPECT_EQ(result.exit_code, 0) << result;
    return result;
  }
  nlohmann::json ok_json(std::vector<std::string> args) const {
    args.insert(args.begin(), "--json");
    return ok(args).json();
  }

  // A file of `size` bytes (a repeating pattern) in the test directory.
  std::filesystem::path make_file(const std::string& name, std::size_t size) const {
    const auto path = dir() / name;
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + 7) % 251);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  // What a command may change: every version and model, the history's newest events, the
  // artifact files and their sizes.
  std::string snapshot() const {
    std::string text;
    if (std::filesystem::exists(registry())) {
      const RunResult versions = run({"--json", "search", "", "--max-results", "10000"});
      const RunResult models = run({"--json", "list"});
      EXPECT_EQ(versions.exit_code, 0) << versions;
      EXPECT_EQ(models.exit_code, 0) << models;
      text = versions.out + models.out;
    }
    const auto artifacts = registry() / "artifacts";
    if (std::filesystem::exists(artifacts)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(artifacts)) {
        text += entry.path().string();
        if (entry.is_regular_file()) text += " " + std::to_string(entry.file_size());
        text += "\n";
      }
    }
    return text;
  }

 private:
  testing::TestDir dir_{"modelreg-cli"};
};

// The exit codes of docs/cli.md.
enum Exit : int {
  kOk = 0,
  kFailure = 1,
  kUsage = 2,
  kNotFound = 3,
  kAlreadyExists = 4,
  kInvalidArgument = 5,
  kFailedPrecondition = 6,
  kStorage = 7,
  kDataLoss = 8,
};

}  // namespace modelreg::cli_testing

#pragma once

// A progress bar on stderr for large artifact transfers (register --artifact, get), and the
// stream buffers that count the bytes going through. Only when a person watches: stderr is a
// terminal, neither --quiet nor --json, and the artifact is at least kProgressThreshold bytes;
// CI logs never see it.

#include <chrono>
#include <cstdint>
#include <streambuf>
#include <string>
#include <vector>

#include "cli_context.hpp"

namespace modelreg::cli {

inline constexpr std::uint64_t kProgressThreshold = std::uint64_t{8} << 20;  // 8 MiB

// Whether a transfer of `bytes` shows a progress bar (see above).
bool wants_progress(const GlobalOptions& options, std::uint64_t bytes);

// "\r<label> [#####.....]  45%  123.4 MiB / 456.7 MiB", redrawn at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::string label, std::uint64_t total);
  ~ProgressBar();  // ends the line if finish() was not called
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void advance(std::uint64_t bytes);
  // Draws the final state and ends the line. Idempotent.
  void finish();

 private:
  void draw();

  std::string label_;
  std::uint64_t total_;
  std::uint64_t done_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
  bool finished_ = false;
};

// Reads a file descriptor (not owned) for an std::istream, advancing `progress` by every chunk.
// A read error throws from underflow, which the stream turns into badbit: the library then
// fails the registration instead of storing a truncated artifact.
class CountingInputBuf : public std::streambuf {
 public:
  CountingInputBuf(int fd, ProgressBar& progress);

 protected:
  int_type underflow() override;

 private:
  int fd_;
  ProgressBar& progress_;
  std::vector<char> buffer_;
};

// Writes to a file descriptor (not owned) for an std::ostream, advancing `progress` by every
// chunk. A write error makes overflow/sync fail (the stream's badbit).
class CountingOutputBuf : public std::streambuf {
 public:
  CountingOutputBuf(int fd, ProgressBar& progress);
  ~CountingOutputBuf() override = default;

 protected:
  int_type overflow(int_type c) override;
  int sync() override;

 private:
  bool flush_buffer();

  int fd_;
  ProgressBar& progress_;
  std::vector<char> buffer_;
};

}  // namespace modelreg::cli

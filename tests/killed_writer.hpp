#pragma once

// Writers that die mid-upload, for the tests of crash recovery against servers
// (s3_model_store_test.cpp, shared_registry_test.cpp): a stream of pattern bytes that fails or
// blocks at a given offset, and a child process killed with SIGKILL while its upload is under
// way.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <ios>
#include <streambuf>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace modelreg::testing {

// A stream of `size` pattern bytes that fails (badbit) once `fail_at` bytes are out, or blocks
// then (after writing a byte to `ready_fd`) if `block` is set: a writer stuck or killed mid-save.
class PatternBuf : public std::streambuf {
 public:
  PatternBuf(std::size_t size, std::size_t fail_at, bool block = false, int ready_fd = -1)
      : size_(size), fail_at_(fail_at), block_(block), ready_fd_(ready_fd), chunk_(64 * 1024) {}

 protected:
  int_type underflow() override {
    if (given_ >= size_) return traits_type::eof();
    if (given_ >= fail_at_) {
      if (!block_) throw std::ios_base::failure("source broke");
      if (ready_fd_ >= 0) (void)!::write(ready_fd_, "r", 1);
      for (;;) ::pause();
    }
    const std::size_t n = std::min(chunk_.size(), size_ - given_);
    for (std::size_t i = 0; i < n; ++i) chunk_[i] = static_cast<char>((given_ + i) * 7 % 251);
    given_ += n;
    setg(chunk_.data(), chunk_.data(), chunk_.data() + n);
    return traits_type::to_int_type(chunk_[0]);
  }

 private:
  std::size_t size_, fail_at_;
  bool block_;
  int ready_fd_;
  std::size_t given_ = 0;
  std::vector<char> chunk_;
};

inline std::string pattern_text(std::size_t size) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>(i * 7 % 251);
  return text;
}

// Runs `writer` in a child process with the write end of a pipe, waits until the writer says
// (through it) that its upload is under way, and kills it there with SIGKILL.
inline void kill_writer_mid_upload(const std::function<void(int ready_fd)>& writer) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  Children children;
  const pid_t child = children.spawn([&] {
    silence_modelreg_logging();
    writer(ready[1]);
    return 1;
  });
  ::close(ready[1]);  // so that the read ends if the child dies first
  char byte = 0;
  const auto got = ::read(ready[0], &byte, 1);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  children.wait(child, std::chrono::steady_clock::now() + std::chrono::seconds(30));
  ASSERT_EQ(got, 1) << "the writer died before its upload began";
}

}  // namespace modelreg::testing

#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ios>

#include "output.hpp"

namespace modelreg::cli {
namespace {

constexpr std::size_t kChunk = std::size_t{1} << 20;
constexpr int kBarWidth = 30;

void write_stderr(const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a progress bar that cannot be drawn is not worth failing for
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

bool wants_progress(const GlobalOptions& options, std::uint64_t bytes) {
  return !options.quiet && !options.json && bytes >= kProgressThreshold &&
         ::isatty(STDERR_FILENO) == 1;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total)
    : label_(std::move(label)), total_(total) {
  draw();
}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::advance(std::uint64_t bytes) {
  done_ += bytes;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= std::chrono::milliseconds(100)) draw();
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  draw();
  write_stderr("\n");
}

void ProgressBar::draw() {
  last_draw_ = std::chrono::steady_clock::now();
  const double fraction =
      total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kBarWidth - filled), '.');
  char percent[16];
  std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(fraction * 100));
  const std::string done = human_size(done_);
  write_stderr("\r" + label_ + " [" + bar + "] " + percent + "  " + done + " / " +
               human_size(total_) + "\x1b[K");
}

CountingInputBuf::CountingInputBuf(int fd, ProgressBar& progress)
    : fd_(fd), progress_(progress), buffer_(kChunk) {}

CountingInputBuf::int_type CountingInputBuf::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  ssize_t n = 0;
  do {
    n = ::read(fd_, buffer_.data(), buffer_.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    throw std::ios_base::failure(std::string("cannot read artifact: ") + std::strerror(errno));
  if (n == 0) return traits_type::eof();
  progress_.advance(static_cast<std::uint64_t>(n));
  setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
  return traits_type::to_int_type(*gptr());
}

CountingOutputBuf::CountingOutputBuf(int fd, ProgressBar& progress)
    : fd_(fd), progress_(progress), buffer_(kChunk) {
  setp(buffer_.data(), buffer_.data() + buffer_.size());
}

bool CountingOutputBuf::flush_buffer() {
  const char* data = pbase();
  const auto size = static_cast<std::size_t>(pptr() - pbase());
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd_, data + written, size - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<std::size_t>(n);
  }
  progress_.advance(size);
  setp(buffer_.data(), buffer_.data() + buffer_.size());
  return true;
}

CountingOutputBuf::int_type CountingOutputBuf::overflow(int_type c) {
  if (!flush_buffer()) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

int CountingOutputBuf::sync() {
  return flush_buffer() ? 0 : -1;
}

}  // namespace modelreg::cli

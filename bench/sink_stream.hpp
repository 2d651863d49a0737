#pragma once

// An std::ostream that takes what it is given without storing it: the bytes handed to a caller
// that parses them as they arrive, without the parsing, whose cost is the caller's whatever the
// source. It counts them and reads one byte of every 4 KiB page (so that the delivery cannot be
// optimized away). For the stream loads of the artifact benchmarks, whose baseline (a read +
// SHA-256 in one pass) writes nowhere either.

#include <cstdint>
#include <ostream>
#include <streambuf>

namespace modelreg::bench {

class SinkBuf final : public std::streambuf {
 public:
  std::uint64_t size() const { return size_; }
  std::uint64_t checksum() const { return checksum_; }

 protected:
  std::streamsize xsputn(const char* data, std::streamsize count) override {
    for (std::streamsize i = 0; i < count; i += 4096) {
      checksum_ += static_cast<unsigned char>(data[i]);
    }
    size_ += static_cast<std::uint64_t>(count);
    return count;
  }
  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    const char byte = traits_type::to_char_type(ch);
    xsputn(&byte, 1);
    return ch;
  }

 private:
  std::uint64_t size_ = 0;
  std::uint64_t checksum_ = 0;
};

class SinkStream final : public std::ostream {
 public:
  SinkStream() : std::ostream(nullptr) { rdbuf(&buf_); }
  std::uint64_t size() const { return buf_.size(); }
  std::uint64_t checksum() const { return buf_.checksum(); }

 private:
  SinkBuf buf_;
};

}  // namespace modelreg::bench

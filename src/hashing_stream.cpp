#include "hashing_stream.hpp"

namespace modelreg::detail {

HashingInputBuf::HashingInputBuf(std::istream& source, std::size_t buffer_size)
    : source_(source), hash_(buffer_size) {}

HashingInputBuf::int_type HashingInputBuf::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  if (!source_.good()) {
    if (!source_.eof()) source_failed_ = true;
    return traits_type::eof();
  }
  // The buffer handed out before is the consumer's no longer; the hasher may still read it.
  char* buffer = hash_.acquire();
  source_.read(buffer, static_cast<std::streamsize>(hash_.buffer_size()));
  const auto got = source_.gcount();
  if (source_.bad() || (source_.fail() && !source_.eof())) source_failed_ = true;
  if (got <= 0) return traits_type::eof();
  hash_.submit(static_cast<std::size_t>(got));
  setg(buffer, buffer, buffer + got);
  return traits_type::to_int_type(*gptr());
}

MemoryInputBuf::MemoryInputBuf(const void* data, std::size_t size) {
  // std::streambuf's get area is char*; nothing ever writes through it.
  char* begin = const_cast<char*>(static_cast<const char*>(data));
  setg(begin, begin, begin + size);
}

MemoryInputBuf::pos_type MemoryInputBuf::seekoff(off_type off, std::ios_base::seekdir dir,
                                                 std::ios_base::openmode which) {
  if (!(which & std::ios_base::in)) return pos_type(off_type(-1));
  off_type base = 0;
  if (dir == std::ios_base::cur) base = gptr() - eback();
  if (dir == std::ios_base::end) base = egptr() - eback();
  const off_type target = base + off;
  if (target < 0 || target > egptr() - eback()) return pos_type(off_type(-1));
  setg(eback(), eback() + target, egptr());
  return pos_type(target);
}

MemoryInputBuf::pos_type MemoryInputBuf::seekpos(pos_type pos, std::ios_base::openmode which) {
  return seekoff(off_type(pos), std::ios_base::beg, which);
}

}  // namespace modelreg::detail

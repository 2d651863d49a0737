#include "fd_stream.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ios>

#include "io.hpp"

namespace modelreg::detail {

FdInputBuf::FdInputBuf(UniqueFd fd, std::size_t buffer_size)
    : fd_(std::move(fd)), buffer_(buffer_size) {
  setg(buffer_.data(), buffer_.data(), buffer_.data());
}

std::ptrdiff_t FdInputBuf::read_some(char* data, std::size_t size) {
  for (;;) {
    const ssize_t got = io().read(fd_.get(), data, size);
    if (got >= 0 || errno != EINTR) return got;
  }
}

FdInputBuf::int_type FdInputBuf::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  const std::ptrdiff_t got = read_some(buffer_.data(), buffer_.size());
  if (got < 0) throw std::ios_base::failure("read failed");  // istream turns it into badbit
  setg(buffer_.data(), buffer_.data(), buffer_.data() + got);
  return got == 0 ? traits_type::eof() : traits_type::to_int_type(*gptr());
}

std::streamsize FdInputBuf::xsgetn(char_type* data, std::streamsize count) {
  std::streamsize done = 0;
  while (done < count) {
    if (gptr() == egptr()) {
      // Large reads go straight into the caller's memory; small ones through the buffer.
      const auto want = static_cast<std::size_t>(count - done);
      if (want >= buffer_.size()) {
        const std::ptrdiff_t got = read_some(data + done, want);
        if (got < 0) throw std::ios_base::failure("read failed");
        if (got == 0) break;
        done += got;
        continue;
      }
      if (traits_type::eq_int_type(underflow(), traits_type::eof())) break;
    }
    const std::streamsize take = std::min<std::streamsize>(count - done, egptr() - gptr());
    traits_type::copy(data + done, gptr(), static_cast<std::size_t>(take));
    gbump(static_cast<int>(take));
    done += take;
  }
  return done;
}

FdInputBuf::pos_type FdInputBuf::seekoff(off_type off, std::ios_base::seekdir dir,
                                         std::ios_base::openmode which) {
  if ((which & std::ios_base::in) == 0) return pos_type(off_type(-1));
  // The file's offset is past what is still buffered.
  const off_type unread = egptr() - gptr();
  off_type target = 0;
  if (dir == std::ios_base::cur) {
    const off_t here = ::lseek(fd_.get(), 0, SEEK_CUR);
    if (here < 0) return pos_type(off_type(-1));
    if (off == 0) return pos_type(here - unread);  // tellg(): nothing moves
    target = here - unread + off;
  } else if (dir == std::ios_base::beg) {
    target = off;
  } else {
    const off_t end = ::lseek(fd_.get(), 0, SEEK_END);
    if (end < 0) return pos_type(off_type(-1));
    target = end + off;
  }
  return seekpos(pos_type(target), which);
}

FdInputBuf::pos_type FdInputBuf::seekpos(pos_type pos, std::ios_base::openmode which) {
  if ((which & std::ios_base::in) == 0) return pos_type(off_type(-1));
  const off_t at = ::lseek(fd_.get(), static_cast<off_t>(off_type(pos)), SEEK_SET);
  if (at < 0) return pos_type(off_type(-1));
  setg(buffer_.data(), buffer_.data(), buffer_.data());
  return pos_type(at);
}

}  // namespace modelreg::detail

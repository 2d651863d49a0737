#pragma once

// An std::istream that reads an open file descriptor it owns (libstdc++'s filebuf cannot adopt
// one, and reopening it through /proc/self/fd needs /proc). Seekable where the file is, so that
// tellg() and seekg() work on regular files. A read error sets badbit.

#include <cstddef>
#include <istream>
#include <streambuf>
#include <vector>

#include "posix_file.hpp"

namespace modelreg::detail {

class FdInputBuf final : public std::streambuf {
 public:
  explicit FdInputBuf(UniqueFd fd, std::size_t buffer_size = std::size_t{1} << 20);

 protected:
  int_type underflow() override;
  std::streamsize xsgetn(char_type* data, std::streamsize count) override;
  pos_type seekoff(off_type off, std::ios_base::seekdir dir,
                   std::ios_base::openmode which) override;
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override;

 private:
  // read(2) until something arrives, EOF (0) or an error (-1, errno set); EINTR is retried.
  std::ptrdiff_t read_some(char* data, std::size_t size);

  UniqueFd fd_;
  std::vector<char> buffer_;
};

class FdInputStream final : public std::istream {
 public:
  explicit FdInputStream(UniqueFd fd) : std::istream(nullptr), buf_(std::move(fd)) { rdbuf(&buf_); }

 private:
  FdInputBuf buf_;
};

}  // namespace modelreg::detail

#pragma once

// Stream buffers that hash and count the bytes passing through them, so an artifact is hashed
// while it is copied (one pass, bounded memory).

#include <cstdint>
#include <istream>
#include <streambuf>
#include <vector>

#include "sha256.hpp"

namespace modelreg::detail {

// Reads from `source`, hashing and counting every byte handed out.
class HashingInputBuf : public std::streambuf {
 public:
  explicit HashingInputBuf(std::istream& source, std::size_t buffer_size = 1 << 20);

  std::uint64_t size() const { return size_; }
  std::string hex_digest() { return hash_.hex_digest(); }
  // True if the source stream failed for a reason other than reaching its end.
  bool source_failed() const { return source_failed_; }

 protected:
  int_type underflow() override;

 private:
  std::istream& source_;
  std::vector<char> buffer_;
  Sha256 hash_;
  std::uint64_t size_ = 0;
  bool source_failed_ = false;
};

// A read-only stream over memory that the caller keeps alive.
class MemoryInputBuf : public std::streambuf {
 public:
  MemoryInputBuf(const void* data, std::size_t size);

 protected:
  pos_type seekoff(off_type off, std::ios_base::seekdir dir,
                   std::ios_base::openmode which) override;
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override;
};

}  // namespace modelreg::detail

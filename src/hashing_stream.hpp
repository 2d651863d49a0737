#pragma once

// Stream buffers that hash and count the bytes passing through them, so an artifact is hashed
// while it is copied (one pass, bounded memory; the hashing runs on a thread of its own beside
// the copy, see hash_pipeline.hpp).

#include <cstdint>
#include <istream>
#include <streambuf>
#include <vector>

#include "hash_pipeline.hpp"

namespace modelreg::detail {

// Reads from `source`, hashing and counting every byte handed out.
class HashingInputBuf : public std::streambuf {
 public:
  explicit HashingInputBuf(std::istream& source, std::size_t buffer_size = 1 << 20);

  std::uint64_t size() const { return hash_.size(); }
  // Call once, when the reader is done.
  std::string hex_digest() { return hash_.hex_digest(); }
  // True if the source stream failed for a reason other than reaching its end.
  bool source_failed() const { return source_failed_; }

 protected:
  int_type underflow() override;

 private:
  std::istream& source_;
  HashPipeline hash_;
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

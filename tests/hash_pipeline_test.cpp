// The pipelined SHA-256 (src/hash_pipeline.hpp) and the hashing stream built on it: the digest
// and the count are those of one plain pass over the same bytes, for every length around the
// buffer size and the ring's length, whatever the reader's chunk size; a failing source is
// reported. Labelled concurrency: it runs under ThreadSanitizer too.

#include "hash_pipeline.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include "hashing_stream.hpp"
#include "sha256.hpp"

namespace modelreg::detail {
namespace {

constexpr std::size_t kBuffer = 4096;

std::string bytes_of(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint32_t state = 12345;
  for (char& byte : bytes) {
    state = state * 1103515245 + 12345;
    byte = static_cast<char>(state >> 24);
  }
  return bytes;
}

std::vector<std::size_t> lengths() {
  std::vector<std::size_t> sizes{0, 1, kBuffer - 1, kBuffer, kBuffer + 1};
  for (std::size_t buffers : {std::size_t{2}, HashPipeline::kBuffers, HashPipeline::kBuffers + 1,
                              3 * HashPipeline::kBuffers + 1, std::size_t{40}}) {
    sizes.push_back(buffers * kBuffer - 1);
    sizes.push_back(buffers * kBuffer);
    sizes.push_back(buffers * kBuffer + 7);
  }
  return sizes;
}

TEST(HashPipelineTest, DigestAndSizeAreThoseOfOnePlainPass) {
  for (const std::size_t size : lengths()) {
    SCOPED_TRACE(size);
    const std::string bytes = bytes_of(size);
    HashPipeline pipeline(kBuffer);
    for (std::size_t at = 0; at < size;) {
      const std::size_t n = std::min(kBuffer, size - at);
      char* buffer = pipeline.acquire();
      std::copy(bytes.data() + at, bytes.data() + at + n, buffer);
      pipeline.submit(n);
      at += n;
    }
    EXPECT_EQ(pipeline.size(), size);
    EXPECT_EQ(pipeline.hex_digest(), sha256_hex(bytes.data(), bytes.size()));
  }
}

TEST(HashPipelineTest, AnAbandonedPipelineStopsItsThread) {
  // Destroyed midway (the copy failed): the hasher finishes or drops its work and is joined.
  HashPipeline pipeline(kBuffer);
  for (int i = 0; i < 10; ++i) {
    char* buffer = pipeline.acquire();
    std::fill(buffer, buffer + kBuffer, 'x');
    pipeline.submit(kBuffer);
  }
  EXPECT_EQ(pipeline.size(), 10 * kBuffer);
}

TEST(HashingInputBufTest, ReadersOfAnyChunkSizeGetTheBytesAndTheirDigest) {
  for (const std::size_t size : lengths()) {
    for (const std::size_t chunk : {std::size_t{1}, std::size_t{1000}, kBuffer, 3 * kBuffer}) {
      SCOPED_TRACE(::testing::Message() << size << " bytes read " << chunk << " at a time");
      const std::string bytes = bytes_of(size);
      std::istringstream source(bytes);
      HashingInputBuf hashing(source, kBuffer);
      std::istream in(&hashing);
      std::string copy;
      std::vector<char> buffer(chunk);
      while (in.read(buffer.data(), static_cast<std::streamsize>(chunk)) || in.gcount() > 0) {
        copy.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
      }
      EXPECT_EQ(copy, bytes);
      EXPECT_FALSE(hashing.source_failed());
      EXPECT_EQ(hashing.size(), size);
      EXPECT_EQ(hashing.hex_digest(), sha256_hex(bytes.data(), bytes.size()));
    }
  }
}

// Hands out `good` bytes, then fails as a read error would.
class FailingBuf final : public std::streambuf {
 public:
  explicit FailingBuf(std::size_t good) : left_(good) {}

 protected:
  int_type underflow() override {
    if (left_ == 0) throw std::ios_base::failure("injected read error");
    --left_;
    byte_ = 'a';
    setg(&byte_, &byte_, &byte_ + 1);
    return traits_type::to_int_type(byte_);
  }

 private:
  std::size_t left_;
  char byte_ = 0;
};

TEST(HashingInputBufTest, ASourceThatFailsMidwayIsReported) {
  FailingBuf failing(5 * kBuffer + 3);
  std::istream source(&failing);
  HashingInputBuf hashing(source, kBuffer);
  std::istream in(&hashing);
  std::string copy((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(hashing.source_failed());
  // What was handed out before the failure is what was counted (the failing read's own bytes
  // are lost with it).
  EXPECT_GE(copy.size(), 5 * kBuffer);
  EXPECT_EQ(hashing.size(), copy.size());
  EXPECT_EQ(copy, std::string(copy.size(), 'a'));
}

}  // namespace
}  // namespace modelreg::detail

#pragma once

// SHA-256 of a sequence of buffers, computed on a thread of its own while the caller goes on
// reading and writing, so that hashing an artifact overlaps its copy instead of adding to it.
// The buffers form a small fixed ring (bounded memory): the caller fills one, submits it, and
// fills the next while the hasher works through those submitted, in order. The first two
// buffers are hashed inline (no thread for small artifacts).

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sha256.hpp"

namespace modelreg::detail {

class HashPipeline {
 public:
  static constexpr std::size_t kBuffers = 4;

  explicit HashPipeline(std::size_t buffer_size = std::size_t{1} << 20);
  ~HashPipeline();
  HashPipeline(const HashPipeline&) = delete;
  HashPipeline& operator=(const HashPipeline&) = delete;

  std::size_t buffer_size() const { return buffer_size_; }

  // The next buffer of the ring to fill, once the hasher is done with it (waits until then).
  // The one acquired before stays untouched until the hasher has read it.
  char* acquire();
  // Hands the buffer last acquired, holding `size` bytes, to the hasher.
  void submit(std::size_t size);

  // While `on`, every buffer is hashed on the caller's thread as it is submitted, and no thread
  // is started: for input that costs little to read (the page cache), where a second thread
  // would only add its hand-offs. Off again, the thread starts at the next submission.
  void hash_inline(bool on) { hold_inline_ = on; }

  // Bytes submitted so far.
  std::uint64_t size() const { return size_; }
  // The lower-case hex digest of everything submitted (waits for the hasher). Call once.
  std::string hex_digest();

 private:
  void run();
  void start();

  const std::size_t buffer_size_;
  std::vector<std::unique_ptr<char[]>> buffers_;
  Sha256 hash_;
  std::uint64_t size_ = 0;
  std::size_t filling_ = 0;      // index of the buffer last acquired
  std::uint64_t submitted_ = 0;  // buffers submitted
  bool inline_ = true;           // no thread yet: the first two buffers are hashed at once
  bool hold_inline_ = false;     // see hash_inline

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::size_t> sizes_;  // of each buffer while it waits for the hasher
  std::uint64_t hashed_ = 0;        // buffers the hasher has finished
  bool stopping_ = false;
  std::thread hasher_;
};

}  // namespace modelreg::detail

#include "hash_pipeline.hpp"

#include <system_error>

namespace modelreg::detail {

HashPipeline::HashPipeline(std::size_t buffer_size)
    : buffer_size_(buffer_size), sizes_(kBuffers, 0) {
  // Not zeroed: every byte is written before it is hashed.
  buffers_.emplace_back(new char[buffer_size_]);
}

HashPipeline::~HashPipeline() {
  if (!hasher_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  hasher_.join();
}

char* HashPipeline::acquire() {
  if (inline_) return buffers_[0].get();  // hashed already, or never submitted
  filling_ = static_cast<std::size_t>(submitted_ % kBuffers);
  std::unique_lock<std::mutex> lock(mutex_);
  // Buffer i is free again once every submission before the one it will be is hashed.
  changed_.wait(lock, [&] { return submitted_ - hashed_ < kBuffers; });
  return buffers_[filling_].get();
}

void HashPipeline::start() {
  for (std::size_t i = buffers_.size(); i < kBuffers; ++i) {
    buffers_.emplace_back(new char[buffer_size_]);
  }
  try {
    hasher_ = std::thread([this] { run(); });
    inline_ = false;
  } catch (const std::system_error&) {
    // No thread to be had: hash inline, as for a small artifact.
  }
}

void HashPipeline::submit(std::size_t size) {
  size_ += size;
  if (inline_) {
    hash_.update(buffers_[0].get(), size);
    ++submitted_;
    hashed_ = submitted_;
    // From the third buffer on, hashing goes to the thread; the first two are hashed already
    // (so that a sequence of up to two buffers, often one and an empty read after it, costs
    // no thread and no more buffers). Unless held inline (hash_inline).
    if (submitted_ >= 2 && !hold_inline_) start();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[filling_] = size;
    ++submitted_;
  }
  changed_.notify_all();
}

void HashPipeline::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || hashed_ < submitted_; });
    if (hashed_ == submitted_) return;  // stopping, nothing left
    const std::size_t index = static_cast<std::size_t>(hashed_ % kBuffers);
    const std::size_t size = sizes_[index];
    lock.unlock();
    hash_.update(buffers_[index].get(), size);
    lock.lock();
    ++hashed_;
    changed_.notify_all();
  }
}

std::string HashPipeline::hex_digest() {
  if (!inline_) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return hashed_ == submitted_; });
  }
  return hash_.hex_digest();
}

}  // namespace modelreg::detail

#include "modelreg/in_memory_model_store.hpp"

#include <fmt/format.h>

#include <istream>

#include "hashing_stream.hpp"
#include "modelreg/error.hpp"

namespace modelreg {
namespace {

// A stream over an artifact that keeps the artifact's buffer alive while it is read.
class SharedBytesStream : public std::istream {
 public:
  explicit SharedBytesStream(std::shared_ptr<const Bytes> bytes)
      : std::istream(nullptr), bytes_(std::move(bytes)), buffer_(bytes_->data(), bytes_->size()) {
    rdbuf(&buffer_);
  }

 private:
  std::shared_ptr<const Bytes> bytes_;
  detail::MemoryInputBuf buffer_;
};

}  // namespace

void InMemoryModelStore::save_impl(const std::string& path, std::istream& in) {
  // Read outside the lock: the stream may be slow or large.
  auto bytes = std::make_shared<Bytes>();
  char buffer[1 << 16];
  while (in.good()) {
    in.read(buffer, sizeof buffer);
    bytes->insert(bytes->end(), buffer, buffer + in.gcount());
  }
  if (in.bad() || !in.eof()) {
    throw StorageError(fmt::format("reading the artifact for '{}' failed before its end", path));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  artifacts_[path] = std::move(bytes);
}

std::unique_ptr<std::istream> InMemoryModelStore::open_impl(const std::string& path) const {
  std::shared_ptr<const Bytes> bytes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = artifacts_.find(path);
    if (it == artifacts_.end()) throw NotFoundError(fmt::format("artifact not found: {}", path));
    bytes = it->second;
  }
  return std::make_unique<SharedBytesStream>(std::move(bytes));
}

bool InMemoryModelStore::delete_impl(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  return artifacts_.erase(path) > 0;
}

std::vector<std::string> InMemoryModelStore::list_impl() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> paths;
  paths.reserve(artifacts_.size());
  for (const auto& entry : artifacts_) paths.push_back(entry.first);
  return paths;
}

}  // namespace modelreg

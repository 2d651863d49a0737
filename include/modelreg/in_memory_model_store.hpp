#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "modelreg/model_store.hpp"

namespace modelreg {

// Keeps artifacts in memory (the seed's InMemoryModelStore): for tests and short-lived tools.
// Thread-safe: every access, reads included, happens under one lock; artifacts are shared
// immutable buffers, so a reader never sees a half-written artifact.
class InMemoryModelStore final : public ModelStore {
 public:
  InMemoryModelStore() = default;

 private:
  void save_impl(const std::string& path, std::istream& in) override;
  std::unique_ptr<std::istream> open_impl(const std::string& path) const override;
  bool delete_impl(const std::string& path) override;
  std::vector<std::string> list_impl() const override;

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Bytes>> artifacts_;
};

}  // namespace modelreg

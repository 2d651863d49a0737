#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace modelreg::detail {

// Incremental SHA-256 over OpenSSL's EVP interface. Not thread-safe; one per computation.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  // The lower-case hex digest of everything passed to update(). Call once.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

// The lower-case hex SHA-256 of `size` bytes at `data`.
std::string sha256_hex(const void* data, std::size_t size);

}  // namespace modelreg::detail

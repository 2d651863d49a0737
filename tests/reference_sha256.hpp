#pragma once

// A reference SHA-256, computed with OpenSSL's EVP API directly, to check the digests the
// registry records. It shares no code with the library's own wrapper (src/sha256.cpp), only
// libcrypto underneath; ReferenceSha256Test.MatchesTheFipsTestVectors pins it to FIPS 180-4.

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace modelreg::testing {

class ReferenceSha256 {
 public:
  ReferenceSha256() : context_(EVP_MD_CTX_new()) {
    if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("ReferenceSha256: EVP_DigestInit_ex failed");
    }
  }

  void update(const void* data, std::size_t size) {
    if (EVP_DigestUpdate(context_.get(), data, size) != 1) {
      throw std::runtime_error("ReferenceSha256: EVP_DigestUpdate failed");
    }
  }

  // The digest of everything passed to update(), in lowercase hex. Call it once.
  std::string hex_digest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context_.get(), digest, &length) != 1) {
      throw std::runtime_error("ReferenceSha256: EVP_DigestFinal_ex failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
      hex += kHex[digest[i] >> 4];
      hex += kHex[digest[i] & 0xf];
    }
    return hex;
  }

 private:
  struct FreeContext {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, FreeContext> context_;
};

}  // namespace modelreg::testing

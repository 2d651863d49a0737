#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace modelreg {

// The in-memory form of an artifact (the seed's `bytes`).
using Bytes = std::vector<std::uint8_t>;

// Copies the characters of `text` into a Bytes value.
inline Bytes to_bytes(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

// Copies `bytes` into a std::string (handy for text artifacts and tests).
inline std::string to_string(const Bytes& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace modelreg

#pragma once

// Deterministic pseudo-random bytes (splitmix64), so that a test can regenerate an artifact from
// its seed instead of keeping or passing its bytes around.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "modelreg/bytes.hpp"

namespace modelreg::testing {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Fills `out` with the next `size` bytes of the stream that `state` is at, and advances it.
inline void fill_pseudo_random(std::uint64_t& state, char* out, std::size_t size) {
  for (std::size_t i = 0; i < size; i += 8) {
    const std::uint64_t word = splitmix64(state);
    std::memcpy(out + i, &word, std::min<std::size_t>(8, size - i));
  }
}

// The first `size` bytes of the stream that starts at `seed`.
inline Bytes pseudo_random_bytes(std::size_t size, std::uint64_t seed) {
  Bytes bytes(size);
  fill_pseudo_random(seed, reinterpret_cast<char*>(bytes.data()), size);
  return bytes;
}

}  // namespace modelreg::testing

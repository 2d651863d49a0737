#pragma once

// UTF-8 well-formedness, for text that must survive JSON and SQL TEXT columns unchanged.

#include <cstddef>
#include <string_view>

namespace modelreg::detail {

// The offset of the first byte of `text` that does not start a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequence),
// or text.size() if all of it is well-formed.
inline std::size_t first_invalid_utf8(std::string_view text) noexcept {
  const std::size_t n = text.size();
  std::size_t i = 0;
  auto byte = [&](std::size_t at) { return static_cast<unsigned char>(text[at]); };
  auto continuation = [&](std::size_t at, unsigned char low, unsigned char high) {
    return at < n && byte(at) >= low && byte(at) <= high;
  };
  while (i < n) {
    const unsigned char c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The second byte's range depends on the first (Unicode Table 3-7): this is what refuses
    // overlong forms (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    std::size_t length = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) low = 0xa0;
      if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;
    } else {
      return i;
    }
    if (!continuation(i + 1, low, high)) return i;
    for (std::size_t k = 2; k < length; ++k) {
      if (!continuation(i + k, 0x80, 0xbf)) return i;
    }
    i += length;
  }
  return n;
}

inline bool is_valid_utf8(std::string_view text) noexcept {
  return first_invalid_utf8(text) == text.size();
}

}  // namespace modelreg::detail

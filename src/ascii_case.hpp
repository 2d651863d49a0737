#pragma once

// ASCII-only case folding, for keywords and names that are ASCII by definition: unlike
// std::tolower it does not depend on the C locale.

#include <cstddef>
#include <string_view>

namespace modelreg::detail {

inline char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace modelreg::detail

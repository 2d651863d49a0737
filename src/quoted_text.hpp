#pragma once

// Quoting of caller input in error messages.

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace modelreg::detail {

// `text` quoted as JSON (ASCII only) and shortened: safe to print whatever it contains (NUL,
// control characters, invalid UTF-8, 10,000 characters).
inline std::string quoted_text(std::string_view text) {
  constexpr std::size_t kShown = 40;
  std::string shown(text.substr(0, kShown));
  std::string out =
      nlohmann::json(shown).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (text.size() > kShown) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

}  // namespace modelreg::detail

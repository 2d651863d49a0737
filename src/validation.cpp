#include "modelreg/validation.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "modelreg/error.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace {

// The input quoted as JSON, shortened: safe to print whatever it contains (NUL, control
// characters, invalid UTF-8, 10,000 characters).
std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 40;
  std::string shown(text.substr(0, kShown));
  std::string out =
      nlohmann::json(shown).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (text.size() > kShown) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void validate_identifier(std::string_view value, const char* what, std::size_t max_length,
                         std::string_view extra_chars) {
  if (value.empty()) throw InvalidArgumentError(fmt::format("{} must not be empty", what));
  if (value.size() > max_length) {
    throw InvalidArgumentError(
        fmt::format("{} {} is longer than {} characters", what, quoted(value), max_length));
  }
  if (!is_alnum(value.front())) {
    throw InvalidArgumentError(
        fmt::format("{} {} must start with a letter or digit", what, quoted(value)));
  }
  for (const char c : value) {
    if (!is_alnum(c) && extra_chars.find(c) == std::string_view::npos) {
      throw InvalidArgumentError(fmt::format(
          "{} {} contains a character that is not allowed (allowed: letters, digits and '{}')",
          what, quoted(value), extra_chars));
    }
  }
}

void check_tag(std::string_view key, std::string_view value) {
  if (key.empty()) throw InvalidArgumentError("tag key must not be empty");
  if (key.size() > 250) {
    throw InvalidArgumentError(
        fmt::format("tag key {} is longer than 250 characters", quoted(key)));
  }
  for (const char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      throw InvalidArgumentError(
          fmt::format("tag key {} contains a control character", quoted(key)));
    }
  }
  if (value.size() > 5000) {
    throw InvalidArgumentError(
        fmt::format("value of tag {} is longer than 5000 characters", quoted(key)));
  }
  if (value.find('\0') != std::string_view::npos) {
    throw InvalidArgumentError(
        fmt::format("value of tag {} contains a NUL character", quoted(key)));
  }
}

}  // namespace

void validate_model_name(std::string_view name) {
  detail::public_call("validate_model_name",
                      [&] { validate_identifier(name, "model name", kMaxModelNameLength, "._-"); });
}

void validate_version(std::string_view version) {
  detail::public_call("validate_version",
                      [&] { validate_identifier(version, "version", kMaxVersionLength, "._+-"); });
}

void validate_tag(std::string_view key, std::string_view value) {
  detail::public_call("validate_tag", [&] { check_tag(key, value); });
}

}  // namespace modelreg

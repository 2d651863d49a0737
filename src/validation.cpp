#include "modelreg/validation.hpp"

#include <fmt/format.h>

#include <string>

#include "ascii_case.hpp"
#include "modelreg/error.hpp"
#include "public_call.hpp"
#include "quoted_text.hpp"
#include "utf8.hpp"

namespace modelreg {
namespace {

using detail::quoted_text;

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void validate_identifier(std::string_view value, const char* what, std::size_t max_length,
                         std::string_view extra_chars) {
  if (value.empty()) throw InvalidArgumentError(fmt::format("{} must not be empty", what));
  if (value.size() > max_length) {
    throw InvalidArgumentError(
        fmt::format("{} {} is longer than {} characters", what, quoted_text(value), max_length));
  }
  if (!is_alnum(value.front())) {
    throw InvalidArgumentError(
        fmt::format("{} {} must start with a letter or digit", what, quoted_text(value)));
  }
  for (const char c : value) {
    if (!is_alnum(c) && extra_chars.find(c) == std::string_view::npos) {
      throw InvalidArgumentError(fmt::format(
          "{} {} contains a character that is not allowed (allowed: letters, digits and '{}')",
          what, quoted_text(value), extra_chars));
    }
  }
}

void check_tag(std::string_view key, std::string_view value) {
  if (key.empty()) throw InvalidArgumentError("tag key must not be empty");
  if (key.size() > 250) {
    throw InvalidArgumentError(
        fmt::format("tag key {} is longer than 250 characters", quoted_text(key)));
  }
  for (const char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      throw InvalidArgumentError(
          fmt::format("tag key {} contains a control character", quoted_text(key)));
    }
  }
  if (value.size() > 5000) {
    throw InvalidArgumentError(
        fmt::format("value of tag {} is longer than 5000 characters", quoted_text(key)));
  }
  if (value.find('\0') != std::string_view::npos) {
    throw InvalidArgumentError(
        fmt::format("value of tag {} contains a NUL character", quoted_text(key)));
  }
}

void check_alias(std::string_view alias) {
  if (alias.empty()) throw InvalidArgumentError("alias must not be empty");
  if (alias.size() > kMaxAliasLength) {
    throw InvalidArgumentError(
        fmt::format("alias {} is longer than {} characters", quoted_text(alias), kMaxAliasLength));
  }
  for (const char c : alias) {
    if (!is_alnum(c) && c != '_' && c != '-') {
      throw InvalidArgumentError(fmt::format(
          "alias {} contains a character that is not allowed (allowed: letters, digits, '_' "
          "and '-')",
          quoted_text(alias)));
    }
  }
  if (detail::equals_ignoring_case(alias, "latest")) {
    throw InvalidArgumentError(fmt::format(
        "alias {} is reserved (models:/name/latest names the latest version)", quoted_text(alias)));
  }
  // "v" alone is not reserved: only a 'v' followed by a version number is (as in MLflow).
  if (alias.size() > 1 && detail::ascii_lower(alias[0]) == 'v' &&
      alias.find_first_not_of("0123456789", 1) == std::string_view::npos) {
    throw InvalidArgumentError(fmt::format(
        "alias {} is reserved ('v' followed by digits refers to a version)", quoted_text(alias)));
  }
}

void check_description(std::string_view description) {
  constexpr std::size_t kMaxDescriptionLength = 65536;
  if (description.size() > kMaxDescriptionLength) {
    throw InvalidArgumentError(fmt::format("description of {} bytes is longer than {} bytes",
                                           description.size(), kMaxDescriptionLength));
  }
  if (const auto nul = description.find('\0'); nul != std::string_view::npos) {
    throw InvalidArgumentError(fmt::format("description contains a NUL character at byte {}", nul));
  }
  if (const auto bad = detail::first_invalid_utf8(description); bad != description.size()) {
    throw InvalidArgumentError(
        fmt::format("description is not valid UTF-8 (at byte {} of {})", bad, description.size()));
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

void validate_alias(std::string_view alias) {
  detail::public_call("validate_alias", [&] { check_alias(alias); });
}

void validate_description(std::string_view description) {
  detail::public_call("validate_description", [&] { check_description(description); });
}

}  // namespace modelreg

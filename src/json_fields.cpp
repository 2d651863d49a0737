#include "json_fields.hpp"

#include <fmt/format.h>

#include "modelreg/error.hpp"

namespace modelreg::detail {

void require_object(const nlohmann::json& j, const char* what) {
  if (!j.is_object()) {
    throw InvalidArgumentError(
        fmt::format("{} must be a JSON object, got {}", what, j.type_name()));
  }
}

std::string string_value(const nlohmann::json& j, const char* field) {
  if (!j.is_string()) {
    throw InvalidArgumentError(fmt::format("'{}' must be a string, got {}", field, j.type_name()));
  }
  return j.get<std::string>();
}

std::string required_string(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) throw InvalidArgumentError(fmt::format("missing field '{}'", field));
  return string_value(*it, field);
}

std::string optional_string(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return {};
  return string_value(*it, field);
}

std::map<std::string, std::string> string_map(const nlohmann::json& j, const char* field) {
  std::map<std::string, std::string> result;
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return result;
  require_object(*it, field);
  for (const auto& [key, value] : it->items()) result[key] = string_value(value, field);
  return result;
}

Timestamp optional_timestamp(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return Timestamp{};
  return parse_timestamp(string_value(*it, field));
}

}  // namespace modelreg::detail

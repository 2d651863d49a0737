#pragma once

// Reading fields of the library's JSON documents with InvalidArgumentError (not nlohmann's
// exceptions) for anything malformed.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/timestamp.hpp"

namespace modelreg::detail {

void require_object(const nlohmann::json& j, const char* what);
std::string string_value(const nlohmann::json& j, const char* field);
std::string required_string(const nlohmann::json& j, const char* field);
// "" when absent or null.
std::string optional_string(const nlohmann::json& j, const char* field);
// Empty when absent or null; every value must be a string.
std::map<std::string, std::string> string_map(const nlohmann::json& j, const char* field);
// Empty when absent or null; every element must be a string.
std::vector<std::string> string_list(const nlohmann::json& j, const char* field);
// nullopt when absent or null.
std::optional<std::string> nullable_string(const nlohmann::json& j, const char* field);
// The epoch when absent or null.
Timestamp optional_timestamp(const nlohmann::json& j, const char* field);

// Parses JSON text that must be one object of string values (tags), straight into the map
// without building a document first. A later duplicate key wins, as with nlohmann::json::parse.
// Throws InvalidArgumentError for anything else.
std::map<std::string, std::string> parse_string_map(std::string_view text);

}  // namespace modelreg::detail

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

std::vector<std::string> string_list(const nlohmann::json& j, const char* field) {
  std::vector<std::string> result;
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return result;
  if (!it->is_array()) {
    throw InvalidArgumentError(
        fmt::format("'{}' must be a JSON array, got {}", field, it->type_name()));
  }
  for (const auto& value : *it) result.push_back(string_value(value, field));
  return result;
}

std::optional<std::string> nullable_string(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return string_value(*it, field);
}

Timestamp optional_timestamp(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return Timestamp{};
  return parse_timestamp(string_value(*it, field));
}

namespace {

// SAX events of one JSON object of strings; anything else stops the parse with a reason.
class StringMapSax {
 public:
  explicit StringMapSax(std::map<std::string, std::string>& out) : out_(out) {}

  bool null() { return refuse("null"); }
  bool boolean(bool /*value*/) { return refuse("a boolean"); }
  bool number_integer(nlohmann::json::number_integer_t /*value*/) { return refuse("a number"); }
  bool number_unsigned(nlohmann::json::number_unsigned_t /*value*/) { return refuse("a number"); }
  bool number_float(nlohmann::json::number_float_t /*value*/, const std::string& /*text*/) {
    return refuse("a number");
  }
  bool binary(nlohmann::json::binary_t& /*value*/) { return refuse("binary data"); }
  bool start_array(std::size_t /*size*/) { return refuse("an array"); }
  bool end_array() { return refuse("an array"); }
  bool start_object(std::size_t /*size*/) {
    if (in_object_) return refuse("a nested object");
    in_object_ = true;
    return true;
  }
  bool end_object() { return true; }
  bool key(std::string& key) {
    key_ = std::move(key);
    return true;
  }
  bool string(std::string& value) {
    if (!in_object_) return refuse("a string instead of an object");
    out_.insert_or_assign(std::move(key_), std::move(value));
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::json::exception& e) {
    error_ = e.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool refuse(const char* what) {
    error_ = fmt::format("expected an object of strings, found {}", what);
    return false;
  }

  std::map<std::string, std::string>& out_;
  std::string key_;
  std::string error_;
  bool in_object_ = false;
};

// The common case, as nlohmann::json::dump writes it: {"key":"value",...} with printable ASCII
// strings and no escapes. Returns false (leaving `out` to be overwritten) at the first byte
// outside that shape; the full parser then decides.
bool parse_plain_string_map(std::string_view text, std::map<std::string, std::string>& out) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  // A string without escapes: returns its contents and moves i past the closing quote.
  auto plain_string = [&](std::string_view& value) {
    if (i >= n || text[i] != '"') return false;
    const std::size_t start = ++i;
    for (; i < n; ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c == '"') break;
      if (c == '\\' || c < 0x20 || c >= 0x7f) return false;
    }
    if (i >= n) return false;
    value = text.substr(start, i - start);
    ++i;
    return true;
  };
  if (n < 2 || text[0] != '{') return false;
  i = 1;
  if (text[i] == '}') return i + 1 == n;
  for (;;) {
    std::string_view key;
    std::string_view value;
    if (!plain_string(key) || i >= n || text[i++] != ':' || !plain_string(value) || i >= n) {
      return false;
    }
    out.insert_or_assign(std::string(key), std::string(value));
    const char next = text[i++];
    if (next == '}') return i == n;
    if (next != ',') return false;
  }
}

}  // namespace

std::map<std::string, std::string> parse_string_map(std::string_view text) {
  std::map<std::string, std::string> result;
  if (parse_plain_string_map(text, result)) return result;
  result.clear();
  StringMapSax sax(result);
  if (!nlohmann::json::sax_parse(text.begin(), text.end(), &sax)) {
    throw InvalidArgumentError(fmt::format("not a JSON object of strings: {}", sax.error()));
  }
  return result;
}

}  // namespace modelreg::detail

// Fuzzes the validators of names, versions, aliases, tags and descriptions: each must accept
// exactly what its header documents (checked against an independent reading of the rules here),
// throw nothing but InvalidArgumentError, and a name, version or alias it accepts must survive a
// model URI's round trip.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_harness.hpp"
#include "modelreg/model_uri.hpp"
#include "modelreg/validation.hpp"

namespace {

using modelreg::ModelUri;
using modelreg::fuzz::accepts;
using modelreg::fuzz::fail;

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// 1..max_length characters, letters, digits and `extra`, starting with a letter or digit.
bool documented_identifier(std::string_view s, std::size_t max_length, std::string_view extra) {
  if (s.empty() || s.size() > max_length || !is_alnum(s.front())) return false;
  for (const char c : s) {
    if (!is_alnum(c) && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool equals_lower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
    if (c != lower[i]) return false;
  }
  return true;
}

bool documented_alias(std::string_view s) {
  if (s.empty() || s.size() > modelreg::kMaxAliasLength) return false;
  for (const char c : s) {
    if (!is_alnum(c) && c != '_' && c != '-') return false;
  }
  if (equals_lower(s, "latest")) return false;
  const bool v_digits = s.size() > 1 && (s[0] == 'v' || s[0] == 'V') &&
                        s.find_first_not_of("0123456789", 1) == std::string_view::npos;
  return !v_digits;
}

bool documented_tag(std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > 250 || value.size() > 5000) return false;
  for (const char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return value.find('\0') == std::string_view::npos;
}

// Valid UTF-8 as nlohmann::json judges it when it writes a string.
bool json_writable(std::string_view s) {
  try {
    (void)nlohmann::json(std::string(s)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

bool documented_description(std::string_view s) {
  return s.size() <= 65536 && s.find('\0') == std::string_view::npos && json_writable(s);
}

// A version written after "models:/name/" means something else when it is a stage or "latest".
bool reserved_in_uri(std::string_view version) {
  for (const char* word : {"latest", "development", "staging", "production", "archived"}) {
    if (equals_lower(version, word)) return true;
  }
  return false;
}

void check_uri_round_trip(const ModelUri& uri) {
  ModelUri back;
  if (!accepts([&] { back = ModelUri::parse(uri.to_string()); })) {
    fail("a URI made of valid parts does not parse");
  }
  if (back != uri) fail("a URI made of valid parts parses to something else");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const bool name_ok = accepts([&] { modelreg::validate_model_name(text); });
  if (name_ok != documented_identifier(text, modelreg::kMaxModelNameLength, "._-")) {
    fail("validate_model_name disagrees with its documented rule");
  }
  const bool version_ok = accepts([&] { modelreg::validate_version(text); });
  if (version_ok != documented_identifier(text, modelreg::kMaxVersionLength, "._+-")) {
    fail("validate_version disagrees with its documented rule");
  }
  const bool alias_ok = accepts([&] { modelreg::validate_alias(text); });
  if (alias_ok != documented_alias(text)) fail("validate_alias disagrees with its documented rule");
  const bool description_ok = accepts([&] { modelreg::validate_description(text); });
  if (description_ok != documented_description(text)) {
    fail("validate_description disagrees with its documented rule");
  }
  // A tag: the key up to the first '=', the value after it.
  const std::size_t eq = text.find('=');
  const std::string_view key = text.substr(0, eq);
  const std::string_view value = eq == std::string_view::npos ? "" : text.substr(eq + 1);
  if (accepts([&] { modelreg::validate_tag(key, value); }) != documented_tag(key, value)) {
    fail("validate_tag disagrees with its documented rule");
  }

  if (name_ok) {
    ModelUri uri;
    uri.model_name = std::string(text);
    uri.kind = ModelUri::Kind::Latest;
    check_uri_round_trip(uri);
  }
  if (version_ok && !reserved_in_uri(text)) {
    ModelUri uri;
    uri.model_name = "m";
    uri.kind = ModelUri::Kind::Version;
    uri.version = std::string(text);
    check_uri_round_trip(uri);
  }
  if (alias_ok) {
    ModelUri uri;
    uri.model_name = "m";
    uri.kind = ModelUri::Kind::Alias;
    uri.alias = std::string(text);
    check_uri_round_trip(uri);
  }
  return 0;
}

// What every catalog backend shares about searches: conditions, their validation and meaning,
// LIKE matching and page tokens.

#include "search_query.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>
#include <utility>

#include "ascii_case.hpp"
#include "modelreg/error.hpp"
#include "modelreg/validation.hpp"
#include "quoted_text.hpp"
#include "search_rules.hpp"
#include "sha256.hpp"
#include "utf8.hpp"

namespace modelreg {

std::string_view to_string(CompareOp op) noexcept {
  static constexpr std::string_view kNames[] = {"=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE"};
  const auto index = static_cast<std::size_t>(op);
  return index < std::size(kNames) ? kNames[index] : "?";
}

bool operator==(const SearchCondition& a, const SearchCondition& b) {
  return a.field == b.field && a.op == b.op && a.key == b.key && a.text == b.text &&
         a.number == b.number && a.time == b.time && a.stage == b.stage &&
         a.framework == b.framework;
}

namespace where {
namespace {

SearchCondition make(SearchField field, CompareOp op) {
  SearchCondition c;
  c.field = field;
  c.op = op;
  return c;
}

SearchCondition text_condition(SearchField field, CompareOp op, std::string key, std::string text) {
  SearchCondition c = make(field, op);
  c.key = std::move(key);
  c.text = std::move(text);
  return c;
}

}  // namespace

SearchCondition model_name(CompareOp op, std::string value) {
  return text_condition(SearchField::ModelName, op, {}, std::move(value));
}

SearchCondition version(CompareOp op, std::string value) {
  return text_condition(SearchField::Version, op, {}, std::move(value));
}

SearchCondition stage(ModelStage stage, CompareOp op) {
  SearchCondition c = make(SearchField::Stage, op);
  c.stage = stage;
  return c;
}

SearchCondition framework(ModelFramework framework, CompareOp op) {
  SearchCondition c = make(SearchField::Framework, op);
  c.framework = framework;
  return c;
}

SearchCondition alias(std::string alias) {
  return text_condition(SearchField::Alias, CompareOp::Equal, {}, std::move(alias));
}

SearchCondition tag(std::string key, CompareOp op, std::string value) {
  return text_condition(SearchField::Tag, op, std::move(key), std::move(value));
}

SearchCondition metric(std::string name, CompareOp op, double value) {
  SearchCondition c = make(SearchField::Metric, op);
  c.key = std::move(name);
  c.number = value;
  return c;
}

SearchCondition created_at(CompareOp op, Timestamp time) {
  SearchCondition c = make(SearchField::CreatedAt, op);
  c.time = time;
  return c;
}

SearchCondition updated_at(CompareOp op, Timestamp time) {
  SearchCondition c = make(SearchField::UpdatedAt, op);
  c.time = time;
  return c;
}

}  // namespace where

}  // namespace modelreg

namespace modelreg::detail {
namespace {

template <class Enum>
bool in_range(Enum value, Enum last) {
  const auto v = static_cast<long long>(value);
  return v >= 0 && v <= static_cast<long long>(last);
}

std::string field_name(const SearchCondition& c) {
  static constexpr const char* kNames[] = {"name",  "version",  "stage",      "framework", "alias",
                                           "tags.", "metrics.", "created_at", "updated_at"};
  const auto index = static_cast<std::size_t>(c.field);
  if (index >= std::size(kNames)) return fmt::format("field #{}", index);
  const bool keyed = c.field == SearchField::Tag || c.field == SearchField::Metric;
  return keyed ? kNames[index] + quoted_text(c.key) : kNames[index];
}

[[noreturn]] void refuse(const SearchCondition& c, std::size_t index, const std::string& why) {
  throw InvalidArgumentError(fmt::format("search condition {} ({} {}): {}", index + 1,
                                         field_name(c), to_string(c.op), why));
}

void check_utf8(const SearchCondition& c, std::size_t index, std::string_view text,
                const char* what) {
  if (!is_valid_utf8(text)) refuse(c, index, fmt::format("{} is not valid UTF-8", what));
}

void check_condition(const SearchCondition& c, std::size_t index, bool model_search) {
  if (!in_range(c.field, SearchField::UpdatedAt)) refuse(c, index, "unknown field");
  if (!in_range(c.op, CompareOp::ILike)) refuse(c, index, "unknown operator");
  if (model_search && c.field != SearchField::ModelName && c.field != SearchField::Tag) {
    refuse(c, index, "a model search looks at name and tags only");
  }
  if (!operator_allowed(c.field, c.op)) {
    refuse(c, index, fmt::format("operator not allowed (allowed: {})", allowed_operators(c.field)));
  }
  switch (c.field) {
    case SearchField::ModelName:
    case SearchField::Version:
      check_utf8(c, index, c.text, "the value");
      break;
    case SearchField::Tag:
      try {
        validate_tag(c.key, {});
      } catch (const InvalidArgumentError& e) {
        refuse(c, index, e.what());
      }
      check_utf8(c, index, c.key, "the tag key");
      check_utf8(c, index, c.text, "the value");
      break;
    case SearchField::Alias:
      try {
        validate_alias(c.text);
      } catch (const InvalidArgumentError& e) {
        refuse(c, index, e.what());
      }
      break;
    case SearchField::Metric:
      if (c.key.empty()) refuse(c, index, "the metric name is empty");
      if (c.key.size() > kMaxMetricNameLength) {
        refuse(c, index,
               fmt::format("the metric name is longer than {} bytes", kMaxMetricNameLength));
      }
      check_utf8(c, index, c.key, "the metric name");
      if (std::isnan(c.number)) refuse(c, index, "the value is NaN");
      break;
    case SearchField::Stage:
      if (!in_range(c.stage, ModelStage::Archived)) refuse(c, index, "unknown stage");
      break;
    case SearchField::Framework:
      if (!in_range(c.framework, ModelFramework::Custom)) refuse(c, index, "unknown framework");
      break;
    case SearchField::CreatedAt:
    case SearchField::UpdatedAt:
      break;
  }
}

void check_max_results(std::size_t max_results) {
  if (max_results < 1 || max_results > kMaxSearchResults) {
    throw InvalidArgumentError(
        fmt::format("search: max_results is {}, must be 1..{}", max_results, kMaxSearchResults));
  }
}

}  // namespace

void validate_query(const VersionQuery& query) {
  for (std::size_t i = 0; i < query.conditions.size(); ++i) {
    check_condition(query.conditions[i], i, false);
  }
  if (!in_range(query.order_by, VersionOrderBy::Metric)) {
    throw InvalidArgumentError("search: unknown order");
  }
  if (query.order_by == VersionOrderBy::Metric) {
    if (query.order_metric.empty()) {
      throw InvalidArgumentError("search: ordered by a metric, but order_metric is empty");
    }
    if (query.order_metric.size() > kMaxMetricNameLength || !is_valid_utf8(query.order_metric)) {
      throw InvalidArgumentError(
          fmt::format("search: order_metric {} is not a valid metric name (1..{} bytes of UTF-8)",
                      quoted_text(query.order_metric), kMaxMetricNameLength));
    }
  } else if (!query.order_metric.empty()) {
    throw InvalidArgumentError(
        fmt::format("search: order_metric {} is set, but the query is not ordered by a metric",
                    quoted_text(query.order_metric)));
  }
  check_max_results(query.max_results);
}

void validate_query(const ModelQuery& query) {
  for (std::size_t i = 0; i < query.conditions.size(); ++i) {
    check_condition(query.conditions[i], i, true);
  }
  if (!in_range(query.order_by, ModelOrderBy::CreatedAt)) {
    throw InvalidArgumentError("search: unknown order");
  }
  check_max_results(query.max_results);
}

bool like_match(std::string_view pattern, std::string_view text, bool ignore_case) {
  const auto fold = [ignore_case](char c) { return ignore_case ? ascii_lower(c) : c; };
  const std::size_t m = pattern.size();
  const std::size_t n = text.size();
  std::size_t p = 0;
  std::size_t t = 0;
  // After a '%', the pattern position right after it and the text position it has swallowed
  // up to. A mismatch retries from there with one more byte swallowed: only the last '%' is
  // ever revisited (an earlier one could not help more), so the work is O(m * n).
  std::size_t star = std::string_view::npos;
  std::size_t swallowed = 0;
  while (t < n) {
    if (p < m) {
      const char c = pattern[p];
      if (c == '%') {
        star = ++p;
        swallowed = t;
        continue;
      }
      if (c == '_') {
        ++p;
        ++t;
        continue;
      }
      // '\' makes the next byte literal; a trailing one stands for itself.
      const bool escaped = c == '\\' && p + 1 < m;
      const char literal = escaped ? pattern[p + 1] : c;
      if (fold(literal) == fold(text[t])) {
        p += escaped ? 2 : 1;
        ++t;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    p = star;
    t = ++swallowed;
  }
  while (p < m && pattern[p] == '%') ++p;
  return p == m;
}

namespace {

bool compare_text(CompareOp op, std::string_view value, const std::string& operand) {
  switch (op) {
    case CompareOp::Equal:
      return value == operand;
    case CompareOp::NotEqual:
      return value != operand;
    case CompareOp::Like:
      return like_match(operand, value, false);
    case CompareOp::ILike:
      return like_match(operand, value, true);
    default:
      return false;
  }
}

template <class T>
bool compare_ordered(CompareOp op, const T& value, const T& operand) {
  switch (op) {
    case CompareOp::Equal:
      return value == operand;
    case CompareOp::NotEqual:
      return value != operand;
    case CompareOp::Less:
      return value < operand;
    case CompareOp::LessEqual:
      return value <= operand;
    case CompareOp::Greater:
      return value > operand;
    case CompareOp::GreaterEqual:
      return value >= operand;
    default:
      return false;
  }
}

bool compare_tag(const SearchCondition& c, const std::map<std::string, std::string>& tags) {
  const auto it = tags.find(c.key);
  return it != tags.end() && compare_text(c.op, it->second, c.text);
}

}  // namespace

bool matches(const SearchCondition& condition, const ModelVersion& version) {
  const SearchCondition& c = condition;
  switch (c.field) {
    case SearchField::ModelName:
      return compare_text(c.op, version.model_name, c.text);
    case SearchField::Version:
      return compare_text(c.op, version.version, c.text);
    case SearchField::Stage:
      return (c.op == CompareOp::Equal || c.op == CompareOp::NotEqual) &&
             compare_ordered(c.op, version.stage, c.stage);
    case SearchField::Framework:
      return (c.op == CompareOp::Equal || c.op == CompareOp::NotEqual) &&
             compare_ordered(c.op, version.framework, c.framework);
    case SearchField::Alias:
      return c.op == CompareOp::Equal && std::find(version.aliases.begin(), version.aliases.end(),
                                                   c.text) != version.aliases.end();
    case SearchField::Tag:
      return compare_tag(c, version.tags);
    case SearchField::Metric: {
      const auto value = version.metrics.get(c.key);
      return value && !std::isnan(*value) && compare_ordered(c.op, *value, c.number);
    }
    case SearchField::CreatedAt:
      return compare_ordered(c.op, version.created_at, c.time);
    case SearchField::UpdatedAt:
      return compare_ordered(c.op, version.updated_at, c.time);
  }
  return false;
}

bool matches(const SearchCondition& condition, const RegisteredModel& model) {
  switch (condition.field) {
    case SearchField::ModelName:
      return compare_text(condition.op, model.name, condition.text);
    case SearchField::Tag:
      return compare_tag(condition, model.tags);
    default:
      return false;
  }
}

namespace {

constexpr int kTokenFormat = 1;
// Longest token decode_page_token reads: far more than any position needs (a model name is at
// most 200 bytes), little enough that a hostile token costs nothing.
constexpr std::size_t kMaxTokenLength = 4096;

std::uint64_t bits_of(double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// SHA-256 over an encoding of a query in which every value is typed by its position and every
// string is length-prefixed, so that two different queries never feed the same bytes.
class QueryDigest {
 public:
  void add(std::uint64_t value) {
    unsigned char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
    hash_.update(bytes, sizeof bytes);
  }
  void add(std::string_view text) {
    add(static_cast<std::uint64_t>(text.size()));
    hash_.update(text.data(), text.size());
  }
  void add(const SearchCondition& c) {
    add(static_cast<std::uint64_t>(c.field));
    add(static_cast<std::uint64_t>(c.op));
    // Only what the field uses: a stale value in an unused member does not make another query.
    switch (c.field) {
      case SearchField::Tag:
        add(c.key);
        add(c.text);
        break;
      case SearchField::Metric:
        add(c.key);
        add(bits_of(c.number == 0 ? 0.0 : c.number));  // -0 and 0 compare alike
        break;
      case SearchField::Stage:
        add(static_cast<std::uint64_t>(c.stage));
        break;
      case SearchField::Framework:
        add(static_cast<std::uint64_t>(c.framework));
        break;
      case SearchField::CreatedAt:
      case SearchField::UpdatedAt:
        add(static_cast<std::uint64_t>(c.time.time_since_epoch().count()));
        break;
      default:
        add(c.text);
        break;
    }
  }
  void add(const std::vector<SearchCondition>& conditions) {
    add(static_cast<std::uint64_t>(conditions.size()));
    for (const auto& c : conditions) add(c);
  }
  // 128 bits: plenty to tell queries apart (a token is not a secret).
  std::string hex() { return hash_.hex_digest().substr(0, 32); }

 private:
  Sha256 hash_;
};

std::string digest_of(const VersionQuery& query) {
  QueryDigest digest;
  digest.add(std::string_view("versions"));
  digest.add(query.conditions);
  digest.add(static_cast<std::uint64_t>(query.order_by));
  digest.add(query.order_metric);
  digest.add(static_cast<std::uint64_t>(query.descending));
  return digest.hex();
}

std::string digest_of(const ModelQuery& query) {
  QueryDigest digest;
  digest.add(std::string_view("models"));
  digest.add(query.conditions);
  digest.add(static_cast<std::uint64_t>(query.order_by));
  digest.add(static_cast<std::uint64_t>(query.descending));
  return digest.hex();
}

constexpr char kHexDigits[] = "0123456789abcdef";

std::string to_hex(std::string_view bytes) {
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    hex += kHexDigits[b >> 4];
    hex += kHexDigits[b & 0x0f];
  }
  return hex;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case too: a token has one spelling
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = hex_value(hex[i]);
    const int low = hex_value(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes += static_cast<char>(high * 16 + low);
  }
  return bytes;
}

// A token: the lower-case hex of a JSON document {"v": format, "q": query digest, "m": metric
// bits in hex or null, "t": time, "i": tie, "n": name}. Hex keeps it URL-safe without escaping.
std::string encode(const std::string& digest, const PagePosition& position) {
  if (!is_valid_utf8(position.name)) {
    throw InvalidArgumentError("page position: the model name is not valid UTF-8");
  }
  nlohmann::json metric;  // null: the version lacks the metric; NaN sorts with those
  if (position.metric && !std::isnan(*position.metric)) {
    metric = fmt::format("{:016x}", bits_of(*position.metric));
  }
  const nlohmann::json document{{"v", kTokenFormat},  {"q", digest},       {"m", metric},
                                {"t", position.time}, {"i", position.tie}, {"n", position.name}};
  return to_hex(document.dump());
}

[[noreturn]] void malformed() {
  throw InvalidArgumentError("malformed page token");
}

std::int64_t integer_field(const nlohmann::json& document, const char* key) {
  const auto& value = document.at(key);
  if (value.is_number_unsigned() &&
      value.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    malformed();
  }
  if (!value.is_number_integer()) malformed();
  return value.get<std::int64_t>();
}

std::optional<PagePosition> decode(std::string_view token, const std::string& digest) {
  if (token.empty()) return std::nullopt;
  if (token.size() > kMaxTokenLength) malformed();
  const auto text = from_hex(token);
  if (!text) malformed();
  const auto document = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  // One spelling per token (encode's): no trailing bytes, blanks or reordered keys.
  if (!document.is_object() || document.size() != 6 || document.dump() != *text) malformed();
  for (const char* key : {"v", "q", "m", "t", "i", "n"}) {
    if (!document.contains(key)) malformed();
  }
  if (integer_field(document, "v") != kTokenFormat || !document.at("q").is_string() ||
      !document.at("n").is_string()) {
    malformed();
  }
  if (document.at("q").get_ref<const std::string&>() != digest) {
    throw InvalidArgumentError("page token does not belong to this query");
  }
  PagePosition position;
  position.time = integer_field(document, "t");
  position.tie = integer_field(document, "i");
  position.name = document.at("n").get<std::string>();
  const auto& metric = document.at("m");
  if (!metric.is_null()) {
    if (!metric.is_string()) malformed();
    const auto bytes = from_hex(metric.get_ref<const std::string&>());
    if (!bytes || bytes->size() != 8) malformed();
    std::uint64_t bits = 0;
    for (const char c : *bytes) bits = bits << 8 | static_cast<unsigned char>(c);
    double value = 0;
    std::memcpy(&value, &bits, sizeof value);
    if (std::isnan(value)) malformed();
    position.metric = value;
  }
  return position;
}

}  // namespace

std::string encode_page_token(const VersionQuery& query, const PagePosition& position) {
  return encode(digest_of(query), position);
}

std::string encode_page_token(const ModelQuery& query, const PagePosition& position) {
  return encode(digest_of(query), position);
}

std::optional<PagePosition> decode_page_token(const VersionQuery& query) {
  return decode(query.page_token, digest_of(query));
}

std::optional<PagePosition> decode_page_token(const ModelQuery& query) {
  return decode(query.page_token, digest_of(query));
}

}  // namespace modelreg::detail

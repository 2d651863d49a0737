// The parser of MLflow-style filter strings and order clauses.

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ascii_case.hpp"
#include "modelreg/error.hpp"
#include "modelreg/search.hpp"
#include "modelreg/validation.hpp"
#include "public_call.hpp"
#include "quoted_text.hpp"
#include "search_rules.hpp"
#include "utf8.hpp"

namespace modelreg {

FilterParseError::FilterParseError(const std::string& message, std::size_t position,
                                   std::string token)
    : InvalidArgumentError(message), position_(position), token_(std::move(token)) {}

namespace {

using detail::allowed_operators;
using detail::equals_ignoring_case;
using detail::kMaxMetricNameLength;
using detail::operator_allowed;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) {
  return is_ident_start(c) || is_digit(c);
}
bool is_bare_key_char(char c) {
  return is_ident_char(c) || c == '.' || c == '-';
}
bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// How a message shows a token: as typed when that is safe to print (in single quotes unless it
// is a quoted string already), else JSON-quoted.
std::string shown(std::string_view token) {
  if (token.empty()) return "end of input";
  bool plain = token.size() <= 40;
  for (const char c : token) plain = plain && c >= 0x20 && c < 0x7f;
  if (!plain) return detail::quoted_text(token);
  const char first = token.front();
  const bool quoted = first == '\'' || first == '"' || first == '`';
  return quoted ? std::string(token) : fmt::format("'{}'", token);
}

// The contents of a quoted string or key as typed (quotes included): a doubled quote stands
// for one; backslashes are literal.
std::string unquote(std::string_view typed) {
  const char quote = typed.front();
  std::string out;
  for (std::size_t i = 1; i + 1 < typed.size(); ++i) {
    out += typed[i];
    if (typed[i] == quote) ++i;  // the second of a doubled pair
  }
  return out;
}

enum class TokenKind { End, Word, Quoted, Number, Operator, Other };

struct Token {
  TokenKind kind = TokenKind::End;
  std::size_t position = 0;
  std::string_view text;  // as typed; for Quoted, with its quotes
};

struct FieldRef {
  SearchField field = SearchField::ModelName;
  std::string key;
  std::size_t position = 0;
  std::string_view text;  // as typed
};

// A field a clause names, or none (unknown name).
std::optional<SearchField> field_named(std::string_view name) {
  if (name == "name") return SearchField::ModelName;
  if (name == "version") return SearchField::Version;
  if (name == "stage" || name == "current_stage") return SearchField::Stage;
  if (name == "framework") return SearchField::Framework;
  if (name == "alias") return SearchField::Alias;
  if (name == "created_at" || name == "creation_timestamp") return SearchField::CreatedAt;
  if (name == "updated_at" || name == "last_updated_timestamp") return SearchField::UpdatedAt;
  return std::nullopt;
}

bool is_key_prefix(std::string_view word) {
  return word == "tags" || word == "tag" || word == "metrics" || word == "metric";
}

// [+-]digits[.digits][(e|E)[+-]digits], the whole of `text`.
bool is_number_syntax(std::string_view text, bool integer_only) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    return i > start;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  if (!digits()) return false;
  if (integer_only) return i == text.size();
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == text.size();
}

// from_chars refuses the '+' that the grammar allows.
std::string_view without_plus(std::string_view text) {
  return !text.empty() && text.front() == '+' ? text.substr(1) : text;
}

// One filter or order clause: a hand-written lexer and recursive descent over `input_`.
class Parser {
 public:
  Parser(std::string_view input, const char* what) : input_(input), what_(what) {
    if (const auto bad = detail::first_invalid_utf8(input); bad != input.size()) {
      fail(bad, input.substr(bad, 1), fmt::format("invalid UTF-8 at position {}", bad));
    }
  }

  std::vector<SearchCondition> filter(bool model_search) {
    std::vector<SearchCondition> conditions;
    if (peek().kind == TokenKind::End) return conditions;
    for (;;) {
      conditions.push_back(clause(model_search));
      const Token next = take();
      if (next.kind == TokenKind::End) return conditions;
      if (next.kind == TokenKind::Word && equals_ignoring_case(next.text, "AND")) continue;
      if (next.kind == TokenKind::Word && equals_ignoring_case(next.text, "OR")) {
        unexpected(next, "only AND joins conditions");
      }
      unexpected(next, "expected AND or the end of the filter");
    }
  }

  // The field and direction of an order clause; nullopt for a blank one.
  struct Order {
    FieldRef field;
    bool descending = false;
  };
  std::optional<Order> order(bool model_search) {
    if (peek().kind == TokenKind::End) return std::nullopt;
    const char* expected =
        model_search ? "name or created_at" : "created_at, updated_at or metrics.<name>";
    Order result;
    result.field = field(expected);
    const SearchField f = result.field.field;
    const bool allowed = model_search ? f == SearchField::ModelName || f == SearchField::CreatedAt
                                      : f == SearchField::CreatedAt ||
                                            f == SearchField::UpdatedAt || f == SearchField::Metric;
    if (!allowed) {
      fail(result.field.position, result.field.text,
           fmt::format("cannot order by {} at position {} (expected {})", shown(result.field.text),
                       result.field.position, expected));
    }
    Token next = take();
    if (next.kind == TokenKind::Word &&
        (equals_ignoring_case(next.text, "ASC") || equals_ignoring_case(next.text, "DESC"))) {
      result.descending = equals_ignoring_case(next.text, "DESC");
      next = take();
      if (next.kind != TokenKind::End) unexpected(next, "expected the end of the order clause");
    } else if (next.kind != TokenKind::End) {
      unexpected(next, "expected ASC, DESC or the end of the order clause");
    }
    return result;
  }

 private:
  [[noreturn]] void fail(std::size_t position, std::string_view token,
                         const std::string& message) const {
    throw FilterParseError(fmt::format("{}: {}", what_, message), position, std::string(token));
  }

  [[noreturn]] void unexpected(const Token& token, std::string_view expected) const {
    fail(token.position, token.text,
         fmt::format("unexpected {} at position {} ({})", shown(token.text), token.position,
                     expected));
  }

  std::size_t skip_blanks(std::size_t at) const {
    while (at < input_.size() && is_blank(input_[at])) ++at;
    return at;
  }

  // The end of a quoted run starting at `start` (a doubled quote stays inside); throws if the
  // input ends first.
  std::size_t quoted_end(std::size_t start, const char* what) const {
    const char quote = input_[start];
    for (std::size_t i = start + 1; i < input_.size(); ++i) {
      if (input_[i] != quote) continue;
      if (i + 1 < input_.size() && input_[i + 1] == quote) {
        ++i;
        continue;
      }
      return i + 1;
    }
    fail(start, input_.substr(start),
         fmt::format("unterminated {} starting at position {}", what, start));
  }

  Token peek() const {
    const std::size_t start = skip_blanks(pos_);
    const std::size_t n = input_.size();
    Token token;
    token.position = start;
    if (start == n) return token;
    const char c = input_[start];
    std::size_t end = start + 1;
    if (is_ident_start(c)) {
      token.kind = TokenKind::Word;
      while (end < n && is_ident_char(input_[end])) ++end;
    } else if (c == '\'' || c == '"' || c == '`') {
      token.kind = TokenKind::Quoted;
      end = quoted_end(start, "string");
    } else if (is_digit(c) || ((c == '-' || c == '+') && end < n && is_digit(input_[end]))) {
      // The whole run, so that "1.2.3" or "1e" is one malformed number, not two tokens.
      token.kind = TokenKind::Number;
      while (end < n && (is_bare_key_char(input_[end]) || input_[end] == '+')) ++end;
    } else if (c == '=' || c == '<' || c == '>' || (c == '!' && end < n && input_[end] == '=')) {
      token.kind = TokenKind::Operator;
      const char second = end < n ? input_[end] : '\0';
      if (second == '=' || (c == '<' && second == '>')) ++end;
    } else {
      token.kind = TokenKind::Other;
      // A whole UTF-8 character (the input is well-formed), so the token prints as typed.
      while (end < n && (static_cast<unsigned char>(input_[end]) & 0xc0) == 0x80) ++end;
    }
    token.text = input_.substr(start, end - start);
    return token;
  }

  Token take() {
    const Token token = peek();
    pos_ = token.position + token.text.size();
    return token;
  }

  // A field path: name, stage, ..., tags.<key>, metrics.<key> (the key bare or quoted).
  // `expected` lists the fields the caller accepts, for the message about an unknown one.
  FieldRef field(std::string_view expected) {
    const std::size_t start = skip_blanks(pos_);
    const std::size_t n = input_.size();
    if (start == n || !is_ident_start(input_[start])) unexpected(peek(), "expected a field name");
    std::size_t end = start;
    while (end < n && is_ident_char(input_[end])) ++end;
    const std::string_view word = input_.substr(start, end - start);
    for (const char* keyword : {"AND", "OR", "NOT"}) {
      if (equals_ignoring_case(word, keyword)) unexpected(peek(), "expected a field name");
    }
    FieldRef ref;
    ref.position = start;
    if (is_key_prefix(word) && end < n && input_[end] == '.') {
      ref.field = word[0] == 't' ? SearchField::Tag : SearchField::Metric;
      const std::size_t key_start = ++end;
      if (end < n && (input_[end] == '`' || input_[end] == '"')) {
        end = quoted_end(key_start, "quoted key");
        ref.key = unquote(input_.substr(key_start, end - key_start));
      } else {
        while (end < n && is_bare_key_char(input_[end])) ++end;
        ref.key = std::string(input_.substr(key_start, end - key_start));
      }
      ref.text = input_.substr(start, end - start);
      pos_ = end;
      check_key(ref);
      return ref;
    }
    while (end < n && input_[end] == '.') {
      ++end;
      while (end < n && is_ident_char(input_[end])) ++end;
    }
    ref.text = input_.substr(start, end - start);
    pos_ = end;
    if (const auto known = field_named(ref.text)) {
      ref.field = *known;
      return ref;
    }
    if (is_key_prefix(ref.text)) {
      fail(start, ref.text,
           fmt::format("field {} at position {} needs a key ({}.<key>)", shown(ref.text), start,
                       ref.text));
    }
    fail(start, ref.text,
         fmt::format("unknown field {} at position {} (expected {})", shown(ref.text), start,
                     expected));
  }

  void check_key(const FieldRef& ref) const {
    if (ref.key.empty()) {
      fail(ref.position, ref.text,
           fmt::format("{} at position {} has an empty key (quote a key with other characters "
                       "than letters, digits, '_', '.' and '-' in backticks)",
                       shown(ref.text), ref.position));
    }
    if (ref.field == SearchField::Metric && ref.key.size() > kMaxMetricNameLength) {
      fail(ref.position, ref.text,
           fmt::format("metric name at position {} is longer than {} bytes", ref.position,
                       kMaxMetricNameLength));
    }
    if (ref.field == SearchField::Tag) {
      try {
        validate_tag(ref.key, {});
      } catch (const InvalidArgumentError& e) {
        fail(ref.position, ref.text,
             fmt::format("invalid tag key at position {} ({})", ref.position, e.what()));
      }
    }
  }

  CompareOp comparison(const FieldRef& ref) {
    const Token token = take();
    std::optional<CompareOp> op;
    if (token.kind == TokenKind::Operator) {
      const std::string_view t = token.text;
      if (t == "=" || t == "==") op = CompareOp::Equal;
      if (t == "!=" || t == "<>") op = CompareOp::NotEqual;
      if (t == "<") op = CompareOp::Less;
      if (t == "<=") op = CompareOp::LessEqual;
      if (t == ">") op = CompareOp::Greater;
      if (t == ">=") op = CompareOp::GreaterEqual;
    } else if (token.kind == TokenKind::Word && equals_ignoring_case(token.text, "LIKE")) {
      op = CompareOp::Like;
    } else if (token.kind == TokenKind::Word && equals_ignoring_case(token.text, "ILIKE")) {
      op = CompareOp::ILike;
    }
    if (!op) unexpected(token, "expected an operator: =, !=, <, <=, >, >=, LIKE or ILIKE");
    if (!operator_allowed(ref.field, *op)) {
      fail(token.position, token.text,
           fmt::format("operator {} at position {} is not allowed for {} (allowed: {})",
                       shown(token.text), token.position, shown(ref.text),
                       allowed_operators(ref.field)));
    }
    return *op;
  }

  [[noreturn]] void wrong_value(const FieldRef& ref, const Token& token, const char* needed) {
    if (token.kind == TokenKind::End) {
      fail(token.position, token.text,
           fmt::format("missing value for {} at position {} (expected {})", shown(ref.text),
                       token.position, needed));
    }
    fail(token.position, token.text,
         fmt::format("{} needs {}, got {} at position {}", shown(ref.text), needed,
                     shown(token.text), token.position));
  }

  [[noreturn]] void bad_value(const Token& token, const char* what, const std::string& why) {
    fail(token.position, token.text,
         fmt::format("{} {} at position {}{}", what, shown(token.text), token.position, why));
  }

  std::string string_value(const FieldRef& ref, const Token& token) {
    if (token.kind != TokenKind::Quoted || token.text.front() == '`') {
      wrong_value(ref, token, "a string in single or double quotes");
    }
    return unquote(token.text);
  }

  double number_value(const FieldRef& ref, const Token& token) {
    if (token.kind != TokenKind::Number) wrong_value(ref, token, "a number");
    if (!is_number_syntax(token.text, false)) bad_value(token, "malformed number", "");
    const std::string_view digits = without_plus(token.text);
    double value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size() || !std::isfinite(value)) {
      bad_value(token, "number", " is out of range");
    }
    return value;
  }

  Timestamp time_value(const FieldRef& ref, const Token& token) {
    if (token.kind == TokenKind::Quoted && token.text.front() != '`') {
      const std::string text = unquote(token.text);
      try {
        return parse_timestamp(text);
      } catch (const InvalidArgumentError&) {
        // Not its message: it does not quote the text safely.
        bad_value(token, "invalid time",
                  " (expected ISO-8601 such as '2025-11-26T10:41:06Z', or milliseconds since "
                  "the epoch)");
      }
    }
    if (token.kind != TokenKind::Number) {
      wrong_value(ref, token, "an ISO-8601 time in quotes or milliseconds since the epoch");
    }
    if (!is_number_syntax(token.text, true)) {
      bad_value(token, "time", " is not a whole number of milliseconds since the epoch");
    }
    const std::string_view digits = without_plus(token.text);
    std::int64_t ms = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ms);
    using std::chrono::milliseconds;
    const auto limit = std::chrono::duration_cast<milliseconds>(Timestamp::duration::max()).count();
    if (ec != std::errc() || end != digits.data() + digits.size() || ms > limit || ms < -limit) {
      bad_value(token, "time", " is out of range");
    }
    return Timestamp(std::chrono::duration_cast<Timestamp::duration>(milliseconds(ms)));
  }

  SearchCondition clause(bool model_search) {
    const FieldRef ref =
        field(model_search ? "name or tags.<key>"
                           : "name, version, stage, framework, alias, tags.<key>, metrics.<name>, "
                             "created_at or updated_at");
    if (model_search && ref.field != SearchField::ModelName && ref.field != SearchField::Tag) {
      fail(ref.position, ref.text,
           fmt::format("field {} at position {} cannot be used in a model search (only name "
                       "and tags.<key>)",
                       shown(ref.text), ref.position));
    }
    SearchCondition c;
    c.field = ref.field;
    c.key = ref.key;
    c.op = comparison(ref);
    const Token token = take();
    switch (ref.field) {
      case SearchField::ModelName:
      case SearchField::Version:
      case SearchField::Tag:
        c.text = string_value(ref, token);
        break;
      case SearchField::Alias:
        c.text = string_value(ref, token);
        try {
          validate_alias(c.text);
        } catch (const InvalidArgumentError& e) {
          bad_value(token, "invalid alias", fmt::format(" ({})", e.what()));
        }
        break;
      case SearchField::Stage: {
        const std::string name = string_value(ref, token);
        try {
          c.stage = parse_stage(name);
        } catch (const InvalidArgumentError&) {
          bad_value(token, "unknown stage",
                    " (expected development, staging, production or archived)");
        }
        break;
      }
      case SearchField::Framework: {
        const std::string name = string_value(ref, token);
        try {
          c.framework = parse_framework(name);
        } catch (const InvalidArgumentError&) {
          bad_value(token, "unknown framework",
                    " (expected sklearn, pytorch, tensorflow, onnx or custom)");
        }
        break;
      }
      case SearchField::Metric:
        c.number = number_value(ref, token);
        break;
      case SearchField::CreatedAt:
      case SearchField::UpdatedAt:
        c.time = time_value(ref, token);
        break;
    }
    return c;
  }

  std::string_view input_;
  const char* what_;
  std::size_t pos_ = 0;
};

}  // namespace

std::vector<SearchCondition> parse_version_filter(std::string_view filter) {
  return detail::public_call("parse_version_filter",
                             [&] { return Parser(filter, "filter").filter(false); });
}

std::vector<SearchCondition> parse_model_filter(std::string_view filter) {
  return detail::public_call("parse_model_filter",
                             [&] { return Parser(filter, "filter").filter(true); });
}

void parse_version_order(std::string_view order, VersionQuery& query) {
  detail::public_call("parse_version_order", [&] {
    const auto parsed = Parser(order, "order").order(false);
    if (!parsed) {
      query.order_by = VersionOrderBy::CreatedAt;
      query.order_metric.clear();
      query.descending = false;
      return;
    }
    const SearchField field = parsed->field.field;
    query.order_by = field == SearchField::Metric      ? VersionOrderBy::Metric
                     : field == SearchField::UpdatedAt ? VersionOrderBy::UpdatedAt
                                                       : VersionOrderBy::CreatedAt;
    query.order_metric = parsed->field.key;
    query.descending = parsed->descending;
  });
}

void parse_model_order(std::string_view order, ModelQuery& query) {
  detail::public_call("parse_model_order", [&] {
    const auto parsed = Parser(order, "order").order(true);
    query.order_by = parsed && parsed->field.field == SearchField::CreatedAt
                         ? ModelOrderBy::CreatedAt
                         : ModelOrderBy::Name;
    query.descending = parsed && parsed->descending;
  });
}

}  // namespace modelreg

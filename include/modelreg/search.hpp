#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/error.hpp"
#include "modelreg/model_framework.hpp"
#include "modelreg/model_stage.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"
#include "modelreg/timestamp.hpp"

namespace modelreg {

// How a condition compares a field with its value.
enum class CompareOp { Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, Like, ILike };

// "=", "!=", "<", "<=", ">", ">=", "LIKE" or "ILIKE".
std::string_view to_string(CompareOp op) noexcept;

// What a condition looks at.
enum class SearchField {
  ModelName,  // the model's name: =, !=, LIKE, ILIKE
  Version,    // the version string: =, !=, LIKE, ILIKE (versions only)
  Stage,      // =, != (versions only)
  Framework,  // =, != (versions only)
  Alias,      // = : the version carries that alias (versions only)
  Tag,        // tag `key` (of the version, or of the model in a model search): =, !=, LIKE,
              // ILIKE; only versions/models that have the tag match, != included
  Metric,     // metric `key`, standard or custom (as ModelMetrics::get): <, <=, =, !=, >=, >;
              // a version without the metric, or whose value is NaN, never matches
  CreatedAt,  // registration time: <, <=, =, !=, >=, > (versions only)
  UpdatedAt,  // last update time: <, <=, =, !=, >=, > (versions only)
};

// One condition of a search. Build it with the functions in namespace `where`; a query's
// conditions must all hold (AND).
//
// LIKE and ILIKE patterns: '%' matches any run of characters, '_' exactly one, '\' makes the
// next character literal ("50\%"); ILIKE ignores the case of ASCII letters. Every other
// comparison of text is exact (byte for byte).
struct SearchCondition {
  SearchField field = SearchField::ModelName;
  CompareOp op = CompareOp::Equal;
  std::string key;    // Tag: the tag key; Metric: the metric name
  std::string text;   // ModelName, Version, Alias, Tag: the value or pattern
  double number = 0;  // Metric
  Timestamp time{};   // CreatedAt, UpdatedAt
  ModelStage stage = ModelStage::Development;         // Stage
  ModelFramework framework = ModelFramework::Custom;  // Framework

  friend bool operator==(const SearchCondition& a, const SearchCondition& b);
  friend bool operator!=(const SearchCondition& a, const SearchCondition& b) { return !(a == b); }
};

namespace where {
SearchCondition model_name(CompareOp op, std::string value);
SearchCondition version(CompareOp op, std::string value);
SearchCondition stage(ModelStage stage, CompareOp op = CompareOp::Equal);
SearchCondition framework(ModelFramework framework, CompareOp op = CompareOp::Equal);
SearchCondition alias(std::string alias);
SearchCondition tag(std::string key, CompareOp op, std::string value);
SearchCondition metric(std::string name, CompareOp op, double value);
SearchCondition created_at(CompareOp op, Timestamp time);
SearchCondition updated_at(CompareOp op, Timestamp time);
}  // namespace where

// Largest accepted page size.
inline constexpr std::size_t kMaxSearchResults = 10'000;

// How version search results are ordered. Ties are broken by registration order in the same
// direction (ascending: the earliest registered first; descending: the latest first), so that
// the order, and every page boundary, is total and stable, and descending is exactly ascending
// reversed (but for versions without the metric, which come last either way).
enum class VersionOrderBy {
  CreatedAt,  // registration time
  UpdatedAt,  // time of the last change (stage, tag, description)
  Metric,     // the metric `VersionQuery::order_metric`; versions without it (or NaN) come last
};

// A search over the versions of every model (add a ModelName condition for one model).
struct VersionQuery {
  std::vector<SearchCondition> conditions;  // all must hold; empty: every visible version
  VersionOrderBy order_by = VersionOrderBy::CreatedAt;
  std::string order_metric;       // the metric to order by when order_by is Metric
  bool descending = false;        // default ascending (oldest or smallest first)
  std::size_t max_results = 100;  // page size, 1..kMaxSearchResults
  // Empty for the first page, else the next_page_token of the previous page of the same query
  // (conditions and order). Pages continue after the last result they returned (a keyset, not
  // an offset): writes between pages never make a page repeat or skip a version that stayed
  // where it was in the order.
  std::string page_token;
};

struct VersionPage {
  std::vector<ModelVersion> versions;
  std::string next_page_token;  // empty on the last page
};

// How model search results are ordered; ties (same created_at) by name, in the same direction.
enum class ModelOrderBy { Name, CreatedAt };

// A search over models: ModelName and Tag (model tags) conditions only.
struct ModelQuery {
  std::vector<SearchCondition> conditions;
  ModelOrderBy order_by = ModelOrderBy::Name;
  bool descending = false;
  std::size_t max_results = 100;  // 1..kMaxSearchResults
  std::string page_token;
};

struct ModelPage {
  std::vector<RegisteredModel> models;  // complete: every visible version of each model
  std::string next_page_token;          // empty on the last page
};

// A filter string that does not parse, or a condition that is not allowed: the message names
// the offending token and its position.
class FilterParseError : public InvalidArgumentError {
 public:
  FilterParseError(const std::string& message, std::size_t position, std::string token);
  // 0-based byte offset of the offending token in the filter string.
  std::size_t position() const noexcept { return position_; }
  // The offending token as it appears in the filter ("" at the end of the string).
  const std::string& token() const noexcept { return token_; }

 private:
  std::size_t position_;
  std::string token_;
};

// Parses a version filter in MLflow's grammar: clauses joined by AND (any case), each
// `field op value`:
//
//   name = 'fraud' AND stage = 'production' AND metrics.auc_roc > 0.9 AND tags.team = 'risk'
//
// Fields: name, version, stage (or current_stage), framework, alias, tags.<key>,
// metrics.<name>, created_at (or creation_timestamp), updated_at (or last_updated_timestamp).
// A key with other characters than letters, digits, '_' and '.' is quoted with backticks or
// double quotes: tags.`my key`. Strings are in single or double quotes (a quote inside is
// doubled: 'it''s'); metric values are numbers; times are ISO-8601 strings or numbers of
// milliseconds since the epoch (as MLflow's timestamps). Operators: = == != <> < <= > >= LIKE
// ILIKE, as allowed per field (see SearchField). An empty or blank filter has no conditions.
// Throws FilterParseError.
std::vector<SearchCondition> parse_version_filter(std::string_view filter);

// As parse_version_filter, for model searches: name and tags.<key> only.
std::vector<SearchCondition> parse_model_filter(std::string_view filter);

// Parses an order clause for version searches: "created_at" (or creation_timestamp),
// "updated_at" (or last_updated_timestamp) or "metrics.<name>", optionally followed by ASC or
// DESC; empty means the default (created_at ASC). Sets order_by, order_metric and descending
// of `query`. Throws FilterParseError.
void parse_version_order(std::string_view order, VersionQuery& query);

// As parse_version_order for model searches: "name" or "created_at" (creation_timestamp).
void parse_model_order(std::string_view order, ModelQuery& query);

}  // namespace modelreg

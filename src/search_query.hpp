#pragma once

// What every catalog backend shares about searches: validation of a query, the meaning of one
// condition on one version or model (the in-memory catalog evaluates it; the SQL backends
// translate it and are tested against this), LIKE matching and page tokens.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"
#include "modelreg/search.hpp"

namespace modelreg::detail {

// Checks a query before a backend runs it: every condition's field, operator and value are
// allowed (see SearchField; NaN metric values, empty metric names, bad tag keys, bad aliases
// and invalid UTF-8 in text are refused), order_metric is set exactly when ordering by a
// metric, 1 <= max_results <= kMaxSearchResults. Throws InvalidArgumentError naming the
// offending condition. The page token is checked by decode_page_token.
void validate_query(const VersionQuery& query);
void validate_query(const ModelQuery& query);

// SQL LIKE: '%' matches any run of bytes (also empty), '_' exactly one byte, '\' makes the next
// byte literal (a trailing '\' matches a '\'). Bytes, not characters: '_' matches one byte of a
// multi-byte UTF-8 character. With `ignore_case`, ASCII letters compare without case. Runs in
// O(pattern * text) time at worst, never exponential.
bool like_match(std::string_view pattern, std::string_view text, bool ignore_case);

// Whether one condition holds for a visible version (as defined in search.hpp): Tag looks at
// version.tags, Alias at version.aliases, Metric at version.metrics.get(key).
bool matches(const SearchCondition& condition, const ModelVersion& version);
// Whether a ModelName or Tag condition holds for a model (Tag looks at model.tags).
bool matches(const SearchCondition& condition, const RegisteredModel& model);

// The position of a result in its query's order, which a page token records so that the next
// page starts right after it. `key` is the sort value (nanoseconds for times, the metric's
// value, or none for a version without the metric / a model ordered by name), `tie` the
// tie-breaker (registration order of versions), `name` the model name (model searches).
struct PagePosition {
  std::optional<double> metric;  // VersionOrderBy::Metric: nullopt = the version lacks it
  std::int64_t time = 0;         // CreatedAt / UpdatedAt (nanoseconds since the epoch)
  std::int64_t tie = 0;          // versions: registration order
  std::string name;              // models: the model name
};

// Encodes `position` into an opaque token bound to `query`'s conditions and order (not its
// page size), so that a token is refused by any other query.
std::string encode_page_token(const VersionQuery& query, const PagePosition& position);
std::string encode_page_token(const ModelQuery& query, const PagePosition& position);
// Decodes query.page_token: nullopt for an empty token (the first page). Throws
// InvalidArgumentError for a token that is malformed or belongs to another query.
std::optional<PagePosition> decode_page_token(const VersionQuery& query);
std::optional<PagePosition> decode_page_token(const ModelQuery& query);

}  // namespace modelreg::detail

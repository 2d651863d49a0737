// Fuzzes the search parsers: the first byte picks the version filter, the model filter, the
// version order or the model order; the rest is its text. They throw nothing but
// InvalidArgumentError (FilterParseError), a condition they return is one its field allows, and
// a filter that parses still parses, to one more condition, with " AND name = 'x'" after it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_harness.hpp"
#include "modelreg/search.hpp"
#include "search_rules.hpp"

namespace {

using modelreg::CompareOp;
using modelreg::SearchCondition;
using modelreg::SearchField;
using modelreg::fuzz::accepts;
using modelreg::fuzz::fail;

using Parser = std::vector<SearchCondition> (*)(std::string_view);

void check_filter(Parser parse, std::string_view text, bool models) {
  std::vector<SearchCondition> conditions;
  if (!accepts([&] { conditions = parse(text); })) return;
  for (const SearchCondition& c : conditions) {
    if (!modelreg::detail::operator_allowed(c.field, c.op))
      fail("a parsed condition has an operator its field does not allow");
    if (models && c.field != SearchField::ModelName && c.field != SearchField::Tag) {
      fail("a model filter returned a condition on a field other than name or tags");
    }
  }
  if (conditions.empty()) return;
  const std::string longer = std::string(text) + " AND name = 'x'";
  std::vector<SearchCondition> more;
  if (!accepts([&] { more = parse(longer); })) fail("a filter and one more clause does not parse");
  conditions.push_back(modelreg::where::model_name(CompareOp::Equal, "x"));
  if (more != conditions) fail("a filter and one more clause parses to other conditions");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      check_filter(modelreg::parse_version_filter, text, false);
      break;
    case 1:
      check_filter(modelreg::parse_model_filter, text, true);
      break;
    case 2: {
      modelreg::VersionQuery query;
      if (accepts([&] { modelreg::parse_version_order(text, query); }) &&
          query.order_by == modelreg::VersionOrderBy::Metric && query.order_metric.empty()) {
        fail("a version order by metric names no metric");
      }
      break;
    }
    default: {
      modelreg::ModelQuery query;
      accepts([&] { modelreg::parse_model_order(text, query); });
      break;
    }
  }
  return 0;
}

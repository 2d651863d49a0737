// The filter and order grammar of searches: every field, operator and value form, and for each
// malformed input the exact token and position the error points at.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <modelreg/error.hpp>
#include <modelreg/search.hpp>
#include <modelreg/timestamp.hpp>
#include <string>
#include <vector>

namespace modelreg {
namespace {

using namespace std::chrono_literals;

SearchCondition only(std::string_view filter) {
  const auto conditions = parse_version_filter(filter);
  EXPECT_EQ(conditions.size(), 1u) << filter;
  return conditions.empty() ? SearchCondition{} : conditions.front();
}

Timestamp at_ms(std::int64_t ms) {
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(std::chrono::milliseconds(ms)));
}

// The error a malformed filter raises: the token and position are checked exactly, and the
// message names both.
struct Expected {
  std::size_t position;
  std::string token;
};

FilterParseError parse_error(std::string_view filter, bool models = false) {
  try {
    if (models) {
      parse_model_filter(filter);
    } else {
      parse_version_filter(filter);
    }
  } catch (const FilterParseError& e) {
    return e;
  }
  ADD_FAILURE() << "no FilterParseError for: " << filter;
  return FilterParseError("", 0, "");
}

void expect_error(std::string_view filter, const Expected& expected, bool models = false) {
  const FilterParseError e = parse_error(filter, models);
  EXPECT_EQ(e.position(), expected.position) << filter << "\n" << e.what();
  EXPECT_EQ(e.token(), expected.token) << filter << "\n" << e.what();
  const std::string message = e.what();
  EXPECT_EQ(message.rfind("filter: ", 0), 0u) << message;
  EXPECT_NE(message.find("position " + std::to_string(expected.position)), std::string::npos)
      << message;
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  for (const char c : message) {
    EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f)
        << "unprintable byte in: " << message;
  }
}

TEST(FilterParserTest, EmptyAndBlankFiltersHaveNoConditions) {
  EXPECT_TRUE(parse_version_filter("").empty());
  EXPECT_TRUE(parse_version_filter(" \t\r\n ").empty());
  EXPECT_TRUE(parse_model_filter("").empty());
  EXPECT_TRUE(parse_model_filter("   ").empty());
}

TEST(FilterParserTest, NameAndVersionTakeEveryTextOperator) {
  EXPECT_EQ(only("name = 'fraud'"), where::model_name(CompareOp::Equal, "fraud"));
  EXPECT_EQ(only("name == 'fraud'"), where::model_name(CompareOp::Equal, "fraud"));
  EXPECT_EQ(only("name != 'fraud'"), where::model_name(CompareOp::NotEqual, "fraud"));
  EXPECT_EQ(only("name <> 'fraud'"), where::model_name(CompareOp::NotEqual, "fraud"));
  EXPECT_EQ(only("name LIKE 'fr%'"), where::model_name(CompareOp::Like, "fr%"));
  EXPECT_EQ(only("name like 'fr%'"), where::model_name(CompareOp::Like, "fr%"));
  EXPECT_EQ(only("name ILIKE 'FR%'"), where::model_name(CompareOp::ILike, "FR%"));
  EXPECT_EQ(only("name iLike 'FR%'"), where::model_name(CompareOp::ILike, "FR%"));
  EXPECT_EQ(only("version = '1.2.0+build.7'"), where::version(CompareOp::Equal, "1.2.0+build.7"));
  EXPECT_EQ(only("version LIKE '1.%'"), where::version(CompareOp::Like, "1.%"));
}

TEST(FilterParserTest, StageAndFrameworkValuesAreParsedInAnyCase) {
  EXPECT_EQ(only("stage = 'production'"), where::stage(ModelStage::Production));
  EXPECT_EQ(only("stage = 'Production'"), where::stage(ModelStage::Production));
  EXPECT_EQ(only("current_stage = \"STAGING\""), where::stage(ModelStage::Staging));
  EXPECT_EQ(only("stage != 'archived'"), where::stage(ModelStage::Archived, CompareOp::NotEqual));
  EXPECT_EQ(only("stage <> 'Development'"),
            where::stage(ModelStage::Development, CompareOp::NotEqual));
  EXPECT_EQ(only("framework = 'onnx'"), where::framework(ModelFramework::Onnx));
  EXPECT_EQ(only("framework != 'PyTorch'"),
            where::framework(ModelFramework::PyTorch, CompareOp::NotEqual));
}

TEST(FilterParserTest, AliasTakesEquality) {
  EXPECT_EQ(only("alias = 'champion'"), where::alias("champion"));
  EXPECT_EQ(only("alias == \"champion\""), where::alias("champion"));
}

TEST(FilterParserTest, TagKeysAreBareOrQuoted) {
  EXPECT_EQ(only("tags.team = 'risk'"), where::tag("team", CompareOp::Equal, "risk"));
  EXPECT_EQ(only("tag.team = 'risk'"), where::tag("team", CompareOp::Equal, "risk"));
  EXPECT_EQ(only("tags.data.set-2 != 'x'"), where::tag("data.set-2", CompareOp::NotEqual, "x"));
  EXPECT_EQ(only("tags.`my key` = 'v'"), where::tag("my key", CompareOp::Equal, "v"));
  EXPECT_EQ(only("tags.\"my key\" = 'v'"), where::tag("my key", CompareOp::Equal, "v"));
  EXPECT_EQ(only("tags.`a``b` = 'v'"), where::tag("a`b", CompareOp::Equal, "v"));
  EXPECT_EQ(only("tags.\"a\"\"b\" = 'v'"), where::tag("a\"b", CompareOp::Equal, "v"));
  EXPECT_EQ(only("tags.`=` LIKE 'x%'"), where::tag("=", CompareOp::Like, "x%"));
  EXPECT_EQ(only("tags.9 ILIKE 'X'"), where::tag("9", CompareOp::ILike, "X"));
}

TEST(FilterParserTest, StringsDoubleTheirQuoteAndKeepBackslashes) {
  EXPECT_EQ(only("name = 'it''s'").text, "it's");
  EXPECT_EQ(only("name = \"say \"\"hi\"\"\"").text, "say \"hi\"");
  EXPECT_EQ(only("name = \"it's\"").text, "it's");
  EXPECT_EQ(only("name = 'a\"b'").text, "a\"b");
  EXPECT_EQ(only("name LIKE '50\\%'").text, "50\\%");
  EXPECT_EQ(only("name = 'a\\'").text, "a\\");
  EXPECT_EQ(only("name = ''").text, "");
  EXPECT_EQ(only("name = 'caf\xc3\xa9 AND x'").text, "caf\xc3\xa9 AND x");
}

TEST(FilterParserTest, MetricsTakeNumbers) {
  EXPECT_EQ(only("metrics.auc_roc > 0.9"), where::metric("auc_roc", CompareOp::Greater, 0.9));
  EXPECT_EQ(only("metric.auc_roc >= 1"), where::metric("auc_roc", CompareOp::GreaterEqual, 1));
  EXPECT_EQ(only("metrics.loss < -1.5e-3"), where::metric("loss", CompareOp::Less, -1.5e-3));
  EXPECT_EQ(only("metrics.n <= +2E3"), where::metric("n", CompareOp::LessEqual, 2000));
  EXPECT_EQ(only("metrics.n = 3"), where::metric("n", CompareOp::Equal, 3));
  EXPECT_EQ(only("metrics.n == 3"), where::metric("n", CompareOp::Equal, 3));
  EXPECT_EQ(only("metrics.n != 0"), where::metric("n", CompareOp::NotEqual, 0));
  EXPECT_EQ(only("metrics.n <> 0"), where::metric("n", CompareOp::NotEqual, 0));
  EXPECT_EQ(only("metrics.`latency ms` > 1e2"),
            where::metric("latency ms", CompareOp::Greater, 100));
  EXPECT_EQ(only("metrics.x>-1").number, -1);
  EXPECT_EQ(only("metrics.x > 0.1").number, 0.1);  // correctly rounded, exactly
  EXPECT_EQ(only("metrics.x > 1.7976931348623157e308").number, std::numeric_limits<double>::max());
}

TEST(FilterParserTest, TimesAreIsoStringsOrEpochMilliseconds) {
  const Timestamp t = parse_timestamp("2025-11-26T10:41:06.123Z");
  EXPECT_EQ(only("created_at > '2025-11-26T10:41:06.123Z'"),
            where::created_at(CompareOp::Greater, t));
  EXPECT_EQ(only("creation_timestamp >= \"2025-11-26T12:41:06.123+02:00\""),
            where::created_at(CompareOp::GreaterEqual, t));
  EXPECT_EQ(only("created_at = 1764153666123"), where::created_at(CompareOp::Equal, t));
  EXPECT_EQ(only("updated_at < 1764153666123"), where::updated_at(CompareOp::Less, t));
  EXPECT_EQ(only("last_updated_timestamp <= '2025-11-26T10:41:06.123Z'"),
            where::updated_at(CompareOp::LessEqual, t));
  EXPECT_EQ(only("updated_at != -1000"), where::updated_at(CompareOp::NotEqual, at_ms(-1000)));
  EXPECT_EQ(only("created_at <> 0"), where::created_at(CompareOp::NotEqual, Timestamp{}));
}

TEST(FilterParserTest, AndInAnyCaseJoinsClausesInOrder) {
  const auto conditions = parse_version_filter(
      "name = 'fraud' AND stage = 'production' and metrics.auc_roc > 0.9 And tags.team = "
      "'risk' aNd alias = 'champion'");
  const std::vector<SearchCondition> expected{
      where::model_name(CompareOp::Equal, "fraud"), where::stage(ModelStage::Production),
      where::metric("auc_roc", CompareOp::Greater, 0.9),
      where::tag("team", CompareOp::Equal, "risk"), where::alias("champion")};
  EXPECT_EQ(conditions, expected);
}

TEST(FilterParserTest, BlanksAreOptionalBetweenTokensAndAnyKindIsAccepted) {
  const std::vector<SearchCondition> expected{where::model_name(CompareOp::Equal, "a"),
                                              where::metric("x", CompareOp::GreaterEqual, 2)};
  EXPECT_EQ(parse_version_filter("name='a'AND metrics.x>=2"), expected);
  EXPECT_EQ(parse_version_filter("\n\tname\t=\n'a'\r\nAND\tmetrics.x >= 2 \n"), expected);
  EXPECT_EQ(parse_version_filter("  name = 'a'   AND   metrics.x   >=   2  "), expected);
}

TEST(FilterParserTest, ModelFiltersTakeNameAndTags) {
  const std::vector<SearchCondition> expected{where::model_name(CompareOp::Like, "fraud%"),
                                              where::tag("owner", CompareOp::NotEqual, "x")};
  EXPECT_EQ(parse_model_filter("name LIKE 'fraud%' AND tags.owner != 'x'"), expected);
  EXPECT_EQ(parse_model_filter("tag.`owner` ILIKE 'R%'").front(),
            where::tag("owner", CompareOp::ILike, "R%"));
}

TEST(FilterParserTest, OnlyAndJoinsConditions) {
  expect_error("name = 'a' OR stage = 'x'", {11, "OR"});
  EXPECT_STREQ(parse_error("name = 'a' OR stage = 'x'").what(),
               "filter: unexpected 'OR' at position 11 (only AND joins conditions)");
  expect_error("name = 'a' or stage = 'x'", {11, "or"});
  expect_error("name = 'a' stage = 'x'", {11, "stage"});
  expect_error("name = 'a' 'b'", {11, "'b'"});
  expect_error("name = 'a' && stage = 'x'", {11, "&"});
  expect_error("name = 'a' AND AND stage = 'x'", {15, "AND"});
  expect_error("AND name = 'a'", {0, "AND"});
}

TEST(FilterParserTest, ParenthesesInAndNotAreRefusedByName) {
  expect_error("(name = 'a')", {0, "("});
  expect_error("name = 'a' AND (stage = 'x')", {15, "("});
  expect_error("name IN ('a', 'b')", {5, "IN"});
  expect_error("name NOT LIKE 'a%'", {5, "NOT"});
  expect_error("NOT name = 'a'", {0, "NOT"});
  expect_error("name = ('a')", {7, "("});
  expect_error("name ! 'a'", {5, "!"});
  expect_error("name 'a'", {5, "'a'"});
}

TEST(FilterParserTest, TrailingAndOrMissingPartsPointAtTheEnd) {
  expect_error("name = 'a' AND", {14, ""});
  expect_error("name = 'a' AND  ", {16, ""});
  expect_error("name =", {6, ""});
  expect_error("name = ", {7, ""});
  expect_error("name", {4, ""});
  expect_error("metrics.x >", {11, ""});
  expect_error("name = AND stage = 'x'", {7, "AND"});
}

TEST(FilterParserTest, UnterminatedStringsAndKeysPointAtTheirQuote) {
  expect_error("name = 'abc", {7, "'abc"});
  expect_error("name = 'it''s", {7, "'it''s"});
  expect_error("name = \"abc'", {7, "\"abc'"});
  expect_error("name = 'a' AND version = '1", {25, "'1"});
  expect_error("tags.`abc = 'x'", {5, "`abc = 'x'"});
  expect_error("tags.\"abc = 'x'", {5, "\"abc = 'x'"});
}

TEST(FilterParserTest, UnknownFieldsAndEmptyKeysPointAtTheField) {
  expect_error("foo = 'x'", {0, "foo"});
  expect_error("name = 'a' AND bar.baz = 1", {15, "bar.baz"});
  expect_error("Name = 'x'", {0, "Name"});
  expect_error("tags = 'x'", {0, "tags"});
  expect_error("metrics > 1", {0, "metrics"});
  expect_error("attributes.name = 'x'", {0, "attributes.name"});
  expect_error("tags. = 'x'", {0, "tags."});
  expect_error("metrics.`` > 1", {0, "metrics.``"});
  expect_error("tags.\"\" = 'x'", {0, "tags.\"\""});
  expect_error("name = 'a' AND tags.", {15, "tags."});
  expect_error("tags.'x' = 'y'", {0, "tags."});
  expect_error("'name' = 'x'", {0, "'name'"});
  expect_error("1 = 1", {0, "1"});
  const std::string long_key(251, 'k');
  expect_error("tags." + long_key + " = 'x'", {0, "tags." + long_key});
  expect_error("metrics." + long_key + " > 1", {0, "metrics." + long_key});
  expect_error("tags.`a\tb` = 'x'", {0, "tags.`a\tb`"});  // control character in a tag key
}

TEST(FilterParserTest, OperatorsNotAllowedForAFieldPointAtTheOperator) {
  expect_error("stage LIKE 'p%'", {6, "LIKE"});
  expect_error("stage > 'production'", {6, ">"});
  expect_error("framework ILIKE 'onnx'", {10, "ILIKE"});
  expect_error("metrics.x LIKE 1", {10, "LIKE"});
  expect_error("alias != 'a'", {6, "!="});
  expect_error("alias LIKE 'a%'", {6, "LIKE"});
  expect_error("name < 'b'", {5, "<"});
  expect_error("tags.t >= 'b'", {7, ">="});
  expect_error("created_at LIKE '2025%'", {11, "LIKE"});
  const std::string message = parse_error("stage LIKE 'p%'").what();
  EXPECT_NE(message.find("allowed: =, !="), std::string::npos) << message;
}

TEST(FilterParserTest, ValuesOfTheWrongTypePointAtTheValue) {
  expect_error("metrics.x > 'high'", {12, "'high'"});
  expect_error("metrics.x > high", {12, "high"});
  expect_error("name = 1", {7, "1"});
  expect_error("name = fraud", {7, "fraud"});
  expect_error("name = `fraud`", {7, "`fraud`"});
  expect_error("stage = production", {8, "production"});
  expect_error("tags.t = 3", {9, "3"});
  expect_error("created_at > 1.5", {13, "1.5"});
  expect_error("created_at > 1e3", {13, "1e3"});
  expect_error("created_at > yesterday", {13, "yesterday"});
}

TEST(FilterParserTest, MalformedNumbersAndTimesPointAtTheValue) {
  expect_error("metrics.x > 1.2.3", {12, "1.2.3"});
  expect_error("metrics.x > 1e", {12, "1e"});
  expect_error("metrics.x > 1.", {12, "1."});
  expect_error("metrics.x > 12abc", {12, "12abc"});
  expect_error("metrics.x > 1e999", {12, "1e999"});
  expect_error("metrics.x > -1e999", {12, "-1e999"});
  expect_error("metrics.x > - 1", {12, "-"});
  expect_error("metrics.x > .5", {12, "."});
  expect_error("created_at > 'yesterday'", {13, "'yesterday'"});
  expect_error("updated_at < '2025-02-30T00:00:00Z'", {13, "'2025-02-30T00:00:00Z'"});
  expect_error("created_at > 99999999999999999", {13, "99999999999999999"});
  expect_error("created_at > 99999999999999999999999", {13, "99999999999999999999999"});
}

TEST(FilterParserTest, UnknownStagesFrameworksAndBadAliasesPointAtTheValue) {
  expect_error("stage = 'gold'", {8, "'gold'"});
  expect_error("stage = ''", {8, "''"});
  expect_error("name = 'a' AND current_stage != 'None'", {32, "'None'"});
  expect_error("framework = 'jax'", {12, "'jax'"});
  expect_error("alias = 'latest'", {8, "'latest'"});
  expect_error("alias = 'v3'", {8, "'v3'"});
  expect_error("alias = 'bad alias'", {8, "'bad alias'"});
  expect_error("alias = ''", {8, "''"});
  const std::string message = parse_error("stage = 'gold'").what();
  EXPECT_NE(message.find("unknown stage"), std::string::npos) << message;
  EXPECT_NE(message.find("production"), std::string::npos) << message;
}

TEST(FilterParserTest, InvalidUtf8AndControlBytesAreReportedSafely) {
  expect_error("name = 'caf\xff'", {11, "\xff"});
  expect_error("name = 'a' AND \xc3\xa9 = 1", {15, "\xc3\xa9"});
  expect_error(std::string("name = 'a'\0", 11), {10, std::string(1, '\0')});
  expect_error("name = 'a' \x01", {11, "\x01"});
  // A value may hold any valid text, control characters included: it just matches nothing.
  EXPECT_EQ(only("name = 'a\nb'").text, "a\nb");
}

TEST(FilterParserTest, ModelFiltersRefuseVersionFieldsAtTheField) {
  expect_error("stage = 'production'", {0, "stage"}, true);
  expect_error("name = 'a' AND version = '1'", {15, "version"}, true);
  expect_error("metrics.x > 1", {0, "metrics.x"}, true);
  expect_error("alias = 'champion'", {0, "alias"}, true);
  expect_error("created_at > 0", {0, "created_at"}, true);
  expect_error("name = 'a' OR name = 'b'", {11, "OR"}, true);
  expect_error("tags.x LIKE 1", {12, "1"}, true);
}

TEST(FilterParserTest, LongAndHostileInputsGiveShortMessages) {
  const std::string filter = "name = '" + std::string(100000, 'x');
  const FilterParseError e = parse_error(filter);
  EXPECT_EQ(e.position(), 7u);
  EXPECT_EQ(e.token().size(), filter.size() - 7);
  EXPECT_LT(std::string(e.what()).size(), 300u);
}

// Order clauses.

VersionQuery version_order(std::string_view order) {
  VersionQuery query;
  query.order_by = VersionOrderBy::UpdatedAt;  // so that the default is seen to be set
  query.order_metric = "stale";
  query.descending = true;
  parse_version_order(order, query);
  return query;
}

TEST(OrderParserTest, VersionOrders) {
  auto q = version_order("");
  EXPECT_EQ(q.order_by, VersionOrderBy::CreatedAt);
  EXPECT_EQ(q.order_metric, "");
  EXPECT_FALSE(q.descending);
  q = version_order("  ");
  EXPECT_EQ(q.order_by, VersionOrderBy::CreatedAt);
  EXPECT_FALSE(q.descending);
  q = version_order("created_at DESC");
  EXPECT_EQ(q.order_by, VersionOrderBy::CreatedAt);
  EXPECT_EQ(q.order_metric, "");
  EXPECT_TRUE(q.descending);
  q = version_order("creation_timestamp asc");
  EXPECT_EQ(q.order_by, VersionOrderBy::CreatedAt);
  EXPECT_FALSE(q.descending);
  q = version_order("updated_at");
  EXPECT_EQ(q.order_by, VersionOrderBy::UpdatedAt);
  EXPECT_FALSE(q.descending);
  q = version_order(" last_updated_timestamp Desc ");
  EXPECT_EQ(q.order_by, VersionOrderBy::UpdatedAt);
  EXPECT_TRUE(q.descending);
  q = version_order("metrics.auc_roc DESC");
  EXPECT_EQ(q.order_by, VersionOrderBy::Metric);
  EXPECT_EQ(q.order_metric, "auc_roc");
  EXPECT_TRUE(q.descending);
  q = version_order("metric.`my metric`");
  EXPECT_EQ(q.order_by, VersionOrderBy::Metric);
  EXPECT_EQ(q.order_metric, "my metric");
  EXPECT_FALSE(q.descending);
}

TEST(OrderParserTest, ModelOrders) {
  ModelQuery q;
  q.order_by = ModelOrderBy::CreatedAt;
  q.descending = true;
  parse_model_order("", q);
  EXPECT_EQ(q.order_by, ModelOrderBy::Name);
  EXPECT_FALSE(q.descending);
  parse_model_order("created_at DESC", q);
  EXPECT_EQ(q.order_by, ModelOrderBy::CreatedAt);
  EXPECT_TRUE(q.descending);
  parse_model_order("name", q);
  EXPECT_EQ(q.order_by, ModelOrderBy::Name);
  EXPECT_FALSE(q.descending);
  parse_model_order("creation_timestamp asc", q);
  EXPECT_EQ(q.order_by, ModelOrderBy::CreatedAt);
  EXPECT_FALSE(q.descending);
}

void expect_order_error(std::string_view order, const Expected& expected, bool models = false) {
  VersionQuery vq;
  vq.order_by = VersionOrderBy::UpdatedAt;
  ModelQuery mq;
  mq.order_by = ModelOrderBy::CreatedAt;
  try {
    if (models) {
      parse_model_order(order, mq);
    } else {
      parse_version_order(order, vq);
    }
    ADD_FAILURE() << "no FilterParseError for: " << order;
  } catch (const FilterParseError& e) {
    EXPECT_EQ(e.position(), expected.position) << order << "\n" << e.what();
    EXPECT_EQ(e.token(), expected.token) << order << "\n" << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("order: ", 0), 0u) << e.what();
  }
  // A refused clause changes nothing.
  EXPECT_EQ(vq.order_by, VersionOrderBy::UpdatedAt);
  EXPECT_EQ(mq.order_by, ModelOrderBy::CreatedAt);
}

TEST(OrderParserTest, MalformedOrdersPointAtTheToken) {
  expect_order_error("name", {0, "name"});
  expect_order_error("stage DESC", {0, "stage"});
  expect_order_error("tags.x", {0, "tags.x"});
  expect_order_error("foo", {0, "foo"});
  expect_order_error("created_at DESC x", {16, "x"});
  expect_order_error("created_at sideways", {11, "sideways"});
  expect_order_error("created_at, name", {10, ","});
  expect_order_error("created_at DESC, name ASC", {15, ","});
  expect_order_error("metrics.", {0, "metrics."});
  expect_order_error("metrics.`x", {8, "`x"});
  expect_order_error("DESC", {0, "DESC"});
  expect_order_error("'created_at'", {0, "'created_at'"});
  expect_order_error("updated_at", {0, "updated_at"}, true);
  expect_order_error("metrics.x", {0, "metrics.x"}, true);
  expect_order_error("name DESC ASC", {10, "ASC"}, true);
}

}  // namespace
}  // namespace modelreg

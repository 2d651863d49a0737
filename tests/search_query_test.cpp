// What every catalog backend shares about searches: LIKE, the meaning of each condition on a
// version or a model, the validation of queries and page tokens.

// An internal header: the tests target does not see src/, so it is reached from here.
#include "search_query.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <modelreg/error.hpp>
#include <modelreg/search.hpp>
#include <string>
#include <vector>

namespace modelreg {
namespace {

using detail::like_match;
using detail::matches;
using namespace std::chrono_literals;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// LIKE.

TEST(LikeMatchTest, WildcardsMatchRunsAndSingleBytes) {
  struct Case {
    const char* pattern;
    const char* text;
    bool expected;
  };
  for (const Case& c : std::vector<Case>{
           {"", "", true},
           {"", "a", false},
           {"%", "", true},
           {"%", "anything", true},
           {"%%", "", true},
           {"_", "", false},
           {"_", "a", true},
           {"_", "ab", false},
           {"abc", "abc", true},
           {"abc", "abd", false},
           {"abc", "ab", false},
           {"ab", "abc", false},
           {"a%", "abc", true},
           {"a%", "a", true},
           {"a%", "ba", false},
           {"%c", "abc", true},
           {"%c", "abcd", false},
           {"a_c", "abc", true},
           {"a_c", "ac", false},
           {"%b%", "abc", true},
           {"%b%", "ac", false},
           {"a%b%c", "abxbc", true},
           {"a%b%c", "acb", false},
           {"%aab", "aaab", true},
           {"%ab%ab", "xabyab", true},
           {"%ab%ab", "xabya", false},
           {"%a_", "aaa", true},
           {"_%_", "a", false},
           {"_%_", "ab", true},
           {"%_%_%", "ab", true},
           {"a%%b", "ab", true},
           {"%%a%%", "bab", true},
           {"%mississippi", "mississippi", true},
           {"%issip%", "mississippi", true},
           {"m%ss%pi", "mississippi", true},
       }) {
    EXPECT_EQ(like_match(c.pattern, c.text, false), c.expected) << c.pattern << " ~ " << c.text;
  }
}

TEST(LikeMatchTest, BackslashMakesTheNextByteLiteral) {
  EXPECT_TRUE(like_match("50\\%", "50%", false));
  EXPECT_FALSE(like_match("50\\%", "500", false));
  EXPECT_FALSE(like_match("50\\%", "50", false));
  EXPECT_TRUE(like_match("a\\_b", "a_b", false));
  EXPECT_FALSE(like_match("a\\_b", "axb", false));
  EXPECT_TRUE(like_match("a\\\\b", "a\\b", false));
  EXPECT_FALSE(like_match("a\\\\b", "a\\\\b", false));
  EXPECT_TRUE(like_match("\\a", "a", false));    // an escaped ordinary byte is itself
  EXPECT_TRUE(like_match("a\\", "a\\", false));  // a trailing backslash matches a backslash
  EXPECT_FALSE(like_match("a\\", "a", false));
  EXPECT_TRUE(like_match("%\\%", "100%", false));
  EXPECT_FALSE(like_match("%\\%", "100", false));
  EXPECT_TRUE(like_match("%\\%%", "a%b", false));
  EXPECT_TRUE(like_match("\\%%", "%abc", false));
  EXPECT_FALSE(like_match("\\%%", "abc", false));
  // After a '%' the backtracking must not split an escape: "\_" stays one literal '_'.
  EXPECT_TRUE(like_match("%\\_x", "a_b_x", false));
  EXPECT_FALSE(like_match("%\\_x", "abx", false));
}

TEST(LikeMatchTest, IgnoreCaseFoldsAsciiLettersOnly) {
  EXPECT_FALSE(like_match("ABC", "abc", false));
  EXPECT_TRUE(like_match("ABC", "abc", true));
  EXPECT_TRUE(like_match("abc", "AbC", true));
  EXPECT_TRUE(like_match("%B_", "abc", true));
  EXPECT_TRUE(like_match("FRAUD%", "fraud-detector", true));
  EXPECT_FALSE(like_match("[", "{", true));  // 0x5b and 0x7b differ by 0x20 but are not letters
  EXPECT_FALSE(like_match("@", "`", true));
  EXPECT_FALSE(like_match("\xc3\x89", "\xc3\xa9", true));  // É and é: not ASCII
}

TEST(LikeMatchTest, UnderscoreMatchesOneByteNotOneCharacter) {
  EXPECT_FALSE(like_match("caf_", "caf\xc3\xa9", false));
  EXPECT_TRUE(like_match("caf__", "caf\xc3\xa9", false));
  EXPECT_TRUE(like_match("caf%", "caf\xc3\xa9", false));
  EXPECT_TRUE(like_match("a_c", std::string("a\0c", 3), false));
}

TEST(LikeMatchTest, PathologicalPatternsAreCorrect) {
  // An exponential matcher would never finish these; a quadratic one does in milliseconds.
  const std::string text(20'000, 'a');
  std::string pattern;
  for (int i = 0; i < 200; ++i) pattern += "%a";
  EXPECT_FALSE(like_match(pattern + "%b", text, false));
  EXPECT_TRUE(like_match(pattern + "%", text, false));
  EXPECT_TRUE(like_match(pattern, text, false));
  EXPECT_FALSE(like_match(pattern, std::string(199, 'a'), false));
  EXPECT_TRUE(like_match(std::string(5000, '%') + "a", text, false));
  EXPECT_FALSE(like_match(std::string(5000, '%') + "b", text, false));
  EXPECT_TRUE(like_match(std::string(5000, '%') + "b", text + "b", false));
  EXPECT_FALSE(like_match("%" + std::string(300, 'a') + "b%", text, false));
  EXPECT_TRUE(like_match("%" + std::string(300, 'a') + "b%", text + "b", false));
  EXPECT_FALSE(like_match(std::string(1000, '_') + "%b", std::string(1000, 'b'), false));
  EXPECT_TRUE(like_match(std::string(1000, '_') + "%b", std::string(1001, 'b'), false));
}

// matches().

ModelVersion sample_version() {
  ModelVersion v;
  v.model_name = "fraud-detector";
  v.version = "1.2.0";
  v.stage = ModelStage::Staging;
  v.framework = ModelFramework::Onnx;
  v.metrics.accuracy = 0.9;
  v.metrics.custom["latency_ms"] = 3.5;
  v.metrics.custom["auc_roc"] = 0.75;  // wins over the standard auc_roc, as in ModelMetrics::get
  v.metrics.auc_roc = 0.5;
  v.metrics.custom["nan"] = kNaN;
  v.metrics.custom["huge"] = kInf;
  v.tags = {{"team", "Risk"}, {"empty", ""}};
  v.aliases = {"champion", "prod"};
  v.created_at = Timestamp{} + 1000s;
  v.updated_at = Timestamp{} + 2000s;
  return v;
}

TEST(MatchesTest, NameAndVersionCompareTextExactlyOrByPattern) {
  const ModelVersion v = sample_version();
  EXPECT_TRUE(matches(where::model_name(CompareOp::Equal, "fraud-detector"), v));
  EXPECT_FALSE(matches(where::model_name(CompareOp::Equal, "Fraud-detector"), v));
  EXPECT_FALSE(matches(where::model_name(CompareOp::Equal, "fraud"), v));
  EXPECT_TRUE(matches(where::model_name(CompareOp::NotEqual, "fraud"), v));
  EXPECT_FALSE(matches(where::model_name(CompareOp::NotEqual, "fraud-detector"), v));
  EXPECT_TRUE(matches(where::model_name(CompareOp::Like, "fraud%"), v));
  EXPECT_FALSE(matches(where::model_name(CompareOp::Like, "FRAUD%"), v));
  EXPECT_TRUE(matches(where::model_name(CompareOp::ILike, "FRAUD%"), v));
  EXPECT_FALSE(matches(where::model_name(CompareOp::ILike, "%x%"), v));
  EXPECT_TRUE(matches(where::version(CompareOp::Equal, "1.2.0"), v));
  EXPECT_FALSE(matches(where::version(CompareOp::Equal, "1.2"), v));
  EXPECT_TRUE(matches(where::version(CompareOp::NotEqual, "1.2"), v));
  EXPECT_TRUE(matches(where::version(CompareOp::Like, "1._.0"), v));
  EXPECT_FALSE(matches(where::version(CompareOp::Like, "2.%"), v));
  EXPECT_TRUE(matches(where::version(CompareOp::ILike, "1.2%"), v));
}

TEST(MatchesTest, StageAndFramework) {
  const ModelVersion v = sample_version();
  EXPECT_TRUE(matches(where::stage(ModelStage::Staging), v));
  EXPECT_FALSE(matches(where::stage(ModelStage::Production), v));
  EXPECT_TRUE(matches(where::stage(ModelStage::Production, CompareOp::NotEqual), v));
  EXPECT_FALSE(matches(where::stage(ModelStage::Staging, CompareOp::NotEqual), v));
  EXPECT_TRUE(matches(where::framework(ModelFramework::Onnx), v));
  EXPECT_FALSE(matches(where::framework(ModelFramework::PyTorch), v));
  EXPECT_TRUE(matches(where::framework(ModelFramework::PyTorch, CompareOp::NotEqual), v));
  EXPECT_FALSE(matches(where::framework(ModelFramework::Onnx, CompareOp::NotEqual), v));
}

TEST(MatchesTest, AliasMeansTheVersionCarriesIt) {
  const ModelVersion v = sample_version();
  EXPECT_TRUE(matches(where::alias("champion"), v));
  EXPECT_TRUE(matches(where::alias("prod"), v));
  EXPECT_FALSE(matches(where::alias("Champion"), v));
  EXPECT_FALSE(matches(where::alias("challenger"), v));
  const ModelVersion without_aliases;
  EXPECT_FALSE(matches(where::alias("champion"), without_aliases));
}

TEST(MatchesTest, TagsMustExistForEveryOperator) {
  const ModelVersion v = sample_version();
  EXPECT_TRUE(matches(where::tag("team", CompareOp::Equal, "Risk"), v));
  EXPECT_FALSE(matches(where::tag("team", CompareOp::Equal, "risk"), v));
  EXPECT_TRUE(matches(where::tag("team", CompareOp::NotEqual, "risk"), v));
  EXPECT_FALSE(matches(where::tag("team", CompareOp::NotEqual, "Risk"), v));
  EXPECT_TRUE(matches(where::tag("team", CompareOp::Like, "R%"), v));
  EXPECT_FALSE(matches(where::tag("team", CompareOp::Like, "r%"), v));
  EXPECT_TRUE(matches(where::tag("team", CompareOp::ILike, "r%"), v));
  EXPECT_TRUE(matches(where::tag("empty", CompareOp::Equal, ""), v));
  EXPECT_TRUE(matches(where::tag("empty", CompareOp::Like, "%"), v));
  // A version without the tag matches no condition on it, != included.
  for (const CompareOp op :
       {CompareOp::Equal, CompareOp::NotEqual, CompareOp::Like, CompareOp::ILike}) {
    EXPECT_FALSE(matches(where::tag("owner", op, "x"), v)) << to_string(op);
    EXPECT_FALSE(matches(where::tag("owner", op, "%"), v)) << to_string(op);
  }
  EXPECT_FALSE(matches(where::tag("Team", CompareOp::Equal, "Risk"), v));  // keys are exact
}

TEST(MatchesTest, MetricsCompareNumbers) {
  const ModelVersion v = sample_version();
  struct Case {
    CompareOp op;
    double value;
    bool expected;
  };
  // accuracy = 0.9
  for (const Case& c : std::vector<Case>{
           {CompareOp::Equal, 0.9, true},
           {CompareOp::Equal, 0.8, false},
           {CompareOp::NotEqual, 0.8, true},
           {CompareOp::NotEqual, 0.9, false},
           {CompareOp::Less, 1.0, true},
           {CompareOp::Less, 0.9, false},
           {CompareOp::LessEqual, 0.9, true},
           {CompareOp::LessEqual, 0.89, false},
           {CompareOp::Greater, 0.8, true},
           {CompareOp::Greater, 0.9, false},
           {CompareOp::GreaterEqual, 0.9, true},
           {CompareOp::GreaterEqual, 0.91, false},
           {CompareOp::Less, kInf, true},
           {CompareOp::Greater, -kInf, true},
           {CompareOp::Greater, kInf, false},
       }) {
    EXPECT_EQ(matches(where::metric("accuracy", c.op, c.value), v), c.expected)
        << "accuracy " << to_string(c.op) << " " << c.value;
  }
  EXPECT_TRUE(matches(where::metric("latency_ms", CompareOp::Equal, 3.5), v));
  EXPECT_TRUE(matches(where::metric("huge", CompareOp::Greater, 1e308), v));
  EXPECT_TRUE(matches(where::metric("huge", CompareOp::Equal, kInf), v));
  EXPECT_FALSE(matches(where::metric("huge", CompareOp::Less, kInf), v));
}

TEST(MatchesTest, ACustomMetricWinsOverTheStandardOneOfItsName) {
  const ModelVersion v = sample_version();
  EXPECT_TRUE(matches(where::metric("auc_roc", CompareOp::Equal, 0.75), v));
  EXPECT_FALSE(matches(where::metric("auc_roc", CompareOp::Equal, 0.5), v));
  EXPECT_TRUE(matches(where::metric("auc_roc", CompareOp::Greater, 0.6), v));
}

TEST(MatchesTest, MissingAndNaNMetricsNeverMatch) {
  const ModelVersion v = sample_version();
  for (const CompareOp op : {CompareOp::Equal, CompareOp::NotEqual, CompareOp::Less,
                             CompareOp::LessEqual, CompareOp::Greater, CompareOp::GreaterEqual}) {
    for (const double value : {0.0, 1.0, -kInf, kInf}) {
      EXPECT_FALSE(matches(where::metric("recall", op, value), v)) << to_string(op);
      EXPECT_FALSE(matches(where::metric("nan", op, value), v)) << to_string(op);
      EXPECT_FALSE(matches(where::metric("unknown", op, value), v)) << to_string(op);
    }
  }
  ModelVersion standard_nan = v;
  standard_nan.metrics.recall = kNaN;
  EXPECT_FALSE(matches(where::metric("recall", CompareOp::NotEqual, 0), standard_nan));
}

TEST(MatchesTest, TimesCompareTimestamps) {
  const ModelVersion v = sample_version();
  const Timestamp created = v.created_at;
  const Timestamp updated = v.updated_at;
  EXPECT_TRUE(matches(where::created_at(CompareOp::Equal, created), v));
  EXPECT_FALSE(matches(where::created_at(CompareOp::Equal, created + 1ns), v));
  EXPECT_TRUE(matches(where::created_at(CompareOp::NotEqual, created + 1ns), v));
  EXPECT_FALSE(matches(where::created_at(CompareOp::NotEqual, created), v));
  EXPECT_TRUE(matches(where::created_at(CompareOp::Less, created + 1ns), v));
  EXPECT_FALSE(matches(where::created_at(CompareOp::Less, created), v));
  EXPECT_TRUE(matches(where::created_at(CompareOp::LessEqual, created), v));
  EXPECT_FALSE(matches(where::created_at(CompareOp::LessEqual, created - 1ns), v));
  EXPECT_TRUE(matches(where::created_at(CompareOp::Greater, created - 1ns), v));
  EXPECT_FALSE(matches(where::created_at(CompareOp::Greater, created), v));
  EXPECT_TRUE(matches(where::created_at(CompareOp::GreaterEqual, created), v));
  EXPECT_FALSE(matches(where::created_at(CompareOp::GreaterEqual, created + 1ns), v));
  // updated_at looks at the other timestamp.
  EXPECT_TRUE(matches(where::updated_at(CompareOp::Equal, updated), v));
  EXPECT_FALSE(matches(where::updated_at(CompareOp::Equal, created), v));
  EXPECT_TRUE(matches(where::updated_at(CompareOp::Greater, created), v));
  EXPECT_FALSE(matches(where::updated_at(CompareOp::Less, updated), v));
}

TEST(MatchesTest, ModelsMatchNameAndModelTags) {
  RegisteredModel model;
  model.name = "fraud-detector";
  model.tags = {{"owner", "risk"}};
  ModelVersion v = sample_version();
  v.tags = {{"version-tag", "x"}};
  model.versions = {v};
  EXPECT_TRUE(matches(where::model_name(CompareOp::Equal, "fraud-detector"), model));
  EXPECT_TRUE(matches(where::model_name(CompareOp::NotEqual, "x"), model));
  EXPECT_TRUE(matches(where::model_name(CompareOp::ILike, "FRAUD-%"), model));
  EXPECT_FALSE(matches(where::model_name(CompareOp::Like, "x%"), model));
  EXPECT_TRUE(matches(where::tag("owner", CompareOp::Equal, "risk"), model));
  EXPECT_TRUE(matches(where::tag("owner", CompareOp::Like, "r_sk"), model));
  EXPECT_FALSE(matches(where::tag("owner", CompareOp::NotEqual, "risk"), model));
  EXPECT_FALSE(matches(where::tag("missing", CompareOp::NotEqual, "risk"), model));
  // Model tags, not the tags of its versions.
  EXPECT_FALSE(matches(where::tag("version-tag", CompareOp::Equal, "x"), model));
  // Conditions on versions say nothing about a model.
  EXPECT_FALSE(matches(where::stage(ModelStage::Staging), model));
}

// validate_query.

VersionQuery version_query(std::vector<SearchCondition> conditions) {
  VersionQuery query;
  query.conditions = std::move(conditions);
  return query;
}

void expect_invalid(const VersionQuery& query, const std::string& fragment) {
  try {
    detail::validate_query(query);
    ADD_FAILURE() << "no InvalidArgumentError; expected one mentioning: " << fragment;
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

void expect_invalid(const ModelQuery& query, const std::string& fragment) {
  try {
    detail::validate_query(query);
    ADD_FAILURE() << "no InvalidArgumentError; expected one mentioning: " << fragment;
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ValidateQueryTest, AcceptsEveryAllowedCondition) {
  VersionQuery query = version_query(parse_version_filter(
      "name LIKE 'f%' AND version != '1' AND stage = 'production' AND framework != 'onnx' AND "
      "alias = 'champion' AND tags.`my key` ILIKE 'x' AND metrics.auc >= 0.5 AND created_at > 0 "
      "AND updated_at <= '2025-01-01T00:00:00Z'"));
  query.conditions.push_back(where::metric("loss", CompareOp::Less, kInf));
  query.conditions.push_back(where::metric("gain", CompareOp::Greater, -kInf));
  EXPECT_NO_THROW(detail::validate_query(query));
  query.order_by = VersionOrderBy::Metric;
  query.order_metric = "auc";
  query.max_results = kMaxSearchResults;
  EXPECT_NO_THROW(detail::validate_query(query));
  query.max_results = 1;
  EXPECT_NO_THROW(detail::validate_query(query));
  EXPECT_NO_THROW(detail::validate_query(VersionQuery{}));

  ModelQuery models;
  models.conditions = parse_model_filter("name = 'a' AND tags.owner LIKE 'r%'");
  models.order_by = ModelOrderBy::CreatedAt;
  EXPECT_NO_THROW(detail::validate_query(models));
}

TEST(ValidateQueryTest, RefusesOperatorsAFieldDoesNotTake) {
  expect_invalid(version_query({where::stage(ModelStage::Production, CompareOp::Like)}),
                 "operator not allowed");
  expect_invalid(version_query({where::framework(ModelFramework::Onnx, CompareOp::Greater)}),
                 "operator not allowed");
  SearchCondition alias = where::alias("champion");
  alias.op = CompareOp::NotEqual;
  expect_invalid(version_query({alias}), "operator not allowed (allowed: =)");
  expect_invalid(version_query({where::metric("x", CompareOp::Like, 1)}), "operator not allowed");
  expect_invalid(version_query({where::model_name(CompareOp::Less, "a")}), "operator not allowed");
  expect_invalid(version_query({where::tag("k", CompareOp::GreaterEqual, "a")}),
                 "operator not allowed");
  expect_invalid(version_query({where::created_at(CompareOp::ILike, Timestamp{})}),
                 "operator not allowed");
  expect_invalid(version_query({where::model_name(static_cast<CompareOp>(42), "a")}),
                 "unknown operator");
  SearchCondition field = where::model_name(CompareOp::Equal, "a");
  field.field = static_cast<SearchField>(42);
  expect_invalid(version_query({field}), "unknown field");
  expect_invalid(version_query({where::stage(static_cast<ModelStage>(7))}), "unknown stage");
  expect_invalid(version_query({where::framework(static_cast<ModelFramework>(-1))}),
                 "unknown framework");
}

TEST(ValidateQueryTest, RefusesBadKeysValuesAndText) {
  expect_invalid(version_query({where::metric("", CompareOp::Greater, 1)}), "metric name");
  expect_invalid(version_query({where::metric(std::string(251, 'm'), CompareOp::Greater, 1)}),
                 "longer than 250");
  EXPECT_NO_THROW(detail::validate_query(
      version_query({where::metric(std::string(250, 'm'), CompareOp::Greater, 1)})));
  expect_invalid(version_query({where::metric("x", CompareOp::Greater, kNaN)}), "NaN");
  expect_invalid(version_query({where::metric("caf\xff", CompareOp::Greater, 1)}), "UTF-8");
  expect_invalid(version_query({where::tag("", CompareOp::Equal, "x")}), "tag key");
  expect_invalid(version_query({where::tag("a\nb", CompareOp::Equal, "x")}), "control");
  expect_invalid(version_query({where::tag("k\xc3", CompareOp::Equal, "x")}), "UTF-8");
  expect_invalid(version_query({where::tag("k", CompareOp::Equal, "\xed\xa0\x80")}), "UTF-8");
  expect_invalid(version_query({where::alias("latest")}), "reserved");
  expect_invalid(version_query({where::alias("bad alias")}), "not allowed");
  expect_invalid(version_query({where::alias("")}), "empty");
  expect_invalid(version_query({where::model_name(CompareOp::Equal, "\xff")}), "UTF-8");
  expect_invalid(version_query({where::version(CompareOp::Like, "\xc0\xaf")}), "UTF-8");
}

TEST(ValidateQueryTest, MessagesNameTheConditionSafely) {
  try {
    detail::validate_query(version_query(
        {where::model_name(CompareOp::Equal, "a"), where::metric("lo\nss", CompareOp::Like, 1)}));
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("condition 2"), std::string::npos) << message;
    EXPECT_NE(message.find("metrics.\"lo\\nss\" LIKE"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(ValidateQueryTest, OrderMetricIsSetExactlyWhenOrderingByAMetric) {
  VersionQuery query;
  query.order_by = VersionOrderBy::Metric;
  expect_invalid(query, "order_metric");
  query.order_metric = std::string(251, 'm');
  expect_invalid(query, "order_metric");
  query.order_metric = "\xff";
  expect_invalid(query, "order_metric");
  query.order_metric = "auc";
  EXPECT_NO_THROW(detail::validate_query(query));
  query.order_by = VersionOrderBy::CreatedAt;
  expect_invalid(query, "not ordered by a metric");
  query.order_by = VersionOrderBy::UpdatedAt;
  expect_invalid(query, "not ordered by a metric");
  query.order_metric.clear();
  EXPECT_NO_THROW(detail::validate_query(query));
  query.order_by = static_cast<VersionOrderBy>(9);
  expect_invalid(query, "unknown order");
}

TEST(ValidateQueryTest, MaxResultsIsBounded) {
  VersionQuery versions;
  ModelQuery models;
  for (const std::size_t bad : {std::size_t{0}, kMaxSearchResults + 1}) {
    versions.max_results = bad;
    models.max_results = bad;
    expect_invalid(versions, "max_results");
    expect_invalid(models, "max_results");
  }
}

TEST(ValidateQueryTest, ModelQueriesTakeNameAndTagsOnly) {
  for (const SearchCondition& c :
       {where::version(CompareOp::Equal, "1"), where::stage(ModelStage::Production),
        where::framework(ModelFramework::Onnx), where::alias("champion"),
        where::metric("x", CompareOp::Greater, 1), where::created_at(CompareOp::Greater, {}),
        where::updated_at(CompareOp::Greater, {})}) {
    ModelQuery query;
    query.conditions = {c};
    expect_invalid(query, "name and tags only");
  }
  ModelQuery query;
  query.conditions = {where::tag("", CompareOp::Equal, "x")};
  expect_invalid(query, "tag key");
  query.conditions = {where::model_name(CompareOp::Greater, "x")};
  expect_invalid(query, "operator not allowed");
  query.conditions.clear();
  query.order_by = static_cast<ModelOrderBy>(5);
  expect_invalid(query, "unknown order");
}

// Page tokens.

detail::PagePosition position(std::optional<double> metric, std::int64_t time, std::int64_t tie,
                              std::string name = {}) {
  detail::PagePosition p;
  p.metric = metric;
  p.time = time;
  p.tie = tie;
  p.name = std::move(name);
  return p;
}

std::uint64_t bits(double value) {
  std::uint64_t b = 0;
  std::memcpy(&b, &value, sizeof b);
  return b;
}

VersionQuery sample_query() {
  VersionQuery query;
  query.conditions = parse_version_filter("name = 'fraud' AND metrics.auc > 0.5");
  query.order_by = VersionOrderBy::Metric;
  query.order_metric = "auc";
  query.descending = true;
  return query;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += kDigits[static_cast<unsigned char>(c) >> 4];
    out += kDigits[static_cast<unsigned char>(c) & 0x0f];
  }
  return out;
}

TEST(PageTokenTest, EmptyTokenIsTheFirstPage) {
  EXPECT_FALSE(detail::decode_page_token(sample_query()).has_value());
  EXPECT_FALSE(detail::decode_page_token(ModelQuery{}).has_value());
}

TEST(PageTokenTest, VersionPositionsRoundTripExactly) {
  const double denormal = std::numeric_limits<double>::denorm_min();
  for (const std::optional<double> metric :
       {std::optional<double>(0.1), std::optional<double>(-0.0), std::optional<double>(kInf),
        std::optional<double>(-kInf), std::optional<double>(denormal),
        std::optional<double>(std::numeric_limits<double>::max()), std::optional<double>()}) {
    VersionQuery query = sample_query();
    const auto original = position(metric, -1'234'567'890'123'456'789, INT64_MAX);
    query.page_token = detail::encode_page_token(query, original);
    for (const char c : query.page_token) {
      EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << query.page_token;
    }
    const auto decoded = detail::decode_page_token(query);
    ASSERT_TRUE(decoded.has_value());
    ASSERT_EQ(decoded->metric.has_value(), metric.has_value());
    if (metric) {
      EXPECT_EQ(bits(*decoded->metric), bits(*metric));
    }
    EXPECT_EQ(decoded->time, original.time);
    EXPECT_EQ(decoded->tie, original.tie);
    EXPECT_EQ(decoded->name, "");
  }
}

TEST(PageTokenTest, ANaNMetricPositionSortsWithTheMissingOnes) {
  VersionQuery query = sample_query();
  query.page_token = detail::encode_page_token(query, position(kNaN, 1, 2));
  EXPECT_FALSE(detail::decode_page_token(query)->metric.has_value());
}

TEST(PageTokenTest, ModelPositionsRoundTrip) {
  ModelQuery query;
  query.conditions = parse_model_filter("tags.owner = 'risk'");
  query.order_by = ModelOrderBy::CreatedAt;
  query.page_token = detail::encode_page_token(query, position({}, INT64_MIN, 0, "fraud-v2"));
  const auto decoded = detail::decode_page_token(query);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->name, "fraud-v2");
  EXPECT_EQ(decoded->time, INT64_MIN);
  EXPECT_FALSE(decoded->metric.has_value());
}

TEST(PageTokenTest, ATokenIgnoresPageSizeAndHowTheQueryWasBuilt) {
  VersionQuery query = sample_query();
  const std::string token = detail::encode_page_token(query, position(0.7, 1, 2));
  VersionQuery same;
  same.conditions = {where::model_name(CompareOp::Equal, "fraud"),
                     where::metric("auc", CompareOp::Greater, 0.5)};
  same.order_by = VersionOrderBy::Metric;
  same.order_metric = "auc";
  same.descending = true;
  same.max_results = 7;
  same.page_token = token;
  EXPECT_EQ(detail::decode_page_token(same)->metric, 0.7);
}

void expect_refused(const VersionQuery& query, const std::string& message) {
  try {
    detail::decode_page_token(query);
    ADD_FAILURE() << "token accepted: " << query.page_token;
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(PageTokenTest, ATokenOfAnotherQueryIsRefused) {
  const VersionQuery query = sample_query();
  const std::string token = detail::encode_page_token(query, position(0.7, 1, 2));
  std::vector<VersionQuery> others(7, query);
  others[0].conditions[0].text = "fraud2";
  others[1].conditions[1].number = 0.6;
  others[2].conditions.pop_back();
  others[3].descending = false;
  others[4].order_metric = "loss";
  others[5].order_by = VersionOrderBy::CreatedAt;
  others[5].order_metric.clear();
  std::swap(others[6].conditions[0], others[6].conditions[1]);
  for (VersionQuery& other : others) {
    other.page_token = token;
    expect_refused(other, "page token does not belong to this query");
  }
  // Nor does a version search's token continue a model search.
  ModelQuery models;
  models.page_token = detail::encode_page_token(VersionQuery{}, position({}, 1, 2));
  EXPECT_THROW(detail::decode_page_token(models), InvalidArgumentError);
  ModelQuery other_models;
  other_models.descending = true;
  other_models.page_token = detail::encode_page_token(ModelQuery{}, position({}, 1, 2, "m"));
  EXPECT_THROW(detail::decode_page_token(other_models), InvalidArgumentError);
}

TEST(PageTokenTest, AMalformedTokenIsRefused) {
  VersionQuery query = sample_query();
  const std::string token = detail::encode_page_token(query, position(0.7, 1, 2));
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string flipped = token;
  flipped[4] = flipped[4] == '0' ? '1' : '0';
  const std::string document = std::string(R"({"v":1,"q":")") + "0" + R"(","m":null})";
  const std::vector<std::string> bad{
      "x",
      token.substr(1),
      token.substr(0, token.size() - 2),
      token + "00",
      token + "zz",
      upper,
      flipped,
      "not a token",
      std::string(10'000, 'a'),
      hex("[]"),
      hex("null"),
      hex("{}"),
      hex(document),
      hex(R"({"v":2,"q":"x","m":null,"t":1,"i":2,"n":""})"),
      hex(R"({"v":1,"q":"x","m":"zz","t":1,"i":2,"n":""})"),
      hex(R"({"v":1,"q":"x","m":null,"t":1.5,"i":2,"n":""})"),
      hex(R"({"v":1,"q":"x","m":null,"t":1,"i":18446744073709551615,"n":""})"),
      hex(R"({"v":1,"q":"x","m":null,"t":1,"i":2,"n":3})"),
      hex(R"({"v":1,"q":"x","m":null,"t":1,"i":2,"n":"","extra":0})"),
      hex(R"({"v":1,"q":"x","m":"7ff8000000000000","t":1,"i":2,"n":""})"),
      hex(std::string("\xff\xfe", 2)),
  };
  for (const std::string& t : bad) {
    query.page_token = t;
    try {
      detail::decode_page_token(query);
      ADD_FAILURE() << "token accepted: " << t;
    } catch (const InvalidArgumentError& e) {
      const std::string message = e.what();
      EXPECT_TRUE(message == "malformed page token" ||
                  message == "page token does not belong to this query")
          << message;
    }
  }
  query.page_token = "x";
  expect_refused(query, "malformed page token");
  query.page_token = upper;
  expect_refused(query, "malformed page token");
  query.page_token = token.substr(0, token.size() - 2);
  expect_refused(query, "malformed page token");
}

}  // namespace
}  // namespace modelreg

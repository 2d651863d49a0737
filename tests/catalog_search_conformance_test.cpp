// The MetadataStore conformance suite, part 4: search_versions, field by field and operator by
// operator, and its orders (metadata_store_conformance.hpp).
// Pages and model searches are in catalog_search_pages_conformance_test.cpp, the randomized
// comparison of every backend with a brute-force reference in
// catalog_search_random_conformance_test.cpp.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "catalog_test_support.hpp"
#include "metadata_store_conformance.hpp"
#include "modelreg/error.hpp"
#include "modelreg/metadata_store.hpp"
#include "modelreg/search.hpp"

namespace modelreg {
namespace {

using testing::at;
using testing::bare;
using testing::full_names;
using testing::make_version;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class SearchTest {
 public:
  explicit SearchTest(MetadataStore& store) : store_(store) {}

  // Every result of `query`, following its pages.
  std::vector<ModelVersion> all(VersionQuery query) const {
    std::vector<ModelVersion> result;
    for (int pages = 0; pages < 10'000; ++pages) {
      const VersionPage page = store_.search_versions(query);
      result.insert(result.end(), page.versions.begin(), page.versions.end());
      if (page.next_page_token.empty()) return result;
      EXPECT_EQ(page.versions.size(), query.max_results) << "only the last page may be short";
      query.page_token = page.next_page_token;
    }
    ADD_FAILURE() << "pages never end";
    return result;
  }

  std::vector<std::string> names(std::vector<SearchCondition> conditions) const {
    VersionQuery query;
    query.conditions = std::move(conditions);
    return full_names(all(query));
  }

  std::vector<std::string> ordered(VersionOrderBy order_by, bool descending,
                                   const std::string& metric = {}) const {
    VersionQuery query;
    query.order_by = order_by;
    query.order_metric = metric;
    query.descending = descending;
    return full_names(all(query));
  }

 private:
  MetadataStore& store_;
};

using Names = std::vector<std::string>;

// --- every field and operator -------------------------------------------------------------

TEST_P(MetadataStoreConformance, EmptyConditionsFindEveryVisibleVersionAndNothingElse) {
  store().create_version(bare("a", "1"));
  store().create_version(bare("b", "1"));
  store().create_version(bare("a", "2"));
  store().create_version(bare("a", "3"), "writer-1");  // reserved
  store().create_version(bare("b", "2"));
  ASSERT_TRUE(store().begin_delete("b", "2", "deleter").has_value());
  store().create_version(bare("c", "1"));
  ASSERT_TRUE(store().begin_delete_model("c", "deleter", at(1)).has_value());
  store().set_alias("a", "champion", "2", std::nullopt, at(2));

  SearchTest search(store());
  VersionQuery query;
  const auto found = search.all(query);
  // Same created_at everywhere: registration order, in the query's direction.
  EXPECT_EQ(full_names(found), (Names{"a:1", "b:1", "a:2"}));
  EXPECT_EQ(search.ordered(VersionOrderBy::CreatedAt, true), (Names{"a:2", "b:1", "a:1"}));
  for (const auto& v : found) {
    EXPECT_EQ(store().get_version(v.model_name, v.version), v) << "a complete snapshot";
  }
}

TEST_P(MetadataStoreConformance, SearchByModelNameWithEveryOperator) {
  for (const char* model : {"fraud", "fraud_v2", "fraudXv2", "Fraud-EU", "churn"}) {
    store().create_version(bare(model, "1"));
  }
  SearchTest s(store());
  using where::model_name;
  EXPECT_EQ(s.names({model_name(CompareOp::Equal, "fraud")}), (Names{"fraud:1"}));
  EXPECT_EQ(s.names({model_name(CompareOp::Equal, "FRAUD")}), Names{});
  EXPECT_EQ(s.names({model_name(CompareOp::NotEqual, "fraud")}),
            (Names{"fraud_v2:1", "fraudXv2:1", "Fraud-EU:1", "churn:1"}));
  EXPECT_EQ(s.names({model_name(CompareOp::Like, "fraud%")}),
            (Names{"fraud:1", "fraud_v2:1", "fraudXv2:1"}));
  EXPECT_EQ(s.names({model_name(CompareOp::ILike, "FRAUD%")}),
            (Names{"fraud:1", "fraud_v2:1", "fraudXv2:1", "Fraud-EU:1"}));
  EXPECT_EQ(s.names({model_name(CompareOp::Like, "fraud_v2")}),
            (Names{"fraud_v2:1", "fraudXv2:1"}));
  EXPECT_EQ(s.names({model_name(CompareOp::Like, "fraud\\_v2")}), (Names{"fraud_v2:1"}));
  EXPECT_EQ(s.names({model_name(CompareOp::Like, "%v_")}), (Names{"fraud_v2:1", "fraudXv2:1"}));
  EXPECT_EQ(s.names({model_name(CompareOp::Like, "_raud")}), (Names{"fraud:1"}));
  EXPECT_EQ(s.names({model_name(CompareOp::ILike, "_RAUD-%")}), (Names{"Fraud-EU:1"}));
  EXPECT_EQ(s.names({model_name(CompareOp::Like, "%")}).size(), 5u);
  EXPECT_EQ(s.names({model_name(CompareOp::Like, "")}), Names{});
  EXPECT_EQ(s.names({model_name(CompareOp::Like, "frau")}), Names{}) << "a pattern matches whole";
}

TEST_P(MetadataStoreConformance, SearchByVersionWithEveryOperator) {
  for (const char* version : {"1.0", "1.10", "2.0-rc1", "10", "1+build"}) {
    store().create_version(bare("m", version));
  }
  store().create_version(bare("other", "1.0"));
  SearchTest s(store());
  using where::version;
  const auto in_m = where::model_name(CompareOp::Equal, "m");
  EXPECT_EQ(s.names({version(CompareOp::Equal, "1.0")}), (Names{"m:1.0", "other:1.0"}));
  EXPECT_EQ(s.names({in_m, version(CompareOp::NotEqual, "1.0")}),
            (Names{"m:1.10", "m:2.0-rc1", "m:10", "m:1+build"}));
  EXPECT_EQ(s.names({in_m, version(CompareOp::Like, "1.%")}), (Names{"m:1.0", "m:1.10"}));
  EXPECT_EQ(s.names({in_m, version(CompareOp::Like, "1_0")}), (Names{"m:1.0"}));
  EXPECT_EQ(s.names({in_m, version(CompareOp::Like, "%rc_")}), (Names{"m:2.0-rc1"}));
  EXPECT_EQ(s.names({in_m, version(CompareOp::Like, "%RC%")}), Names{});
  EXPECT_EQ(s.names({in_m, version(CompareOp::ILike, "%RC%")}), (Names{"m:2.0-rc1"}));
  EXPECT_EQ(s.names({in_m, version(CompareOp::Like, "1\\+%")}), (Names{"m:1+build"}));
}

TEST_P(MetadataStoreConformance, SearchByStageAndFramework) {
  const ModelFramework frameworks[] = {ModelFramework::Sklearn, ModelFramework::PyTorch,
                                       ModelFramework::TensorFlow, ModelFramework::Onnx};
  const ModelStage stages[] = {ModelStage::Development, ModelStage::Staging, ModelStage::Archived,
                               ModelStage::Development};
  for (int i = 0; i < 4; ++i) {
    ModelVersion v = bare("m", std::to_string(i));
    v.framework = frameworks[i];
    v.stage = stages[i];
    store().create_version(v);
  }
  ASSERT_TRUE(store().set_stage("m", "3", ModelStage::Production, std::nullopt, at(1)));
  SearchTest s(store());
  using where::framework;
  using where::stage;
  EXPECT_EQ(s.names({stage(ModelStage::Production)}), (Names{"m:3"}));
  EXPECT_EQ(s.names({stage(ModelStage::Development)}), (Names{"m:0"}));
  EXPECT_EQ(s.names({stage(ModelStage::Staging)}), (Names{"m:1"}));
  EXPECT_EQ(s.names({stage(ModelStage::Archived)}), (Names{"m:2"}));
  EXPECT_EQ(s.names({stage(ModelStage::Archived, CompareOp::NotEqual)}),
            (Names{"m:0", "m:1", "m:3"}));
  EXPECT_EQ(s.names({framework(ModelFramework::Onnx)}), (Names{"m:3"}));
  EXPECT_EQ(s.names({framework(ModelFramework::Custom)}), Names{});
  EXPECT_EQ(s.names({framework(ModelFramework::PyTorch, CompareOp::NotEqual)}),
            (Names{"m:0", "m:2", "m:3"}));
}

TEST_P(MetadataStoreConformance, SearchByAlias) {
  for (const char* v : {"1", "2", "3"}) store().create_version(bare("m", v));
  store().create_version(bare("n", "1"));
  store().set_alias("m", "champion", "2", std::nullopt, at(1));
  store().set_alias("m", "shadow", "2", std::nullopt, at(1));
  store().set_alias("m", "gone", "3", std::nullopt, at(1));
  store().set_alias("n", "champion", "1", std::nullopt, at(1));
  ASSERT_TRUE(store().begin_delete("m", "3", "deleter").has_value());
  SearchTest s(store());
  EXPECT_EQ(s.names({where::alias("champion")}), (Names{"m:2", "n:1"}));
  EXPECT_EQ(s.names({where::alias("champion"), where::model_name(CompareOp::Equal, "m")}),
            (Names{"m:2"}));
  EXPECT_EQ(s.names({where::alias("shadow")}), (Names{"m:2"}));
  EXPECT_EQ(s.names({where::alias("Champion")}), Names{});
  EXPECT_EQ(s.names({where::alias("gone")}), Names{}) << "hidden with its version";
  store().set_alias("m", "champion", "1", std::nullopt, at(2));
  EXPECT_EQ(s.names({where::alias("champion")}), (Names{"m:1", "n:1"}));
  VersionQuery shadow;
  shadow.conditions = {where::alias("shadow")};
  const auto found = s.all(shadow);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].aliases, Names{"shadow"});
}

TEST_P(MetadataStoreConformance, SearchByTagsOnlyMatchesVersionsThatHaveTheTag) {
  const std::vector<std::pair<std::string, std::string>> values{
      {"1", "risk"}, {"2", "Risk"}, {"3", "50%"}, {"4", "500"}, {"6", ""}, {"7", "a\\b"}};
  for (const auto& [version, value] : values) {
    ModelVersion v = bare("m", version);
    v.tags["team"] = value;
    store().create_version(v);
  }
  store().create_version(bare("m", "5"));  // no tag at all
  ModelVersion spaced = bare("m", "8");
  spaced.tags["my key"] = "x y";
  store().create_version(spaced);
  SearchTest s(store());
  using where::tag;
  EXPECT_EQ(s.names({tag("team", CompareOp::Equal, "risk")}), (Names{"m:1"}));
  EXPECT_EQ(s.names({tag("team", CompareOp::NotEqual, "risk")}),
            (Names{"m:2", "m:3", "m:4", "m:6", "m:7"}));
  EXPECT_EQ(s.names({tag("team", CompareOp::ILike, "RISK")}), (Names{"m:1", "m:2"}));
  EXPECT_EQ(s.names({tag("team", CompareOp::Like, "RISK")}), Names{});
  EXPECT_EQ(s.names({tag("team", CompareOp::Like, "50%")}), (Names{"m:3", "m:4"}));
  EXPECT_EQ(s.names({tag("team", CompareOp::Like, "50\\%")}), (Names{"m:3"}));
  EXPECT_EQ(s.names({tag("team", CompareOp::Like, "%")}),
            (Names{"m:1", "m:2", "m:3", "m:4", "m:6", "m:7"}));
  EXPECT_EQ(s.names({tag("team", CompareOp::Equal, "")}), (Names{"m:6"}));
  EXPECT_EQ(s.names({tag("team", CompareOp::Like, "a\\\\b")}), (Names{"m:7"}));
  EXPECT_EQ(s.names({tag("team", CompareOp::Like, "a\\b")}), Names{}) << "\\b is a literal b";
  EXPECT_EQ(s.names({tag("team", CompareOp::Like, "a_b")}), (Names{"m:7"}));
  EXPECT_EQ(s.names({tag("my key", CompareOp::Equal, "x y")}), (Names{"m:8"}));
  EXPECT_EQ(s.names({tag("other", CompareOp::NotEqual, "x")}), Names{});
  // Tags changed after registration are searched as they are now.
  store().set_version_tag("m", "5", "team", "risk", at(1));
  store().delete_version_tag("m", "1", "team", at(1));
  EXPECT_EQ(s.names({tag("team", CompareOp::Equal, "risk")}), (Names{"m:5"}));
}

// Tag text with quotes, backslashes, control characters and non-ASCII characters is stored,
// read back and matched exactly, whichever way a backend evaluates a condition (an equality may
// be looked up in an index, the others read the stored tags).
TEST_P(MetadataStoreConformance, TagsWithQuotesBackslashesAndControlCharactersAreSearchable) {
  const std::map<std::string, std::string> tags{
      {"quote", "say \"hi\""},
      {"back", "C:\\dir\\"},
      {"ctl", std::string("a\x01"
                          "b\x1f"
                          "c")},
      {"lines", "a\tb\nc\rd"},
      {"uni", "\xc3\xbcn\xc3\xaf \xf0\x9f\x9a\x80 \xe2\x80\xa8"},
      {"del", "x\x7fy"},
      {"k\"ey", "v"},
      {"k\\ey", "w"},
      {"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "\xd0\xb7"},
      {"$.x", "path"},
      {"a.b", "dot"},
      {"sp ace", " lead and trail "}};
  ModelVersion tagged = bare("m", "t");
  tagged.tags = tags;
  store().create_version(tagged);
  ModelVersion other = bare("m", "o");
  other.tags = {{"quote", "say hi"}, {"back", "C:/dir/"}};
  store().create_version(other);
  EXPECT_EQ(store().get_version("m", "t")->tags, tags);

  // LIKE pattern that matches `text` exactly.
  auto literal = [](const std::string& text) {
    std::string pattern;
    for (const char c : text) {
      if (c == '%' || c == '_' || c == '\\') pattern += '\\';
      pattern += c;
    }
    return pattern;
  };
  SearchTest s(store());
  using where::tag;
  const auto anchor = tag("quote", CompareOp::Equal, "say \"hi\"");
  for (const auto& [key, value] : tags) {
    SCOPED_TRACE("tag '" + key + "'");
    EXPECT_EQ(s.names({tag(key, CompareOp::Equal, value)}), Names{"m:t"});
    EXPECT_EQ(s.names({anchor, tag(key, CompareOp::Equal, value)}), Names{"m:t"});
    EXPECT_EQ(s.names({anchor, tag(key, CompareOp::NotEqual, value + "!")}), Names{"m:t"});
    EXPECT_EQ(s.names({anchor, tag(key, CompareOp::NotEqual, value)}), Names{});
    EXPECT_EQ(s.names({tag(key, CompareOp::Like, literal(value))}), Names{"m:t"});
    EXPECT_EQ(s.names({tag(key, CompareOp::ILike, literal(value))}), Names{"m:t"});
    EXPECT_EQ(s.names({tag(key, CompareOp::Equal, value + " ")}), Names{});
  }
  // A changed value is found as it is now, and no longer as it was.
  store().set_version_tag("m", "t", "quote", "it's \"new\"", at(1));
  store().delete_version_tag("m", "t", "ctl", at(2));
  EXPECT_EQ(s.names({anchor}), Names{});
  EXPECT_EQ(s.names({tag("quote", CompareOp::Equal, "it's \"new\"")}), Names{"m:t"});
  EXPECT_EQ(s.names({tag("ctl", CompareOp::Equal, tags.at("ctl"))}), Names{});
  EXPECT_EQ(s.names({tag("ctl", CompareOp::Like, "%")}), Names{});
  EXPECT_EQ(s.names({tag("back", CompareOp::Like, "C:%")}), (Names{"m:t", "m:o"}));
  // Model tags too.
  for (const auto& [key, value] : tags) store().set_model_tag("m", key, value, at(3));
  EXPECT_EQ(store().get_model("m")->tags, tags);
  for (const auto& [key, value] : tags) {
    ModelQuery query;
    query.conditions = {tag(key, CompareOp::Equal, value),
                        tag(key, CompareOp::Like, literal(value))};
    EXPECT_EQ(store().search_models(query).models.size(), 1u) << key;
  }
}

// What a deleted version had (tags, metrics, aliases) is gone with it: a version registered
// after it, which a backend may store in the very same place, inherits none of it.
TEST_P(MetadataStoreConformance, ADeletedVersionLeavesNothingForTheNextOneToInherit) {
  auto remove = [&](const std::string& model, const std::string& version) {
    ASSERT_TRUE(store().begin_delete(model, version, "deleter").has_value());
    ASSERT_TRUE(store().release_version(model, version, "deleter"));
  };
  ModelVersion first = bare("m", "1");
  first.tags = {{"team", "risk"}};
  first.metrics.accuracy = 0.9;
  first.metrics.custom["latency"] = 3;
  store().create_version(first);
  store().set_alias("m", "champion", "1", std::nullopt, at(1));
  store().set_version_tag("m", "1", "extra", "x", at(2));
  remove("m", "1");
  // A reservation that is rolled back leaves nothing either.
  ModelVersion reserved = bare("m", "2");
  reserved.tags = {{"team", "ops"}};
  reserved.metrics.auc_roc = 0.8;
  store().create_version(reserved, "writer-1");
  ASSERT_TRUE(store().release_version("m", "2", "writer-1"));
  const ModelVersion plain = store().create_version(bare("m", "3"));

  SearchTest s(store());
  using where::metric;
  using where::tag;
  for (const auto& condition :
       {tag("team", CompareOp::Equal, "risk"), tag("team", CompareOp::NotEqual, "x"),
        tag("extra", CompareOp::Equal, "x"), tag("team", CompareOp::Equal, "ops"),
        metric("accuracy", CompareOp::Greater, 0), metric("latency", CompareOp::Equal, 3),
        metric("auc_roc", CompareOp::LessEqual, 1), where::alias("champion")}) {
    EXPECT_EQ(s.names({condition}), Names{})
        << static_cast<int>(condition.field) << " " << condition.key;
  }
  VersionQuery by_accuracy;
  by_accuracy.order_by = VersionOrderBy::Metric;
  by_accuracy.order_metric = "accuracy";
  const auto ordered = s.all(by_accuracy);
  ASSERT_EQ(ordered.size(), 1u);
  EXPECT_EQ(ordered[0], plain);
  EXPECT_EQ(store().get_version("m", "3"), plain);
  EXPECT_TRUE(plain.aliases.empty());
  EXPECT_EQ(store().get_version_by_alias("m", "champion"), std::nullopt);

  // Nor does a new model under the name of a deleted one.
  store().set_model_tag("m", "owner", "alice", at(3));
  ASSERT_TRUE(store().begin_delete_model("m", "deleter", at(4)).has_value());
  ASSERT_TRUE(store().release_version("m", "3", "deleter"));
  ModelVersion again = bare("m", "1");
  store().create_version(again);
  EXPECT_EQ(s.names({}), Names{"m:1"});
  EXPECT_EQ(s.names({tag("team", CompareOp::Like, "%")}), Names{});
  ModelQuery models;
  models.conditions = {tag("owner", CompareOp::Equal, "alice")};
  EXPECT_TRUE(store().search_models(models).models.empty());
}

TEST_P(MetadataStoreConformance, SearchByMetricsStandardAndCustom) {
  auto with = [&](const std::string& version, auto set) {
    ModelVersion v = bare("m", version);
    set(v.metrics);
    store().create_version(v);
  };
  with("half", [](ModelMetrics& m) { m.accuracy = 0.5; });
  with("high", [](ModelMetrics& m) { m.accuracy = 0.9; });
  with("nan", [](ModelMetrics& m) { m.accuracy = kNaN; });
  with("none", [](ModelMetrics&) {});
  with("inf", [](ModelMetrics& m) { m.accuracy = kInf; });
  with("neginf", [](ModelMetrics& m) { m.accuracy = -kInf; });
  with("shadowed", [](ModelMetrics& m) {
    m.accuracy = 0.95;
    m.custom["accuracy"] = 0.1;  // the custom one wins
  });
  with("latency", [](ModelMetrics& m) { m.custom["latency_ms"] = 3.5; });
  with("negzero", [](ModelMetrics& m) { m.accuracy = -0.0; });
  SearchTest s(store());
  auto accuracy = [](CompareOp op, double value) { return where::metric("accuracy", op, value); };
  EXPECT_EQ(s.names({accuracy(CompareOp::Greater, 0.5)}), (Names{"m:high", "m:inf"}));
  EXPECT_EQ(s.names({accuracy(CompareOp::GreaterEqual, 0.5)}),
            (Names{"m:half", "m:high", "m:inf"}));
  EXPECT_EQ(s.names({accuracy(CompareOp::Less, 0.5)}),
            (Names{"m:neginf", "m:shadowed", "m:negzero"}));
  EXPECT_EQ(s.names({accuracy(CompareOp::LessEqual, 0.0)}), (Names{"m:neginf", "m:negzero"}));
  EXPECT_EQ(s.names({accuracy(CompareOp::Equal, 0.0)}), (Names{"m:negzero"}));
  EXPECT_EQ(s.names({accuracy(CompareOp::Equal, 0.95)}), Names{});
  EXPECT_EQ(s.names({accuracy(CompareOp::Equal, 0.1)}), (Names{"m:shadowed"}));
  // NaN and missing never match, not even !=.
  EXPECT_EQ(s.names({accuracy(CompareOp::NotEqual, 0.5)}),
            (Names{"m:high", "m:inf", "m:neginf", "m:shadowed", "m:negzero"}));
  EXPECT_EQ(s.names({accuracy(CompareOp::Equal, kInf)}), (Names{"m:inf"}));
  EXPECT_EQ(s.names({accuracy(CompareOp::Less, -1e308)}), (Names{"m:neginf"}));
  EXPECT_EQ(s.names({accuracy(CompareOp::Greater, -kInf)}),
            (Names{"m:half", "m:high", "m:inf", "m:shadowed", "m:negzero"}));
  EXPECT_EQ(s.names({accuracy(CompareOp::LessEqual, kInf)}).size(), 6u);
  EXPECT_EQ(s.names({where::metric("latency_ms", CompareOp::Equal, 3.5)}), (Names{"m:latency"}));
  EXPECT_EQ(s.names({where::metric("latency_ms", CompareOp::NotEqual, 1)}), (Names{"m:latency"}));
  EXPECT_EQ(s.names({where::metric("mse", CompareOp::Greater, -kInf)}), Names{});
}

TEST_P(MetadataStoreConformance, SearchByCreationAndUpdateTimes) {
  for (int i = 0; i < 4; ++i) store().create_version(bare("m", std::to_string(i), at(i * 1000)));
  ASSERT_TRUE(store().set_stage("m", "1", ModelStage::Staging, std::nullopt, at(5000)));
  SearchTest s(store());
  using where::created_at;
  using where::updated_at;
  EXPECT_EQ(s.names({created_at(CompareOp::Less, at(1000))}), (Names{"m:0"}));
  EXPECT_EQ(s.names({created_at(CompareOp::LessEqual, at(1000))}), (Names{"m:0", "m:1"}));
  EXPECT_EQ(s.names({created_at(CompareOp::Equal, at(2000))}), (Names{"m:2"}));
  EXPECT_EQ(s.names({created_at(CompareOp::Equal, at(2001))}), Names{}) << "to the nanosecond";
  EXPECT_EQ(s.names({created_at(CompareOp::NotEqual, at(2000))}), (Names{"m:0", "m:1", "m:3"}));
  EXPECT_EQ(s.names({created_at(CompareOp::Greater, at(2000))}), (Names{"m:3"}));
  EXPECT_EQ(s.names({created_at(CompareOp::GreaterEqual, at(2000))}), (Names{"m:2", "m:3"}));
  EXPECT_EQ(s.names({created_at(CompareOp::GreaterEqual, at(1000)),
                     created_at(CompareOp::Less, at(3000))}),
            (Names{"m:1", "m:2"}));
  EXPECT_EQ(s.names({updated_at(CompareOp::Greater, at(3000))}), (Names{"m:1"}));
  EXPECT_EQ(s.names({updated_at(CompareOp::Equal, at(5000))}), (Names{"m:1"}));
  EXPECT_EQ(s.names({updated_at(CompareOp::LessEqual, at(3000))}), (Names{"m:0", "m:2", "m:3"}));
}

TEST_P(MetadataStoreConformance, AllConditionsMustHold) {
  for (int i = 0; i < 6; ++i) {
    ModelVersion v = bare(i % 2 == 0 ? "fraud" : "churn", std::to_string(i));
    v.metrics.auc_roc = 0.8 + 0.02 * i;
    v.tags["team"] = i < 3 ? "risk" : "ops";
    v.stage = i % 3 == 0 ? ModelStage::Staging : ModelStage::Development;
    store().create_version(v);
  }
  SearchTest s(store());
  EXPECT_EQ(s.names({where::model_name(CompareOp::Equal, "fraud"),
                     where::metric("auc_roc", CompareOp::Greater, 0.81)}),
            (Names{"fraud:2", "fraud:4"}));
  EXPECT_EQ(s.names({where::model_name(CompareOp::Equal, "fraud"),
                     where::metric("auc_roc", CompareOp::Greater, 0.81),
                     where::tag("team", CompareOp::Equal, "risk")}),
            (Names{"fraud:2"}));
  EXPECT_EQ(
      s.names({where::stage(ModelStage::Staging), where::tag("team", CompareOp::Equal, "ops")}),
      (Names{"churn:3"}));
  EXPECT_EQ(s.names({where::stage(ModelStage::Staging), where::stage(ModelStage::Development)}),
            Names{});
}

TEST_P(MetadataStoreConformance, InvalidQueriesAreRefused) {
  store().create_version(bare("m", "1"));
  const std::vector<SearchCondition> bad{
      where::stage(ModelStage::Staging, CompareOp::Like),
      where::alias("latest"),
      where::metric("accuracy", CompareOp::Equal, kNaN),
      where::metric("", CompareOp::Equal, 1),
      where::tag("", CompareOp::Equal, "x"),
      where::model_name(CompareOp::Less, "m"),
      where::version(CompareOp::Equal, "\xff"),
  };
  for (const auto& condition : bad) {
    VersionQuery query;
    query.conditions = {condition};
    EXPECT_THROW(store().search_versions(query), InvalidArgumentError)
        << to_string(condition.op) << " on field " << static_cast<int>(condition.field);
  }
  VersionQuery query;
  for (std::size_t size : {std::size_t{0}, kMaxSearchResults + 1}) {
    query.max_results = size;
    EXPECT_THROW(store().search_versions(query), InvalidArgumentError) << size;
    ModelQuery models;
    models.max_results = size;
    EXPECT_THROW(store().search_models(models), InvalidArgumentError) << size;
  }
  query.max_results = kMaxSearchResults;
  EXPECT_EQ(store().search_versions(query).versions.size(), 1u);
  query.max_results = 1;
  query.order_by = VersionOrderBy::Metric;  // without order_metric
  EXPECT_THROW(store().search_versions(query), InvalidArgumentError);
  ModelQuery models;
  models.conditions = {where::stage(ModelStage::Staging)};
  EXPECT_THROW(store().search_models(models), InvalidArgumentError);
}

// --- orders -------------------------------------------------------------------------------

// Ties go by registration order in the query's direction: descending is ascending reversed,
// but for versions without the metric, which come last either way.
TEST_P(MetadataStoreConformance, OrdersBreakTiesByRegistrationOrderInTheirDirection) {
  // Registered in this order: accuracy a 0.5, b none, c 0.7, d 0.5, e NaN; created_at a 10,
  // b 30, c 10, d 20 (recorded as 30: not earlier than y's latest, b), e 30.
  const std::vector<std::tuple<std::string, std::string, int, std::optional<double>>> rows{
      {"x", "a", 10, 0.5},
      {"y", "b", 30, std::nullopt},
      {"x", "c", 10, 0.7},
      {"y", "d", 20, 0.5},
      {"x", "e", 30, kNaN}};
  for (const auto& [model, version, time, accuracy] : rows) {
    ModelVersion v = bare(model, version, at(time));
    v.metrics.accuracy = accuracy;
    store().create_version(v);
  }
  ASSERT_EQ(store().get_version("y", "d")->created_at, at(30));
  // updated_at: a 100, b 30, c 10, d 100, e 30.
  ASSERT_TRUE(store().set_stage("y", "d", ModelStage::Staging, std::nullopt, at(100)));
  ASSERT_TRUE(store().set_stage("x", "a", ModelStage::Staging, std::nullopt, at(100)));
  SearchTest s(store());
  EXPECT_EQ(s.ordered(VersionOrderBy::CreatedAt, false),
            (Names{"x:a", "x:c", "y:b", "y:d", "x:e"}));
  EXPECT_EQ(s.ordered(VersionOrderBy::CreatedAt, true), (Names{"x:e", "y:d", "y:b", "x:c", "x:a"}));
  EXPECT_EQ(s.ordered(VersionOrderBy::UpdatedAt, false),
            (Names{"x:c", "y:b", "x:e", "x:a", "y:d"}));
  EXPECT_EQ(s.ordered(VersionOrderBy::UpdatedAt, true), (Names{"y:d", "x:a", "x:e", "y:b", "x:c"}));
  // Without the metric (or NaN) last in both directions, among themselves in the direction.
  EXPECT_EQ(s.ordered(VersionOrderBy::Metric, false, "accuracy"),
            (Names{"x:a", "y:d", "x:c", "y:b", "x:e"}));
  EXPECT_EQ(s.ordered(VersionOrderBy::Metric, true, "accuracy"),
            (Names{"x:c", "y:d", "x:a", "x:e", "y:b"}));
  EXPECT_EQ(s.ordered(VersionOrderBy::Metric, false, "nobody_has_it"),
            (Names{"x:a", "y:b", "x:c", "y:d", "x:e"}));
  EXPECT_EQ(s.ordered(VersionOrderBy::Metric, true, "nobody_has_it"),
            (Names{"x:e", "y:d", "x:c", "y:b", "x:a"}));
}

TEST_P(MetadataStoreConformance, InfinitiesSortAtTheEndsAndBeforeMissingMetrics) {
  const std::vector<std::pair<std::string, std::optional<double>>> rows{
      {"none", std::nullopt}, {"inf", kInf}, {"zero", 0.0},
      {"neginf", -kInf},      {"nan", kNaN}, {"big", 1e300}};
  for (const auto& [version, value] : rows) {
    ModelVersion v = bare("m", version);
    if (value) v.metrics.custom["loss"] = *value;
    store().create_version(v);
  }
  SearchTest s(store());
  EXPECT_EQ(s.ordered(VersionOrderBy::Metric, false, "loss"),
            (Names{"m:neginf", "m:zero", "m:big", "m:inf", "m:none", "m:nan"}));
  EXPECT_EQ(s.ordered(VersionOrderBy::Metric, true, "loss"),
            (Names{"m:inf", "m:big", "m:zero", "m:neginf", "m:nan", "m:none"}));
}

}  // namespace
}  // namespace modelreg

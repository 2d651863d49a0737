// The MetadataStore conformance suite, part 6: the randomized comparison of searches. A seeded
// generator builds one catalog (models, versions with random stages, frameworks, tags, metrics
// with missing, NaN and infinite values, aliases, deletions and reservations) identically in the
// backend under test and in an InMemoryMetadataStore; then random queries of every field,
// operator, order and page size, followed page by page, must return exactly what a brute-force
// reference computes (list_versions of every model + detail::matches, the meaning of a condition,
// with an explicit sort), and the in-memory catalog's pages.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "catalog_test_support.hpp"
#include "metadata_store_conformance.hpp"
#include "modelreg/in_memory_metadata_store.hpp"
#include "modelreg/metadata_store.hpp"
#include "modelreg/search.hpp"
#include "pseudo_random.hpp"
#include "search_query.hpp"

namespace modelreg {
namespace {

using testing::at;
using testing::full_names;

constexpr std::uint64_t kSeed = 0x5EA6C4'2024'0611ULL;
constexpr int kVersionsToRegister = 220;
constexpr int kVersionQueries = 500;
constexpr int kModelQueries = 100;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() { return testing::splitmix64(state_); }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
  template <class T>
  T pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }

 private:
  std::uint64_t state_;
};

const std::vector<std::string> kModels{"fraud", "fraud_eu", "Fraud-US",
                                       "churn", "churn.v2", "ranker"};
const std::vector<std::string> kTagKeys{"team", "env", "note", "my key"};
// Quotes, backslashes and control characters too: backends may store tags as JSON text.
const std::vector<std::string> kTagValues{"risk", "Risk", "ops",  "50%",  "500",    "a_b",
                                          "a\\b", "",     "prod", "q\"t", "t\tb\n", "\xc3\xbc"};
const std::vector<std::string> kAliases{"champion", "challenger", "prod-1", "shadow"};
const std::vector<std::string> kMetrics{"accuracy", "latency", "f1_score", "nothing"};
const std::vector<double> kMetricValues{0.5, 0.9, 0.1, 0.0, -0.0, kInf, -kInf, 2.5, 1.0, 0.3, kNaN};
const std::vector<ModelStage> kStages{ModelStage::Development, ModelStage::Staging,
                                      ModelStage::Production, ModelStage::Archived};
const std::vector<ModelFramework> kFrameworks{ModelFramework::Sklearn, ModelFramework::PyTorch,
                                              ModelFramework::TensorFlow, ModelFramework::Onnx,
                                              ModelFramework::Custom};

Timestamp random_time(Random& random) {
  return at(static_cast<std::int64_t>(random.below(25)) * 1000 + (random.chance(10) ? 1 : 0));
}

std::optional<double> random_metric(Random& random, int missing_percent) {
  if (random.chance(missing_percent)) return std::nullopt;
  return random.pick(kMetricValues);
}

// Applies every change to both catalogs, and remembers the registration order of the visible
// versions (what breaks ties in every search order).
class Builder {
 public:
  Builder(MetadataStore& tested, MetadataStore& reference, std::uint64_t seed)
      : tested_(tested), reference_(reference), random_(seed) {}

  template <class Change>
  void both(Change change) {
    change(tested_);
    change(reference_);
  }

  void build() {
    while (registered_ < kVersionsToRegister) {
      const std::string model = random_.pick(kModels);
      if (deleting_.count(model) != 0) continue;
      const auto visible = reference_.list_versions(model);
      const std::size_t roll = random_.below(100);
      if (roll < 62 || visible.empty()) {
        register_version(model);
      } else if (roll < 70) {
        const ModelVersion& v = random_.pick(visible);
        both([&](MetadataStore& s) { s.begin_delete(model, v.version, "deleter"); });
        if (random_.chance(60)) {
          both([&](MetadataStore& s) { s.release_version(model, v.version, "deleter"); });
        } else if (random_.chance(50) && v.stage != ModelStage::Production) {
          both([&](MetadataStore& s) { s.cancel_delete(model, v.version, "deleter"); });
        }  // else: left hidden, being deleted
      } else if (roll < 80) {
        const ModelVersion& v = random_.pick(visible);
        const ModelStage stage = random_.pick(kStages);
        const Timestamp now = random_time(random_);
        both([&](MetadataStore& s) { s.set_stage(model, v.version, stage, std::nullopt, now); });
      } else if (roll < 88) {
        const ModelVersion& v = random_.pick(visible);
        const std::string key = random_.pick(kTagKeys);
        const std::string value = random_.pick(kTagValues);
        const Timestamp now = random_time(random_);
        if (random_.chance(30)) {
          both([&](MetadataStore& s) { s.delete_version_tag(model, v.version, key, now); });
        } else {
          both([&](MetadataStore& s) { s.set_version_tag(model, v.version, key, value, now); });
        }
      } else if (roll < 94) {
        const ModelVersion& v = random_.pick(visible);
        const std::string alias = random_.pick(kAliases);
        if (random_.chance(20)) {
          both([&](MetadataStore& s) { s.delete_alias(model, alias, at(0)); });
        } else {
          both(
              [&](MetadataStore& s) { s.set_alias(model, alias, v.version, std::nullopt, at(0)); });
        }
      } else if (roll < 97) {
        const std::string key = random_.pick(kTagKeys);
        const std::string value = random_.pick(kTagValues);
        both([&](MetadataStore& s) { s.set_model_tag(model, key, value, at(0)); });
      } else {
        const ModelVersion& v = random_.pick(visible);
        const Timestamp now = random_time(random_);
        both([&](MetadataStore& s) { s.set_version_description(model, v.version, "d", now); });
      }
      if (registered_ >= kVersionsToRegister / 2 && !models_deleted_) delete_models();
    }
  }

  // The registration order of every version, by (model, version).
  const std::map<std::pair<std::string, std::string>, std::int64_t>& order() const {
    return order_;
  }

 private:
  void register_version(const std::string& model) {
    ModelVersion v;
    v.model_name = model;
    const int n = ++numbers_[model];
    static const char* const kForms[] = {"", "1.", "rc", "B"};
    v.version = kForms[random_.below(4)] + std::to_string(n);
    v.stage = random_.pick(std::vector<ModelStage>{ModelStage::Development, ModelStage::Staging,
                                                   ModelStage::Archived});
    v.framework = random_.pick(kFrameworks);
    v.metrics.accuracy = random_metric(random_, 25);
    v.metrics.f1_score = random_metric(random_, 60);
    if (auto latency = random_metric(random_, 40)) v.metrics.custom["latency"] = *latency;
    if (random_.chance(5)) v.metrics.custom["accuracy"] = random_.pick(kMetricValues);
    for (const auto& key : kTagKeys) {
      if (random_.chance(35)) v.tags[key] = random_.pick(kTagValues);
    }
    v.created_at = random_time(random_);
    v.updated_at = v.created_at;
    const std::size_t how = random_.below(100);
    if (how < 85) {
      both([&](MetadataStore& s) { s.create_version(v); });
    } else if (how < 95) {
      const Timestamp now = random_time(random_);
      both([&](MetadataStore& s) {
        s.create_version(v, "writer");
        s.publish_version(model, v.version, "writer", ArtifactInfo{}, now);
      });
    } else {
      both([&](MetadataStore& s) { s.create_version(v, "writer"); });  // left reserved
      return;
    }
    order_[{model, v.version}] = ++registered_;
  }

  // One model deleted and registered anew; another left being deleted (hidden).
  void delete_models() {
    models_deleted_ = true;
    for (const std::string model : {"churn", "ranker"}) {
      const auto hidden = reference_.begin_delete_model(model, "deleter", at(0));
      if (!hidden) continue;
      tested_.begin_delete_model(model, "deleter", at(0));
      if (model == "churn") {
        // Every reservation of the model goes (those of earlier deletions and registrations
        // too), so that the name is free again.
        for (const auto& p : reference_.list_pending()) {
          if (p.model_name != model) continue;
          both([&](MetadataStore& s) { s.release_version(model, p.version, p.owner); });
        }
      } else {
        deleting_.insert(model);
      }
    }
  }

  MetadataStore& tested_;
  MetadataStore& reference_;
  Random random_;
  std::map<std::string, int> numbers_;
  std::set<std::string> deleting_;
  std::map<std::pair<std::string, std::string>, std::int64_t> order_;
  int registered_ = 0;
  bool models_deleted_ = false;
};

std::int64_t nanos(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t - at(0)).count();
}

std::string describe(const SearchCondition& c) {
  static const char* const kFields[] = {"name",  "version",  "stage",      "framework", "alias",
                                        "tags.", "metrics.", "created_at", "updated_at"};
  std::ostringstream out;
  out << kFields[static_cast<int>(c.field)] << c.key << " " << to_string(c.op) << " ";
  switch (c.field) {
    case SearchField::Stage:
      out << to_string(c.stage);
      break;
    case SearchField::Framework:
      out << to_string(c.framework);
      break;
    case SearchField::Metric:
      out << c.number;
      break;
    case SearchField::CreatedAt:
    case SearchField::UpdatedAt:
      out << "at(" << nanos(c.time) << ")";
      break;
    default:
      out << "'" << c.text << "'";
  }
  return out.str();
}

std::string describe(const VersionQuery& q) {
  std::ostringstream out;
  out << "seed " << kSeed << ": [";
  for (std::size_t i = 0; i < q.conditions.size(); ++i) {
    out << (i ? " AND " : "") << describe(q.conditions[i]);
  }
  static const char* const kOrders[] = {"created_at", "updated_at", "metrics."};
  out << "] ORDER BY " << kOrders[static_cast<int>(q.order_by)] << q.order_metric
      << (q.descending ? " DESC" : " ASC") << ", pages of " << q.max_results;
  return out.str();
}

SearchCondition random_condition(Random& random, const std::vector<std::string>& versions) {
  const std::vector<CompareOp> text_ops{CompareOp::Equal, CompareOp::NotEqual, CompareOp::Like,
                                        CompareOp::ILike};
  const std::vector<CompareOp> ordered_ops{CompareOp::Equal,   CompareOp::NotEqual,
                                           CompareOp::Less,    CompareOp::LessEqual,
                                           CompareOp::Greater, CompareOp::GreaterEqual};
  // Every draw in its own statement, so that a seed means the same queries on any compiler.
  const std::size_t field = random.below(9);
  const CompareOp text_op = random.pick(text_ops);
  const bool like = text_op == CompareOp::Like || text_op == CompareOp::ILike;
  const CompareOp equality = random.chance(50) ? CompareOp::Equal : CompareOp::NotEqual;
  const CompareOp ordered_op = random.pick(ordered_ops);
  switch (field) {
    case 0: {
      const std::vector<std::string> patterns{"fraud%",   "FRAUD%", "%_eu", "fraud\\_eu", "%.%",
                                              "churn_v2", "_anker", "%",    "%U%"};
      const std::vector<std::string> names{"fraud", "FRAUD", "churn.v2", "ranker", "fraud_eu"};
      return where::model_name(text_op, random.pick(like ? patterns : names));
    }
    case 1: {
      const std::vector<std::string> patterns{"1%", "rc_", "%1%", "B%", "b%", "_", "1._"};
      return where::version(text_op, random.pick(like ? patterns : versions));
    }
    case 2:
      return where::stage(random.pick(kStages), equality);
    case 3:
      return where::framework(random.pick(kFrameworks), equality);
    case 4:
      return where::alias(random.pick(kAliases));
    case 5: {
      const std::vector<std::string> patterns{"%",   "r%",  "50\\%", "50%", "a\\\\b",
                                              "a_b", "%o%", "RISK",  ""};
      const std::string key = random.pick(kTagKeys);
      return where::tag(key, text_op, random.pick(like ? patterns : kTagValues));
    }
    case 6: {
      const std::string name = random.pick(kMetrics);
      double value = random.pick(kMetricValues);
      if (std::isnan(value)) value = 0.5;  // a NaN operand is refused: it compares with nothing
      return where::metric(name, ordered_op, value);
    }
    case 7:
      return where::created_at(ordered_op, random_time(random));
    default:
      return where::updated_at(ordered_op, random_time(random));
  }
}

// The brute-force reference: every visible version, the conditions through detail::matches,
// sorted explicitly.
std::vector<ModelVersion> brute_force(
    const MetadataStore& store, const VersionQuery& query,
    const std::map<std::pair<std::string, std::string>, std::int64_t>& order) {
  struct Item {
    ModelVersion version;
    std::int64_t reg;
  };
  std::vector<Item> items;
  for (const auto& model : store.list_models()) {
    for (const auto& v : store.list_versions(model)) {
      const bool all = std::all_of(query.conditions.begin(), query.conditions.end(),
                                   [&](const SearchCondition& c) { return detail::matches(c, v); });
      if (all) items.push_back({v, order.at({v.model_name, v.version})});
    }
  }
  auto metric = [&](const ModelVersion& v) -> std::optional<double> {
    const auto value = v.metrics.get(query.order_metric);
    if (!value || std::isnan(*value)) return std::nullopt;
    return value;
  };
  std::sort(items.begin(), items.end(), [&](const Item& a, const Item& b) {
    if (query.order_by == VersionOrderBy::Metric) {
      const auto x = metric(a.version);
      const auto y = metric(b.version);
      if (x.has_value() != y.has_value()) return x.has_value();
      if (x && *x != *y) return query.descending ? *x > *y : *x < *y;
    } else {
      const bool created = query.order_by == VersionOrderBy::CreatedAt;
      const Timestamp x = created ? a.version.created_at : a.version.updated_at;
      const Timestamp y = created ? b.version.created_at : b.version.updated_at;
      if (x != y) return query.descending ? x > y : x < y;
    }
    return query.descending ? a.reg > b.reg : a.reg < b.reg;  // ties in the query's direction
  });
  std::vector<ModelVersion> result;
  for (auto& item : items) result.push_back(std::move(item.version));
  return result;
}

// `versions` with every NaN metric replaced by a value no test uses, so that == compares them
// (NaN equals nothing, itself included).
constexpr double kNaNStandIn = -7.25e-300;

std::vector<ModelVersion> comparable(std::vector<ModelVersion> versions) {
  auto fix = [](std::optional<double>& value) {
    if (value && std::isnan(*value)) value = kNaNStandIn;
  };
  for (auto& v : versions) {
    ModelMetrics& m = v.metrics;
    for (auto* field :
         {&m.accuracy, &m.precision, &m.recall, &m.f1_score, &m.auc_roc, &m.mse, &m.mae}) {
      fix(*field);
    }
    for (auto& [name, value] : m.custom) {
      if (std::isnan(value)) value = kNaNStandIn;
    }
  }
  return versions;
}

std::vector<RegisteredModel> comparable(std::vector<RegisteredModel> models) {
  for (auto& model : models) model.versions = comparable(std::move(model.versions));
  return models;
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : " ") + name;
  return text;
}

// Whether two lists of versions are the same, NaN metrics included.
bool same(const std::vector<ModelVersion>& a, const std::vector<ModelVersion>& b) {
  return comparable(a) == comparable(b);
}

std::string first_difference(const std::vector<ModelVersion>& got_versions,
                             const std::vector<ModelVersion>& want_versions) {
  const auto got = comparable(got_versions);
  const auto want = comparable(want_versions);
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      return "first difference at " + std::to_string(i) + ":\n  got  " + got[i].to_dict().dump() +
             "\n  want " + want[i].to_dict().dump();
    }
  }
  return "sizes " + std::to_string(got.size()) + " and " + std::to_string(want.size());
}

TEST_P(MetadataStoreConformance, RandomSearchesAgreeWithABruteForceReferenceAndInMemory) {
  InMemoryMetadataStore reference;
  Builder builder(store(), reference, kSeed);
  ASSERT_NO_FATAL_FAILURE(builder.build());

  // The data set itself must be the same in both, or nothing below means anything.
  ASSERT_EQ(store().list_models(), reference.list_models()) << "seed " << kSeed;
  std::vector<std::string> versions;
  std::size_t visible = 0;
  for (const auto& model : reference.list_models()) {
    ASSERT_TRUE(same(store().list_versions(model), reference.list_versions(model)))
        << model << ": "
        << first_difference(store().list_versions(model), reference.list_versions(model));
    for (const auto& v : reference.list_versions(model)) versions.push_back(v.version);
    visible += reference.list_versions(model).size();
  }
  ASSERT_GT(visible, 100u);
  ASSERT_FALSE(store().list_pending().empty()) << "the data set has hidden versions too";

  Random random(kSeed ^ 0xA5A5A5A5ULL);
  int failures = 0;
  std::size_t results = 0;
  for (int n = 0; n < kVersionQueries && failures < 5; ++n) {
    VersionQuery query;
    const std::size_t count = random.pick(std::vector<std::size_t>{0, 1, 1, 1, 2, 2, 2, 3});
    for (std::size_t i = 0; i < count; ++i)
      query.conditions.push_back(random_condition(random, versions));
    const std::size_t order = random.below(100);
    if (order < 40) {
      query.order_by = VersionOrderBy::CreatedAt;
    } else if (order < 65) {
      query.order_by = VersionOrderBy::UpdatedAt;
    } else {
      query.order_by = VersionOrderBy::Metric;
      query.order_metric = random.pick(kMetrics);
    }
    query.descending = random.chance(50);
    const std::vector<ModelVersion> want = brute_force(store(), query, builder.order());
    results += want.size();
    // At most ~30 pages a query, so that the test stays fast.
    query.max_results =
        std::max(random.pick(std::vector<std::size_t>{1, 2, 3, 5, 10, 25, 100, 1000}),
                 (want.size() + 29) / 30);

    std::vector<ModelVersion> got;
    VersionQuery tested = query;
    VersionQuery mirrored = query;
    bool mismatch = false;
    for (int page_number = 0; !mismatch; ++page_number) {
      const VersionPage page = store().search_versions(tested);
      const VersionPage expected = reference.search_versions(mirrored);
      got.insert(got.end(), page.versions.begin(), page.versions.end());
      if (!same(page.versions, expected.versions) ||
          page.next_page_token.empty() != expected.next_page_token.empty()) {
        ADD_FAILURE() << "query " << n << ", " << describe(query) << ": page " << page_number
                      << " differs from the in-memory catalog's\n  got  "
                      << join(full_names(page.versions)) << "\n  want "
                      << join(full_names(expected.versions)) << "\n  "
                      << first_difference(page.versions, expected.versions);
        mismatch = true;
      }
      if (page.next_page_token.empty() || page_number > 1000) break;
      tested.page_token = page.next_page_token;
      mirrored.page_token = expected.next_page_token;
    }
    if (!mismatch && !same(got, want)) {
      ADD_FAILURE() << "query " << n << ", " << describe(query)
                    << ": differs from the brute-force reference\n  got  " << join(full_names(got))
                    << "\n  want " << join(full_names(want)) << "\n  "
                    << first_difference(got, want);
      mismatch = true;
    }
    if (mismatch) ++failures;
  }
  // The queries found things: a generator whose conditions never match would prove nothing.
  EXPECT_GT(results, static_cast<std::size_t>(kVersionQueries) * 10);

  // Model searches over names and model tags.
  for (int n = 0; n < kModelQueries && failures < 5; ++n) {
    ModelQuery query;
    const std::size_t count = random.below(3);
    for (std::size_t i = 0; i < count; ++i) {
      SearchCondition c = random_condition(random, versions);
      if (c.field != SearchField::ModelName && c.field != SearchField::Tag) {
        const std::string key = random.pick(kTagKeys);
        c = where::tag(key, CompareOp::Like, random.pick(std::vector<std::string>{"%", "r%", ""}));
      }
      query.conditions.push_back(c);
    }
    query.order_by = random.chance(50) ? ModelOrderBy::Name : ModelOrderBy::CreatedAt;
    query.descending = random.chance(50);
    query.max_results = 1 + random.below(4);
    std::vector<RegisteredModel> want;
    for (const auto& name : reference.list_models()) {
      const auto model = store().get_model(name);
      ASSERT_TRUE(model.has_value()) << name;
      if (std::all_of(query.conditions.begin(), query.conditions.end(),
                      [&](const SearchCondition& c) { return detail::matches(c, *model); })) {
        want.push_back(*model);
      }
    }
    std::sort(want.begin(), want.end(), [&](const RegisteredModel& a, const RegisteredModel& b) {
      if (query.order_by == ModelOrderBy::CreatedAt && a.created_at != b.created_at) {
        return query.descending ? a.created_at > b.created_at : a.created_at < b.created_at;
      }
      return query.descending ? a.name > b.name : a.name < b.name;  // ties in the same direction
    });
    std::vector<RegisteredModel> got;
    std::vector<RegisteredModel> mirrored;
    ModelQuery tested = query;
    ModelQuery reference_query = query;
    for (int page_number = 0; page_number < 100; ++page_number) {
      const ModelPage page = store().search_models(tested);
      const ModelPage expected = reference.search_models(reference_query);
      got.insert(got.end(), page.models.begin(), page.models.end());
      mirrored.insert(mirrored.end(), expected.models.begin(), expected.models.end());
      if (page.next_page_token.empty() || expected.next_page_token.empty()) break;
      tested.page_token = page.next_page_token;
      reference_query.page_token = expected.next_page_token;
    }
    std::string conditions;
    for (const auto& c : query.conditions) conditions += describe(c) + "; ";
    std::vector<std::string> got_names;
    std::vector<std::string> want_names;
    for (const auto& m : got) got_names.push_back(m.name);
    for (const auto& m : want) want_names.push_back(m.name);
    EXPECT_EQ(got_names, want_names)
        << "model query " << n << ", seed " << kSeed << ": " << conditions
        << (query.order_by == ModelOrderBy::Name ? "by name" : "by created_at")
        << (query.descending ? " desc" : " asc") << ", pages of " << query.max_results;
    EXPECT_TRUE(comparable(got) == comparable(want))
        << "model query " << n << ": the models differ";
    EXPECT_TRUE(comparable(got) == comparable(mirrored))
        << "model query " << n << ": the in-memory catalog differs";
    if (comparable(got) != comparable(want) || comparable(got) != comparable(mirrored)) ++failures;
  }
}

}  // namespace
}  // namespace modelreg

// The MetadataStore conformance suite, part 5: pages of searches (every page size, page tokens,
// keyset stability under writes between pages) and model searches
// (metadata_store_conformance.hpp).

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <optional>
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

using Names = std::vector<std::string>;

std::vector<std::string> model_names(const std::vector<RegisteredModel>& models) {
  std::vector<std::string> names;
  for (const auto& m : models) names.push_back(m.name);
  return names;
}

// --- pages --------------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, EveryPageSizeReproducesTheWholeResult) {
  constexpr int kVersions = 12;
  for (int i = 0; i < kVersions; ++i) {
    ModelVersion v = bare(i % 3 == 0 ? "a" : "b", std::to_string(i), at((i * 7) % 5 * 100));
    if (i % 4 != 0) v.metrics.accuracy = (i * 5) % 3 * 0.25;
    store().create_version(v);
    if (i % 2 == 0) store().set_version_tag(v.model_name, v.version, "t", "x", at(1000 - i));
  }
  struct Order {
    VersionOrderBy by;
    bool descending;
    std::string metric;
  };
  for (const Order& order :
       {Order{VersionOrderBy::CreatedAt, false, ""}, Order{VersionOrderBy::CreatedAt, true, ""},
        Order{VersionOrderBy::UpdatedAt, true, ""},
        Order{VersionOrderBy::Metric, false, "accuracy"},
        Order{VersionOrderBy::Metric, true, "accuracy"}}) {
    VersionQuery query;
    query.order_by = order.by;
    query.descending = order.descending;
    query.order_metric = order.metric;
    query.max_results = kMaxSearchResults;
    const VersionPage whole = store().search_versions(query);
    ASSERT_EQ(whole.versions.size(), static_cast<std::size_t>(kVersions));
    EXPECT_TRUE(whole.next_page_token.empty());
    for (std::size_t size = 1; size <= kVersions + 1; ++size) {
      SCOPED_TRACE("order " + std::to_string(static_cast<int>(order.by)) +
                   (order.descending ? " desc" : " asc") + ", page size " + std::to_string(size));
      query.max_results = size;
      query.page_token.clear();
      std::vector<ModelVersion> joined;
      std::size_t pages = 0;
      do {
        const VersionPage page = store().search_versions(query);
        ++pages;
        joined.insert(joined.end(), page.versions.begin(), page.versions.end());
        query.page_token = page.next_page_token;
        EXPECT_EQ(page.versions.size(),
                  query.page_token.empty() ? (kVersions - 1) % size + 1 : size);
      } while (!query.page_token.empty() && pages < 100);
      EXPECT_EQ(pages, (kVersions + size - 1) / size);
      EXPECT_EQ(full_names(joined), full_names(whole.versions));
      EXPECT_EQ(joined, whole.versions);
    }
  }
}

TEST_P(MetadataStoreConformance, APageTokenOnlyContinuesItsOwnQuery) {
  for (int i = 0; i < 5; ++i) {
    ModelVersion v = bare("m", std::to_string(i));
    v.metrics.accuracy = i * 0.1;
    v.tags["t"] = "x";
    store().create_version(v);
  }
  VersionQuery query;
  query.conditions = {where::tag("t", CompareOp::Equal, "x")};
  query.max_results = 2;
  const std::string token = store().search_versions(query).next_page_token;
  ASSERT_FALSE(token.empty());

  // Another page size is the same query: it continues.
  VersionQuery same = query;
  same.page_token = token;
  same.max_results = 3;
  EXPECT_EQ(full_names(store().search_versions(same).versions), (Names{"m:2", "m:3", "m:4"}));

  std::vector<VersionQuery> others(6, same);
  others[0].conditions = {where::tag("t", CompareOp::Equal, "y")};
  others[1].conditions.clear();
  others[2].descending = true;
  others[3].order_by = VersionOrderBy::UpdatedAt;
  others[4].order_by = VersionOrderBy::Metric;
  others[4].order_metric = "accuracy";
  others[5].conditions.push_back(where::stage(ModelStage::Development));
  for (std::size_t i = 0; i < others.size(); ++i) {
    EXPECT_THROW(store().search_versions(others[i]), InvalidArgumentError) << "query " << i;
  }
  ModelQuery model_query;
  model_query.page_token = token;
  EXPECT_THROW(store().search_models(model_query), InvalidArgumentError);

  std::string flipped = token;
  flipped[flipped.size() / 2] = flipped[flipped.size() / 2] == 'a' ? 'b' : 'a';
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& corrupt :
       {flipped, token.substr(0, token.size() - 2), token + "00", token.substr(1), upper,
        std::string("zz"), std::string("not a token"), std::string(8192, 'a'), std::string("0")}) {
    same.page_token = corrupt;
    EXPECT_THROW(store().search_versions(same), InvalidArgumentError) << corrupt.substr(0, 80);
  }
}

// Writes between pages: a version that stays where it was in the order is returned exactly once,
// whatever is registered or deleted meanwhile.
TEST_P(MetadataStoreConformance, PagesNeitherRepeatNorSkipVersionsThatStayInPlace) {
  const std::vector<std::optional<double>> accuracy{0.9, 0.8, 0.8, std::nullopt, 0.7,
                                                    0.6, 0.5, 0.5, std::nullopt, 0.3};
  for (std::size_t i = 0; i < accuracy.size(); ++i) {
    ModelVersion v = bare("m", "v" + std::to_string(i), at(static_cast<std::int64_t>(i)));
    v.metrics.accuracy = accuracy[i];
    store().create_version(v);
  }
  int next = 100;
  auto register_with = [&](std::optional<double> value) {
    ++next;
    ModelVersion v = bare("m", "n" + std::to_string(next), at(next));
    v.metrics.accuracy = value;
    return store().create_version(v).full_name();
  };
  auto remove = [&](const std::string& version) {
    ASSERT_TRUE(store().begin_delete("m", version, "deleter").has_value());
    ASSERT_TRUE(store().release_version("m", version, "deleter"));
  };

  for (const bool by_metric : {true, false}) {
    SCOPED_TRACE(by_metric ? "by accuracy, descending" : "by created_at, ascending");
    VersionQuery query;
    if (by_metric) {
      query.order_by = VersionOrderBy::Metric;
      query.order_metric = "accuracy";
      query.descending = true;
    }
    query.max_results = kMaxSearchResults;
    const Names start = full_names(store().search_versions(query).versions);
    query.max_results = 3;
    Names returned;
    std::set<std::string> deleted;
    std::set<std::string> added;
    bool finished = false;
    for (int page_number = 0; page_number < 50 && !finished; ++page_number) {
      const VersionPage page = store().search_versions(query);
      for (const auto& v : page.versions) returned.push_back(v.full_name());
      finished = page.next_page_token.empty();
      if (finished) break;
      query.page_token = page.next_page_token;
      // Delete a version already returned; register new ones before, at and after the boundary
      // (by metric; by created_at every new one comes after it).
      const std::string last = page.versions.back().version;
      remove(last);
      deleted.insert("m:" + last);
      if (page_number < 3) {
        added.insert(register_with(1.0));           // first
        added.insert(register_with(0.8));           // a tie: before the earlier 0.8s
        added.insert(register_with(std::nullopt));  // last
      }
    }
    EXPECT_TRUE(finished) << "the pages never ended";
    std::set<std::string> seen;
    for (const auto& name : returned) {
      EXPECT_TRUE(seen.insert(name).second) << name << " was returned twice";
    }
    for (const auto& name : start) {
      EXPECT_EQ(seen.count(name), 1u) << name << " stayed in place and was skipped";
    }
    for (const auto& name : returned) {
      EXPECT_TRUE(std::find(start.begin(), start.end(), name) != start.end() || added.count(name))
          << name;
    }
    if (!by_metric) {
      // New versions are the newest: they all come after the boundary.
      for (const auto& name : added) {
        if (store().get_version("m", name.substr(2))) {
          EXPECT_EQ(seen.count(name), 1u) << name;
        }
      }
    }
    for (const auto& name : deleted) EXPECT_FALSE(store().get_version("m", name.substr(2)));
  }
}

// --- model search -------------------------------------------------------------------------

TEST_P(MetadataStoreConformance, ModelSearchByNameAndTagsInNameOrCreationOrder) {
  store().create_version(bare("alpha", "1", at(300)));
  store().create_version(bare("Beta", "1", at(100)));
  store().create_version(bare("gamma", "1", at(100)));
  store().create_version(bare("delta", "1", at(200)));
  store().create_version(bare("empty", "1", at(400)));
  ASSERT_TRUE(store().begin_delete("empty", "1", "deleter").has_value());
  ASSERT_TRUE(store().release_version("empty", "1", "deleter"));  // kept, without versions
  store().create_version(bare("hidden", "1", at(0)));
  ASSERT_TRUE(store().begin_delete_model("hidden", "deleter", at(1)).has_value());
  store().create_version(bare("reserved", "1", at(0)), "writer-1");
  store().set_model_tag("alpha", "team", "risk", at(1));
  store().set_model_tag("Beta", "team", "Risk", at(1));
  store().set_model_tag("gamma", "env", "prod", at(1));
  store().create_version(bare("alpha", "2", at(500)));
  store().set_alias("alpha", "champion", "1", std::nullopt, at(2));

  auto search = [&](std::vector<SearchCondition> conditions,
                    ModelOrderBy order = ModelOrderBy::Name, bool descending = false,
                    std::size_t page_size = 100) {
    ModelQuery query;
    query.conditions = std::move(conditions);
    query.order_by = order;
    query.descending = descending;
    query.max_results = page_size;
    std::vector<RegisteredModel> models;
    for (int pages = 0; pages < 100; ++pages) {
      const ModelPage page = store().search_models(query);
      models.insert(models.end(), page.models.begin(), page.models.end());
      if (page.next_page_token.empty()) break;
      EXPECT_EQ(page.models.size(), page_size);
      query.page_token = page.next_page_token;
    }
    return models;
  };
  const Names by_name{"Beta", "alpha", "delta", "empty", "gamma"};
  EXPECT_EQ(model_names(search({})), by_name);
  EXPECT_EQ(model_names(search({}, ModelOrderBy::Name, true)),
            (Names{"gamma", "empty", "delta", "alpha", "Beta"}));
  EXPECT_EQ(model_names(search({}, ModelOrderBy::CreatedAt)),
            (Names{"Beta", "gamma", "delta", "alpha", "empty"}));
  // Descending is ascending reversed, ties (Beta and gamma) included.
  EXPECT_EQ(model_names(search({}, ModelOrderBy::CreatedAt, true)),
            (Names{"empty", "alpha", "delta", "gamma", "Beta"}));
  for (std::size_t size = 1; size <= 6; ++size) {
    EXPECT_EQ(model_names(search({}, ModelOrderBy::Name, false, size)), by_name) << size;
    EXPECT_EQ(model_names(search({}, ModelOrderBy::CreatedAt, true, size)),
              (Names{"empty", "alpha", "delta", "gamma", "Beta"}))
        << size;
  }
  using where::model_name;
  using where::tag;
  EXPECT_EQ(model_names(search({model_name(CompareOp::Like, "%a")})),
            (Names{"Beta", "alpha", "delta", "gamma"}));
  EXPECT_EQ(model_names(search({model_name(CompareOp::ILike, "b%")})), (Names{"Beta"}));
  EXPECT_EQ(model_names(search({model_name(CompareOp::NotEqual, "alpha")})),
            (Names{"Beta", "delta", "empty", "gamma"}));
  EXPECT_EQ(model_names(search({tag("team", CompareOp::Equal, "risk")})), (Names{"alpha"}));
  EXPECT_EQ(model_names(search({tag("team", CompareOp::ILike, "RISK")})), (Names{"Beta", "alpha"}));
  EXPECT_EQ(model_names(search({tag("team", CompareOp::NotEqual, "risk")})), (Names{"Beta"}));
  EXPECT_EQ(
      model_names(search({tag("team", CompareOp::Like, "%"), model_name(CompareOp::Like, "a%")})),
      (Names{"alpha"}));
  EXPECT_EQ(model_names(search({tag("team", CompareOp::Equal, "search")})), Names{})
      << "version tags are not model tags";
  // Each model is complete, as get_model shows it.
  for (const auto& model : search({}))
    EXPECT_EQ(store().get_model(model.name), model) << model.name;
  const auto alpha = search({model_name(CompareOp::Equal, "alpha")});
  ASSERT_EQ(alpha.size(), 1u);
  EXPECT_EQ(alpha[0].versions.size(), 2u);
  EXPECT_EQ(alpha[0].aliases.at("champion"), "1");
}

}  // namespace
}  // namespace modelreg

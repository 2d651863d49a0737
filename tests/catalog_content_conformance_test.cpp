// The MetadataStore conformance suite, part 7: what a catalog accepts of a version's content
// (tags, description, parameters, metrics) is one rule (src/content_rules.hpp), the same for
// every backend and for the registry in front of them (metadata_store_conformance.hpp).

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metadata_store_conformance.hpp"
#include "modelreg/error.hpp"
#include "modelreg/in_memory_model_store.hpp"
#include "modelreg/metadata_store.hpp"
#include "modelreg/model_registry.hpp"

namespace modelreg {
namespace {

using testing::make_version;
using testing::names_of;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct BadContent {
  const char* what;
  std::function<void(ModelVersion&)> spoil;
};

// Each turns a good version into one every catalog must refuse.
std::vector<BadContent> bad_contents() {
  return {
      {"tag key not UTF-8", [](ModelVersion& v) { v.tags["\xff"] = "x"; }},
      {"tag value not UTF-8", [](ModelVersion& v) { v.tags["k"] = "\xc3\x28"; }},
      {"empty tag key", [](ModelVersion& v) { v.tags[""] = "x"; }},
      {"description not UTF-8", [](ModelVersion& v) { v.description = "\xe2\x82"; }},
      {"parameter string not UTF-8", [](ModelVersion& v) { v.parameters["name"] = "caf\xe9"; }},
      {"parameter name not UTF-8", [](ModelVersion& v) { v.parameters["\xed\xa0\x80"] = 1; }},
      {"nested parameter not UTF-8",
       [](ModelVersion& v) {
         v.parameters["layers"] = {{{"type", "\xc0\xaf"}}};
       }},
      {"parameter NaN", [](ModelVersion& v) { v.parameters["lr"] = kNaN; }},
      {"nested parameter infinite",
       [](ModelVersion& v) {
         v.parameters["a"] = {1.0, -kInf};
       }},
      {"parameters not an object",
       [](ModelVersion& v) {
         v.parameters = {1, 2};
       }},
      {"metric name not UTF-8", [](ModelVersion& v) { v.metrics.custom["\xf5\x80\x80\x80"] = 1; }},
      {"empty metric name", [](ModelVersion& v) { v.metrics.custom[""] = 1; }},
      {"metric name too long",
       [](ModelVersion& v) { v.metrics.custom[std::string(251, 'm')] = 1; }},
      {"metric name with NUL",
       [](ModelVersion& v) { v.metrics.custom[std::string("a\0b", 3)] = 1; }},
  };
}

TEST_P(MetadataStoreConformance, BadContentIsRefusedByCreateVersionAndImport) {
  add("fraud", "1");
  const std::int64_t before = store().latest_event_sequence();
  for (const auto& bad : bad_contents()) {
    SCOPED_TRACE(bad.what);
    ModelVersion v = make_version("fraud", "2");
    bad.spoil(v);
    EXPECT_THROW(store().create_version(v), InvalidArgumentError);
    EXPECT_THROW(store().create_version(v, "writer"), InvalidArgumentError);
    ModelImport import;
    import.model_name = "imported";
    v.model_name = "imported";
    import.versions.push_back(v);
    EXPECT_THROW(store().import_model(import, "importer"), InvalidArgumentError);
  }
  EXPECT_EQ(names_of(store().list_versions("fraud")), std::vector<std::string>{"1"});
  EXPECT_EQ(store().get_model("imported"), std::nullopt);
  EXPECT_TRUE(store().list_pending().empty());
  EXPECT_EQ(store().latest_event_sequence(), before);
}

TEST_P(MetadataStoreConformance, NonFiniteMetricsAreStoredAsGiven) {
  ModelVersion v = make_version("fraud", "1");
  v.metrics.accuracy = kNaN;
  v.metrics.mse = kInf;
  v.metrics.custom = {{"loss", -kInf}, {"nan", kNaN}, {std::string(250, 'm'), 1.0}};
  store().create_version(v);
  const auto back = store().get_version("fraud", "1");
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(std::isnan(back->metrics.accuracy.value()));
  EXPECT_EQ(back->metrics.mse, kInf);
  EXPECT_EQ(back->metrics.custom.at("loss"), -kInf);
  EXPECT_TRUE(std::isnan(back->metrics.custom.at("nan")));
  EXPECT_EQ(back->metrics.custom.at(std::string(250, 'm')), 1.0);
}

// The registry refuses exactly what the catalogs refuse, before it writes an artifact, and
// stores what they store.
TEST_P(MetadataStoreConformance, TheRegistryAppliesTheCatalogsRule) {
  auto artifacts = std::make_shared<InMemoryModelStore>();
  ModelRegistry registry(artifacts, std::shared_ptr<MetadataStore>(&store(), [](auto*) {}));
  for (const auto& bad : bad_contents()) {
    SCOPED_TRACE(bad.what);
    ModelVersion v = make_version("fraud", "1");
    bad.spoil(v);
    RegisterOptions options;
    options.tags = v.tags;
    options.description = v.description;
    options.parameters = v.parameters;
    options.metrics = v.metrics;
    options.artifact = to_bytes("weights");
    EXPECT_THROW(registry.register_version("fraud", "1", options), InvalidArgumentError);
  }
  EXPECT_TRUE(artifacts->list_artifacts().empty());
  EXPECT_EQ(store().get_model("fraud"), std::nullopt);

  RegisterOptions non_finite;
  non_finite.metrics.auc_roc = kInf;
  non_finite.metrics.custom["loss"] = kNaN;
  registry.register_version("fraud", "1", non_finite);
  const auto back = registry.get_version("fraud", "1");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->metrics.auc_roc, kInf);
  EXPECT_TRUE(std::isnan(back->metrics.custom.at("loss")));
}

}  // namespace
}  // namespace modelreg

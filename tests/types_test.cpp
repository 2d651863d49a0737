// Value types: enums both ways, metrics, versions, models and their JSON round trips.

#include <gtest/gtest.h>

#include <modelreg/modelreg.hpp>

namespace modelreg {
namespace {

using namespace std::chrono_literals;

TEST(ModelStageTest, ToStringUsesTheSeedSpelling) {
  EXPECT_EQ(to_string(ModelStage::Development), "development");
  EXPECT_EQ(to_string(ModelStage::Staging), "staging");
  EXPECT_EQ(to_string(ModelStage::Production), "production");
  EXPECT_EQ(to_string(ModelStage::Archived), "archived");
}

TEST(ModelStageTest, ParseIsCaseInsensitiveAndRoundTrips) {
  for (auto stage : {ModelStage::Development, ModelStage::Staging, ModelStage::Production,
                     ModelStage::Archived}) {
    EXPECT_EQ(parse_stage(to_string(stage)), stage);
  }
  EXPECT_EQ(parse_stage("Production"), ModelStage::Production);
  EXPECT_EQ(parse_stage("STAGING"), ModelStage::Staging);
}

TEST(ModelStageTest, ParseRejectsUnknownNames) {
  for (const char* bad : {"", "prod", "production ", "None", "archive"}) {
    EXPECT_THROW(parse_stage(bad), InvalidArgumentError) << bad;
  }
  EXPECT_THROW(parse_stage(std::string("production\0x", 12)), InvalidArgumentError);
}

TEST(ModelFrameworkTest, RoundTripsAndRejectsUnknown) {
  for (auto f : {ModelFramework::Sklearn, ModelFramework::PyTorch, ModelFramework::TensorFlow,
                 ModelFramework::Onnx, ModelFramework::Custom}) {
    EXPECT_EQ(parse_framework(to_string(f)), f);
  }
  EXPECT_EQ(to_string(ModelFramework::PyTorch), "pytorch");
  EXPECT_EQ(parse_framework("TensorFlow"), ModelFramework::TensorFlow);
  EXPECT_THROW(parse_framework("jax"), InvalidArgumentError);
}

TEST(ModelStageTest, JsonIsTheLowerCaseName) {
  nlohmann::json j = ModelStage::Production;
  EXPECT_EQ(j, "production");
  EXPECT_EQ(nlohmann::json("Archived").get<ModelStage>(), ModelStage::Archived);
  EXPECT_THROW(nlohmann::json(3).get<ModelStage>(), InvalidArgumentError);
  EXPECT_THROW(nlohmann::json("gold").get<ModelFramework>(), InvalidArgumentError);
}

TEST(ModelMetricsTest, ToDictDropsUnsetValuesAndMergesCustom) {
  ModelMetrics m;
  m.accuracy = 0.9;
  m.f1_score = 0.8;
  m.custom["latency_ms"] = 12.5;
  const auto dict = m.to_dict();
  EXPECT_EQ(dict.size(), 3u);
  EXPECT_DOUBLE_EQ(dict.at("accuracy"), 0.9);
  EXPECT_DOUBLE_EQ(dict.at("f1_score"), 0.8);
  EXPECT_DOUBLE_EQ(dict.at("latency_ms"), 12.5);
  EXPECT_EQ(dict.count("precision"), 0u);
  EXPECT_TRUE(ModelMetrics{}.to_dict().empty());
}

TEST(ModelMetricsTest, CustomEntryWithAStandardNameWinsAsInTheSeed) {
  ModelMetrics m;
  m.accuracy = 0.5;
  m.custom["accuracy"] = 0.7;
  EXPECT_DOUBLE_EQ(m.to_dict().at("accuracy"), 0.7);
  EXPECT_DOUBLE_EQ(*m.get("accuracy"), 0.7);
  EXPECT_FALSE(m.get("mse").has_value());
}

TEST(ModelMetricsTest, JsonRoundTripKeepsStandardAndCustomApart) {
  ModelMetrics m;
  m.accuracy = 0.25;
  m.mae = 1e-9;
  m.custom["mse"] = 3.0;  // a custom value named like a standard one stays custom
  m.custom["throughput"] = 1e6;
  const nlohmann::json j = m;
  EXPECT_EQ(j.get<ModelMetrics>(), m);
  EXPECT_FALSE(j.contains("precision"));
}

TEST(ModelMetricsTest, FromJsonReadsTheFlatDictAndRejectsNonNumbers) {
  const auto m = nlohmann::json{{"accuracy", 0.5}, {"bleu", 30}}.get<ModelMetrics>();
  EXPECT_EQ(m.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(m.custom.at("bleu"), 30.0);
  EXPECT_THROW(nlohmann::json({{"accuracy", "high"}}).get<ModelMetrics>(), InvalidArgumentError);
  EXPECT_THROW(nlohmann::json::array().get<ModelMetrics>(), InvalidArgumentError);
}

TEST(TimestampTest, FormatsIsoUtcWithTheDigitsNeeded) {
  const Timestamp epoch{};
  EXPECT_EQ(format_timestamp(epoch), "1970-01-01T00:00:00Z");
  const Timestamp t = epoch + 1764153666s + 123ms;
  EXPECT_EQ(format_timestamp(t), "2025-11-26T10:41:06.123Z");
  EXPECT_EQ(format_timestamp(t + 456us), "2025-11-26T10:41:06.123456Z");
  EXPECT_EQ(format_timestamp(t + 456789ns), "2025-11-26T10:41:06.123456789Z");
  EXPECT_EQ(format_timestamp(epoch - 1s), "1969-12-31T23:59:59Z");
}

TEST(TimestampTest, ParseRoundTripsAndHonoursOffsets) {
  const Timestamp now = std::chrono::system_clock::now();
  EXPECT_EQ(parse_timestamp(format_timestamp(now)), now);
  EXPECT_EQ(parse_timestamp("2025-11-26T12:41:06+02:00"), parse_timestamp("2025-11-26T10:41:06Z"));
  EXPECT_EQ(parse_timestamp("2025-11-26T10:41:06"), parse_timestamp("2025-11-26T10:41:06Z"));
  EXPECT_NO_THROW(parse_timestamp("2000-02-29T00:00:00Z"));  // divisible by 400: a leap year
  EXPECT_EQ(parse_timestamp("2024-02-29T00:00:00.5Z") - parse_timestamp("2024-02-28T00:00:00Z"),
            std::chrono::duration_cast<Timestamp::duration>(86400s + 500ms));
}

TEST(TimestampTest, ParseRejectsMalformedText) {
  for (const char* bad :
       {"", "2025-11-26", "2025-13-01T00:00:00Z", "2025-11-26T25:00:00Z", "2025-11-26T10:41:06.Z",
        "2025-11-26T10:41:06Zjunk", "yesterday", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z"}) {
    EXPECT_THROW(parse_timestamp(bad), InvalidArgumentError) << bad;
  }
}

ModelVersion sample_version() {
  ModelVersion v;
  v.version = "1.2.0+build.7";
  v.model_name = "fraud-detector";
  v.stage = ModelStage::Staging;
  v.framework = ModelFramework::Onnx;
  v.artifact_path = "fraud-detector/1.2.0+build.7/model.bin";
  v.artifact_size = 1234;
  v.artifact_sha256 = std::string(64, 'a');
  v.metrics.accuracy = 0.97;
  v.metrics.custom["latency_ms"] = 3.25;
  v.parameters = {{"lr", 0.01}, {"layers", {64, 32}}, {"optimizer", {{"name", "adam"}}}};
  v.tags = {{"team", "risk"}, {"dataset", "2026-11"}};
  v.description = "gradient boosted \"trees\" — ünïcode";
  v.created_at = std::chrono::system_clock::now();
  v.updated_at = v.created_at + 1500ns;
  return v;
}

TEST(ModelVersionTest, FullNameIsNameColonVersion) {
  EXPECT_EQ(sample_version().full_name(), "fraud-detector:1.2.0+build.7");
}

TEST(ModelVersionTest, DefaultsFollowTheSeed) {
  ModelVersion v;
  EXPECT_EQ(v.stage, ModelStage::Development);
  EXPECT_EQ(v.framework, ModelFramework::Custom);
  EXPECT_FALSE(v.artifact_path.has_value());
  EXPECT_TRUE(v.parameters.is_object());
  EXPECT_TRUE(v.parameters.empty());
}

TEST(ModelVersionTest, JsonRoundTripIsExact) {
  const ModelVersion v = sample_version();
  const nlohmann::json j = v;
  EXPECT_EQ(j.at("stage"), "staging");
  EXPECT_EQ(j.at("framework"), "onnx");
  EXPECT_EQ(j.get<ModelVersion>(), v);
  // Through text, as a file or a database would hold it.
  EXPECT_EQ(nlohmann::json::parse(j.dump()).get<ModelVersion>(), v);

  ModelVersion without_artifact = v;
  without_artifact.artifact_path.reset();
  const nlohmann::json j2 = without_artifact;
  EXPECT_TRUE(j2.at("artifact_path").is_null());
  EXPECT_EQ(j2.get<ModelVersion>(), without_artifact);
}

TEST(ModelVersionTest, ToDictIsTheSeedsFlatForm) {
  const auto d = sample_version().to_dict();
  EXPECT_EQ(d.at("metrics").at("latency_ms"), 3.25);
  EXPECT_EQ(d.at("metrics").at("accuracy"), 0.97);
  EXPECT_EQ(d.at("stage"), "staging");
  EXPECT_EQ(d.at("created_at").get<std::string>().back(), 'Z');
}

TEST(ModelVersionTest, FromJsonRejectsMalformedDocuments) {
  EXPECT_THROW(nlohmann::json::object().get<ModelVersion>(), InvalidArgumentError);
  EXPECT_THROW((nlohmann::json{{"version", 1}, {"model_name", "m"}}.get<ModelVersion>()),
               InvalidArgumentError);
  EXPECT_THROW((nlohmann::json{{"version", "1"}, {"model_name", "m"}, {"stage", "gold"}}
                    .get<ModelVersion>()),
               InvalidArgumentError);
  EXPECT_THROW((nlohmann::json{{"version", "1"}, {"model_name", "m"}, {"parameters", {1, 2}}}
                    .get<ModelVersion>()),
               InvalidArgumentError);
  EXPECT_THROW((nlohmann::json{{"version", "1"}, {"model_name", "m"}, {"created_at", "noon"}}
                    .get<ModelVersion>()),
               InvalidArgumentError);
}

TEST(RegisteredModelTest, HelpersFindLatestProductionAndVersions) {
  RegisteredModel model;
  model.name = "m";
  EXPECT_FALSE(model.latest_version().has_value());
  EXPECT_FALSE(model.production_version().has_value());

  const Timestamp t0 = std::chrono::system_clock::now();
  for (int i = 1; i <= 3; ++i) {
    ModelVersion v;
    v.model_name = "m";
    v.version = std::to_string(i);
    v.created_at = t0 + std::chrono::seconds(i == 3 ? 1 : i);  // "2" and "3" tie
    model.versions.push_back(v);
  }
  model.versions[1].created_at = t0 + 1s;
  model.versions[0].stage = ModelStage::Production;
  // A tie is broken by registration order: the later registration wins.
  EXPECT_EQ(model.latest_version()->version, "3");
  EXPECT_EQ(model.production_version()->version, "1");
  EXPECT_EQ(model.get_version("2")->version, "2");
  EXPECT_FALSE(model.get_version("4").has_value());
}

TEST(RegisteredModelTest, JsonRoundTrip) {
  RegisteredModel model;
  model.name = "fraud-detector";
  model.description = "flags card fraud";
  model.tags = {{"owner", "risk"}};
  model.versions = {sample_version(), sample_version()};
  model.versions[1].version = "2";
  model.created_at = std::chrono::system_clock::now();
  const nlohmann::json j = model;
  EXPECT_EQ(j.get<RegisteredModel>(), model);
  EXPECT_THROW((nlohmann::json{{"name", "m"}, {"versions", "all"}}.get<RegisteredModel>()),
               InvalidArgumentError);
}

TEST(ErrorTest, HierarchyAndCodes) {
  const NotFoundError e("gone");
  const Error& base = e;
  EXPECT_EQ(base.code(), ErrorCode::NotFound);
  EXPECT_STREQ(base.what(), "gone");
  EXPECT_EQ(to_string(ErrorCode::DataLoss), "data_loss");
  EXPECT_EQ(AlreadyExistsError("x").code(), ErrorCode::AlreadyExists);
  EXPECT_EQ(InvalidArgumentError("x").code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(FailedPreconditionError("x").code(), ErrorCode::FailedPrecondition);
  EXPECT_EQ(StorageError("x").code(), ErrorCode::Storage);
  EXPECT_EQ(DataLossError("x").code(), ErrorCode::DataLoss);
  EXPECT_TRUE((std::is_base_of_v<std::runtime_error, Error>));
}

}  // namespace
}  // namespace modelreg

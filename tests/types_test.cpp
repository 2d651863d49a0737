// Value types: enums both ways, metrics, versions, models and their JSON round trips.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <modelreg/model_event.hpp>
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

TEST(ModelMetricsTest, SetFillsTheStandardFieldOrACustomMetric) {
  ModelMetrics m;
  m.set("auc_roc", 0.97);
  m.set("latency_ms", 3.5);
  m.set("mae", 0.1);
  EXPECT_EQ(m.auc_roc, 0.97);
  EXPECT_EQ(m.mae, 0.1);
  EXPECT_EQ(m.custom, (std::map<std::string, double>{{"latency_ms", 3.5}}));
  EXPECT_EQ(m.get("latency_ms"), 3.5);
  m.set("auc_roc", 0.5);  // replaces
  EXPECT_EQ(m.auc_roc, 0.5);
  EXPECT_TRUE(m.custom.count("auc_roc") == 0);
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

TEST(ModelMetricsTest, NonFiniteValuesRoundTripThroughJsonAsStrings) {
  ModelMetrics m;
  m.accuracy = std::numeric_limits<double>::quiet_NaN();
  m.mse = std::numeric_limits<double>::infinity();
  m.custom["loss"] = -std::numeric_limits<double>::infinity();
  const nlohmann::json j = m;
  // JSON has no NaN: nlohmann would have written null, which no reader takes back.
  EXPECT_EQ(j.dump(), R"({"accuracy":"NaN","custom":{"loss":"-Infinity"},"mse":"Infinity"})");
  const auto back = nlohmann::json::parse(j.dump()).get<ModelMetrics>();
  EXPECT_EQ(back, m);  // NaN equals NaN in ModelMetrics' ==
  EXPECT_TRUE(std::isnan(*back.accuracy));
  EXPECT_THROW(nlohmann::json({{"accuracy", "nan"}}).get<ModelMetrics>(), InvalidArgumentError);
  EXPECT_THROW(nlohmann::json({{"accuracy", nullptr}}).get<ModelMetrics>(), InvalidArgumentError);
  ModelMetrics other = m;
  other.accuracy = 0.5;
  EXPECT_NE(other, m);
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

TEST(TimestampTest, ParseRefusesTimesTheClockCannotHold) {
  // Once wrapped silently: 9999-12-31 came back as a day in 1816, 0001-01-01 as one in 1754.
  for (const char* outside :
       {"9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2262-04-11T23:47:16.854775808Z",
        "1677-09-21T00:12:43.145224191Z", "2262-04-11T23:47:16.854775807-00:01"}) {
    try {
      parse_timestamp(outside);
      ADD_FAILURE() << outside << " was accepted";
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find("outside the range"), std::string::npos) << e.what();
    }
  }
  // The first and last representable instants themselves round-trip.
  for (const Timestamp edge : {Timestamp::min(), Timestamp::max()}) {
    EXPECT_EQ(parse_timestamp(format_timestamp(edge)), edge) << format_timestamp(edge);
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

TEST(TimestampTest, AVersionWithAnOutOfRangeTimeIsRefusedNotWrapped) {
  auto j = nlohmann::json(sample_version());
  j["created_at"] = "9999-12-31T23:59:59Z";
  EXPECT_THROW(j.get<ModelVersion>(), InvalidArgumentError);
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

const std::vector<std::pair<EventType, std::string>>& event_names() {
  static const std::vector<std::pair<EventType, std::string>> names{
      {EventType::VersionRegistered, "version_registered"},
      {EventType::VersionDeleted, "version_deleted"},
      {EventType::StageChanged, "stage_changed"},
      {EventType::AliasSet, "alias_set"},
      {EventType::AliasDeleted, "alias_deleted"},
      {EventType::ModelTagSet, "model_tag_set"},
      {EventType::ModelTagDeleted, "model_tag_deleted"},
      {EventType::VersionTagSet, "version_tag_set"},
      {EventType::VersionTagDeleted, "version_tag_deleted"},
      {EventType::ModelDescriptionSet, "model_description_set"},
      {EventType::VersionDescriptionSet, "version_description_set"},
      {EventType::ModelDeleted, "model_deleted"},
  };
  return names;
}

TEST(EventTypeTest, NamesRoundTripInAnyCase) {
  for (const auto& [type, name] : event_names()) {
    EXPECT_EQ(to_string(type), name);
    EXPECT_EQ(parse_event_type(name), type) << name;
    std::string upper = name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(parse_event_type(upper), type) << upper;
  }
  EXPECT_EQ(parse_event_type("Stage_Changed"), EventType::StageChanged);
}

TEST(EventTypeTest, ParseRejectsUnknownNames) {
  for (const std::string& bad :
       {std::string(""), std::string("stage changed"), std::string("stagechanged"),
        std::string("stage_changed "), std::string("StageChanged"), std::string("unknown"),
        std::string("stage_changed\0", 14)}) {
    EXPECT_THROW(parse_event_type(bad), InvalidArgumentError) << bad;
  }
}

ModelEvent sample_event() {
  ModelEvent e;
  e.sequence = 42;
  e.time = std::chrono::system_clock::now();
  e.type = EventType::AliasSet;
  e.model_name = "fraud-detector";
  e.version = "3";
  e.key = "champion";
  e.old_value = "2";
  e.new_value = "3";
  e.actor = "ci-bot";
  e.reason = "auc \"0.97\" \xe2\x80\x94 better";
  return e;
}

TEST(ModelEventTest, JsonRoundTripsEveryField) {
  const ModelEvent e = sample_event();
  const nlohmann::json j = e;
  EXPECT_EQ(j.at("sequence"), 42);
  EXPECT_EQ(j.at("time"), format_timestamp(e.time));
  EXPECT_EQ(j.at("type"), "alias_set");
  EXPECT_EQ(j.at("model_name"), "fraud-detector");
  EXPECT_EQ(j.at("version"), "3");
  EXPECT_EQ(j.at("key"), "champion");
  EXPECT_EQ(j.at("old_value"), "2");
  EXPECT_EQ(j.at("new_value"), "3");
  EXPECT_EQ(j.at("actor"), "ci-bot");
  EXPECT_EQ(j.at("reason"), e.reason);
  EXPECT_EQ(j.size(), 10u);
  EXPECT_EQ(j.get<ModelEvent>(), e);
  EXPECT_EQ(nlohmann::json::parse(j.dump()).get<ModelEvent>(), e);
  for (const auto& [type, name] : event_names()) {
    ModelEvent typed = e;
    typed.type = type;
    EXPECT_EQ(nlohmann::json(typed).get<ModelEvent>(), typed) << name;
  }
}

TEST(ModelEventTest, AbsentValuesAreNullAndStayDistinctFromEmpty) {
  ModelEvent e = sample_event();
  e.old_value.reset();
  e.new_value = "";
  e.version.clear();
  e.reason.clear();
  const nlohmann::json j = e;
  EXPECT_TRUE(j.at("old_value").is_null());
  EXPECT_EQ(j.at("new_value"), "");
  const ModelEvent back = j.get<ModelEvent>();
  EXPECT_EQ(back, e);
  EXPECT_FALSE(back.old_value.has_value());
  ASSERT_TRUE(back.new_value.has_value());
  EXPECT_EQ(*back.new_value, "");
  ModelEvent other = e;
  other.old_value = "";
  EXPECT_NE(other, e);
}

TEST(ModelEventTest, EqualityComparesEveryField) {
  const ModelEvent e = sample_event();
  EXPECT_EQ(e, sample_event() = e);
  std::vector<ModelEvent> changed(10, e);
  changed[0].sequence = 43;
  changed[1].time += std::chrono::nanoseconds(1000);
  changed[2].type = EventType::AliasDeleted;
  changed[3].model_name = "other";
  changed[4].version = "4";
  changed[5].key = "challenger";
  changed[6].old_value.reset();
  changed[7].new_value = "4";
  changed[8].actor = "someone";
  changed[9].reason = "";
  for (const ModelEvent& c : changed) EXPECT_NE(c, e);
}

TEST(ModelEventTest, FromJsonRejectsMalformedDocuments) {
  const nlohmann::json good = sample_event();
  EXPECT_THROW(nlohmann::json::array().get<ModelEvent>(), InvalidArgumentError);
  EXPECT_THROW(nlohmann::json("event").get<ModelEvent>(), InvalidArgumentError);
  for (const char* required : {"sequence", "time", "type", "model_name"}) {
    nlohmann::json j = good;
    j.erase(required);
    EXPECT_THROW(j.get<ModelEvent>(), InvalidArgumentError) << required;
  }
  const std::vector<std::pair<const char*, nlohmann::json>> wrong{
      {"sequence", "42"},
      {"sequence", 4.5},
      {"sequence", nullptr},
      {"sequence", 18446744073709551615ull},
      {"time", "yesterday"},
      {"time", 1764153666},
      {"type", "promoted"},
      {"type", 3},
      {"model_name", 7},
      {"version", 3},
      {"key", true},
      {"old_value", 2},
      {"new_value", nlohmann::json::array()},
      {"actor", nlohmann::json::object()},
      {"reason", 1.5},
  };
  for (const auto& [field, value] : wrong) {
    nlohmann::json j = good;
    j[field] = value;
    EXPECT_THROW(j.get<ModelEvent>(), InvalidArgumentError) << field << " = " << value.dump();
  }
  nlohmann::json hostile = good;
  hostile["time"] = std::string("noon\n\0\x01", 7);
  try {
    hostile.get<ModelEvent>();
    ADD_FAILURE() << "accepted a malformed time";
  } catch (const InvalidArgumentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("time"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.find('\x01'), std::string::npos) << message;
  }
  // Optional text may be absent or null.
  nlohmann::json minimal = good;
  for (const char* optional : {"version", "key", "old_value", "new_value", "actor", "reason"}) {
    minimal.erase(optional);
  }
  const ModelEvent back = minimal.get<ModelEvent>();
  EXPECT_EQ(back.version, "");
  EXPECT_FALSE(back.old_value.has_value());
  EXPECT_FALSE(back.new_value.has_value());
  nlohmann::json negative = good;
  negative["sequence"] = -1;
  EXPECT_EQ(negative.get<ModelEvent>().sequence, -1);
}

TEST(ModelEventTest, ChangesServingOnlyWhenProductionOrAnAliasMoves) {
  const auto event = [](EventType type, std::optional<std::string> old_value,
                        std::optional<std::string> new_value) {
    ModelEvent e;
    e.type = type;
    e.old_value = std::move(old_value);
    e.new_value = std::move(new_value);
    return e;
  };
  EXPECT_TRUE(event(EventType::StageChanged, "staging", "production").changes_serving());
  EXPECT_TRUE(event(EventType::StageChanged, "production", "archived").changes_serving());
  EXPECT_TRUE(event(EventType::StageChanged, "Production", "archived").changes_serving());
  EXPECT_FALSE(event(EventType::StageChanged, "development", "staging").changes_serving());
  EXPECT_FALSE(event(EventType::StageChanged, "staging", "archived").changes_serving());
  EXPECT_TRUE(event(EventType::AliasSet, std::nullopt, "3").changes_serving());
  EXPECT_TRUE(event(EventType::AliasSet, "2", "3").changes_serving());
  EXPECT_TRUE(event(EventType::AliasDeleted, "3", std::nullopt).changes_serving());
  EXPECT_TRUE(event(EventType::VersionDeleted, "production", std::nullopt).changes_serving());
  EXPECT_FALSE(event(EventType::VersionDeleted, "staging", std::nullopt).changes_serving());
  EXPECT_TRUE(event(EventType::ModelDeleted, std::nullopt, std::nullopt).changes_serving());
  EXPECT_FALSE(event(EventType::VersionRegistered, std::nullopt, "development").changes_serving());
  EXPECT_TRUE(event(EventType::VersionRegistered, std::nullopt, "production").changes_serving());
  for (const EventType type : {EventType::ModelTagSet, EventType::ModelTagDeleted,
                               EventType::VersionTagSet, EventType::VersionTagDeleted,
                               EventType::ModelDescriptionSet, EventType::VersionDescriptionSet}) {
    // Not even when a value happens to read "production".
    EXPECT_FALSE(event(type, "production", "production").changes_serving()) << to_string(type);
  }
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

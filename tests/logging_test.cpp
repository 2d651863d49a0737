// modelreg logs to its own named logger, never to spdlog's global state.

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <functional>
#include <modelreg/modelreg.hpp>
#include <vector>

#include "log_capture.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

TEST(LoggingTest, DefaultLoggerIsRegisteredUnderItsName) {
  set_logger(nullptr);
  auto logger = modelreg::logger();
  ASSERT_NE(logger, nullptr);
  EXPECT_EQ(logger->name(), "modelreg");
  EXPECT_EQ(spdlog::get("modelreg"), logger);
}

TEST(LoggingTest, AnErrorIsLoggedToTheNamedLoggerBeforeTheCallerSeesIt) {
  set_logger(nullptr);
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(10);
  auto named = spdlog::get("modelreg");
  ASSERT_NE(named, nullptr);
  named->sinks().push_back(sink);
  ModelRegistry registry;
  registry.register_version("m", "1");
  EXPECT_THROW(registry.register_version("m", "1"), AlreadyExistsError);
  named->sinks().pop_back();
  const auto logged = sink->last_formatted();
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("already exists"), std::string::npos) << logged[0];
  // A caller's mistake is routine for the caller: info, not error.
  EXPECT_NE(logged[0].find("[info]"), std::string::npos) << logged[0];
}

TEST(LoggingTest, CallerErrorsAreLoggedAtInfoAndStorageErrorsAtError) {
  testing::LogCapture capture;
  ModelRegistry registry;
  registry.register_version("m", "1");
  EXPECT_THROW(registry.register_version("m", "1"), AlreadyExistsError);
  EXPECT_THROW(registry.get_version("m", ""), InvalidArgumentError);
  EXPECT_THROW(registry.set_version_tag("m", "2", "k", "v"), NotFoundError);
  EXPECT_THROW(registry.transition_stage("m", "1", ModelStage::Staging, ModelStage::Archived),
               FailedPreconditionError);
  EXPECT_EQ(capture.infos().size(), 4u);
  EXPECT_TRUE(capture.errors().empty());
  // A storage failure (here: an artifact store directory that is a file) is an error.
  testing::TestDir dir;
  std::ofstream(dir.path() / "file") << "x";
  EXPECT_THROW(FileModelStore(dir.path() / "file" / "store"), StorageError);
  ASSERT_EQ(capture.errors().size(), 1u);
  EXPECT_EQ(capture.infos().size(), 4u);
}

TEST(LoggingTest, AnApplicationLoggerRegisteredFirstIsUsed) {
  set_logger(nullptr);
  spdlog::drop("modelreg");
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(10);
  auto mine = std::make_shared<spdlog::logger>("modelreg", sink);
  spdlog::register_logger(mine);
  EXPECT_EQ(modelreg::logger(), mine);
  ModelRegistry registry;
  EXPECT_THROW(registry.get_model(""), InvalidArgumentError);
  EXPECT_EQ(sink->last_raw().size(), 1u);
  spdlog::drop("modelreg");
}

TEST(LoggingTest, SetLoggerRoutesMessagesAndNullRestoresTheDefault) {
  {
    testing::LogCapture capture;
    ModelRegistry registry;
    EXPECT_THROW(registry.transition_stage("..", "1", ModelStage::Production),
                 InvalidArgumentError);
    ASSERT_EQ(capture.infos().size(), 1u);
    EXPECT_NE(capture.infos()[0].find("transition_stage"), std::string::npos);
  }
  EXPECT_EQ(modelreg::logger()->name(), "modelreg");
}

TEST(LoggingTest, TheGlobalDefaultLoggerLevelAndPatternAreUntouched) {
  auto default_logger = spdlog::default_logger();
  const auto level = spdlog::get_level();
  ModelRegistry registry;
  EXPECT_THROW(registry.get_version("m", ""), InvalidArgumentError);
  registry.register_version("m", "1");
  EXPECT_EQ(spdlog::default_logger(), default_logger);
  EXPECT_EQ(spdlog::get_level(), level);
}

TEST(LoggingTest, ErrorsLeaveTheLibraryUnchangedAndOnce) {
  testing::LogCapture capture;
  InMemoryModelStore store;
  EXPECT_THROW(store.load_artifact("m/1/model.bin"), NotFoundError);
  EXPECT_THROW(store.save_artifact("m", "", to_bytes("x")), InvalidArgumentError);
  // Store errors are logged too, once each, even when one public call uses another.
  EXPECT_EQ(capture.infos().size(), 2u);
}

TEST(LoggingTest, ErrorsOfTheFreeFunctionsAndValueTypesAreLoggedOnce) {
  testing::LogCapture capture;
  const std::vector<std::function<void()>> failing = {
      [] { (void)parse_stage("shipped"); },
      [] { (void)parse_framework("caffe"); },
      [] { (void)parse_timestamp("2026-02-30T00:00:00Z"); },
      [] { validate_model_name(".."); },
      [] { validate_version(""); },
      [] { validate_tag("", "x"); },
      [] { (void)ModelStore::artifact_path("a/b", "1"); },
      [] { (void)nlohmann::json("shipped").get<ModelStage>(); },
      [] { (void)nlohmann::json(42).get<ModelMetrics>(); },
      [] { (void)nlohmann::json::object().get<ModelVersion>(); },
      [] { (void)nlohmann::json::array().get<RegisteredModel>(); },
      [] { (void)FileModelStore(""); },
  };
  for (std::size_t i = 0; i < failing.size(); ++i) {
    EXPECT_THROW(failing[i](), InvalidArgumentError) << "case " << i;
    EXPECT_EQ(capture.infos().size(), i + 1) << "case " << i;
  }
}

}  // namespace
}  // namespace modelreg

// Names and versions become directory names: every hostile one is refused before anything is
// written, by the registry and by the stores.

#include <gtest/gtest.h>

#include <fstream>
#include <modelreg/modelreg.hpp>

#include "test_dir.hpp"

namespace modelreg {
namespace {

std::vector<std::string> hostile_names() {
  return {
      "",
      ".",
      "..",
      "../x",
      "a/b",
      "/etc",
      "a\\b",
      std::string("a\0b", 3),
      std::string(10000, 'a'),
      " leading",
      "trailing ",
      "in side",
      "tab\there",
      "new\nline",
      "bell\x07",
      "del\x7f",
      "-rf",
      ".hidden",
      "caf\xc3\xa9",  // non-ASCII (UTF-8)
      "\xff\xfe",     // invalid UTF-8
      "x:y",
      "a*b",
      "$(reboot)",
  };
}

TEST(ValidationTest, AcceptsTheDocumentedCharacterSet) {
  EXPECT_NO_THROW(validate_model_name("fraud-detector_v2.onnx"));
  EXPECT_NO_THROW(validate_model_name("A"));
  EXPECT_NO_THROW(validate_model_name(std::string(kMaxModelNameLength, 'm')));
  EXPECT_NO_THROW(validate_version("1.0.0+build.7"));
  EXPECT_NO_THROW(validate_version("2026-11-26_rc1"));
  EXPECT_NO_THROW(validate_version(std::string(kMaxVersionLength, '9')));
}

TEST(ValidationTest, RejectsHostileNamesAndVersions) {
  for (const auto& bad : hostile_names()) {
    EXPECT_THROW(validate_model_name(bad), InvalidArgumentError) << bad;
    EXPECT_THROW(validate_version(bad), InvalidArgumentError) << bad;
  }
  EXPECT_THROW(validate_model_name(std::string(kMaxModelNameLength + 1, 'm')),
               InvalidArgumentError);
  EXPECT_THROW(validate_version(std::string(kMaxVersionLength + 1, '1')), InvalidArgumentError);
  EXPECT_THROW(validate_model_name("a+b"), InvalidArgumentError);  // '+' only in versions
}

TEST(ValidationTest, ErrorMessagesAreReadableForAnyInput) {
  try {
    validate_model_name(std::string("a\0b\n", 4));
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("model name"), std::string::npos) << message;
    EXPECT_EQ(message.find('\0'), std::string::npos);
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  try {
    validate_version(std::string(10000, 'v') + "/");
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_LT(std::string(e.what()).size(), 300u);
  }
}

TEST(ValidationTest, TagsAreChecked) {
  EXPECT_NO_THROW(validate_tag("team", "risk & fraud"));
  EXPECT_THROW(validate_tag("", "x"), InvalidArgumentError);
  EXPECT_THROW(validate_tag("a\nb", "x"), InvalidArgumentError);
  EXPECT_THROW(validate_tag(std::string(251, 'k'), "x"), InvalidArgumentError);
  EXPECT_THROW(validate_tag("k", std::string(5001, 'v')), InvalidArgumentError);
  EXPECT_THROW(validate_tag("k", std::string("a\0b", 3)), InvalidArgumentError);
}

TEST(ValidationTest, RegistryRefusesHostileNamesAndLeavesNoFile) {
  testing::TestDir dir;
  auto store = std::make_shared<FileModelStore>(dir.path() / "artifacts");
  ModelRegistry registry(store);
  RegisterOptions options;
  options.artifact = to_bytes("weights");
  for (const auto& bad : hostile_names()) {
    EXPECT_THROW(registry.register_version(bad, "1", options), InvalidArgumentError) << bad;
    EXPECT_THROW(registry.register_version("good", bad, options), InvalidArgumentError) << bad;
    EXPECT_THROW(registry.get_model(bad), InvalidArgumentError) << bad;
    EXPECT_THROW(registry.get_version("good", bad), InvalidArgumentError) << bad;
    EXPECT_THROW(registry.load_artifact(bad, "1"), InvalidArgumentError) << bad;
    EXPECT_THROW(registry.transition_stage(bad, "1", ModelStage::Production), InvalidArgumentError)
        << bad;
    EXPECT_THROW(registry.delete_version("good", bad), InvalidArgumentError) << bad;
  }
  EXPECT_EQ(dir.file_count(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "artifacts"));
  EXPECT_TRUE(registry.list_models().empty());
  // Nothing escaped the store directory either.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(ValidationTest, FileStoreRefusesPathsOutsideItsDirectory) {
  testing::TestDir dir;
  FileModelStore store(dir.path() / "artifacts");
  std::filesystem::create_directories(dir.path() / "secret");
  { std::ofstream(dir.path() / "secret" / "model.bin") << "secret"; }
  const std::string outside = (dir.path() / "secret" / "model.bin").string();
  for (const std::string& bad :
       {std::string("../secret/model.bin"), outside, std::string("m/1/../../../secret/model.bin"),
        std::string("m/1/other.bin"), std::string("m/model.bin"), std::string(""),
        std::string("m/1/model.bin/x"), std::string("/etc/passwd")}) {
    EXPECT_THROW(store.load_artifact(bad), InvalidArgumentError) << bad;
    EXPECT_THROW(store.delete_artifact(bad), InvalidArgumentError) << bad;
    EXPECT_THROW(store.resolve(bad), InvalidArgumentError) << bad;
  }
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "secret" / "model.bin"));
  EXPECT_THROW(store.save_artifact("..", "1", to_bytes("x")), InvalidArgumentError);
  EXPECT_THROW(store.save_artifact("m", "../../x", to_bytes("x")), InvalidArgumentError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "artifacts"));
}

TEST(ValidationTest, FileStoreAcceptsAbsolutePathsInsideIt) {
  testing::TestDir dir;
  FileModelStore store(dir.path() / "artifacts");
  const std::string path = store.save_artifact("m", "1", to_bytes("abc"));
  EXPECT_EQ(path, "m/1/model.bin");
  const auto absolute = store.resolve(path);
  EXPECT_EQ(absolute, store.base_path() / "m" / "1" / "model.bin");
  EXPECT_EQ(to_string(store.load_artifact(absolute.string())), "abc");
}

}  // namespace
}  // namespace modelreg

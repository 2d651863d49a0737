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

TEST(ValidationTest, AliasAcceptsMlflowsCharacterSet) {
  for (const std::string& good :
       {std::string("champion"), std::string("Champion-2"), std::string("a_b"), std::string("_"),
        std::string("-"), std::string("1"), std::string("v"), std::string("V"), std::string("vx1"),
        std::string("v1a"), std::string("version1"), std::string("latest2"),
        std::string("my-latest"), std::string(kMaxAliasLength, 'a')}) {
    EXPECT_NO_THROW(validate_alias(good)) << good;
  }
}

TEST(ValidationTest, AliasRefusesReservedNamesAndOtherCharacters) {
  for (const std::string& bad :
       {std::string(""), std::string("latest"), std::string("LATEST"), std::string("Latest"),
        std::string("v1"), std::string("V12"), std::string("v0"), std::string("v007"),
        std::string("bad alias"), std::string("a.b"), std::string("a/b"), std::string("a@b"),
        std::string("a+b"), std::string("caf\xc3\xa9"), std::string("a\0b", 3),
        std::string("tab\t"), std::string(kMaxAliasLength + 1, 'a')}) {
    EXPECT_THROW(validate_alias(bad), InvalidArgumentError) << bad;
  }
}

TEST(ValidationTest, AliasMessagesSayWhy) {
  const auto message_of = [](std::string_view alias) -> std::string {
    try {
      validate_alias(alias);
    } catch (const InvalidArgumentError& e) {
      return e.what();
    }
    ADD_FAILURE() << "accepted: " << alias;
    return {};
  };
  EXPECT_NE(message_of("Latest").find("reserved"), std::string::npos);
  EXPECT_NE(message_of("v3").find("reserved"), std::string::npos);
  EXPECT_NE(message_of("").find("empty"), std::string::npos);
  const std::string control = message_of(std::string("a\0\nb", 4));
  EXPECT_NE(control.find("not allowed"), std::string::npos) << control;
  EXPECT_EQ(control.find('\0'), std::string::npos);
  EXPECT_EQ(control.find('\n'), std::string::npos);
  EXPECT_LT(message_of(std::string(10000, 'a')).size(), 300u);
}

TEST(ValidationTest, DescriptionAcceptsUtf8UpToItsLimit) {
  EXPECT_NO_THROW(validate_description(""));
  EXPECT_NO_THROW(validate_description("gradient boosted \"trees\"\n\tsecond line"));
  EXPECT_NO_THROW(
      validate_description("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
  EXPECT_NO_THROW(validate_description("\xed\x9f\xbf \xee\x80\x80"));  // around the surrogates
  EXPECT_NO_THROW(validate_description(std::string(65536, 'd')));
  // The limit is in bytes: 32,768 two-byte characters fill it exactly.
  std::string two_byte;
  for (int i = 0; i < 32768; ++i) two_byte += "\xc3\xa9";
  EXPECT_NO_THROW(validate_description(two_byte));
  EXPECT_THROW(validate_description(two_byte + "x"), InvalidArgumentError);
}

TEST(ValidationTest, DescriptionRefusesNulInvalidUtf8AndLength) {
  for (const std::string& bad : {
           std::string(65537, 'd'),
           std::string("a\0b", 3),
           std::string(1, '\0'),
           std::string("\xff"),
           std::string("abc\xfe"),
           std::string("\x80"),              // a lone continuation byte
           std::string("\xc3"),              // truncated
           std::string("\xe2\x82"),          // truncated
           std::string("\xf0\x9f\x98"),      // truncated
           std::string("\xc3\x28"),          // bad continuation
           std::string("\xc0\xaf"),          // overlong '/'
           std::string("\xc1\xbf"),          // overlong
           std::string("\xe0\x80\xaf"),      // overlong
           std::string("\xf0\x80\x80\xaf"),  // overlong
           std::string("\xed\xa0\x80"),      // surrogate U+D800
           std::string("\xed\xbf\xbf"),      // surrogate U+DFFF
           std::string("\xf4\x90\x80\x80"),  // above U+10FFFF
           std::string("\xf5\x80\x80\x80"),
           std::string("ok \xc3\xa9 then \xff"),
       }) {
    EXPECT_THROW(validate_description(bad), InvalidArgumentError) << bad.size();
  }
  try {
    validate_description("abc\xff");
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("UTF-8"), std::string::npos) << message;
    EXPECT_NE(message.find("byte 3"), std::string::npos) << message;
    EXPECT_EQ(message.find('\xff'), std::string::npos);
  }
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

// Model URIs: every form MLflow uses, their canonical text, and everything else refused.

#include <gtest/gtest.h>

#include <modelreg/error.hpp>
#include <modelreg/model_uri.hpp>
#include <modelreg/validation.hpp>
#include <string>
#include <vector>

namespace modelreg {
namespace {

ModelUri uri_of(std::string name, ModelUri::Kind kind) {
  ModelUri uri;
  uri.model_name = std::move(name);
  uri.kind = kind;
  return uri;
}

TEST(ModelUriTest, VersionForm) {
  const ModelUri uri = ModelUri::parse("models:/fraud/3");
  EXPECT_EQ(uri.model_name, "fraud");
  EXPECT_EQ(uri.kind, ModelUri::Kind::Version);
  EXPECT_EQ(uri.version, "3");
  EXPECT_EQ(uri.alias, "");
  EXPECT_EQ(ModelUri::parse("models:/fraud-detector_v2.onnx/1.2.0+build.7").version,
            "1.2.0+build.7");
  // Only the exact stage names are stages; anything else is a version string.
  EXPECT_EQ(ModelUri::parse("models:/fraud/prod").kind, ModelUri::Kind::Version);
  EXPECT_EQ(ModelUri::parse("models:/fraud/latest1").kind, ModelUri::Kind::Version);
  EXPECT_EQ(ModelUri::parse("models:/fraud/v1").version, "v1");
}

TEST(ModelUriTest, AliasForm) {
  const ModelUri uri = ModelUri::parse("models:/fraud@champion");
  EXPECT_EQ(uri.model_name, "fraud");
  EXPECT_EQ(uri.kind, ModelUri::Kind::Alias);
  EXPECT_EQ(uri.alias, "champion");
  EXPECT_EQ(uri.version, "");
  EXPECT_EQ(ModelUri::parse("models:/m@Champion-2_b").alias, "Champion-2_b");
}

TEST(ModelUriTest, StageFormInAnyCase) {
  struct Case {
    const char* text;
    ModelStage stage;
  };
  for (const Case& c : std::vector<Case>{{"models:/fraud/Production", ModelStage::Production},
                                         {"models:/fraud/production", ModelStage::Production},
                                         {"models:/fraud/PRODUCTION", ModelStage::Production},
                                         {"models:/fraud/Staging", ModelStage::Staging},
                                         {"models:/fraud/archived", ModelStage::Archived},
                                         {"models:/fraud/DevelopMent", ModelStage::Development}}) {
    const ModelUri uri = ModelUri::parse(c.text);
    EXPECT_EQ(uri.kind, ModelUri::Kind::Stage) << c.text;
    EXPECT_EQ(uri.stage, c.stage) << c.text;
    EXPECT_EQ(uri.model_name, "fraud") << c.text;
    EXPECT_EQ(uri.version, "") << c.text;
  }
}

TEST(ModelUriTest, LatestFormInAnyCase) {
  for (const char* text : {"models:/fraud/latest", "models:/fraud/Latest", "models:/fraud/LATEST",
                           "models:/fraud/lAtEsT"}) {
    const ModelUri uri = ModelUri::parse(text);
    EXPECT_EQ(uri.kind, ModelUri::Kind::Latest) << text;
    EXPECT_EQ(uri.model_name, "fraud") << text;
    EXPECT_EQ(uri.version, "") << text;
  }
}

TEST(ModelUriTest, TheSchemeIsCaseInsensitive) {
  EXPECT_EQ(ModelUri::parse("MODELS:/fraud/3"), ModelUri::parse("models:/fraud/3"));
  EXPECT_EQ(ModelUri::parse("Models:/fraud@a").to_string(), "models:/fraud@a");
}

TEST(ModelUriTest, ToStringIsCanonicalAndRoundTrips) {
  EXPECT_EQ(ModelUri::parse("models:/fraud/3").to_string(), "models:/fraud/3");
  EXPECT_EQ(ModelUri::parse("models:/fraud@champion").to_string(), "models:/fraud@champion");
  EXPECT_EQ(ModelUri::parse("models:/fraud/Production").to_string(), "models:/fraud/production");
  EXPECT_EQ(ModelUri::parse("models:/fraud/LATEST").to_string(), "models:/fraud/latest");

  std::vector<ModelUri> uris;
  ModelUri version = uri_of("fraud", ModelUri::Kind::Version);
  version.version = "1.0+x";
  uris.push_back(version);
  ModelUri alias = uri_of("fraud", ModelUri::Kind::Alias);
  alias.alias = "champion";
  uris.push_back(alias);
  for (const auto stage : {ModelStage::Development, ModelStage::Staging, ModelStage::Production,
                           ModelStage::Archived}) {
    ModelUri s = uri_of("fraud", ModelUri::Kind::Stage);
    s.stage = stage;
    uris.push_back(s);
  }
  uris.push_back(uri_of("fraud", ModelUri::Kind::Latest));
  for (const ModelUri& uri : uris) {
    EXPECT_EQ(ModelUri::parse(uri.to_string()), uri) << uri.to_string();
  }
}

TEST(ModelUriTest, EqualityLooksAtWhatTheKindUses) {
  ModelUri a = uri_of("m", ModelUri::Kind::Latest);
  ModelUri b = a;
  b.version = "stale";
  b.alias = "stale";
  b.stage = ModelStage::Archived;
  EXPECT_EQ(a, b);
  EXPECT_EQ(ModelUri::parse(b.to_string()), b);
  b.model_name = "n";
  EXPECT_NE(a, b);
  a = ModelUri::parse("models:/m/1");
  EXPECT_NE(a, ModelUri::parse("models:/m/2"));
  EXPECT_NE(a, ModelUri::parse("models:/m@a1"));
  EXPECT_NE(ModelUri::parse("models:/m/staging"), ModelUri::parse("models:/m/production"));
  EXPECT_NE(ModelUri::parse("models:/m/latest"), ModelUri::parse("models:/m/production"));
}

TEST(ModelUriTest, MalformedUrisAreRefused) {
  const std::vector<std::string> bad{
      "",
      "models",
      "models:",
      "model:/fraud/1",
      "runs:/abc/model",
      "s3://bucket/fraud/1",
      "file:///models/fraud/1",
      " models:/fraud/1",
      "models:/fraud/1 ",
      "models:fraud/1",
      "models://x/1",
      "models://fraud/1",
      "models:/",
      "models://",
      "models:/name",
      "models:/name/",
      "models:/name//",
      "models:/a/b/c",
      "models:/a/1/",
      "models:/name@",
      "models:/name@bad alias",
      "models:/name@latest",
      "models:/name@LATEST",
      "models:/name@v1",
      "models:/name@a/1",
      "models:/name@a@b",
      "models:/@champion",
      "models://1",
      "models:/.hidden/1",
      "models:/../1",
      "models:/a..b/..",
      "models:/-rf/1",
      "models:/na me/1",
      "models:/caf\xc3\xa9/1",
      "models:/name/1 2",
      "models:/name/../1",
      "models:/name/1?x=1",
      "models:/name/1#frag",
      "models:/name?x/1",
      "models:/name@a#b",
      "models:/name/%31",
      std::string("models:/na\0me/1", 15),
      std::string("models:/name/1\0", 15),
      std::string("models:/name@a\0", 15),
      "models:/" + std::string(kMaxModelNameLength + 1, 'm') + "/1",
      "models:/m/" + std::string(kMaxVersionLength + 1, '1'),
      "models:/m@" + std::string(kMaxAliasLength + 1, 'a'),
  };
  for (const std::string& text : bad) {
    EXPECT_THROW(ModelUri::parse(text), InvalidArgumentError) << text;
  }
  EXPECT_NO_THROW(ModelUri::parse("models:/" + std::string(kMaxModelNameLength, 'm') + "/1"));
  EXPECT_NO_THROW(ModelUri::parse("models:/m@" + std::string(kMaxAliasLength, 'a')));
}

TEST(ModelUriTest, MessagesNameTheProblemAndPrintSafely) {
  const auto message_of = [](const std::string& text) -> std::string {
    try {
      ModelUri::parse(text);
    } catch (const InvalidArgumentError& e) {
      return e.what();
    }
    ADD_FAILURE() << "accepted: " << text;
    return {};
  };
  EXPECT_NE(message_of("models:/name@latest").find("reserved"), std::string::npos);
  EXPECT_NE(message_of("models:/name/1?x").find("query"), std::string::npos);
  EXPECT_NE(message_of("models://x/1").find("host"), std::string::npos);
  EXPECT_NE(message_of("models:/a/b/c").find("segments"), std::string::npos);
  EXPECT_NE(message_of("models:/na me/1").find("model name"), std::string::npos);
  const std::string nul = message_of(std::string("models:/na\0\n\xff/1", 15));
  EXPECT_NE(nul.find("invalid model URI"), std::string::npos) << nul;
  EXPECT_EQ(nul.find('\0'), std::string::npos);
  EXPECT_EQ(nul.find('\n'), std::string::npos);
  EXPECT_EQ(nul.find('\xff'), std::string::npos);
  EXPECT_LT(message_of("models:/" + std::string(10000, 'x')).size(), 400u);
}

}  // namespace
}  // namespace modelreg

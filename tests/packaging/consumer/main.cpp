// A program a modelreg user could have written, using only the public API (the seed's names).
// The packaging tests build it against an installed, a vendored and a fetched modelreg and run
// it; it exits non-zero if any behaviour is wrong.
//
// Usage: modelreg_consumer <registry directory, must not exist yet>

#include <exception>
#include <filesystem>
#include <iostream>
#include <modelreg/modelreg.hpp>
#ifdef MODELREG_CONSUMER_POSTGRES
#include <modelreg/postgres_metadata_store.hpp>
#endif
#ifdef MODELREG_CONSUMER_S3
#include <modelreg/s3_model_store.hpp>
#endif
#include <optional>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::cerr << "FAILED: " << what << '\n';
  }
}

std::optional<std::string> artifact_text(const modelreg::ModelRegistry& registry,
                                         const std::string& name, const std::string& version) {
  const std::optional<modelreg::Bytes> bytes = registry.load_artifact(name, version);
  if (!bytes) return std::nullopt;
  return modelreg::to_string(*bytes);
}

std::vector<std::string> version_names(const std::vector<modelreg::ModelVersion>& versions) {
  std::vector<std::string> names;
  for (const modelreg::ModelVersion& version : versions) names.push_back(version.version);
  return names;
}

// The seed's workflow, run against any registry that starts empty.
void exercise(modelreg::ModelRegistry& registry, const std::string& where) {
  using modelreg::ModelStage;
  const std::string in = " (" + where + ")";

  modelreg::RegisterOptions first;
  first.framework = modelreg::ModelFramework::Sklearn;
  first.metrics.accuracy = 0.91;
  first.metrics.custom["latency_ms"] = 12.5;
  first.parameters = {{"C", 1.0}, {"kernel", "rbf"}};
  first.tags = {{"team", "vision"}};
  first.artifact = modelreg::to_bytes("weights-1");
  const modelreg::ModelVersion registered = registry.register_version("iris", "1.0.0", first);
  check(registered.full_name() == "iris:1.0.0", "full_name" + in);
  check(registered.stage == ModelStage::Development, "a new version is in Development" + in);
  check(registered.framework == modelreg::ModelFramework::Sklearn, "framework" + in);
  check(registered.metrics.accuracy == 0.91, "metrics.accuracy" + in);
  check(registered.metrics.get("latency_ms") == 12.5, "custom metric" + in);
  check(registered.parameters.value("kernel", "") == "rbf", "parameters" + in);
  check(registered.tags.count("team") == 1 && registered.tags.at("team") == "vision", "tags" + in);

  modelreg::RegisterOptions second;
  second.framework = modelreg::ModelFramework::PyTorch;
  second.metrics.accuracy = 0.95;
  second.artifact = modelreg::to_bytes("weights-2");
  registry.register_version("iris", "2.0.0", second);
  registry.register_version("mnist", "0.1.0");  // no artifact

  // A duplicate registration throws and changes nothing.
  bool duplicate_rejected = false;
  try {
    modelreg::RegisterOptions duplicate;
    duplicate.artifact = modelreg::to_bytes("overwritten");
    registry.register_version("iris", "1.0.0", duplicate);
  } catch (const modelreg::AlreadyExistsError&) {
    duplicate_rejected = true;
  }
  check(duplicate_rejected, "registering iris:1.0.0 twice throws AlreadyExistsError" + in);
  check(artifact_text(registry, "iris", "1.0.0") == "weights-1",
        "a rejected duplicate leaves the artifact alone" + in);

  // Promoting to Production archives the previous Production version.
  check(!registry.get_production_model("iris"), "no Production version at first" + in);
  const auto promoted = registry.transition_stage("iris", "1.0.0", ModelStage::Production);
  check(promoted && promoted->stage == ModelStage::Production, "1.0.0 promoted" + in);
  auto production = registry.get_production_model("iris");
  check(production && production->version == "1.0.0", "1.0.0 in Production" + in);
  registry.transition_stage("iris", "2.0.0", ModelStage::Production);
  production = registry.get_production_model("iris");
  check(production && production->version == "2.0.0", "2.0.0 in Production" + in);
  const auto previous = registry.get_version("iris", "1.0.0");
  check(previous && previous->stage == ModelStage::Archived, "1.0.0 archived" + in);
  check(registry.list_versions("iris", ModelStage::Production).size() == 1,
        "exactly one Production version" + in);
  check(production && artifact_text(registry, "iris", production->version) == "weights-2",
        "the Production artifact loads" + in);

  check(!registry.transition_stage("iris", "9.9.9", ModelStage::Staging),
        "transition_stage of a missing version returns nullopt" + in);
  check(!registry.load_artifact("mnist", "0.1.0"), "a version without artifact loads nothing" + in);
  check(registry.list_models() == std::vector<std::string>{"iris", "mnist"}, "list_models" + in);
  check(version_names(registry.list_versions("iris")) == std::vector<std::string>{"1.0.0", "2.0.0"},
        "list_versions in registration order" + in);
  const auto latest = registry.get_latest("iris");
  check(latest && latest->version == "2.0.0", "get_latest" + in);

  check(registry.delete_version("iris", "1.0.0"), "delete_version" + in);
  check(!registry.get_version("iris", "1.0.0"), "a deleted version is gone" + in);
  check(!registry.load_artifact("iris", "1.0.0"), "a deleted version's artifact is gone" + in);
  check(!registry.delete_version("iris", "1.0.0"), "deleting twice returns false" + in);
  check(version_names(registry.list_versions("iris")) == std::vector<std::string>{"2.0.0"},
        "list_versions after delete" + in);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: modelreg_consumer <registry directory, must not exist yet>\n";
    return 2;
  }
  const std::filesystem::path directory = argv[1];
  if (std::filesystem::exists(directory)) {
    std::cerr << directory << " already exists; give a new directory\n";
    return 2;
  }

  try {
    check(std::string(modelreg::version_string()) == MODELREG_CONSUMER_EXPECT_VERSION,
          std::string("the library is version ") + MODELREG_CONSUMER_EXPECT_VERSION);
    check(std::to_string(MODELREG_VERSION_MAJOR) + "." + std::to_string(MODELREG_VERSION_MINOR) +
                  "." + std::to_string(MODELREG_VERSION_PATCH) ==
              MODELREG_CONSUMER_EXPECT_VERSION,
          std::string("the headers are version ") + MODELREG_CONSUMER_EXPECT_VERSION);

    modelreg::ModelRegistry in_memory;
    exercise(in_memory, "in memory");

#ifdef MODELREG_CONSUMER_S3
    {
      // Links with libcurl through the package; makes no request.
      modelreg::S3Options options = modelreg::S3Options::from_url("s3://consumer-bucket/models");
      options.endpoint = "http://127.0.0.1:9";
      options.access_key_id = "id";
      options.secret_access_key = "secret";
      modelreg::S3ModelStore store(options);
      check(store.options().prefix == "models", "S3 options resolved");
      check(store.options().addressing == modelreg::S3Options::Addressing::Path,
            "path-style addressing for a server of one's own");
    }
#endif
#ifdef MODELREG_CONSUMER_POSTGRES
    {
      // Links with libpq through the package; nothing listens on port 9.
      bool refused = false;
      try {
        modelreg::PostgresMetadataStore store("host=127.0.0.1 port=9 dbname=consumer",
                                              modelreg::PostgresOptions{std::chrono::seconds(2)});
      } catch (const modelreg::StorageError&) {
        refused = true;
      }
      check(refused, "a PostgreSQL catalog without a server is a StorageError");
    }
#endif
#ifdef MODELREG_CONSUMER_SQLITE
    {
      modelreg::ModelRegistry durable = modelreg::ModelRegistry::open(directory);
      exercise(durable, "durable");
    }
    // What was committed survives a restart.
    modelreg::ModelRegistry reopened = modelreg::ModelRegistry::open(directory);
    const auto production = reopened.get_production_model("iris");
    check(production && production->version == "2.0.0", "Production survives reopening");
    check(artifact_text(reopened, "iris", "2.0.0") == "weights-2", "artifacts survive reopening");
    check(!reopened.get_version("iris", "1.0.0"), "deletions survive reopening");
    check(reopened.list_models() == std::vector<std::string>{"iris", "mnist"},
          "models survive reopening");
#endif
  } catch (const std::exception& error) {
    std::cerr << "FAILED: unexpected exception: " << error.what() << '\n';
    return 1;
  }

  if (failures != 0) {
    std::cerr << failures << " check(s) failed\n";
    return 1;
  }
  std::cout << "modelreg consumer: all checks passed\n";
  return 0;
}

#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "modelreg/model_framework.hpp"
#include "modelreg/model_metrics.hpp"
#include "modelreg/model_stage.hpp"
#include "modelreg/timestamp.hpp"

namespace modelreg {

// One registered version of a model. Values returned by the registry are snapshots: changing
// them changes nothing in the registry.
struct ModelVersion {
  std::string version;     // the caller's version string, e.g. "1.0.0"
  std::string model_name;  // the registered model it belongs to
  ModelStage stage = ModelStage::Development;
  ModelFramework framework = ModelFramework::Custom;
  // Where the artifact lives inside its store ("name/version/model.bin"); always relative, so
  // a registry directory can be moved. nullopt when the version was registered without one.
  std::optional<std::string> artifact_path;
  std::uint64_t artifact_size = 0;  // bytes of the artifact; 0 without one
  std::string artifact_sha256;      // lower-case hex SHA-256 of the artifact; empty without one
  ModelMetrics metrics;
  nlohmann::json parameters = nlohmann::json::object();  // training parameters, a JSON object
  std::map<std::string, std::string> tags;
  std::string description;
  // The model's aliases that name this version, sorted (set with ModelRegistry::set_alias).
  std::vector<std::string> aliases;
  Timestamp created_at{};
  Timestamp updated_at{};

  // "model_name:version", the seed's full_name.
  std::string full_name() const { return model_name + ":" + version; }

  // The seed's to_dict(): every field as JSON, stage and framework as strings, timestamps as
  // ISO-8601 UTC, metrics flattened as in ModelMetrics::to_dict(). Same as to_json.
  nlohmann::json to_dict() const;

  friend bool operator==(const ModelVersion& a, const ModelVersion& b);
  friend bool operator!=(const ModelVersion& a, const ModelVersion& b) { return !(a == b); }
};

// JSON round trip of every field (metrics keep their standard/custom split so that
// from_json(to_json(v)) == v). from_json throws InvalidArgumentError on a missing required
// field ("version", "model_name") or a value of the wrong type.
void to_json(nlohmann::json& j, const ModelVersion& version);
void from_json(const nlohmann::json& j, ModelVersion& version);

}  // namespace modelreg

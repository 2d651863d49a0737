#include "modelreg/model_version.hpp"

#include <fmt/format.h>

#include "json_fields.hpp"
#include "modelreg/error.hpp"
#include "public_call.hpp"

namespace modelreg {

nlohmann::json ModelVersion::to_dict() const {
  nlohmann::json j;
  to_json(j, *this);
  j["metrics"] = metrics.to_dict();
  return j;
}

bool operator==(const ModelVersion& a, const ModelVersion& b) {
  return a.version == b.version && a.model_name == b.model_name && a.stage == b.stage &&
         a.framework == b.framework && a.artifact_path == b.artifact_path &&
         a.artifact_size == b.artifact_size && a.artifact_sha256 == b.artifact_sha256 &&
         a.metrics == b.metrics && a.parameters == b.parameters && a.tags == b.tags &&
         a.description == b.description && a.aliases == b.aliases && a.created_at == b.created_at &&
         a.updated_at == b.updated_at;
}

void to_json(nlohmann::json& j, const ModelVersion& v) {
  j = nlohmann::json{
      {"version", v.version},
      {"model_name", v.model_name},
      {"stage", v.stage},
      {"framework", v.framework},
      {"artifact_path", v.artifact_path ? nlohmann::json(*v.artifact_path) : nlohmann::json()},
      {"artifact_size", v.artifact_size},
      {"artifact_sha256", v.artifact_sha256},
      {"metrics", v.metrics},
      {"parameters", v.parameters},
      {"tags", v.tags},
      {"description", v.description},
      {"aliases", v.aliases},
      {"created_at", format_timestamp(v.created_at)},
      {"updated_at", format_timestamp(v.updated_at)},
  };
}

namespace {

void decode(const nlohmann::json& j, ModelVersion& v) {
  detail::require_object(j, "model version");
  ModelVersion result;
  result.version = detail::required_string(j, "version");
  result.model_name = detail::required_string(j, "model_name");
  if (auto it = j.find("stage"); it != j.end()) from_json(*it, result.stage);
  if (auto it = j.find("framework"); it != j.end()) from_json(*it, result.framework);
  if (auto it = j.find("artifact_path"); it != j.end() && !it->is_null()) {
    result.artifact_path = detail::string_value(*it, "artifact_path");
  }
  if (auto it = j.find("artifact_size"); it != j.end()) {
    if (!it->is_number_unsigned()) {
      throw InvalidArgumentError("artifact_size must be a non-negative integer");
    }
    result.artifact_size = it->get<std::uint64_t>();
  }
  result.artifact_sha256 = detail::optional_string(j, "artifact_sha256");
  if (auto it = j.find("metrics"); it != j.end()) from_json(*it, result.metrics);
  if (auto it = j.find("parameters"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw InvalidArgumentError("parameters must be a JSON object");
    result.parameters = *it;
  }
  result.tags = detail::string_map(j, "tags");
  result.description = detail::optional_string(j, "description");
  result.aliases = detail::string_list(j, "aliases");
  result.created_at = detail::optional_timestamp(j, "created_at");
  result.updated_at = detail::optional_timestamp(j, "updated_at");
  v = std::move(result);
}

}  // namespace

void from_json(const nlohmann::json& j, ModelVersion& v) {
  detail::public_call("from_json(ModelVersion)", [&] { decode(j, v); });
}

}  // namespace modelreg

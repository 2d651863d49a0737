#include "modelreg/registered_model.hpp"

#include "json_fields.hpp"
#include "modelreg/error.hpp"
#include "public_call.hpp"

namespace modelreg {

std::optional<ModelVersion> RegisteredModel::latest_version() const {
  const ModelVersion* latest = nullptr;
  for (const auto& v : versions) {
    if (latest == nullptr || v.created_at >= latest->created_at) latest = &v;
  }
  if (latest == nullptr) return std::nullopt;
  return *latest;
}

std::optional<ModelVersion> RegisteredModel::production_version() const {
  for (const auto& v : versions) {
    if (v.stage == ModelStage::Production) return v;
  }
  return std::nullopt;
}

std::optional<ModelVersion> RegisteredModel::get_version(const std::string& version) const {
  for (const auto& v : versions) {
    if (v.version == version) return v;
  }
  return std::nullopt;
}

std::optional<ModelVersion> RegisteredModel::get_version_by_alias(const std::string& alias) const {
  auto it = aliases.find(alias);
  if (it == aliases.end()) return std::nullopt;
  return get_version(it->second);
}

bool operator==(const RegisteredModel& a, const RegisteredModel& b) {
  return a.name == b.name && a.description == b.description && a.tags == b.tags &&
         a.aliases == b.aliases && a.versions == b.versions && a.created_at == b.created_at;
}

void to_json(nlohmann::json& j, const RegisteredModel& model) {
  j = nlohmann::json{
      {"name", model.name},         {"description", model.description},
      {"tags", model.tags},         {"aliases", model.aliases},
      {"versions", model.versions}, {"created_at", format_timestamp(model.created_at)}};
}

namespace {

void decode(const nlohmann::json& j, RegisteredModel& model) {
  detail::require_object(j, "registered model");
  RegisteredModel result;
  result.name = detail::required_string(j, "name");
  result.description = detail::optional_string(j, "description");
  result.tags = detail::string_map(j, "tags");
  result.aliases = detail::string_map(j, "aliases");
  if (auto it = j.find("versions"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw InvalidArgumentError("'versions' must be a JSON array");
    for (const auto& v : *it) result.versions.push_back(v.get<ModelVersion>());
  }
  result.created_at = detail::optional_timestamp(j, "created_at");
  model = std::move(result);
}

}  // namespace

void from_json(const nlohmann::json& j, RegisteredModel& model) {
  detail::public_call("from_json(RegisteredModel)", [&] { decode(j, model); });
}

}  // namespace modelreg

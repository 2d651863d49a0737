#include "modelreg/metadata_store.hpp"

#include <fmt/format.h>

#include <type_traits>

#include "modelreg/error.hpp"
#include "modelreg/validation.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace {

void validate_key(std::string_view model_name, std::string_view version) {
  validate_model_name(model_name);
  validate_version(version);
}

// An enum value cast from an integer outside the enumerators would be stored as a name that no
// reader accepts: refuse it here.
void validate_stage(ModelStage stage) {
  switch (stage) {
    case ModelStage::Development:
    case ModelStage::Staging:
    case ModelStage::Production:
    case ModelStage::Archived:
      return;
  }
  throw InvalidArgumentError(fmt::format("{} is not a ModelStage value",
                                         static_cast<std::underlying_type_t<ModelStage>>(stage)));
}

void validate_framework(ModelFramework framework) {
  switch (framework) {
    case ModelFramework::Sklearn:
    case ModelFramework::PyTorch:
    case ModelFramework::TensorFlow:
    case ModelFramework::Onnx:
    case ModelFramework::Custom:
      return;
  }
  throw InvalidArgumentError(
      fmt::format("{} is not a ModelFramework value",
                  static_cast<std::underlying_type_t<ModelFramework>>(framework)));
}

void validate_owner(std::string_view owner) {
  if (owner.empty()) throw InvalidArgumentError("a reservation owner must not be empty");
}

}  // namespace

MetadataStore::~MetadataStore() = default;

std::optional<std::filesystem::path> MetadataStore::owner_lock_directory() const {
  return detail::public_call("owner_lock_directory", [&] { return owner_lock_directory_impl(); });
}

std::optional<std::filesystem::path> MetadataStore::owner_lock_directory_impl() const {
  return std::nullopt;
}

ModelVersion MetadataStore::create_version(const ModelVersion& version, std::string_view owner) {
  return detail::public_call("create_version", [&] {
    validate_key(version.model_name, version.version);
    validate_stage(version.stage);
    validate_framework(version.framework);
    for (const auto& [key, value] : version.tags) validate_tag(key, value);
    if (version.stage == ModelStage::Production) {
      throw InvalidArgumentError("a new version cannot start in Production; promote it instead");
    }
    if (!version.parameters.is_object()) {
      throw InvalidArgumentError("parameters must be a JSON object");
    }
    return create_version_impl(version, owner);
  });
}

ModelVersion MetadataStore::publish_version(std::string_view model_name, std::string_view version,
                                            std::string_view owner, const ArtifactInfo& artifact,
                                            Timestamp now) {
  return detail::public_call("publish_version", [&] {
    validate_key(model_name, version);
    validate_owner(owner);
    return publish_version_impl(model_name, version, owner, artifact, now);
  });
}

bool MetadataStore::release_version(std::string_view model_name, std::string_view version,
                                    std::string_view owner) {
  return detail::public_call("release_version", [&] {
    validate_key(model_name, version);
    validate_owner(owner);
    return release_version_impl(model_name, version, owner);
  });
}

std::optional<ModelVersion> MetadataStore::begin_delete(std::string_view model_name,
                                                        std::string_view version,
                                                        std::string_view owner) {
  return detail::public_call("begin_delete", [&] {
    validate_key(model_name, version);
    validate_owner(owner);
    return begin_delete_impl(model_name, version, owner);
  });
}

bool MetadataStore::cancel_delete(std::string_view model_name, std::string_view version,
                                  std::string_view owner) {
  return detail::public_call("cancel_delete", [&] {
    validate_key(model_name, version);
    validate_owner(owner);
    return cancel_delete_impl(model_name, version, owner);
  });
}

std::vector<PendingVersion> MetadataStore::list_pending() const {
  return detail::public_call("list_pending", [&] { return list_pending_impl(); });
}

bool MetadataStore::claim_pending(std::string_view model_name, std::string_view version,
                                  std::string_view expected_owner, std::string_view new_owner) {
  return detail::public_call("claim_pending", [&] {
    validate_key(model_name, version);
    validate_owner(expected_owner);
    validate_owner(new_owner);
    return claim_pending_impl(model_name, version, expected_owner, new_owner);
  });
}

std::optional<ModelVersion> MetadataStore::set_stage(std::string_view model_name,
                                                     std::string_view version, ModelStage stage,
                                                     std::optional<ModelStage> expected,
                                                     Timestamp now) {
  return detail::public_call("set_stage", [&] {
    validate_key(model_name, version);
    validate_stage(stage);
    if (expected) validate_stage(*expected);
    return set_stage_impl(model_name, version, stage, expected, now);
  });
}

std::optional<ModelVersion> MetadataStore::get_version(std::string_view model_name,
                                                       std::string_view version) const {
  return detail::public_call("get_version", [&] {
    validate_key(model_name, version);
    return get_version_impl(model_name, version);
  });
}

std::optional<ModelVersion> MetadataStore::latest_version(std::string_view model_name) const {
  return detail::public_call("latest_version", [&] {
    validate_model_name(model_name);
    return latest_version_impl(model_name);
  });
}

std::optional<ModelVersion> MetadataStore::production_version(std::string_view model_name) const {
  return detail::public_call("production_version", [&] {
    validate_model_name(model_name);
    return production_version_impl(model_name);
  });
}

std::vector<ModelVersion> MetadataStore::list_versions(std::string_view model_name,
                                                       std::optional<ModelStage> stage) const {
  return detail::public_call("list_versions", [&] {
    validate_model_name(model_name);
    if (stage) validate_stage(*stage);
    return list_versions_impl(model_name, stage);
  });
}

std::optional<RegisteredModel> MetadataStore::get_model(std::string_view model_name) const {
  return detail::public_call("get_model", [&] {
    validate_model_name(model_name);
    return get_model_impl(model_name);
  });
}

std::vector<std::string> MetadataStore::list_models() const {
  return detail::public_call("list_models", [&] { return list_models_impl(); });
}

}  // namespace modelreg

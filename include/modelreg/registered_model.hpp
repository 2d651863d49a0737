#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "modelreg/model_version.hpp"
#include "modelreg/timestamp.hpp"

namespace modelreg {

// A named model and its versions, in registration order. A snapshot value.
struct RegisteredModel {
  std::string name;
  std::string description;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> aliases;  // alias -> the version it names
  std::vector<ModelVersion> versions;          // oldest registration first
  Timestamp created_at{};

  // The most recently registered version: the greatest created_at, ties broken by position in
  // `versions` (the later one wins), never by chance. nullopt when there are no versions.
  std::optional<ModelVersion> latest_version() const;

  // The version in Production, if any (the registry guarantees there is at most one).
  std::optional<ModelVersion> production_version() const;

  // The version whose string equals `version`, if any.
  std::optional<ModelVersion> get_version(const std::string& version) const;

  // The version the alias names, if any.
  std::optional<ModelVersion> get_version_by_alias(const std::string& alias) const;

  friend bool operator==(const RegisteredModel& a, const RegisteredModel& b);
  friend bool operator!=(const RegisteredModel& a, const RegisteredModel& b) { return !(a == b); }
};

// JSON round trip; from_json throws InvalidArgumentError on a malformed document.
void to_json(nlohmann::json& j, const RegisteredModel& model);
void from_json(const nlohmann::json& j, RegisteredModel& model);

}  // namespace modelreg

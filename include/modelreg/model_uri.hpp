#pragma once

#include <string>
#include <string_view>

#include "modelreg/model_stage.hpp"

namespace modelreg {

// A model URI in MLflow's form, naming one version of a model:
//
//   models:/fraud/3            version "3"
//   models:/fraud@champion     the version the alias "champion" names
//   models:/fraud/Production   the version in that stage (any stage name, any case)
//   models:/fraud/latest       the latest registered version (any case)
//
// A stage name or "latest" after the slash always means the stage or the latest version, never
// a version of that name (which the version form then cannot reach). A plain value type.
struct ModelUri {
  enum class Kind { Version, Alias, Stage, Latest };

  std::string model_name;
  Kind kind = Kind::Latest;
  std::string version;                        // Kind::Version
  std::string alias;                          // Kind::Alias
  ModelStage stage = ModelStage::Production;  // Kind::Stage

  // Parses `uri`. The model name, version and alias must be valid (validate_model_name,
  // validate_version, validate_alias); nothing else is accepted: no other scheme, no
  // "models://host/...", no empty or extra path segments, no query or fragment. Throws
  // InvalidArgumentError naming the problem.
  static ModelUri parse(std::string_view uri);

  // The canonical text: "models:/name/3", "models:/name@alias", "models:/name/production",
  // "models:/name/latest". parse(to_string()) == *this.
  std::string to_string() const;

  friend bool operator==(const ModelUri& a, const ModelUri& b);
  friend bool operator!=(const ModelUri& a, const ModelUri& b) { return !(a == b); }
};

}  // namespace modelreg

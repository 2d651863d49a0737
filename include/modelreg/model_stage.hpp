#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string_view>

namespace modelreg {

// The lifecycle stage of a model version. At most one version of a model is in Production;
// promoting another one archives it in the same atomic step.
enum class ModelStage { Development, Staging, Production, Archived };

// Returns the seed's spelling: "development", "staging", "production" or "archived".
std::string_view to_string(ModelStage stage) noexcept;

// Parses a stage name case-insensitively ("Production", "PRODUCTION", "production").
// Throws InvalidArgumentError for anything else.
ModelStage parse_stage(std::string_view text);

// JSON as the lower-case string of to_string(); from_json accepts any case and throws
// InvalidArgumentError for an unknown name or a non-string value.
void to_json(nlohmann::json& j, ModelStage stage);
void from_json(const nlohmann::json& j, ModelStage& stage);

}  // namespace modelreg

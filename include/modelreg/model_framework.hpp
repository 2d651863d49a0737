#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string_view>

namespace modelreg {

// The ML framework a model version was produced with (informational only).
enum class ModelFramework { Sklearn, PyTorch, TensorFlow, Onnx, Custom };

// Returns the seed's spelling: "sklearn", "pytorch", "tensorflow", "onnx" or "custom".
std::string_view to_string(ModelFramework framework) noexcept;

// Parses a framework name case-insensitively. Throws InvalidArgumentError for anything else.
ModelFramework parse_framework(std::string_view text);

// JSON as the lower-case string; from_json throws InvalidArgumentError for an unknown name.
void to_json(nlohmann::json& j, ModelFramework framework);
void from_json(const nlohmann::json& j, ModelFramework& framework);

}  // namespace modelreg

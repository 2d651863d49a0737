#pragma once

// What every catalog stores of a version or a model, checked in one place: MetadataStore's
// public methods apply these rules before any backend sees the data (so every backend accepts
// exactly the same input), and ModelRegistry applies the same functions before it writes an
// artifact. Each throws InvalidArgumentError naming the field and the problem.
//
// - Tags: validate_tag's rules, and key and value valid UTF-8.
// - Descriptions: validate_description's rules (valid UTF-8, no NUL, at most 64 KiB).
// - Parameters: a JSON object; every key and string in it valid UTF-8 and every number finite
//   (JSON has no NaN or infinity: written out, they would come back as null).
// - Metrics: any double, NaN and the infinities included (they mean "not computed" or
//   "diverged" and are stored and returned as they are; a NaN matches no search condition).
//   Custom metric names are 1..250 bytes of valid UTF-8 without NUL.

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace modelreg {
struct ModelMetrics;
struct ModelVersion;
}  // namespace modelreg

namespace modelreg::detail {

// Throws InvalidArgumentError "<what> is not valid UTF-8 (byte N)" unless `text` is valid UTF-8
// (text a catalog stores must survive JSON and SQL TEXT columns).
void require_utf8(std::string_view text, std::string_view what);

void validate_tag_text(std::string_view key, std::string_view value);
void validate_tags(const std::map<std::string, std::string>& tags);
void validate_parameters(const nlohmann::json& parameters);
void validate_metrics(const ModelMetrics& metrics);

// Tags, description, parameters and metrics of `version`.
void validate_version_content(const ModelVersion& version);

}  // namespace modelreg::detail

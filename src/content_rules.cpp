#include "content_rules.hpp"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "modelreg/error.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/validation.hpp"
#include "quoted_text.hpp"
#include "search_rules.hpp"
#include "utf8.hpp"

namespace modelreg::detail {
void require_utf8(std::string_view text, std::string_view what) {
  if (const std::size_t bad = first_invalid_utf8(text); bad != text.size()) {
    throw InvalidArgumentError(fmt::format("{} is not valid UTF-8 (byte {})", what, bad));
  }
}

void validate_tag_text(std::string_view key, std::string_view value) {
  validate_tag(key, value);
  require_utf8(key, "tag key");
  require_utf8(value, fmt::format("value of tag {}", quoted_text(key)));
}

void validate_tags(const std::map<std::string, std::string>& tags) {
  for (const auto& [key, value] : tags) validate_tag_text(key, value);
}

void validate_parameters(const nlohmann::json& parameters) {
  if (!parameters.is_object()) {
    throw InvalidArgumentError(
        fmt::format("parameters must be a JSON object, got {}", parameters.type_name()));
  }
  // An explicit stack: a deeply nested document must not exhaust the call stack here.
  std::vector<const nlohmann::json*> pending{&parameters};
  while (!pending.empty()) {
    const nlohmann::json& value = *pending.back();
    pending.pop_back();
    switch (value.type()) {
      case nlohmann::json::value_t::object:
        for (const auto& [key, member] : value.items()) {
          require_utf8(key, "a parameter name");
          pending.push_back(&member);
        }
        break;
      case nlohmann::json::value_t::array:
        for (const auto& element : value) pending.push_back(&element);
        break;
      case nlohmann::json::value_t::string:
        require_utf8(value.get_ref<const std::string&>(), "a parameter value");
        break;
      case nlohmann::json::value_t::number_float:
        if (!std::isfinite(value.get<double>())) {
          throw InvalidArgumentError(
              "a parameter value is not a finite number (JSON cannot hold NaN or infinity)");
        }
        break;
      default:
        break;
    }
  }
}

void validate_metrics(const ModelMetrics& metrics) {
  for (const auto& [name, value] : metrics.custom) {
    (void)value;
    if (name.empty()) throw InvalidArgumentError("a metric name must not be empty");
    if (name.size() > kMaxMetricNameLength) {
      throw InvalidArgumentError(fmt::format("metric name {} is longer than {} bytes",
                                             quoted_text(name), kMaxMetricNameLength));
    }
    if (name.find('\0') != std::string::npos) {
      throw InvalidArgumentError(
          fmt::format("metric name {} contains a NUL character", quoted_text(name)));
    }
    require_utf8(name, "a metric name");
  }
}

void validate_version_content(const ModelVersion& version) {
  validate_tags(version.tags);
  validate_description(version.description);
  validate_parameters(version.parameters);
  validate_metrics(version.metrics);
}

}  // namespace modelreg::detail

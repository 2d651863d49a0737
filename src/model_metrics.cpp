#include "modelreg/model_metrics.hpp"

#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>

#include "modelreg/error.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace {

using Field = std::optional<double> ModelMetrics::*;

constexpr std::array<std::pair<const char*, Field>, 7> kStandardMetrics{{
    {"accuracy", &ModelMetrics::accuracy},
    {"precision", &ModelMetrics::precision},
    {"recall", &ModelMetrics::recall},
    {"f1_score", &ModelMetrics::f1_score},
    {"auc_roc", &ModelMetrics::auc_roc},
    {"mse", &ModelMetrics::mse},
    {"mae", &ModelMetrics::mae},
}};

double metric_value(const nlohmann::json& j, const std::string& name) {
  if (!j.is_number()) {
    throw InvalidArgumentError(
        fmt::format("metric '{}' must be a number, got {}", name, j.type_name()));
  }
  return j.get<double>();
}

}  // namespace

std::map<std::string, double> ModelMetrics::to_dict() const {
  std::map<std::string, double> result;
  for (const auto& [name, field] : kStandardMetrics) {
    if (const auto& value = this->*field) result[name] = *value;
  }
  for (const auto& [name, value] : custom) result[name] = value;
  return result;
}

std::optional<double> ModelMetrics::get(const std::string& name) const {
  if (auto it = custom.find(name); it != custom.end()) return it->second;
  for (const auto& [standard, field] : kStandardMetrics) {
    if (name == standard) return this->*field;
  }
  return std::nullopt;
}

void ModelMetrics::set(const std::string& name, double value) {
  for (const auto& [standard, field] : kStandardMetrics) {
    if (name == standard) {
      this->*field = value;
      return;
    }
  }
  custom[name] = value;
}

bool operator==(const ModelMetrics& a, const ModelMetrics& b) {
  return a.accuracy == b.accuracy && a.precision == b.precision && a.recall == b.recall &&
         a.f1_score == b.f1_score && a.auc_roc == b.auc_roc && a.mse == b.mse && a.mae == b.mae &&
         a.custom == b.custom;
}

void to_json(nlohmann::json& j, const ModelMetrics& metrics) {
  j = nlohmann::json::object();
  for (const auto& [name, field] : kStandardMetrics) {
    if (const auto& value = metrics.*field) j[name] = *value;
  }
  if (!metrics.custom.empty()) j["custom"] = metrics.custom;
}

namespace {

void decode(const nlohmann::json& j, ModelMetrics& metrics) {
  if (!j.is_object()) {
    throw InvalidArgumentError(fmt::format("metrics must be a JSON object, got {}", j.type_name()));
  }
  ModelMetrics result;
  for (const auto& [key, value] : j.items()) {
    if (key == "custom") {
      if (!value.is_object()) {
        throw InvalidArgumentError("metrics 'custom' must be a JSON object");
      }
      for (const auto& [name, number] : value.items()) {
        result.custom[name] = metric_value(number, name);
      }
      continue;
    }
    bool known = false;
    for (const auto& [name, field] : kStandardMetrics) {
      if (key == name) {
        result.*field = metric_value(value, key);
        known = true;
        break;
      }
    }
    // Anything else is a custom metric, so that to_dict()'s flat form reads back too.
    if (!known) result.custom[key] = metric_value(value, key);
  }
  metrics = std::move(result);
}

}  // namespace

void from_json(const nlohmann::json& j, ModelMetrics& metrics) {
  detail::public_call("from_json(ModelMetrics)", [&] { decode(j, metrics); });
}

}  // namespace modelreg

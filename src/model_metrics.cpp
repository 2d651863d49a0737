#include "modelreg/model_metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
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

// JSON has no NaN or infinity (nlohmann would write null): they are written as these strings,
// as JavaScript and Python name them.
constexpr const char* kNaN = "NaN";
constexpr const char* kInfinity = "Infinity";
constexpr const char* kMinusInfinity = "-Infinity";

nlohmann::json metric_json(double value) {
  if (std::isnan(value)) return kNaN;
  if (std::isinf(value)) return value > 0 ? kInfinity : kMinusInfinity;
  return value;
}

double metric_value(const nlohmann::json& j, const std::string& name) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& text = j.get_ref<const std::string&>();
    if (text == kNaN) return std::numeric_limits<double>::quiet_NaN();
    if (text == kInfinity) return std::numeric_limits<double>::infinity();
    if (text == kMinusInfinity) return -std::numeric_limits<double>::infinity();
  }
  throw InvalidArgumentError(
      fmt::format("metric '{}' must be a number (or \"NaN\", \"Infinity\", \"-Infinity\"), got {}",
                  name, j.is_string() ? j.dump() : std::string(j.type_name())));
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

namespace {

// Equal values, or both NaN: a metric that was not computed equals itself, so that a version
// equals its own round trip through a catalog or JSON.
bool same_value(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

bool same_value(const std::optional<double>& a, const std::optional<double>& b) {
  return a.has_value() == b.has_value() && (!a || same_value(*a, *b));
}

}  // namespace

bool operator==(const ModelMetrics& a, const ModelMetrics& b) {
  for (const auto& [name, field] : kStandardMetrics) {
    (void)name;
    if (!same_value(a.*field, b.*field)) return false;
  }
  return std::equal(a.custom.begin(), a.custom.end(), b.custom.begin(), b.custom.end(),
                    [](const auto& x, const auto& y) {
                      return x.first == y.first && same_value(x.second, y.second);
                    });
}

void to_json(nlohmann::json& j, const ModelMetrics& metrics) {
  j = nlohmann::json::object();
  for (const auto& [name, field] : kStandardMetrics) {
    if (const auto& value = metrics.*field) j[name] = metric_json(*value);
  }
  if (!metrics.custom.empty()) {
    auto& custom = j["custom"] = nlohmann::json::object();
    for (const auto& [name, value] : metrics.custom) custom[name] = metric_json(value);
  }
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

#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace modelreg {

// Performance metrics of a model version. Standard metrics are optional; anything else goes
// into `custom`. A plain value type: copy it freely.
struct ModelMetrics {
  std::optional<double> accuracy;
  std::optional<double> precision;
  std::optional<double> recall;
  std::optional<double> f1_score;
  std::optional<double> auc_roc;
  std::optional<double> mse;
  std::optional<double> mae;
  std::map<std::string, double> custom;

  // The seed's to_dict(): the set standard metrics by name, with `custom` merged in (a custom
  // entry with a standard name wins, as in the seed's dict.update).
  std::map<std::string, double> to_dict() const;

  // Looks a metric up by name, standard or custom; nullopt if it is not set.
  std::optional<double> get(const std::string& name) const;

  // Sets a metric by name: the standard field of that name (accuracy, precision, recall,
  // f1_score, auc_roc, mse, mae), or else a custom metric.
  void set(const std::string& name, double value);

  // The same metrics with the same values; NaN equals NaN here (a metric not computed).
  friend bool operator==(const ModelMetrics& a, const ModelMetrics& b);
  friend bool operator!=(const ModelMetrics& a, const ModelMetrics& b) { return !(a == b); }
};

// JSON: {"accuracy": 0.9, ..., "custom": {"latency_ms": 3.5}}; unset metrics are omitted. JSON
// has no NaN or infinity: those values are the strings "NaN", "Infinity" and "-Infinity".
// from_json also reads the flat to_dict() form (unknown keys become custom metrics) and throws
// InvalidArgumentError on a non-numeric value.
void to_json(nlohmann::json& j, const ModelMetrics& metrics);
void from_json(const nlohmann::json& j, ModelMetrics& metrics);

}  // namespace modelreg

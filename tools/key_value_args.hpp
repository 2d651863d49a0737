#pragma once

// The KEY=VALUE arguments of register (--metric, --param, --tag). Malformed ones (no '=', an
// empty key, a key given twice, a metric that is not a number) throw UsageError: exit code 2.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modelreg/model_metrics.hpp"

namespace modelreg::cli {

// --tag k=v: the value is taken as it is (it may contain '=').
std::map<std::string, std::string> parse_tags(const std::vector<std::string>& args);

// --metric k=v: v a number (strtod syntax, finite or not); the seven standard names (accuracy,
// precision, recall, f1_score, auc_roc, mse, mae) set the standard fields, others are custom.
ModelMetrics parse_metrics(const std::vector<std::string>& args);

// --param k=v: v parsed as JSON if it is a JSON value (0.01, 20, true, "text", [1,2]), else
// kept as a string (adam).
nlohmann::json parse_parameters(const std::vector<std::string>& args);

}  // namespace modelreg::cli

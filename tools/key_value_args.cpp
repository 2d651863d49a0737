#include "key_value_args.hpp"

#include <cerrno>
#include <cstdlib>
#include <utility>

#include "exit_codes.hpp"

namespace modelreg::cli {
namespace {

std::pair<std::string, std::string> split(const std::string& arg, const char* option) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError(std::string(option) + " expects KEY=VALUE, got '" + arg + "'");
  }
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

template <class Map>
void insert_once(Map& map, std::string key, typename Map::mapped_type value, const char* option) {
  if (map.count(key) != 0) throw UsageError(std::string(option) + " '" + key + "' given twice");
  map.emplace(std::move(key), std::move(value));
}

double parse_number(const std::string& key, const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(begin, &end);
  if (text.empty() || end != begin + text.size() || errno == ERANGE) {
    throw UsageError("--metric " + key + " expects a number, got '" + text + "'");
  }
  return value;
}

}  // namespace

std::map<std::string, std::string> parse_tags(const std::vector<std::string>& args) {
  std::map<std::string, std::string> tags;
  for (const auto& arg : args) {
    auto [key, value] = split(arg, "--tag");
    insert_once(tags, std::move(key), std::move(value), "--tag");
  }
  return tags;
}

ModelMetrics parse_metrics(const std::vector<std::string>& args) {
  std::map<std::string, double> values;
  for (const auto& arg : args) {
    auto [key, text] = split(arg, "--metric");
    const double value = parse_number(key, text);
    insert_once(values, std::move(key), value, "--metric");
  }
  ModelMetrics metrics;
  for (const auto& [key, value] : values) metrics.set(key, value);
  return metrics;
}

nlohmann::json parse_parameters(const std::vector<std::string>& args) {
  nlohmann::json parameters = nlohmann::json::object();
  for (const auto& arg : args) {
    auto [key, text] = split(arg, "--param");
    if (parameters.contains(key)) throw UsageError("--param '" + key + "' given twice");
    nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    parameters[key] = value.is_discarded() ? nlohmann::json(text) : std::move(value);
  }
  return parameters;
}

}  // namespace modelreg::cli

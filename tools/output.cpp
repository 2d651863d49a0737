#include "output.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace modelreg::cli {
namespace {

nlohmann::json optional_version(const std::optional<ModelVersion>& version) {
  return version ? nlohmann::json(version->version) : nlohmann::json();
}

std::string dump(const nlohmann::json& document, int indent) {
  return document.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

nlohmann::json version_json(const ModelVersion& version) {
  return version.to_dict();
}

nlohmann::json model_summary_json(const RegisteredModel& model) {
  return nlohmann::json{
      {"name", model.name},
      {"description", model.description},
      {"tags", model.tags},
      {"aliases", model.aliases},
      {"version_count", model.versions.size()},
      {"latest_version", optional_version(model.latest_version())},
      {"production_version", optional_version(model.production_version())},
      {"created_at", format_timestamp(model.created_at)},
      {"updated_at", format_timestamp(model_updated_at(model))},
  };
}

nlohmann::json model_json(const RegisteredModel& model) {
  nlohmann::json document = model_summary_json(model);
  nlohmann::json versions = nlohmann::json::array();
  for (const auto& version : model.versions) versions.push_back(version_json(version));
  document["versions"] = std::move(versions);
  return document;
}

nlohmann::json event_json(const ModelEvent& event) {
  return nlohmann::json(event);
}

void print_json(std::ostream& out, const nlohmann::json& document) {
  out << dump(document, 2) << '\n';
}

void print_json_line(std::ostream& out, const nlohmann::json& document) {
  out << dump(document, -1) << '\n';
  out.flush();
}

Timestamp model_updated_at(const RegisteredModel& model) {
  Timestamp latest = model.created_at;
  for (const auto& version : model.versions) latest = std::max(latest, version.updated_at);
  return latest;
}

std::string table_time(Timestamp t) {
  std::string text = format_timestamp(t);
  const auto dot = text.find('.');
  if (dot != std::string::npos) text = text.substr(0, dot) + "Z";
  return text;
}

std::string human_size(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string join_pairs(const std::map<std::string, std::string>& pairs) {
  std::string text;
  for (const auto& [key, value] : pairs) {
    if (!text.empty()) text += ", ";
    text += key + "=" + value;
  }
  return text;
}

std::string join_pairs(const std::map<std::string, double>& pairs) {
  std::string text;
  for (const auto& [key, value] : pairs) {
    if (!text.empty()) text += ", ";
    text += key + "=" + format_number(value);
  }
  return text;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const auto& item : items) {
    if (!text.empty()) text += separator;
    text += item;
  }
  return text;
}

std::string format_number(double value) {
  return fmt::format("{}", value);
}

}  // namespace modelreg::cli

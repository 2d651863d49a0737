#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "modelreg/error.hpp"
#include "modelreg/model_framework.hpp"
#include "modelreg/model_stage.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace {

constexpr std::array<std::pair<ModelStage, std::string_view>, 4> kStageNames{{
    {ModelStage::Development, "development"},
    {ModelStage::Staging, "staging"},
    {ModelStage::Production, "production"},
    {ModelStage::Archived, "archived"},
}};

constexpr std::array<std::pair<ModelFramework, std::string_view>, 5> kFrameworkNames{{
    {ModelFramework::Sklearn, "sklearn"},
    {ModelFramework::PyTorch, "pytorch"},
    {ModelFramework::TensorFlow, "tensorflow"},
    {ModelFramework::Onnx, "onnx"},
    {ModelFramework::Custom, "custom"},
}};

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

template <class Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& names,
                         Enum value) noexcept {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return "unknown";
}

template <class Enum, std::size_t N>
Enum parse_name(const std::array<std::pair<Enum, std::string_view>, N>& names,
                std::string_view text, const char* what) {
  for (const auto& [value, name] : names) {  // as stored: the canonical spelling
    if (text == name) return value;
  }
  for (const auto& [value, name] : names) {
    if (equals_ignoring_case(text, name)) return value;
  }
  std::string expected;
  for (const auto& entry : names) {
    if (!expected.empty()) expected += ", ";
    expected += entry.second;
  }
  // Quote through JSON so that control characters or NULs in the input stay readable.
  throw InvalidArgumentError(
      fmt::format("unknown {} {} (expected one of: {})", what,
                  nlohmann::json(std::string(text))
                      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  expected));
}

std::string_view json_string(const nlohmann::json& j, const char* what) {
  if (!j.is_string()) {
    throw InvalidArgumentError(fmt::format("{} must be a string, got {}", what, j.type_name()));
  }
  return j.get_ref<const std::string&>();
}

}  // namespace

std::string_view to_string(ModelStage stage) noexcept {
  return name_of(kStageNames, stage);
}

ModelStage parse_stage(std::string_view text) {
  return detail::public_call("parse_stage", [&] { return parse_name(kStageNames, text, "stage"); });
}

void to_json(nlohmann::json& j, ModelStage stage) {
  j = std::string(to_string(stage));
}

void from_json(const nlohmann::json& j, ModelStage& stage) {
  detail::public_call("from_json(ModelStage)",
                      [&] { stage = parse_stage(json_string(j, "stage")); });
}

std::string_view to_string(ModelFramework framework) noexcept {
  return name_of(kFrameworkNames, framework);
}

ModelFramework parse_framework(std::string_view text) {
  return detail::public_call("parse_framework",
                             [&] { return parse_name(kFrameworkNames, text, "framework"); });
}

void to_json(nlohmann::json& j, ModelFramework framework) {
  j = std::string(to_string(framework));
}

void from_json(const nlohmann::json& j, ModelFramework& framework) {
  detail::public_call("from_json(ModelFramework)",
                      [&] { framework = parse_framework(json_string(j, "framework")); });
}

}  // namespace modelreg

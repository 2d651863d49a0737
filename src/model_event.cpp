#include "modelreg/model_event.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "ascii_case.hpp"
#include "json_fields.hpp"
#include "modelreg/error.hpp"
#include "modelreg/model_stage.hpp"
#include "public_call.hpp"
#include "quoted_text.hpp"

namespace modelreg {
namespace {

using detail::equals_ignoring_case;

constexpr std::array<std::pair<EventType, std::string_view>, 13> kEventNames{{
    {EventType::VersionRegistered, "version_registered"},
    {EventType::VersionDeleted, "version_deleted"},
    {EventType::StageChanged, "stage_changed"},
    {EventType::AliasSet, "alias_set"},
    {EventType::AliasDeleted, "alias_deleted"},
    {EventType::ModelTagSet, "model_tag_set"},
    {EventType::ModelTagDeleted, "model_tag_deleted"},
    {EventType::VersionTagSet, "version_tag_set"},
    {EventType::VersionTagDeleted, "version_tag_deleted"},
    {EventType::ModelDescriptionSet, "model_description_set"},
    {EventType::VersionDescriptionSet, "version_description_set"},
    {EventType::ModelDeleted, "model_deleted"},
    {EventType::VersionRestored, "version_restored"},
}};

EventType parse_name(std::string_view text) {
  for (const auto& [type, name] : kEventNames) {
    if (equals_ignoring_case(text, name)) return type;
  }
  throw InvalidArgumentError(fmt::format("unknown event type {}", detail::quoted_text(text)));
}

bool is_production(const std::optional<std::string>& stage) {
  return stage && equals_ignoring_case(*stage, to_string(ModelStage::Production));
}

std::int64_t sequence_value(const nlohmann::json& j) {
  const auto it = j.find("sequence");
  if (it == j.end()) throw InvalidArgumentError("missing field 'sequence'");
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<std::uint64_t>() > INT64_MAX)) {
    throw InvalidArgumentError(
        fmt::format("'sequence' must be a 64-bit integer, got {}", it->type_name()));
  }
  return it->get<std::int64_t>();
}

void decode(const nlohmann::json& j, ModelEvent& event) {
  detail::require_object(j, "model event");
  ModelEvent result;
  result.sequence = sequence_value(j);
  const std::string time = detail::required_string(j, "time");
  try {
    result.time = parse_timestamp(time);
  } catch (const InvalidArgumentError&) {
    // Its message would print the text as it is, control bytes included.
    throw InvalidArgumentError(
        fmt::format("'time' is not an ISO-8601 timestamp: {}", detail::quoted_text(time)));
  }
  result.type = parse_name(detail::required_string(j, "type"));
  result.model_name = detail::required_string(j, "model_name");
  result.version = detail::optional_string(j, "version");
  result.key = detail::optional_string(j, "key");
  result.old_value = detail::nullable_string(j, "old_value");
  result.new_value = detail::nullable_string(j, "new_value");
  result.actor = detail::optional_string(j, "actor");
  result.reason = detail::optional_string(j, "reason");
  event = std::move(result);
}

}  // namespace

std::string_view to_string(EventType type) noexcept {
  for (const auto& [candidate, name] : kEventNames) {
    if (candidate == type) return name;
  }
  return "unknown";
}

EventType parse_event_type(std::string_view text) {
  return detail::public_call("parse_event_type", [&] { return parse_name(text); });
}

bool ModelEvent::changes_serving() const {
  switch (type) {
    case EventType::AliasSet:
    case EventType::AliasDeleted:
    case EventType::ModelDeleted:
      return true;
    case EventType::StageChanged:
      return is_production(old_value) || is_production(new_value);
    case EventType::VersionRegistered:  // straight into Production: an import, say
    case EventType::VersionRestored:
      return is_production(new_value);
    case EventType::VersionDeleted:
      return is_production(old_value);
    default:
      return false;
  }
}

bool operator==(const ModelEvent& a, const ModelEvent& b) {
  return a.sequence == b.sequence && a.time == b.time && a.type == b.type &&
         a.model_name == b.model_name && a.version == b.version && a.key == b.key &&
         a.old_value == b.old_value && a.new_value == b.new_value && a.actor == b.actor &&
         a.reason == b.reason;
}

void to_json(nlohmann::json& j, const ModelEvent& event) {
  const auto nullable = [](const std::optional<std::string>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json();
  };
  j = nlohmann::json{
      {"sequence", event.sequence},
      {"time", format_timestamp(event.time)},
      {"type", std::string(to_string(event.type))},
      {"model_name", event.model_name},
      {"version", event.version},
      {"key", event.key},
      {"old_value", nullable(event.old_value)},
      {"new_value", nullable(event.new_value)},
      {"actor", event.actor},
      {"reason", event.reason},
  };
}

void from_json(const nlohmann::json& j, ModelEvent& event) {
  detail::public_call("from_json(ModelEvent)", [&] { decode(j, event); });
}

}  // namespace modelreg

#pragma once

// What the catalog conformance tests of aliases, tags, history and search share: readable
// printing of events, building the events a test expects, and reading a catalog's history.

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "event_printing.hpp"
#include "metadata_store_conformance.hpp"
#include "modelreg/metadata_store.hpp"
#include "modelreg/model_event.hpp"

namespace modelreg {

namespace testing {

// The event a change is expected to record (sequence 0: compare with without_sequences).
inline ModelEvent expected_event(EventType type, const std::string& model,
                                 const std::string& version, const std::string& key,
                                 std::optional<std::string> old_value,
                                 std::optional<std::string> new_value, Timestamp time,
                                 const Audit& audit) {
  ModelEvent event;
  event.type = type;
  event.model_name = model;
  event.version = version;
  event.key = key;
  event.old_value = std::move(old_value);
  event.new_value = std::move(new_value);
  event.time = time;
  event.actor = audit.actor;
  event.reason = audit.reason;
  return event;
}

// A version with nothing a condition could match by accident: no metrics, no tags.
inline ModelVersion bare(const std::string& model, const std::string& version,
                         Timestamp created = at(0)) {
  ModelVersion v = make_version(model, version, ModelStage::Development, created);
  v.framework = ModelFramework::Custom;
  v.metrics = ModelMetrics{};
  v.tags.clear();
  return v;
}

inline std::vector<std::string> full_names(const std::vector<ModelVersion>& versions) {
  std::vector<std::string> names;
  for (const auto& v : versions) names.push_back(v.full_name());
  return names;
}

// `events` with every sequence set to 0, to compare with expected_event's.
inline std::vector<ModelEvent> without_sequences(std::vector<ModelEvent> events) {
  for (auto& event : events) event.sequence = 0;
  return events;
}

// Every event of the catalog after `sequence`, oldest first.
inline std::vector<ModelEvent> events_after(const MetadataStore& store, std::int64_t sequence) {
  EventQuery query;
  query.after_sequence = sequence;
  return store.events(query);
}

// Every event of one model.
inline std::vector<ModelEvent> events_of(const MetadataStore& store, const std::string& model) {
  EventQuery query;
  query.model_name = model;
  return store.events(query);
}

inline std::vector<EventType> types_of(const std::vector<ModelEvent>& events) {
  std::vector<EventType> types;
  for (const auto& event : events) types.push_back(event.type);
  return types;
}

}  // namespace testing
}  // namespace modelreg

#pragma once

// The data of InMemoryMetadataStore, shared by its files (versions and lifecycle; search and
// history). Guarded by the store's mutex: nothing here locks.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/in_memory_metadata_store.hpp"
#include "modelreg/model_event.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"

namespace modelreg {
namespace detail {

enum class RowState { Visible, Registering, Deleting };

struct Row {
  ModelVersion version;  // its `aliases` are kept up to date
  RowState state = RowState::Visible;
  std::string owner;
  std::uint64_t seq = 0;  // registration order within the model; 0 while registering
  std::int64_t reg = 0;   // registration order among all versions: its VersionRegistered event
  Timestamp since{};      // when the current reservation was taken
};

enum class ModelState {
  New,       // created by a reservation; no version of it was ever visible
  Visible,   // had a visible version; stays until delete_model
  Deleting,  // delete_model hid it; gone once its last reservation is released
};

struct Model {
  RegisteredModel info;  // name, description, tags, created_at; `versions`, `aliases` unused
  ModelState state = ModelState::New;
  std::map<std::string, Row, std::less<>> rows;
  std::map<std::uint64_t, std::string> visible_by_seq;
  std::optional<std::string> production;
  std::uint64_t next_seq = 1;
  // created_at of every row that has a place in the registration order (visible, or being
  // deleted), by that place: the last entry dates the model's latest version.
  std::map<std::uint64_t, Timestamp> created_by_seq;
  // alias -> version; aliases only ever name visible versions (begin_delete removes them).
  std::map<std::string, std::string, std::less<>> aliases;
};

}  // namespace detail

struct InMemoryMetadataStore::State {
  std::map<std::string, detail::Model, std::less<>> models;
  std::vector<ModelEvent> events;  // in sequence order; sequence = index + 1

  detail::Model* find_model(std::string_view name);
  const detail::Model* find_model(std::string_view name) const;
  // A model that lookups may show (Visible), or nullptr.
  const detail::Model* visible_model(std::string_view name) const;
  detail::Model* visible_model(std::string_view name);
  detail::Row* find_row(std::string_view name, std::string_view version);
  const detail::Row* find_visible(std::string_view name, std::string_view version) const;
  detail::Row* find_visible(std::string_view name, std::string_view version);

  // Appends an event (its sequence is assigned here) and returns that sequence.
  std::int64_t record(ModelEvent event);

  // The model as lookups show it: its visible versions in registration order and the aliases
  // that name them.
  RegisteredModel snapshot(const detail::Model& model) const;
};

}  // namespace modelreg

#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "modelreg/timestamp.hpp"

namespace modelreg {

// Who made a change and why; recorded with every event the change writes to the history. Both
// are optional: an empty actor is replaced by the registry's default actor (see
// ModelRegistry::set_default_actor), an empty reason stays empty. Limits: actor 1..255 bytes
// without control characters, reason up to 5,000 bytes without NUL, both valid UTF-8.
struct Audit {
  std::string actor;
  std::string reason;
};

// What an event of the history records.
enum class EventType {
  VersionRegistered,      // a version became visible; new_value: its stage
  VersionDeleted,         // a version was deleted (its artifact too); old_value: its last stage.
                          // Recorded when the version disappears from lookups, after the
                          // AliasDeleted of each of its aliases
  StageChanged,           // old_value -> new_value (stage names); key: for the automatic
                          // archive of the previous Production version, the version whose
                          // promotion archived it; empty otherwise
  AliasSet,               // alias `key` now names `version`; old_value: the version it named
                          // before (nullopt: a new alias); new_value: `version`
  AliasDeleted,           // alias `key` was removed (explicitly, or with the version it named);
                          // old_value and `version`: the version it named
  ModelTagSet,            // model tag `key`: old_value (nullopt: new tag) -> new_value
  ModelTagDeleted,        // model tag `key` removed; old_value: its value
  VersionTagSet,          // as ModelTagSet, on `version`
  VersionTagDeleted,      // as ModelTagDeleted, on `version`
  ModelDescriptionSet,    // old_value -> new_value
  VersionDescriptionSet,  // old_value -> new_value, on `version`
  ModelDeleted,           // the model and all its versions, aliases and tags were deleted
  VersionRestored,        // a deletion failed (its artifact could not be removed) and was undone:
                          // the version is back with its tags; new_value: its stage (Archived
                          // if another version is in Production now; key: that version). Its
                          // aliases that no other version took meanwhile come back: an AliasSet
                          // each follows
};

// The lower-case name of `type`, e.g. "stage_changed".
std::string_view to_string(EventType type) noexcept;
// Parses a name of to_string (any case). Throws InvalidArgumentError for anything else.
EventType parse_event_type(std::string_view text);

// One entry of a catalog's append-only history. Entries are never rewritten or removed: deleting
// a version or a model keeps its events. A snapshot value.
struct ModelEvent {
  // Position in the catalog's event log: unique, and increasing in the order the changes were
  // committed, so that "every event after N" is a complete change feed.
  std::int64_t sequence = 0;
  Timestamp time{};  // when the change was made
  EventType type = EventType::VersionRegistered;
  std::string model_name;
  std::string version;  // empty for events of the model itself
  std::string key;      // alias or tag key (see EventType)
  std::optional<std::string> old_value;
  std::optional<std::string> new_value;
  std::string actor;   // who made the change (Audit::actor)
  std::string reason;  // why (Audit::reason); may be empty

  // Whether the event changes what serves the model: it moves its Production version or one of
  // its aliases (stage changes into or out of Production, alias changes, deletion or
  // restoration of the Production version, deletion of the model). ModelRegistry::watch reports
  // these by default.
  bool changes_serving() const;

  friend bool operator==(const ModelEvent& a, const ModelEvent& b);
  friend bool operator!=(const ModelEvent& a, const ModelEvent& b) { return !(a == b); }
};

// JSON round trip of every field; type as its to_string name, time as ISO-8601 UTC, absent
// values as null. from_json throws InvalidArgumentError on a malformed document.
void to_json(nlohmann::json& j, const ModelEvent& event);
void from_json(const nlohmann::json& j, ModelEvent& event);

}  // namespace modelreg

#pragma once

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "modelreg/bytes.hpp"
#include "modelreg/durability.hpp"
#include "modelreg/error.hpp"
#include "modelreg/model_framework.hpp"
#include "modelreg/model_metrics.hpp"

namespace modelreg {

// What register_version records besides the name and version (the seed's keyword arguments).
struct RegisterOptions {
  ModelFramework framework = ModelFramework::Custom;     // default Custom, as in the seed
  ModelMetrics metrics;                                  // default: no metrics
  nlohmann::json parameters = nlohmann::json::object();  // must be a JSON object (null = {})
  std::string description;                               // default empty
  std::map<std::string, std::string> tags;               // default none
  // The artifact, from at most one of these sources (default: none). Files and streams are
  // copied in bounded memory; the stream is read to its end and must outlive the call.
  std::optional<Bytes> artifact;
  std::optional<std::filesystem::path> artifact_file;
  std::istream* artifact_stream = nullptr;
};

// Options of ModelRegistry::open.
struct OpenOptions {
  // Default Full: every committed change survives a power loss. See Durability.
  Durability durability = Durability::Full;
  // Default true: on open, finish or undo the registrations and deletions of writers that died
  // midway (see ModelRegistry::recover).
  bool recover = true;
  // Decoded versions kept for list_versions; see SqliteOptions::list_cache_versions.
  std::size_t list_cache_versions = 20'000;
  // Decoded versions kept per read connection for lookups; see
  // SqliteOptions::lookup_cache_versions.
  std::size_t lookup_cache_versions = 4'096;
  // The registry's default actor, recorded in the history of every change made without an
  // Audit::actor. Default empty: "user@host" of the process (see ModelRegistry::set_default_actor).
  std::string actor;
};

// A reservation ModelRegistry::recover could not settle this time (the next call tries again).
struct RecoveryFailure {
  std::string model_name;
  std::string version;
  bool deletion = false;  // a deletion to finish; otherwise a registration to roll back
  ErrorCode code = ErrorCode::Storage;  // of the error that stopped it
  std::string message;                  // that error's what()
};

// What ModelRegistry::recover found and cleaned, and what it could not.
struct RecoveryReport {
  // Reserved versions of dead writers (or left behind by this registry's failed calls), removed.
  std::size_t registrations_rolled_back = 0;
  // Deletions of dead writers (or left unfinished by this registry's failed calls), finished.
  std::size_t deletions_completed = 0;
  // The reservations that could not be settled, in the order they were tried.
  std::vector<RecoveryFailure> unsettled;

  // True if nothing was left unsettled.
  bool complete() const { return unsettled.empty(); }
};

// Whether best_version looks for the greatest or the smallest value of its metric.
enum class MetricGoal { Maximize, Minimize };

}  // namespace modelreg

#pragma once

// What commands print: the JSON documents of --json (one schema, docs/cli.md, built from the
// library's to_dict / to_json) and the text helpers of the tables.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "modelreg/model_event.hpp"
#include "modelreg/model_metrics.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/registered_model.hpp"
#include "modelreg/timestamp.hpp"

namespace modelreg::cli {

// A version: ModelVersion::to_dict() (metrics flattened, timestamps ISO-8601 UTC).
nlohmann::json version_json(const ModelVersion& version);
// A model with all its versions (show NAME).
nlohmann::json model_json(const RegisteredModel& model);
// A model without its versions (a row of list).
nlohmann::json model_summary_json(const RegisteredModel& model);
// An event of the history: the library's to_json(ModelEvent).
nlohmann::json event_json(const ModelEvent& event);

// One JSON document, indented, then a newline. Text that is not valid UTF-8 is replaced
// (U+FFFD) rather than failing the command.
void print_json(std::ostream& out, const nlohmann::json& document);
// One JSON document on one line (JSON lines, for watch), flushed.
void print_json_line(std::ostream& out, const nlohmann::json& document);

// The last change of a model: its newest version's updated_at, or its created_at.
Timestamp model_updated_at(const RegisteredModel& model);

// ISO-8601 UTC to the second, for tables: "2026-11-26T10:41:06Z".
std::string table_time(Timestamp t);
// "0 B", "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB".
std::string human_size(std::uint64_t bytes);
// "k1=v1, k2=v2", sorted by key.
std::string join_pairs(const std::map<std::string, std::string>& pairs);
std::string join_pairs(const std::map<std::string, double>& pairs);
// The strings joined with `separator`.
std::string join(const std::vector<std::string>& items, const std::string& separator);
// A number the shortest way that reads back to the same double.
std::string format_number(double value);

}  // namespace modelreg::cli

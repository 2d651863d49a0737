#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace modelreg {

// The clock of every modelreg timestamp.
using Timestamp = std::chrono::system_clock::time_point;

// Formats `t` as ISO-8601 UTC, e.g. "2026-11-26T10:41:06.123456Z". The fraction has as many
// digits (0, 3, 6 or 9) as it needs, so parse_timestamp(format_timestamp(t)) == t exactly.
std::string format_timestamp(Timestamp t);

// Parses an ISO-8601 timestamp "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; a missing
// offset means UTC. Throws InvalidArgumentError if `text` is not of that form or names a time
// the clock cannot represent (with libstdc++'s nanoseconds: outside
// 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z).
Timestamp parse_timestamp(std::string_view text);

}  // namespace modelreg

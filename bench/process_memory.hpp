#pragma once

// Resident memory of this process, for the benchmarks' "bounded memory" checks (Linux).
//
// VmHWM (the peak resident set) can be reset by writing "5" to /proc/self/clear_refs, so one
// process can measure the peak of each operation separately; getrusage's ru_maxrss is the
// peak over the whole life of the process and cannot be reset.

#include <sys/resource.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace modelreg::bench {

// A "Vm...:  1234 kB" field of /proc/self/status in bytes, or 0 if it cannot be read.
inline std::uint64_t proc_status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, field.size(), field) == 0 && line.size() > field.size() &&
        line[field.size()] == ':') {
      return std::stoull(line.substr(field.size() + 1)) * 1024;
    }
  }
  return 0;
}

// The current resident set (VmRSS).
inline std::uint64_t current_rss_bytes() {
  return proc_status_bytes("VmRSS");
}

// The peak resident set since the process started or since the last reset_peak_rss (VmHWM).
inline std::uint64_t peak_rss_bytes() {
  return proc_status_bytes("VmHWM");
}

// Resets VmHWM to the current resident set. Returns false if the kernel refused (then
// peak_rss_bytes keeps reporting the peak since the start of the process, an upper bound).
inline bool reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return static_cast<bool>(clear_refs);
}

// The peak resident set over the whole life of the process (getrusage ru_maxrss).
inline std::uint64_t lifetime_max_rss_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

inline double to_mib(std::uint64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

}  // namespace modelreg::bench

#pragma once

// The run modes shared by the Google Benchmark programs, chosen by flags (removed from argv
// before Google Benchmark parses the rest) or by environment variables:
//
//   --smoke | MODELREG_BENCH_SMOKE=1   everything tiny, in seconds (CI keeps it building/running)
//   --full  | MODELREG_BENCH_FULL=1    adds the largest cases (100,000 versions, 1 GiB artifacts)
//   --dir=PATH | MODELREG_BENCH_DIR    where scratch directories go (default: /tmp)

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "scratch_files.hpp"

namespace modelreg::bench {

enum class Mode { Smoke, Default, Full };

struct BenchMode {
  Mode mode = Mode::Default;
  std::filesystem::path scratch_parent = default_scratch_parent();

  bool smoke() const { return mode == Mode::Smoke; }
  bool full() const { return mode == Mode::Full; }
  const char* name() const {
    return mode == Mode::Smoke ? "smoke" : mode == Mode::Full ? "full" : "default";
  }
};

inline bool env_flag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' && std::strcmp(value, "0") != 0;
}

// Reads the mode from the environment and from argv, removing the flags it consumed from argv
// so that benchmark::Initialize does not reject them. In smoke mode, a short
// --benchmark_min_time is added unless one was given.
inline BenchMode parse_bench_mode(int& argc, char**& argv) {
  BenchMode result;
  if (env_flag("MODELREG_BENCH_FULL")) result.mode = Mode::Full;
  if (env_flag("MODELREG_BENCH_SMOKE")) result.mode = Mode::Smoke;
  static std::vector<char*> kept;
  static std::string min_time = "--benchmark_min_time=0.01";
  kept.assign(argv, argv + 1);
  bool has_min_time = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--smoke") {
      result.mode = Mode::Smoke;
    } else if (arg == "--full") {
      result.mode = Mode::Full;
    } else if (arg.rfind("--dir=", 0) == 0) {
      result.scratch_parent = arg.substr(6);
    } else {
      if (arg.rfind("--benchmark_min_time", 0) == 0) has_min_time = true;
      kept.push_back(argv[i]);
    }
  }
  if (result.smoke() && !has_min_time) kept.push_back(min_time.data());
  kept.push_back(nullptr);
  argc = static_cast<int>(kept.size()) - 1;
  argv = kept.data();
  return result;
}

}  // namespace modelreg::bench

#pragma once

// The registries the concurrency tests run on (concurrency_test.cpp,
// lifecycle_concurrency_test.cpp): in-memory, a file store with the in-memory catalog, and the
// durable registry (Relaxed, so that the threads contend on the catalog, not on fsync).

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "modelreg/modelreg.hpp"

namespace modelreg::testing {

struct Setup {
  std::string name;
  std::function<ModelRegistry(const std::filesystem::path&)> make;
};

// Test names show the parameter's name, not its bytes.
inline void PrintTo(const Setup& param, std::ostream* os) {
  *os << param.name;
}

inline std::vector<Setup> concurrency_setups() {
  std::vector<Setup> result{
      {"InMemory", [](const std::filesystem::path&) { return ModelRegistry(); }},
      {"FileStore",
       [](const std::filesystem::path& dir) {
         return ModelRegistry(std::make_shared<FileModelStore>(dir / "artifacts"));
       }},
  };
#ifdef MODELREG_HAVE_SQLITE
  result.push_back({"Sqlite", [](const std::filesystem::path& dir) {
                      OpenOptions options;
                      options.durability = Durability::Relaxed;
                      return ModelRegistry::open(dir, options);
                    }});
#endif
  return result;
}

inline std::string setup_name(const ::testing::TestParamInfo<Setup>& param) {
  return param.param.name;
}

}  // namespace modelreg::testing

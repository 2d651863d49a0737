// The catalogs that ship with modelreg, each run through the whole MetadataStore conformance
// suite (metadata_store_conformance.hpp).

#include <filesystem>
#include <memory>
#include <vector>

#include "metadata_store_conformance.hpp"
#include "modelreg/in_memory_metadata_store.hpp"
#ifdef MODELREG_HAVE_SQLITE
#include "modelreg/sqlite_metadata_store.hpp"
#endif

namespace modelreg {
namespace {

// --- the backends -------------------------------------------------------------------------

std::vector<testing::CatalogBackend> backends() {
  std::vector<testing::CatalogBackend> result;
  result.push_back({"InMemory", [](const std::filesystem::path&) {
                      return std::make_unique<InMemoryMetadataStore>();
                    }});
#ifdef MODELREG_HAVE_SQLITE
  result.push_back({"Sqlite", [](const std::filesystem::path& dir) {
                      return std::make_unique<SqliteMetadataStore>(dir / "registry.db");
                    }});
  result.push_back({"SqliteRelaxed", [](const std::filesystem::path& dir) {
                      SqliteOptions options;
                      options.durability = Durability::Relaxed;
                      return std::make_unique<SqliteMetadataStore>(dir / "registry.db", options);
                    }});
#endif
  return result;
}

INSTANTIATE_TEST_SUITE_P(Backends, MetadataStoreConformance, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<testing::CatalogBackend>& backend) {
                           return backend.param.name;
                         });

}  // namespace
}  // namespace modelreg

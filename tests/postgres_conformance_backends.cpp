// PostgresMetadataStore through the whole MetadataStore conformance suite
// (metadata_store_conformance.hpp), each test on a database of its own.

#include <iostream>
#include <memory>

#include "metadata_store_conformance.hpp"
#include "modelreg/postgres_metadata_store.hpp"
#include "postgres_test_server.hpp"

namespace modelreg {
namespace {

std::unique_ptr<MetadataStore> make_postgres_store(const std::filesystem::path&) {
  std::string why;
  const auto conninfo = testing::TestDatabases::instance().fresh(why);
  if (!conninfo) {
    if (testing::servers_required()) ADD_FAILURE() << why;
    std::cerr << why << "\n";
    return nullptr;
  }
  return std::make_unique<PostgresMetadataStore>(*conninfo);
}

INSTANTIATE_TEST_SUITE_P(Postgres, MetadataStoreConformance,
                         ::testing::Values(testing::CatalogBackend{"Postgres",
                                                                   make_postgres_store}),
                         [](const ::testing::TestParamInfo<testing::CatalogBackend>& backend) {
                           return backend.param.name;
                         });

}  // namespace
}  // namespace modelreg

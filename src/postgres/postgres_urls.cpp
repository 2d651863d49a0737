// The catalog URL schemes of modelreg::postgres (ModelRegistry::open(catalog_url, ...)):
// postgresql:// and postgres://, handed to libpq as they are.

#include "modelreg/postgres_metadata_store.hpp"
#include "registry_urls.hpp"

// The symbol the target's consumers are made to link (see src/CMakeLists.txt), which brings
// this file, and so its registrar, into every program that links modelreg::postgres.
extern "C" void modelreg_postgres_urls() {}

namespace modelreg {
namespace {

const detail::SchemeRegistrar registrar([] {
  const auto open = [](const std::string& url, const OpenOptions&) {
    return std::make_shared<PostgresMetadataStore>(url);
  };
  detail::register_catalog_scheme("postgresql", open);
  detail::register_catalog_scheme("postgres", open);
});

}  // namespace
}  // namespace modelreg

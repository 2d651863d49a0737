// ModelRegistry::open, the embedded durable default: it lives in modelreg::sqlite because it
// builds on SqliteMetadataStore.

#include <fmt/format.h>

#include "modelreg/error.hpp"
#include "modelreg/file_model_store.hpp"
#include "modelreg/model_registry.hpp"
#include "modelreg/sqlite_metadata_store.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"
#include "registry_urls.hpp"

// The symbol the target's consumers are made to link (see src/CMakeLists.txt): it brings this
// file, and so the registrar of the sqlite: scheme below, into every program.
extern "C" void modelreg_sqlite_urls() {}

namespace modelreg {
namespace {

// sqlite:<path of the database file> (sqlite:///var/models/registry.db); its writer leases are
// in `locks` beside it, as with open(dir).
const detail::SchemeRegistrar registrar([] {
  detail::register_catalog_scheme("sqlite", [](const std::string& url, const OpenOptions& options) {
    const std::string path = detail::url_path(url);
    if (path.empty()) throw InvalidArgumentError("sqlite: URL without a database path");
    SqliteOptions sqlite;
    sqlite.durability = options.durability;
    sqlite.list_cache_versions = options.list_cache_versions;
    sqlite.lookup_cache_versions = options.lookup_cache_versions;
    return std::make_shared<SqliteMetadataStore>(path, sqlite);
  });
});

}  // namespace

ModelRegistry ModelRegistry::open(const std::filesystem::path& dir, const OpenOptions& options) {
  return detail::public_call("ModelRegistry::open", [&] {
    if (dir.empty()) throw InvalidArgumentError("registry directory must not be empty");
    detail::create_directories_durably(dir);
    SqliteOptions sqlite;
    sqlite.durability = options.durability;
    sqlite.list_cache_versions = options.list_cache_versions;
    sqlite.lookup_cache_versions = options.lookup_cache_versions;
    auto metadata = std::make_shared<SqliteMetadataStore>(dir / "registry.db", sqlite);
    auto store = std::make_shared<FileModelStore>(dir / "artifacts");
    // The catalog's writer leases live in dir/locks (SqliteMetadataStore::lock_directory).
    ModelRegistry registry(std::move(store), std::move(metadata));
    if (!options.actor.empty()) registry.set_default_actor(options.actor);
    if (options.recover) registry.recover();
    return registry;
  });
}

}  // namespace modelreg

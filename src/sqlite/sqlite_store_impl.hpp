#pragma once

// SqliteMetadataStore's Impl: the database (connections, retries, caches), the catalog
// operations run on it, and the directory of its writer leases.

#include <filesystem>

#include "modelreg/sqlite_metadata_store.hpp"
#include "sqlite/sqlite_database.hpp"

namespace modelreg {

class SqliteMetadataStore::Impl : public detail::SqliteDatabase {
 public:
  Impl(const std::filesystem::path& path, SqliteOptions options)
      : SqliteDatabase(path, options),
        catalog_(*this, detail::SqlDialect::Sqlite),
        lock_directory_(this->path().parent_path() / "locks") {}

  detail::SqlCatalog& catalog() { return catalog_; }
  const detail::SqlCatalog& catalog() const { return catalog_; }
  const std::filesystem::path& lock_directory() const { return lock_directory_; }

 private:
  detail::SqlCatalog catalog_;
  std::filesystem::path lock_directory_;
};

}  // namespace modelreg

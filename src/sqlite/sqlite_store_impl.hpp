#pragma once

// What the files of SqliteMetadataStore share: its Impl is the database (connections, retries,
// caches) plus the directory of its writer leases.

#include <filesystem>

#include "modelreg/sqlite_metadata_store.hpp"
#include "sqlite/sqlite_database.hpp"

namespace modelreg {

class SqliteMetadataStore::Impl : public detail::SqliteDatabase {
 public:
  Impl(const std::filesystem::path& path, SqliteOptions options)
      : SqliteDatabase(path, options), lock_directory_(this->path().parent_path() / "locks") {}

  const std::filesystem::path& lock_directory() const { return lock_directory_; }

 private:
  std::filesystem::path lock_directory_;
};

}  // namespace modelreg

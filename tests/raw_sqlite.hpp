#pragma once

// A plain SQLite connection, for tests that look at or damage a catalog's file behind the
// store's back.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace modelreg::testing {

// A plain SQLite connection, for what the store must not be trusted to check about itself.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path) {
    if (sqlite3_open(path.string().c_str(), &db_) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Returns the primary result code.
  int exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) & 0xff;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    std::string result;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      const auto* data = sqlite3_column_text(statement, 0);
      if (data != nullptr) result = reinterpret_cast<const char*>(data);
    } else {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_finalize(statement);
    return result;
  }
  std::int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }
  const char* error() const { return sqlite3_errmsg(db_); }
  sqlite3* handle() const { return db_; }
  // Runs one statement with `text` bound to ?1; returns the primary result code of its step.
  int exec_with_text(const std::string& sql, const std::string& text) {
    sqlite3_stmt* statement = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_bind_text(statement, 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
      rc = sqlite3_step(statement);
    }
    sqlite3_finalize(statement);
    return rc & 0xff;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace modelreg::testing

#pragma once

// RAII over the SQLite C API for the SQLite backend: a connection that owns its cached prepared
// statements, a scoped use of a statement that always resets it, and a transaction that rolls
// back in its destructor. Internal: never installed, never included by public headers.

#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelreg/error.hpp"
#include "sql/sql_connection.hpp"

namespace modelreg::detail {

// SQLite reported SQLITE_BUSY or SQLITE_LOCKED: another connection holds a lock. The store's
// retry loop catches it and runs the whole transaction again; it reaches callers only as the
// StorageError it derives from, and only if the retry loop is bypassed by a bug.
class SqliteBusyError : public StorageError {
 public:
  using StorageError::StorageError;
};

// Throws the modelreg error for the SQLite result code `rc`: SqliteBusyError for lock
// contention, DataLossError for a corrupt file or one that is not a database, StorageError for
// everything else. Every message names the database file and carries SQLite's own message.
[[noreturn]] inline void throw_sqlite_error(sqlite3* db, int rc, const std::string& path,
                                            std::string_view context) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string message =
      fmt::format("SQLite database '{}': {}: {} (code {})", path, context, detail, rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      throw SqliteBusyError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      throw DataLossError(message);
    default:
      throw StorageError(message);
  }
}

// One prepared statement. Not thread-safe: it belongs to one SqliteConnection.
class SqliteStatement final : public Statement {
 public:
  SqliteStatement(sqlite3* db, const std::string& path, std::string_view sql, unsigned int flags)
      : db_(db), path_(path) {
    const int rc =
        sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &stmt_, nullptr);
    if (rc != SQLITE_OK) {
      throw_sqlite_error(db, rc, path_, fmt::format("cannot prepare \"{}\"", sql));
    }
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  using Statement::bind;

  void bind(int index, std::string_view text) override {
    // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer need not outlive the statement.
    check_bind(
        sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void bind(int index, std::int64_t value) override {
    check_bind(sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value)));
  }
  void bind(int index, double value) override {
    check_bind(sqlite3_bind_double(stmt_, index, value));
  }
  void bind_null(int index) override { check_bind(sqlite3_bind_null(stmt_, index)); }

  bool step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_sqlite_error(db_, rc, path_, fmt::format("cannot execute \"{}\"", sql_text()));
  }

  bool is_null(int column) const override {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }
  std::int64_t int64(int column) const override {
    return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column));
  }
  double real(int column) const override { return sqlite3_column_double(stmt_, column); }
  // The column's bytes exactly (embedded NULs included).
  std::string_view text_view(int column) const override {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    const int size = sqlite3_column_bytes(stmt_, column);
    return data != nullptr ? std::string_view(data, static_cast<std::size_t>(size))
                           : std::string_view();
  }

  void reset() noexcept override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  std::string_view sql_text() const {
    const char* sql = sqlite3_sql(stmt_);
    return sql != nullptr ? sql : "";
  }
  void check_bind(int rc) {
    if (rc != SQLITE_OK) throw_sqlite_error(db_, rc, path_, "cannot bind a parameter");
  }

  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_ = nullptr;
};

// One SQLite connection and its prepared-statement cache. Not thread-safe: a connection is used
// by one thread at a time (the store hands connections out under its own locks), which is why
// it is opened with SQLITE_OPEN_NOMUTEX.
class SqliteConnection final : public Connection {
 public:
  // Opens `path` with `flags` (SQLITE_OPEN_NOMUTEX is added). Opening reads nothing yet, so it
  // never fails on a corrupt file; the first statement does. Throws StorageError.
  SqliteConnection(std::string path, int flags)
      : path_(std::move(path)), label_(fmt::format("SQLite database '{}'", path_)) {
    const int rc = sqlite3_open_v2(path_.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      // sqlite3_open_v2 allocates a handle even on failure; its message explains the failure.
      const std::string message =
          fmt::format("SQLite database '{}': cannot open: {} (code {})", path_,
                      db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc), rc);
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw StorageError(message);
    }
    sqlite3_extended_result_codes(db_, 1);
  }
  ~SqliteConnection() override {
    // Statements are finalized before their connection closes.
    statements_.clear();
    dynamic_.clear();
    for (auto& statement : control_) statement.reset();
    sqlite3_close_v2(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  const std::string& label() const override { return label_; }
  SqlDialect dialect() const override { return SqlDialect::Sqlite; }

  // Runs one or more statements without results (schema, pragmas). Throws as throw_sqlite_error.
  void exec(const char* sql) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      throw_sqlite_error(db_, rc, path_, fmt::format("cannot execute \"{}\"", sql));
    }
  }

  // The statement cached in `slot`, prepared from `sql` on first use (persistent: it is reused
  // for the connection's lifetime). A slot must always be used with the same SQL text.
  StatementUse use(std::size_t slot, std::string_view sql) override {
    if (slot >= statements_.size()) statements_.resize(slot + 1);
    if (!statements_[slot]) {
      statements_[slot] =
          std::make_unique<SqliteStatement>(db_, path_, sql, SQLITE_PREPARE_PERSISTENT);
    }
    return StatementUse(*statements_[slot]);
  }

  // A statement prepared from SQL built at run time (searches), cached by its text: a query of
  // the same shape reuses it. The cache is bounded; statements beyond it are finalized.
  StatementUse use_dynamic(const std::string& sql) override {
    auto it = dynamic_.find(sql);
    if (it == dynamic_.end()) {
      if (dynamic_.size() >= kMaxDynamic) dynamic_.clear();
      it = dynamic_
               .emplace(sql, std::make_unique<SqliteStatement>(db_, path_, sql,
                                                               SQLITE_PREPARE_PERSISTENT))
               .first;
    }
    return StatementUse(*it->second);
  }

  // A statement prepared for one use only (schema inspection at open).
  std::unique_ptr<SqliteStatement> prepare_once(std::string_view sql) {
    return std::make_unique<SqliteStatement>(db_, path_, sql, 0);
  }

  // True while a transaction is open on this connection.
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

  // Transaction control through cached statements: every store method runs one transaction,
  // so parsing BEGIN/COMMIT each time would be a measurable share of a fast lookup.
  enum class Control : std::size_t { BeginImmediate, BeginDeferred, Commit };
  void control(Control which) {
    static constexpr std::string_view kText[] = {"BEGIN IMMEDIATE", "BEGIN DEFERRED", "COMMIT"};
    auto& statement = control_[static_cast<std::size_t>(which)];
    if (!statement) {
      statement = std::make_unique<SqliteStatement>(
          db_, path_, kText[static_cast<std::size_t>(which)], SQLITE_PREPARE_PERSISTENT);
    }
    StatementUse use(*statement);
    use->run();
  }

 private:
  std::string path_;
  std::string label_;
  sqlite3* db_ = nullptr;
  static constexpr std::size_t kMaxDynamic = 64;

  std::unique_ptr<SqliteStatement> control_[3];
  std::vector<std::unique_ptr<SqliteStatement>> statements_;
  std::map<std::string, std::unique_ptr<SqliteStatement>, std::less<>> dynamic_;
};

// One transaction; rolls back in its destructor unless committed. Write transactions use
// BEGIN IMMEDIATE so that the write lock is taken up front: a deferred transaction that later
// upgrades can fail with SQLITE_BUSY_SNAPSHOT after it has done its reads, and the busy handler
// cannot help there.
class Transaction {
 public:
  enum class Kind { Read, Write };

  Transaction(SqliteConnection& connection, Kind kind) : connection_(connection) {
    connection_.control(kind == Kind::Write ? SqliteConnection::Control::BeginImmediate
                                            : SqliteConnection::Control::BeginDeferred);
    open_ = true;
  }
  ~Transaction() {
    // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL); ROLLBACK would
    // then fail, and there is nothing to undo anyway.
    if (open_ && connection_.in_transaction()) {
      sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() {
    connection_.control(SqliteConnection::Control::Commit);
    open_ = false;
  }

 private:
  SqliteConnection& connection_;
  bool open_ = false;
};

}  // namespace modelreg::detail

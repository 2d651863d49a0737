#pragma once

// What the SQL catalogs' operations run on, whatever the engine: a connection that hands out
// prepared statements by slot (or by text, for statements built at run time), and a statement
// that binds numbered parameters, steps through its rows and reads their columns. The SQLite
// catalog implements it over sqlite3 (sqlite/sqlite_handle.hpp), the PostgreSQL catalog over
// libpq. Statements are written once, with SQLite's numbered parameters (?1, ?2, ...), which the
// PostgreSQL connection turns into its own ($1, $2, ...). Internal: never installed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace modelreg::detail {

// The engine behind a Connection, for the few statements whose text differs.
enum class SqlDialect { Sqlite, Postgres };

// One prepared statement. Not thread-safe: it belongs to one Connection.
class Statement {
 public:
  virtual ~Statement() = default;

  virtual void bind(int index, std::string_view text) = 0;
  virtual void bind(int index, std::int64_t value) = 0;
  virtual void bind(int index, double value) = 0;
  virtual void bind_null(int index) = 0;
  void bind(int index, const char* text) { bind(index, std::string_view(text)); }
  void bind(int index, const std::string& text) { bind(index, std::string_view(text)); }
  void bind(int index, int value) { bind(index, static_cast<std::int64_t>(value)); }
  void bind(int index, const std::optional<std::string>& text) {
    if (text) {
      bind(index, std::string_view(*text));
    } else {
      bind_null(index);
    }
  }

  // Advances the statement (running it on the first call): true when a row is available,
  // false when it is done. Throws the modelreg error of the engine's failure.
  virtual bool step() = 0;
  // Runs a statement that returns no rows.
  void run() {
    while (step()) {
    }
  }

  virtual bool is_null(int column) const = 0;
  virtual std::int64_t int64(int column) const = 0;
  virtual double real(int column) const = 0;
  // The column's bytes, valid until the statement steps or resets; "" for NULL.
  virtual std::string_view text_view(int column) const = 0;
  std::string text(int column) const { return std::string(text_view(column)); }
  std::optional<std::string> optional_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return text(column);
  }

  // Ends the statement's use and drops its bindings, so that a cached statement holds no
  // snapshot and never leaks values into its next use.
  virtual void reset() noexcept = 0;
};

// A cached statement in use; resets it on scope exit whatever happens.
class StatementUse {
 public:
  explicit StatementUse(Statement& statement) : statement_(statement) {}
  ~StatementUse() { statement_.reset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

  Statement* operator->() const { return &statement_; }
  Statement& operator*() const { return statement_; }

 private:
  Statement& statement_;
};

// One connection and its prepared-statement cache. Not thread-safe: the store hands a
// connection to one thread at a time.
class Connection {
 public:
  virtual ~Connection() = default;

  // The statement cached in `slot`, prepared from `sql` on first use. A slot must always be
  // used with the same SQL text.
  virtual StatementUse use(std::size_t slot, std::string_view sql) = 0;
  // A statement built at run time (searches), cached by its text (bounded).
  virtual StatementUse use_dynamic(const std::string& sql) = 0;
  // Names the database in messages ("SQLite database '<path>'", "PostgreSQL database ...").
  virtual const std::string& label() const = 0;
  virtual SqlDialect dialect() const = 0;
};

}  // namespace modelreg::detail

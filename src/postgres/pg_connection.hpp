#pragma once

// RAII over libpq for the PostgreSQL catalog: a connection with its prepared statements (the
// shared SQL of src/sql/, its ?N parameters turned into $N), and the mapping of PostgreSQL's
// errors onto modelreg's. Internal: never installed, never included by public headers.

#include <libpq-fe.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/error.hpp"
#include "sql/sql_connection.hpp"

namespace modelreg::detail::pg {

// A transaction failed only because of concurrency (serialization failure, deadlock): running
// it again from the start is correct. The database's retry loop catches it.
class RetryableError : public StorageError {
 public:
  using StorageError::StorageError;
};

// The connection to the server is gone (network, server restart, admin shutdown). Whatever
// the call was doing was rolled back by the server, unless the loss came during COMMIT.
class ConnectionLostError : public StorageError {
 public:
  using StorageError::StorageError;
};

// Throws the modelreg error for a failed result (or a failure without one): ConnectionLostError
// when the connection is bad, RetryableError for SQLSTATE 40001 / 40P01, InvalidArgumentError
// for text the server cannot store (22021, 22P05), StorageError otherwise. The message names
// the database and carries the server's.
[[noreturn]] void throw_error(PGconn* conn, const PGresult* result, const std::string& label,
                              std::string_view context);

class Connection;

// A prepared statement of one connection.
class Statement final : public detail::Statement {
 public:
  Statement(Connection& connection, std::string name, std::string sql);
  ~Statement() override;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  using detail::Statement::bind;
  void bind(int index, std::string_view text) override;
  void bind(int index, std::int64_t value) override;
  void bind(int index, double value) override;
  void bind_null(int index) override;
  bool step() override;
  bool is_null(int column) const override;
  std::int64_t int64(int column) const override;
  double real(int column) const override;
  std::string_view text_view(int column) const override;
  void reset() noexcept override;

  const std::string& name() const { return name_; }
  bool prepared() const { return prepared_; }

 private:
  void execute();
  std::optional<std::string>& param(int index);

  Connection& connection_;
  std::string name_;
  std::string sql_;
  int parameter_count_ = 0;
  bool prepared_ = false;
  std::vector<std::optional<std::string>> params_;
  std::vector<Oid> types_;
  PGresult* result_ = nullptr;
  int row_ = -1;
  int rows_ = 0;
};

// One libpq connection and its statement cache. Not thread-safe. A connection that lost its
// server stays broken (bad()): the database discards it and opens another.
class Connection final : public detail::Connection {
 public:
  // Connects with libpq's conninfo (a URL or key=value pairs; libpq's environment variables and
  // service files fill the rest). Throws ConnectionLostError if the server cannot be reached.
  Connection(const std::string& conninfo, const std::string& label, int connect_timeout_seconds);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  StatementUse use(std::size_t slot, std::string_view sql) override;
  StatementUse use_dynamic(const std::string& sql) override;
  const std::string& label() const override { return label_; }
  SqlDialect dialect() const override { return SqlDialect::Postgres; }

  // Runs SQL without parameters (one or more statements); returns the first column of the
  // first row of the last statement, if any. Throws as throw_error.
  std::optional<std::string> exec(const char* sql);
  bool bad() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }
  PGconn* handle() const { return conn_; }

 private:
  friend class Statement;
  PGconn* conn_ = nullptr;
  std::string label_;
  std::size_t next_dynamic_ = 0;
  static constexpr std::size_t kMaxDynamic = 64;
  std::vector<std::unique_ptr<Statement>> statements_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> dynamic_;
};

// SQLite's numbered parameters (?1) as PostgreSQL's ($1); the highest number is returned in
// `count`, and which numbers occur in `used` (if given). Our statements have no '?' in
// literals.
std::string to_postgres_parameters(std::string_view sql, int& count,
                                   std::vector<bool>* used = nullptr);

}  // namespace modelreg::detail::pg

#pragma once

// The PostgreSQL catalog's connections: a pool of libpq connections, write transactions
// serialized by an advisory lock, retries of serialization failures and deadlocks, and the
// schema (created, upgraded or refused when the store opens).

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/postgres_metadata_store.hpp"
#include "postgres/pg_connection.hpp"
#include "sql/sql_catalog.hpp"

namespace modelreg::detail::pg {

// The advisory locks modelreg takes, in PostgreSQL's two-key space (classid, objid): writer
// leases use the one-key space (a bigint per writer), so they never collide with these.
inline constexpr int kLockClass = 0x4D524547;  // "MREG"
inline constexpr int kWriteLock = 1;           // held by every write transaction
inline constexpr int kSchemaLock = 2;          // held while the schema is created or upgraded

// How messages name the database of `conninfo`: user@host:port/dbname as libpq resolves them
// (never the password).
std::string describe(const std::string& conninfo);

class Database final : public SqlDatabase {
 public:
  Database(std::string conninfo, PostgresOptions options);

  void run_write(std::string_view operation, FunctionRef<void(detail::Connection&)> body,
                 bool durable) override;
  void run_read(std::string_view operation, FunctionRef<void(detail::Connection&)> body,
                bool snapshot) const override;

  // A connection of its own (not pooled), e.g. for a writer lease.
  std::unique_ptr<Connection> connect() const;

  const std::string& label() const { return label_; }

 private:
  // A pooled connection for one call; returned to the pool unless it broke.
  class Lease {
   public:
    explicit Lease(const Database& database);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& connection() const { return *connection_; }
    // Whether the connection came from the pool (it may have died while idle).
    bool reused() const { return reused_; }

   private:
    const Database& database_;
    std::unique_ptr<Connection> connection_;
    bool reused_ = false;
  };

  // Runs `attempt` on a pooled connection, again while it fails with RetryableError or loses a
  // connection that came from the pool (once more on a new one); a new connection that is lost
  // becomes a StorageError that says the call was not applied.
  template <typename Attempt>
  void with_retry(std::string_view operation, Attempt&& attempt) const;

  void open_schema();

  std::string conninfo_;
  std::string label_;
  PostgresOptions options_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace modelreg::detail::pg

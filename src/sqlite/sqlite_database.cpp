#include "sqlite/sqlite_database.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "search_query.hpp"
#include "sqlite/sqlite_schema.hpp"

namespace modelreg::detail {
namespace {

// modelreg_like(pattern, text, ignore_case): the LIKE / ILIKE of searches, with the meaning of
// detail::like_match (SQLite's own LIKE ignores ASCII case and has no escape by default).
void like_function(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const auto* pattern = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const int pattern_size = sqlite3_value_bytes(argv[0]);
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  const int text_size = sqlite3_value_bytes(argv[1]);
  const bool ignore_case = sqlite3_value_int(argv[2]) != 0;
  sqlite3_result_int(
      context, like_match(std::string_view(pattern, static_cast<std::size_t>(pattern_size)),
                          std::string_view(text, static_cast<std::size_t>(text_size)), ignore_case)
                   ? 1
                   : 0);
}

// SQLite's own busy handler (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, 15, 20, 25 ms and on.
// Under Durability::Relaxed a write transaction of the registry holds the lock for about a
// tenth of a millisecond (no fsync), and writers of several processes slept through most of
// each other's commits: this one sleeps 25 us at first, doubling up to 1 ms, with jitter so
// that waiting writers do not wake in lock step, for at most `timeout_ms` per wait (4 processes
// registering, registry_bench concurrent_register, 4 interleaved runs: 3,390 -> 3,630
// versions/s). Under Durability::Full, where a commit holds the lock through its fsync,
// SQLite's own schedule measured faster (1,520 versions/s against 1,020 with this one).
int short_sleep_busy_handler(void* timeout_ms, int count) {
  using Clock = std::chrono::steady_clock;
  // One wait is on one thread, and a thread waits on one connection at a time. SQLite does not
  // restart `count` for every wait, so a call long after this thread's last one (which slept
  // at most 1 ms) begins a new wait as well.
  thread_local Clock::time_point started;
  thread_local Clock::time_point last_call;
  thread_local std::minstd_rand jitter(std::random_device{}());
  const auto now = Clock::now();
  if (count == 0 || now - last_call > std::chrono::milliseconds(20)) started = now;
  last_call = now;
  if (now - started >= std::chrono::milliseconds(*static_cast<const int*>(timeout_ms))) return 0;
  const int cap_us = std::min(25 << std::min(count, 6), 1000);
  std::this_thread::sleep_for(
      std::chrono::microseconds(std::uniform_int_distribution<int>(cap_us / 2, cap_us)(jitter)));
  return 1;
}

}  // namespace

void SqliteDatabase::configure(SqliteConnection& connection) const {
  if (options_.durability == Durability::Full) {
    sqlite3_busy_timeout(connection.handle(), busy_timeout_ms_);
  } else {
    sqlite3_busy_handler(connection.handle(), &short_sleep_busy_handler,
                         const_cast<int*>(&busy_timeout_ms_));
  }
  connection.exec("PRAGMA foreign_keys = ON");
  connection.exec(options_.durability == Durability::Full ? "PRAGMA synchronous = FULL"
                                                          : "PRAGMA synchronous = NORMAL");
  const int rc = sqlite3_create_function_v2(connection.handle(), "modelreg_like", 3,
                                            SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                            nullptr, &like_function, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    throw_sqlite_error(connection.handle(), rc, path_string_, "cannot register modelreg_like");
  }
}

void SqliteDatabase::open_schema() {
  const int found = with_retry("open", [&]() {
    Transaction transaction(*writer_, Transaction::Kind::Read);
    const int version = schema_version_of(read_schema_facts(*writer_), path_string_);
    transaction.commit();
    return version;
  });

  with_retry("open", [&]() {
    auto statement = writer_->prepare_once("PRAGMA journal_mode = WAL");
    const std::string mode = statement->step() ? statement->text(0) : std::string();
    statement->reset();
    if (mode != "wal") {
      // e.g. a file system without shared memory support; correct, but readers then wait for
      // writers.
      logger()->warn("SQLite database '{}' could not switch to WAL (journal mode '{}')",
                     path_string_, mode);
    }
  });

  if (found == SqliteMetadataStore::kSchemaVersion) return;
  with_retry(found == 0 ? "create schema" : "upgrade schema", [&]() {
    std::lock_guard<std::mutex> lock(write_mutex_);
    Transaction transaction(*writer_, Transaction::Kind::Write);
    // Another process may have created or upgraded the schema, or written something else,
    // since we looked.
    const int from = schema_version_of(read_schema_facts(*writer_), path_string_);
    migrate_schema(*writer_, from);
    transaction.commit();
    if (from == 0) {
      logger()->debug("created modelreg schema version {} in '{}'",
                      SqliteMetadataStore::kSchemaVersion, path_string_);
    } else if (from < SqliteMetadataStore::kSchemaVersion) {
      logger()->info("upgraded SQLite database '{}' from modelreg schema version {} to {}",
                     path_string_, from, SqliteMetadataStore::kSchemaVersion);
    }
  });
}

void SqliteDatabase::run_write(std::string_view operation, FunctionRef<void(Connection&)> body,
                               bool durable) {
  write(
      operation, [&](Connection& connection) { body(connection); }, durable);
}

void SqliteDatabase::run_read(std::string_view operation, FunctionRef<void(Connection&)> body,
                              bool snapshot) const {
  const auto once = [&](Connection& connection) {
    body(connection);
    return true;
  };
  if (snapshot) {
    read_snapshot(operation, once);
  } else {
    read(operation, once);
  }
}

std::optional<ModelVersion> SqliteDatabase::run_lookup(
    std::string_view operation, std::string_view key,
    FunctionRef<std::optional<ModelVersion>(Connection&)> load) const {
  if (options_.lookup_cache_versions == 0) return SqlDatabase::run_lookup(operation, key, load);
  return with_retry(operation, [&]() -> std::optional<ModelVersion> {
    ReaderLease lease(*this);
    // The probe stays active (not reset) until the lookup is done, which keeps the connection's
    // read transaction open: the data_version and the rows `load` reads are of one snapshot.
    const auto probe = use(lease.connection(), kDataVersion);
    if (const ModelVersion* hit = lease.lookups().find(step_data_version(probe), key)) return *hit;
    std::optional<ModelVersion> result = load(lease.connection());
    // A miss (no such version) is not kept: any number of unknown names could be asked for.
    if (result) lease.lookups().remember(key, *result, options_.lookup_cache_versions);
    return result;
  });
}

std::int64_t SqliteDatabase::latest_event_sequence() const {
  return with_retry("latest_event_sequence", [&]() {
    std::lock_guard<std::mutex> lock(probe_mutex_);
    if (!probe_) probe_ = open_reader();
    const std::int64_t data_version = step_data_version(use(*probe_, kDataVersion));
    if (probe_data_version_ != data_version) {
      auto row = use(*probe_, kLatestEvent);
      probe_latest_event_ = row->step() ? row->int64(0) : 0;
      probe_data_version_ = data_version;
    }
    return probe_latest_event_;
  });
}

}  // namespace modelreg::detail

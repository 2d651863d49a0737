#pragma once

// The SQLite catalog's connections: one write connection under a mutex, a pool of read
// connections, the retry loop for lock contention, durability settings per transaction, and the
// caches that PRAGMA data_version keeps honest. SqliteMetadataStore's operations run through
// write(), read() and read_snapshot().

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bitset>
#include <chrono>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "modelreg/logging.hpp"
#include "modelreg/model_version.hpp"
#include "modelreg/sqlite_metadata_store.hpp"
#include "posix_file.hpp"
#include "sql/sql_catalog.hpp"
#include "sql/sql_statements.hpp"
#include "sqlite/sqlite_handle.hpp"

namespace modelreg::detail {

// Owns the connections. Writes go through one connection under write_mutex_ (SQLite admits one
// writer per database anyway, and queueing in-process writers on a mutex is cheaper than
// making them contend for the file lock); reads use a pool of connections so that, with WAL,
// any number of threads read concurrently and never wait for a writer.
class SqliteDatabase : public SqlDatabase {
 public:
  // The path is made absolute now: connections are opened later, after a possible chdir.
  SqliteDatabase(const std::filesystem::path& path, SqliteOptions options)
      : path_(detail::absolute_path(path, "SQLite database")),
        path_string_(path_.string()),
        options_(clamp(options)) {
    writer_ = std::make_unique<SqliteConnection>(path_string_,
                                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    configure(*writer_);
    open_schema();
  }

  const std::filesystem::path& path() const { return path_; }

  // SqlDatabase: write(), read() and read_snapshot() below.
  void run_write(std::string_view operation, FunctionRef<void(Connection&)> body,
                 bool durable) override;
  void run_read(std::string_view operation, FunctionRef<void(Connection&)> body,
                bool snapshot) const override;
  // With the lookup cache on, one read transaction on a pooled connection: PRAGMA data_version,
  // then the connection's cached result when nobody committed since it was read, else `load`.
  std::optional<ModelVersion> run_lookup(
      std::string_view operation, std::string_view key,
      FunctionRef<std::optional<ModelVersion>(Connection&)> load) const override;

  // Runs `body(connection)` as one BEGIN IMMEDIATE transaction on the write connection,
  // retried from scratch while another process holds the lock. `body` commits by returning;
  // throwing rolls everything back.
  //
  // With `durable` false the commit is not fsync'd even under Durability::Full: for a
  // reservation, which a power loss may forget (an unreferenced artifact file is the worst
  // outcome) and which the fsync of the publishing commit makes durable anyway, since the WAL
  // is synced in order.
  template <typename Body>
  auto write(std::string_view operation, Body&& body, bool durable = true) {
    return with_retry(operation, [&]() {
      std::lock_guard<std::mutex> lock(write_mutex_);
      SyncOverride sync(*writer_, !durable && options_.durability == Durability::Full,
                        restore_full_sync_);
      Transaction transaction(*writer_, Transaction::Kind::Write);
      if constexpr (std::is_void_v<decltype(body(*writer_))>) {
        body(*writer_);
        transaction.commit();
      } else {
        auto result = body(*writer_);
        transaction.commit();
        return result;
      }
    });
  }

  // Runs `body(connection)` on a pooled read connection. A single statement is its own
  // (autocommit) read transaction and sees the latest commit of any process.
  template <typename Body>
  auto read(std::string_view operation, Body&& body) const {
    return with_retry(operation, [&]() {
      ReaderLease lease(*this);
      return body(lease.connection());
    });
  }

  // As read, for reads of several statements that must see one snapshot.
  template <typename Body>
  auto read_snapshot(std::string_view operation, Body&& body) const {
    return with_retry(operation, [&]() {
      ReaderLease lease(*this);
      Transaction transaction(lease.connection(), Transaction::Kind::Read);
      auto result = body(lease.connection());
      transaction.commit();
      return result;
    });
  }

 private:
  // Decoded results of one read connection's lookups (run_lookup), all valid for one
  // data_version of that connection: a connection's data_version changes whenever another
  // connection (any process's, this store's writer included) committed since its previous read
  // transaction, and only then. Entries are stored under the value read in the same read
  // transaction as their rows, and found only under that exact value, so a hit is a result no
  // commit has changed since. A result is kept the second time it is read within a few
  // thousand misses: a lookup asked for once, or a scan through more versions than that, then
  // costs no copy into the cache. Bounded: when full, it starts over.
  class LookupCache {
   public:
    // The entry for `key`, if this connection's data_version is still `data_version`; a new
    // data_version empties the cache.
    const ModelVersion* find(std::int64_t data_version, std::string_view key) {
      if (data_version != data_version_) {
        entries_.clear();
        data_version_ = data_version;
        return nullptr;
      }
      const auto it = entries_.find(key);
      return it == entries_.end() ? nullptr : &it->second;
    }
    // After find(data_version, key) missed in the same transaction.
    void remember(std::string_view key, const ModelVersion& version, std::size_t bound) {
      // Two bits of a filter of recent misses (a Bloom filter, forgotten every kForgetAfter
      // marked keys, so that it stays sparse and a key missed long ago counts as new).
      const std::size_t hash = std::hash<std::string_view>()(key);
      const std::size_t first = hash % kMissBits;
      const std::size_t second = (hash / kMissBits) % kMissBits;
      if (!recent_misses_[first] || !recent_misses_[second]) {
        recent_misses_.set(first);
        recent_misses_.set(second);
        if (++marked_ >= kForgetAfter) {
          recent_misses_.reset();
          marked_ = 0;
        }
        return;
      }
      if (entries_.size() >= bound) entries_.clear();
      entries_.insert_or_assign(std::string(key), version);
    }

   private:
    static constexpr std::size_t kMissBits = 16384;
    static constexpr std::size_t kForgetAfter = 4096;
    std::int64_t data_version_ = std::numeric_limits<std::int64_t>::min();
    std::map<std::string, ModelVersion, std::less<>> entries_;
    std::bitset<kMissBits> recent_misses_;
    std::size_t marked_ = 0;
  };

  // A pooled read connection and its lookups.
  struct Reader {
    std::unique_ptr<SqliteConnection> connection;
    LookupCache lookups;
  };

  // A read connection borrowed from the pool for one call.
  class ReaderLease {
   public:
    explicit ReaderLease(const SqliteDatabase& impl) : impl_(impl) {
      {
        std::lock_guard<std::mutex> lock(impl_.pool_mutex_);
        if (!impl_.idle_readers_.empty()) {
          reader_ = std::move(impl_.idle_readers_.back());
          impl_.idle_readers_.pop_back();
        }
      }
      if (!reader_) reader_ = std::make_unique<Reader>(Reader{impl_.open_reader(), {}});
    }
    ~ReaderLease() {
      std::lock_guard<std::mutex> lock(impl_.pool_mutex_);
      // Bounded so that a burst of threads does not keep its connections open forever.
      if (impl_.idle_readers_.size() < kMaxIdleReaders) {
        try {
          impl_.idle_readers_.push_back(std::move(reader_));
        } catch (...) {
          // Out of memory: the connection simply closes.
        }
      }
    }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;

    SqliteConnection& connection() const { return *reader_->connection; }
    LookupCache& lookups() const { return reader_->lookups; }

   private:
    const SqliteDatabase& impl_;
    std::unique_ptr<Reader> reader_;
  };

  static constexpr std::size_t kMaxIdleReaders = 16;

  // Lowers the write connection to synchronous=NORMAL for one transaction (when `active`).
  // Should restoring FULL fail, `restore_pending` stays set and the next write restores it
  // before it begins, so a durable commit is never made unsynced.
  class SyncOverride {
   public:
    SyncOverride(SqliteConnection& connection, bool active, bool& restore_pending)
        : connection_(connection), active_(active), restore_pending_(restore_pending) {
      if (restore_pending_) {
        connection_.exec("PRAGMA synchronous = FULL");
        restore_pending_ = false;
      }
      if (active_) {
        restore_pending_ = true;
        connection_.exec("PRAGMA synchronous = NORMAL");
      }
    }
    ~SyncOverride() {
      if (active_ && sqlite3_exec(connection_.handle(), "PRAGMA synchronous = FULL", nullptr,
                                  nullptr, nullptr) == SQLITE_OK) {
        restore_pending_ = false;
      }
    }
    SyncOverride(const SyncOverride&) = delete;
    SyncOverride& operator=(const SyncOverride&) = delete;

   private:
    SqliteConnection& connection_;
    bool active_;
    bool& restore_pending_;
  };

  static SqliteOptions clamp(SqliteOptions options) {
    using std::chrono::milliseconds;
    options.busy_timeout = std::clamp(options.busy_timeout, milliseconds(0), milliseconds(INT_MAX));
    options.lock_timeout = std::max(options.lock_timeout, milliseconds(0));
    return options;
  }

  // Steps `probe`, a use of kDataVersion, and returns its connection's PRAGMA data_version; the
  // statement stays active, holding the read transaction, until `probe` ends.
  std::int64_t step_data_version(const StatementUse& probe) const {
    if (!probe->step()) {
      throw StorageError(
          fmt::format("SQLite database '{}': PRAGMA data_version returned no row", path_string_));
    }
    return probe->int64(0);
  }

  // Per-connection settings (none of them writes to the file), and the SQL functions searches
  // use.
  void configure(SqliteConnection& connection) const;

  std::unique_ptr<SqliteConnection> open_reader() const {
    // Read-write but query_only: SQLITE_OPEN_READONLY connections to a WAL database have
    // failure modes of their own (SQLITE_READONLY_RECOVERY, SQLITE_READONLY_CANTINIT when the
    // WAL index must be rebuilt); query_only refuses writes just as well without them.
    auto connection = std::make_unique<SqliteConnection>(path_string_, SQLITE_OPEN_READWRITE);
    configure(*connection);
    connection->exec("PRAGMA query_only = ON");
    return connection;
  }

  // Verifies the file before anything writes to it, then switches it to WAL and creates or
  // upgrades the schema (sqlite_schema.hpp). Order matters: setting the journal mode writes the
  // header of a database, so it must not happen to a file that turned out to be foreign or newer.
  void open_schema();

  // Runs `attempt` until it gets past lock contention. The busy timeout already waits inside
  // SQLite; this outer loop covers what the busy handler does not (SQLITE_LOCKED, busy results
  // SQLite returns without calling the handler, a busy timeout that expired while another
  // process held a long transaction) so that callers never see "database is locked" before
  // lock_timeout. The randomised backoff keeps retrying writers from waking in lock step.
  template <typename Attempt>
  auto with_retry(std::string_view operation, Attempt&& attempt) const
      -> std::invoke_result_t<Attempt&> {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + options_.lock_timeout;
    thread_local std::minstd_rand jitter(std::random_device{}());
    for (int retries = 0;; ++retries) {
      try {
        return attempt();
      } catch (const detail::SqliteBusyError& e) {
        const auto now = Clock::now();
        if (now >= deadline) {
          throw StorageError(fmt::format(
              "SQLite database '{}': {} timed out after {} ms waiting for another connection's "
              "lock ({} retries; last error: {})",
              path_string_, operation, options_.lock_timeout.count(), retries, e.what()));
        }
        const int cap_us = 1000 << std::min(retries, 5);  // 1 ms .. 32 ms
        const auto pause = std::min<Clock::duration>(
            std::chrono::microseconds(std::uniform_int_distribution<int>(100, cap_us)(jitter)),
            deadline - now);
        logger()->debug("SQLite database '{}': {} busy, retry {} in {} us", path_string_, operation,
                        retries + 1,
                        std::chrono::duration_cast<std::chrono::microseconds>(pause).count());
        std::this_thread::sleep_for(pause);
      }
    }
  }

  std::filesystem::path path_;
  std::string path_string_;
  SqliteOptions options_;
  int busy_timeout_ms_ = static_cast<int>(options_.busy_timeout.count());  // for the handler

  std::mutex write_mutex_;
  std::unique_ptr<SqliteConnection> writer_;
  bool restore_full_sync_ = false;  // guarded by write_mutex_; see SyncOverride

  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Reader>> idle_readers_;

 public:
  // PRAGMA data_version of a connection kept for this purpose: it changes whenever anyone
  // (another process, or this store's own write connection) committed since the last call, and
  // only then.
  std::int64_t data_version() const {
    return with_retry("data_version", [&]() {
      std::lock_guard<std::mutex> lock(probe_mutex_);
      if (!probe_) probe_ = open_reader();
      return step_data_version(use(*probe_, kDataVersion));
    });
  }

  // The sequence of the newest event; while no connection committed since the last call, this
  // costs one PRAGMA data_version and no table read.
  std::int64_t latest_event_sequence() const;

  // Decoded version lists by model, all valid for one data_version: listing a model when
  // nothing was committed since costs one PRAGMA and a copy instead of decoding every row's JSON
  // again. Any commit makes the whole cache stale. Bounded by the number of versions held.
  //
  // An entry is stored under the data_version read *before* its rows, which come from the same
  // or a later snapshot, and is only found under that exact value: a caller whose probe returned
  // it saw no commit since that probe, so the rows are as new as anything it could read. Nothing
  // depends on data_version growing (it is 32 bits and may wrap).
  bool list_cache_enabled() const { return options_.list_cache_versions > 0; }

  // An empty list (no such model) is not kept: any number of unknown names could be asked for.
  bool cacheable(std::size_t versions) const {
    return versions > 0 && versions <= options_.list_cache_versions;
  }

  std::shared_ptr<const std::vector<ModelVersion>> cached_list(const std::string& model,
                                                               std::int64_t data_version) const {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (data_version != cache_data_version_) return nullptr;
    auto it = list_cache_.find(model);
    return it == list_cache_.end() ? nullptr : it->second;
  }

  void remember_list(const std::string& model, std::int64_t data_version,
                     std::shared_ptr<const std::vector<ModelVersion>> versions) const {
    if (!cacheable(versions->size())) return;
    std::lock_guard<std::mutex> lock(cache_mutex_);
    // Entries of another data_version are stale, or this one is (it lost a race with a newer
    // listing, which then loses its entries: a miss, never a wrong answer).
    if (data_version != cache_data_version_ ||
        cached_versions_ + versions->size() > options_.list_cache_versions) {
      list_cache_.clear();
      cached_versions_ = 0;
      cache_data_version_ = data_version;
    }
    auto [it, inserted] = list_cache_.try_emplace(model, versions);
    if (!inserted) {
      cached_versions_ -= it->second->size();
      it->second = std::move(versions);
    }
    cached_versions_ += it->second->size();
  }

 private:
  mutable std::mutex probe_mutex_;
  mutable std::unique_ptr<SqliteConnection> probe_;  // opened on first use
  // The newest event sequence, read when probe_'s data_version was probe_data_version_
  // (guarded by probe_mutex_): watchers poll without reading a table while nothing changes.
  mutable std::optional<std::int64_t> probe_data_version_;
  mutable std::int64_t probe_latest_event_ = 0;

  mutable std::mutex cache_mutex_;
  mutable std::int64_t cache_data_version_ = std::numeric_limits<std::int64_t>::min();
  mutable std::map<std::string, std::shared_ptr<const std::vector<ModelVersion>>, std::less<>>
      list_cache_;
  mutable std::size_t cached_versions_ = 0;
};

}  // namespace modelreg::detail

// PostgresMetadataStore beyond the conformance suite: several stores (as separate machines
// would have) on one database, the schema version, writer liveness across processes, and
// errors of the server or the connection.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <modelreg/modelreg.hpp>
#include <modelreg/postgres_metadata_store.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "metadata_store_conformance.hpp"
#include "postgres_test_server.hpp"

namespace modelreg {
namespace {

using testing::make_version;

// The first column of the first row of `sql` on the database of `conninfo`.
std::string query_value(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("cannot connect: ") + PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) == 0) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
  }
  return PQgetvalue(result.get(), 0, 0);
}

TEST(PostgresMetadataStoreTest, StoresOnOneDatabaseShareOneCatalog) {
  MODELREG_POSTGRES_DATABASE_OR_SKIP(conninfo);
  PostgresMetadataStore trainer(conninfo);
  PostgresMetadataStore evaluator(conninfo);
  trainer.create_version(make_version("fraud", "1"));
  trainer.create_version(make_version("fraud", "2"));
  ASSERT_TRUE(
      evaluator.set_stage("fraud", "2", ModelStage::Production, std::nullopt, testing::at(5)));
  evaluator.set_alias("fraud", "champion", "2", std::nullopt, testing::at(6));

  const auto production = trainer.production_version("fraud");
  ASSERT_TRUE(production);
  EXPECT_EQ(production->version, "2");
  EXPECT_EQ(production->aliases, std::vector<std::string>{"champion"});
  EXPECT_EQ(trainer.latest_event_sequence(), evaluator.latest_event_sequence());
  EXPECT_GT(trainer.latest_event_sequence(), 0);
}

TEST(PostgresMetadataStoreTest, TheSchemaVersionIsRecordedAndANewerOneIsRefused) {
  MODELREG_POSTGRES_DATABASE_OR_SKIP(conninfo);
  { PostgresMetadataStore store(conninfo); }
  EXPECT_EQ(query_value(conninfo, "SELECT max(version) FROM modelreg_schema"),
            std::to_string(PostgresMetadataStore::kSchemaVersion));
  { PostgresMetadataStore again(conninfo); }  // opening an up-to-date database changes nothing
  EXPECT_EQ(query_value(conninfo, "SELECT count(*) FROM modelreg_schema"), "1");

  testing::postgres_exec(conninfo, "INSERT INTO modelreg_schema VALUES (99, 'a newer modelreg')");
  try {
    PostgresMetadataStore newer(conninfo);
    FAIL() << "a database of a newer schema was opened";
  } catch (const FailedPreconditionError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
  EXPECT_EQ(query_value(conninfo, "SELECT max(version) FROM modelreg_schema"), "99");
}

TEST(PostgresMetadataStoreTest, TheDatabaseRefusesASecondProductionVersionAndEditedHistory) {
  MODELREG_POSTGRES_DATABASE_OR_SKIP(conninfo);
  PostgresMetadataStore store(conninfo);
  store.create_version(make_version("fraud", "1", ModelStage::Staging));
  store.create_version(make_version("fraud", "2", ModelStage::Staging));
  store.set_stage("fraud", "1", ModelStage::Production, std::nullopt, testing::at(1));
  // Whatever a client does, the constraints hold.
  EXPECT_THROW(testing::postgres_exec(
                   conninfo, "UPDATE versions SET stage = 'production' WHERE version = '2'"),
               std::runtime_error);
  EXPECT_THROW(testing::postgres_exec(conninfo, "DELETE FROM events"), std::runtime_error);
  EXPECT_THROW(testing::postgres_exec(conninfo, "UPDATE events SET actor = 'someone else'"),
               std::runtime_error);
  EXPECT_EQ(store.production_version("fraud")->version, "1");
}

TEST(PostgresMetadataStoreTest, AnUnreachableServerIsAStorageError) {
  // Port 1 on the loopback interface: nothing listens there.
  try {
    PostgresMetadataStore store("host=127.0.0.1 port=1 dbname=modelreg user=modelreg",
                                PostgresOptions{std::chrono::seconds(2)});
    FAIL() << "opened a store without a server";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
  }
}

TEST(PostgresMetadataStoreTest, AWriterIsAliveUntilItsLeaseEndsOrItsProcessDies) {
  MODELREG_POSTGRES_DATABASE_OR_SKIP(conninfo);
  PostgresMetadataStore store(conninfo);
  PostgresMetadataStore other(conninfo);
  std::string owner;
  {
    const auto lease = store.acquire_writer_lease();
    owner = lease->owner();
    EXPECT_TRUE(other.is_writer_alive(owner));
    const auto second = other.acquire_writer_lease();
    EXPECT_NE(second->owner(), owner);
    EXPECT_TRUE(store.is_writer_alive(second->owner()));
  }
  EXPECT_FALSE(other.is_writer_alive(owner));
  EXPECT_TRUE(other.is_writer_alive("an owner of another catalog"));  // cannot tell: alive

  // A writer killed with SIGKILL: the server ends its session, and its lease with it.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  testing::Children children;
  const pid_t child = children.spawn([&] {
    ::close(pipe_fds[0]);
    testing::silence_modelreg_logging();
    PostgresMetadataStore own(conninfo);
    const auto lease = own.acquire_writer_lease();
    const std::string name = lease->owner() + "\n";
    if (::write(pipe_fds[1], name.data(), name.size()) != static_cast<ssize_t>(name.size())) {
      return 1;
    }
    ::pause();
    return 0;
  });
  ::close(pipe_fds[1]);
  std::string child_owner;
  char c = 0;
  while (::read(pipe_fds[0], &c, 1) == 1 && c != '\n') child_owner += c;
  ::close(pipe_fds[0]);
  ASSERT_FALSE(child_owner.empty());
  EXPECT_TRUE(store.is_writer_alive(child_owner));
  ::kill(child, SIGKILL);
  EXPECT_TRUE(testing::killed_by_sigkill(
      children.wait(child, std::chrono::steady_clock::now() + std::chrono::seconds(30))));
  // The server notices the closed socket at once; give it a few seconds on a loaded machine.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (store.is_writer_alive(child_owner) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(store.is_writer_alive(child_owner));
}

TEST(PostgresMetadataStoreTest, ConcurrentPromotionsFromSeveralClientsLeaveOneProduction) {
  MODELREG_POSTGRES_DATABASE_OR_SKIP(conninfo);
  constexpr int kClients = 4;
  constexpr int kRounds = 25;
  {
    PostgresMetadataStore setup(conninfo);
    for (int v = 1; v <= kClients; ++v) {
      setup.create_version(make_version("fraud", std::to_string(v), ModelStage::Staging));
    }
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      PostgresMetadataStore store(conninfo);  // a connection pool of its own, as a machine's
      for (int round = 0; round < kRounds; ++round) {
        try {
          store.set_stage("fraud", std::to_string(c + 1), ModelStage::Production, std::nullopt,
                          testing::at(round));
          store.set_alias("fraud", "champion", std::to_string(c + 1), std::nullopt,
                          testing::at(round));
        } catch (const Error& e) {
          ++failures;
          ADD_FAILURE() << e.what();
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(failures.load(), 0);
  PostgresMetadataStore store(conninfo);
  EXPECT_EQ(store.list_versions("fraud", ModelStage::Production).size(), 1U);
  // The history is complete and in commit order: replaying the stage changes gives the final
  // Production version.
  std::string last_promoted;
  std::int64_t previous = 0;
  for (const auto& event : store.events({})) {
    EXPECT_GT(event.sequence, previous);
    previous = event.sequence;
    if (event.type == EventType::StageChanged && event.new_value == "production") {
      last_promoted = event.version;
    }
  }
  EXPECT_EQ(last_promoted, store.production_version("fraud")->version);
  EXPECT_EQ(store.get_version_by_alias("fraud", "champion")->aliases,
            std::vector<std::string>{"champion"});
}

// What a watch delivered, for a test to wait on.
class Delivered {
 public:
  WatchCallback callback() {
    return [this](const std::vector<ModelEvent>& events) {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& e : events) versions_.push_back(e.version + ":" + e.new_value.value_or(""));
      changed_.notify_all();
    };
  }
  // Waits (up to 30 s) until `count` events arrived; returns them.
  std::vector<std::string> wait_for(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(30), [&] { return versions_.size() >= count; });
    return versions_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> versions_;
};

// The watch polls once an hour: only a notification can deliver within the test's wait.
WatchOptions notified_only() {
  WatchOptions options;
  options.poll_interval = std::chrono::hours(1);
  return options;
}

TEST(PostgresMetadataStoreTest, AWatcherIsNotifiedOfAPromotionMadeThroughAnotherConnection) {
  MODELREG_POSTGRES_DATABASE_OR_SKIP(conninfo);
  auto serving = std::make_shared<PostgresMetadataStore>(conninfo);
  PostgresMetadataStore evaluator(conninfo);
  evaluator.create_version(make_version("fraud", "1", ModelStage::Staging));
  evaluator.create_version(make_version("fraud", "2", ModelStage::Staging));
  ModelRegistry registry(std::make_shared<InMemoryModelStore>(), serving);
  Delivered delivered;
  const Subscription subscription = registry.watch("fraud", delivered.callback(), notified_only());
  evaluator.set_stage("fraud", "1", ModelStage::Production, std::nullopt, testing::at(1));
  evaluator.set_stage("fraud", "2", ModelStage::Production, std::nullopt, testing::at(2));
  // The archiving of 1 and the promotion of 2 are one commit.
  EXPECT_EQ(delivered.wait_for(3),
            (std::vector<std::string>{"1:production", "1:archived", "2:production"}));
}

TEST(PostgresMetadataStoreTest, AWatcherWhoseListenerLostItsConnectionCatchesUp) {
  MODELREG_POSTGRES_DATABASE_OR_SKIP(conninfo);
  auto serving = std::make_shared<PostgresMetadataStore>(conninfo);
  PostgresMetadataStore evaluator(conninfo);
  evaluator.create_version(make_version("fraud", "1", ModelStage::Staging));
  ModelRegistry registry(std::make_shared<InMemoryModelStore>(), serving);
  Delivered delivered;
  const Subscription subscription = registry.watch("fraud", delivered.callback(), notified_only());
  // The server ends the listener's session (as a restart or a network failure would); a
  // promotion is committed while it reconnects, or just after.
  const auto terminated = [&] {
    return query_value(conninfo,
                       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                       "datname = current_database() AND query LIKE 'LISTEN%'");
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (terminated() == "0" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the listener connects
  }
  evaluator.set_stage("fraud", "1", ModelStage::Production, std::nullopt, testing::at(1));
  EXPECT_EQ(delivered.wait_for(1), std::vector<std::string>{"1:production"});
}

}  // namespace
}  // namespace modelreg

// How soon a watcher sees a promotion made by another client of a PostgreSQL catalog: the
// watch woken by LISTEN/NOTIFY (PostgresMetadataStore::notify_on_commit) next to the same watch
// polling every 100 ms (the default poll interval, on the same store with its notifications
// hidden), in the same run:
//
//   scripts/pg-server start /tmp/pg && source /tmp/pg/env
//   build/bench/watch_latency --promotions=200
//
// The server is MODELREG_TEST_POSTGRES_URL (a user that may CREATE DATABASE: the program works
// in a database of its own and drops it), else the tests' (tests/postgres_test_server.hpp). Each
// promotion is timed from just before set_stage on the evaluator's store to the watcher's callback,
// on the same steady clock; prints the median, 90th percentile and maximum of each.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <modelreg/modelreg.hpp>
#include <modelreg/postgres_metadata_store.hpp>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "forwarding_metadata_store.hpp"
#include "postgres_server.hpp"

using Clock = std::chrono::steady_clock;

namespace {

// The same store, but saying it cannot notify: its watchers poll.
class PollingOnly final : public modelreg::testing::ForwardingMetadataStore {
 public:
  using ForwardingMetadataStore::ForwardingMetadataStore;

 private:
  std::unique_ptr<modelreg::CommitNotification> notify_on_commit_impl(
      std::function<void(std::int64_t)>) const override {
    return nullptr;
  }
};

struct Summary {
  double median_ms, p90_ms, max_ms;
};

Summary summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.back()};
}

// Promotes alternately two versions `promotions` times and returns each latency in ms.
std::vector<double> measure(const std::shared_ptr<modelreg::MetadataStore>& watched,
                            modelreg::PostgresMetadataStore& evaluator, int promotions) {
  modelreg::ModelRegistry serving(std::make_shared<modelreg::InMemoryModelStore>(), watched);
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<Clock::time_point> seen;
  const modelreg::Subscription subscription =
      serving.watch("fraud", [&](const std::vector<modelreg::ModelEvent>& events) {
        const auto now = Clock::now();
        std::lock_guard<std::mutex> lock(mutex);
        for (const auto& e : events) {
          if (e.type == modelreg::EventType::StageChanged && e.new_value == "production") {
            seen.push_back(now);
          }
        }
        arrived.notify_all();
      });
  std::vector<double> latencies;
  for (int i = 0; i < promotions; ++i) {
    const auto start = Clock::now();
    evaluator.set_stage("fraud", i % 2 ? "1" : "2", modelreg::ModelStage::Production, std::nullopt,
                        modelreg::Timestamp::clock::now());
    std::unique_lock<std::mutex> lock(mutex);
    if (!arrived.wait_for(lock, std::chrono::seconds(10),
                          [&] { return seen.size() == static_cast<std::size_t>(i + 1); })) {
      throw std::runtime_error("a promotion was not seen within 10 s");
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(seen.back() - start).count());
  }
  return latencies;
}

}  // namespace

int main(int argc, char** argv) {
  int promotions = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--promotions=", 0) == 0) promotions = std::max(10, std::atoi(arg.c_str() + 13));
  }
  std::string why_not;
  const auto found = modelreg::testing::postgres_test_url(why_not);
  if (!found) {
    std::fprintf(stderr, "watch_latency: %s\n", why_not.c_str());
    return 2;
  }
  const std::string server = *found;
  const std::string name = "modelreg_watch_bench_" + std::to_string(::getpid());
  try {
    modelreg::testing::postgres_exec(server, "CREATE DATABASE " + name);
    const std::string url =
        modelreg::testing::postgres_url(modelreg::testing::with_database(server, name));
    {
      modelreg::PostgresMetadataStore evaluator(url);
      for (const char* v : {"1", "2"}) {
        modelreg::ModelVersion version;
        version.model_name = "fraud";
        version.version = v;
        version.stage = modelreg::ModelStage::Staging;
        evaluator.create_version(version);
      }
      auto watched = std::make_shared<modelreg::PostgresMetadataStore>(url);
      const Summary notified = summarize(measure(watched, evaluator, promotions));
      const Summary polled =
          summarize(measure(std::make_shared<PollingOnly>(watched), evaluator, promotions));
      std::printf("promotion seen by a watcher of another connection, %d promotions each\n",
                  promotions);
      std::printf("%-28s %10s %10s %10s\n", "", "median ms", "p90 ms", "max ms");
      std::printf("%-28s %10.2f %10.2f %10.2f\n", "polling every 100 ms", polled.median_ms,
                  polled.p90_ms, polled.max_ms);
      std::printf("%-28s %10.2f %10.2f %10.2f\n", "LISTEN/NOTIFY (modelreg)", notified.median_ms,
                  notified.p90_ms, notified.max_ms);
      std::printf("median ratio polling / notified: %.1f\n", polled.median_ms / notified.median_ms);
    }
    modelreg::testing::postgres_exec(server, "DROP DATABASE " + name + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "watch_latency: %s\n", e.what());
    try {
      modelreg::testing::postgres_exec(server, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (const std::exception&) {
      std::fprintf(stderr, "watch_latency: could not drop database %s\n", name.c_str());
    }
    return 1;
  }
  return 0;
}

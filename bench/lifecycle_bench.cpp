// The lifecycle operations of ModelRegistry on a SQLite registry whose model has N versions:
// alias lookup, URI resolution, selective searches, history, and the latency of a watch seeing
// a promotion made by another process; beside each, SQLite's own cost for the same statement on
// the same database file through the raw C API (the baselines), and get_production_model, the
// figure alias and URI resolution are held to.
//
//   lifecycle_bench [--smoke | --full] [--dir=PATH] [Google Benchmark flags]
//
// Names are "<operation>/<N>" (Relaxed durability: these are reads, and the watch measures
// polling, not fsync):
//   get_production            get_production_model(name)
//   get_by_alias              get_version_by_alias(name, "champion")
//   resolve_alias, resolve_stage, resolve_version    resolve("models:/name@champion" | /Production
//   | /<v>) search_tag                search_versions: name = ... AND tags.cohort = '<one of N/10>'
//   (10 hits) search_metric             search_versions: name = ... AND metrics.auc_roc > 0.999 (10
//   hits) search_filter_string      search_tag, given as a filter string (parser included)
//   history_version           history(name, version): the events of one version
//   events_page               events_after(seq, 100) from the middle of the log
//   watch_latency/<poll ms>   promotion committed by another process -> callback (manual time;
//                             counter max_ms); N is not relevant to it and is fixed
//   sqlite_raw/<op>/<N>       the same statement run directly on the registry's database file

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_mode.hpp"
#include "modelreg/logging.hpp"
#include "modelreg/model_registry.hpp"
#include "scratch_files.hpp"

namespace {

namespace fs = std::filesystem;
using modelreg::ModelRegistry;
using modelreg::ModelStage;
using modelreg::bench::BenchMode;
using modelreg::bench::ScratchDir;

constexpr const char* kModel = "bench-model";
constexpr int kHits = 10;  // versions a selective filter matches, whatever N

BenchMode g_mode;
std::unique_ptr<ScratchDir> g_scratch;

// CLOCK_MONOTONIC is one clock for every process of the machine: the watch latency compares a
// child's reading with the parent's.
std::int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// Version i of N: 3 MLflow-like tags plus a "cohort" tag shared by N / kHits versions, and an
// auc_roc below 0.999 except for kHits versions spread over the model.
modelreg::RegisterOptions options_for(std::size_t i, std::size_t n) {
  modelreg::RegisterOptions options;
  options.framework = modelreg::ModelFramework::PyTorch;
  options.tags = {{"team", "vision-platform"},
                  {"dataset", "imagenet-2012-train"},
                  {"git_commit", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"},
                  {"cohort", "c" + std::to_string(i % (n / kHits))}};
  const bool top = i % (n / kHits) == 7;  // exactly kHits of them
  options.metrics.auc_roc = top ? 0.9995 : 0.5 + 0.4 * static_cast<double>(i % 997) / 997.0;
  options.metrics.accuracy = 0.9;
  options.description = "ResNet-50 fine-tuned on ImageNet-2012 by the nightly sweep.";
  return options;
}

struct Population {
  fs::path dir;
  std::unique_ptr<ModelRegistry> registry;
  std::int64_t middle_event = 0;
};

std::map<std::size_t, Population> g_populations;

Population& population(std::size_t n) {
  auto it = g_populations.find(n);
  if (it != g_populations.end()) return it->second;
  Population p;
  p.dir = g_scratch->path() / ("lifecycle-" + std::to_string(n));
  modelreg::OpenOptions options;
  options.durability = modelreg::Durability::Relaxed;
  p.registry = std::make_unique<ModelRegistry>(ModelRegistry::open(p.dir, options));
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 1; i <= n; ++i) {
    p.registry->register_version(kModel, std::to_string(i), options_for(i, n));
  }
  p.registry->transition_stage(kModel, std::to_string(n / 2 + 1), ModelStage::Production);
  p.registry->set_alias(kModel, "champion", std::to_string(n / 3 + 1));
  p.middle_event = p.registry->latest_event_sequence() / 2;
  std::fprintf(stderr, "# populated %zu versions in %.2f s (%s)\n", n,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
               p.dir.c_str());
  return g_populations.emplace(n, std::move(p)).first->second;
}

ModelRegistry& registry(const benchmark::State& state) {
  return *population(static_cast<std::size_t>(state.range(0))).registry;
}

template <class Call>
void run(benchmark::State& state, Call call) {
  for (auto _ : state) {
    if (!call()) {
      state.SkipWithError("the operation did not return what was registered");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_GetProduction(benchmark::State& state) {
  auto& r = registry(state);
  run(state, [&] { return r.get_production_model(kModel).has_value(); });
}

void BM_GetByAlias(benchmark::State& state) {
  auto& r = registry(state);
  run(state, [&] { return r.get_version_by_alias(kModel, "champion").has_value(); });
}

void BM_Resolve(benchmark::State& state, const char* suffix) {
  auto& r = registry(state);
  const std::string uri = std::string("models:/") + kModel + suffix;
  run(state, [&] { return r.resolve(uri).has_value(); });
}

modelreg::VersionQuery tag_query(std::size_t n) {
  modelreg::VersionQuery query;
  query.conditions = {modelreg::where::model_name(modelreg::CompareOp::Equal, kModel),
                      modelreg::where::tag("cohort", modelreg::CompareOp::Equal,
                                           "c" + std::to_string(7 % (n / kHits)))};
  return query;
}

void BM_SearchTag(benchmark::State& state) {
  auto& r = registry(state);
  const auto query = tag_query(static_cast<std::size_t>(state.range(0)));
  run(state, [&] { return r.search_versions(query).versions.size() == kHits; });
}

void BM_SearchMetric(benchmark::State& state) {
  auto& r = registry(state);
  modelreg::VersionQuery query;
  query.conditions = {modelreg::where::model_name(modelreg::CompareOp::Equal, kModel),
                      modelreg::where::metric("auc_roc", modelreg::CompareOp::Greater, 0.999)};
  run(state, [&] { return r.search_versions(query).versions.size() == kHits; });
}

void BM_SearchFilterString(benchmark::State& state) {
  auto& r = registry(state);
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::string filter = std::string("name = '") + kModel + "' AND tags.cohort = 'c" +
                             std::to_string(7 % (n / kHits)) + "'";
  run(state, [&] { return r.search_versions(filter).versions.size() == kHits; });
}

void BM_HistoryVersion(benchmark::State& state) {
  auto& r = registry(state);
  const std::string version = std::to_string(static_cast<std::size_t>(state.range(0)) / 2 + 1);
  run(state, [&] { return !r.history(kModel, version).empty(); });
}

void BM_EventsPage(benchmark::State& state) {
  Population& p = population(static_cast<std::size_t>(state.range(0)));
  const auto expected = static_cast<std::size_t>(
      std::min<std::int64_t>(100, p.registry->latest_event_sequence() - p.middle_event));
  run(state, [&] { return p.registry->events_after(p.middle_event, 100).size() == expected; });
}

// ---------------------------------------------------------------------------------------------
// Baselines: the statement behind each operation, run on the same database file through the
// raw C API, every column read as text or integer (what decoding starts from).

class RawDb {
 public:
  explicit RawDb(const fs::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path.string());
    }
  }
  ~RawDb() {
    sqlite3_finalize(statement_);
    sqlite3_close(db_);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void prepare(const char* sql) {
    if (sqlite3_prepare_v2(db_, sql, -1, &statement_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("prepare: ") + sqlite3_errmsg(db_));
    }
  }
  sqlite3_stmt* statement() const { return statement_; }

  // Steps through every row, copying each column; returns the number of rows.
  std::size_t read_all() {
    std::size_t rows = 0;
    while (sqlite3_step(statement_) == SQLITE_ROW) {
      ++rows;
      for (int c = 0; c < sqlite3_column_count(statement_); ++c) {
        if (sqlite3_column_type(statement_, c) == SQLITE_INTEGER) {
          benchmark::DoNotOptimize(sqlite3_column_int64(statement_, c));
        } else {
          const auto* text = sqlite3_column_text(statement_, c);
          std::string copy = text != nullptr ? reinterpret_cast<const char*>(text) : "";
          benchmark::DoNotOptimize(copy);
        }
      }
    }
    sqlite3_reset(statement_);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* statement_ = nullptr;
};

#define RAW_VERSION_COLUMNS                                                     \
  "m.name, v.version, v.stage, v.framework, v.artifact_path, v.artifact_size, " \
  "v.artifact_sha256, v.metrics, v.parameters, v.tags, v.description, "         \
  "v.created_at, v.updated_at, v.aliases"

// Runs `sql` with `bind` applied before each execution; `expected` rows each time.
template <class Bind>
void raw(benchmark::State& state, const char* sql, std::size_t expected, Bind bind) {
  RawDb db(population(static_cast<std::size_t>(state.range(0))).dir / "registry.db");
  db.prepare(sql);
  for (auto _ : state) {
    bind(db.statement());
    if (db.read_all() != expected) {
      state.SkipWithError("unexpected number of rows");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void bind_text(sqlite3_stmt* statement, int index, const std::string& text) {
  sqlite3_bind_text(statement, index, text.c_str(), -1, SQLITE_TRANSIENT);
}

void BM_RawProduction(benchmark::State& state) {
  raw(state,
      "SELECT " RAW_VERSION_COLUMNS
      " FROM models m JOIN versions v ON v.model_id = m.id WHERE m.name = ?1 AND "
      "v.stage = 'production' AND v.state = 'visible'",
      1, [](sqlite3_stmt* s) { bind_text(s, 1, kModel); });
}

void BM_RawAlias(benchmark::State& state) {
  raw(state,
      "SELECT " RAW_VERSION_COLUMNS
      " FROM models m JOIN aliases a ON a.model_id = m.id JOIN versions v ON v.id = a.version_id "
      "WHERE m.name = ?1 AND a.alias = ?2 AND v.state = 'visible'",
      1, [](sqlite3_stmt* s) {
        bind_text(s, 1, kModel);
        bind_text(s, 2, "champion");
      });
}

void BM_RawSearchTag(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::string cohort = "c" + std::to_string(7 % (n / kHits));
  raw(state,
      "SELECT " RAW_VERSION_COLUMNS
      " FROM version_tags d JOIN versions v ON v.id = d.version_id JOIN models m ON m.id = "
      "v.model_id WHERE d.key = 'cohort' AND d.value = ?2 AND m.name = ?1 AND v.state = "
      "'visible' ORDER BY v.created_at, v.reg",
      kHits, [&](sqlite3_stmt* s) {
        bind_text(s, 1, kModel);
        bind_text(s, 2, cohort);
      });
}

void BM_RawSearchMetric(benchmark::State& state) {
  raw(state,
      "SELECT " RAW_VERSION_COLUMNS
      " FROM version_metrics d JOIN versions v ON v.id = d.version_id JOIN models m ON m.id = "
      "v.model_id WHERE d.name = 'auc_roc' AND d.value > 0.999 AND m.name = ?1 AND v.state = "
      "'visible' ORDER BY v.created_at, v.reg",
      kHits, [](sqlite3_stmt* s) { bind_text(s, 1, kModel); });
}

void BM_RawHistoryVersion(benchmark::State& state) {
  const std::string version = std::to_string(static_cast<std::size_t>(state.range(0)) / 2 + 1);
  RawDb probe(population(static_cast<std::size_t>(state.range(0))).dir / "registry.db");
  probe.prepare("SELECT count(*) FROM events WHERE model_name = ?1 AND version = ?2");
  bind_text(probe.statement(), 1, kModel);
  bind_text(probe.statement(), 2, version);
  sqlite3_step(probe.statement());
  const auto expected = static_cast<std::size_t>(sqlite3_column_int64(probe.statement(), 0));
  raw(state,
      "SELECT seq, time, type, model_name, version, key, old_value, new_value, actor, reason "
      "FROM events WHERE model_name = ?1 AND seq > 0 AND version = ?2 ORDER BY seq",
      expected, [&](sqlite3_stmt* s) {
        bind_text(s, 1, kModel);
        bind_text(s, 2, version);
      });
}

#undef RAW_VERSION_COLUMNS

// ---------------------------------------------------------------------------------------------
// Watch latency: a child process promotes on request and reports the CLOCK_MONOTONIC time just
// before its transition_stage call; the parent's callback notes when it saw the promotion.

int run_promoter(const char* dir, int requests_fd, int replies_fd) {
  try {
    modelreg::OpenOptions options;
    options.durability = modelreg::Durability::Relaxed;
    ModelRegistry r = ModelRegistry::open(dir, options);
    std::uint32_t version = 0;
    while (::read(requests_fd, &version, sizeof version) == sizeof version) {
      const std::int64_t before = monotonic_ns();
      r.transition_stage(kModel, std::to_string(version), ModelStage::Production);
      if (::write(replies_fd, &before, sizeof before) != sizeof before) return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "promoter: %s\n", e.what());
    return 1;
  }
  return 0;
}

void BM_WatchLatency(benchmark::State& state) {
  const auto poll = std::chrono::milliseconds(state.range(0));
  constexpr std::uint32_t kVersions = 100;
  Population& p = population(kVersions);
  int requests[2];
  int replies[2];
  if (::pipe(requests) != 0 || ::pipe(replies) != 0) {
    state.SkipWithError("pipe failed");
    return;
  }
  ::fcntl(requests[1], F_SETFD, FD_CLOEXEC);
  ::fcntl(replies[0], F_SETFD, FD_CLOEXEC);
  std::vector<std::string> args = {"/proc/self/exe", "--promoter", p.dir.string(),
                                   std::to_string(requests[0]), std::to_string(replies[1])};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(requests[0]);
  ::close(replies[1]);

  std::mutex mutex;
  std::condition_variable seen_cv;
  std::map<std::string, std::int64_t> seen;  // version -> when its promotion was seen
  modelreg::WatchOptions options;
  options.poll_interval = poll;
  auto subscription = p.registry->watch(
      kModel,
      [&](const std::vector<modelreg::ModelEvent>& events) {
        const std::int64_t now = monotonic_ns();
        std::lock_guard<std::mutex> lock(mutex);
        for (const auto& e : events) {
          if (e.type == modelreg::EventType::StageChanged && e.new_value == "production") {
            seen.emplace(e.version, now);
          }
        }
        seen_cv.notify_all();
      },
      options);

  std::mt19937 random(42);
  double max_ms = 0;
  std::uint32_t version = 0;
  for (auto _ : state) {
    version = version % kVersions + 1;
    if (p.registry->get_production_model(kModel)->version == std::to_string(version)) {
      version = version % kVersions + 1;
    }
    // A random phase against the watcher's polls, so that the latencies sample the interval.
    std::this_thread::sleep_for(std::chrono::microseconds(
        std::uniform_int_distribution<int>(0, static_cast<int>(poll.count()) * 1000)(random)));
    std::int64_t before = 0;
    if (::write(requests[1], &version, sizeof version) != sizeof version ||
        ::read(replies[0], &before, sizeof before) != sizeof before) {
      state.SkipWithError("the promoting process failed");
      break;
    }
    std::unique_lock<std::mutex> lock(mutex);
    const std::string key = std::to_string(version);
    if (!seen_cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen.count(key) != 0; })) {
      state.SkipWithError("the watch did not see a promotion within 10 s");
      break;
    }
    const double latency = static_cast<double>(seen[key] - before) / 1e9;
    seen.erase(key);
    max_ms = std::max(max_ms, latency * 1e3);
    state.SetIterationTime(latency);
  }
  subscription.cancel();
  ::close(requests[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(replies[0]);
  state.counters["max_ms"] = max_ms;
  state.counters["poll_ms"] = static_cast<double>(poll.count());
  state.SetItemsProcessed(state.iterations());
}

void register_benchmarks(const BenchMode& mode) {
  std::vector<std::int64_t> sizes{1000, 10000, 100000};
  if (mode.smoke()) sizes = {100};
  if (mode.mode == modelreg::bench::Mode::Default) sizes = {1000, 10000};
  auto with_sizes = [&](benchmark::internal::Benchmark* b) {
    for (const auto n : sizes) b->Arg(n);
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
  };
  with_sizes(benchmark::RegisterBenchmark("get_production", BM_GetProduction));
  with_sizes(benchmark::RegisterBenchmark("get_by_alias", BM_GetByAlias));
  with_sizes(benchmark::RegisterBenchmark("resolve_alias", BM_Resolve, "@champion"));
  with_sizes(benchmark::RegisterBenchmark("resolve_stage", BM_Resolve, "/Production"));
  with_sizes(benchmark::RegisterBenchmark("resolve_version", BM_Resolve, "/42"));
  with_sizes(benchmark::RegisterBenchmark("search_tag", BM_SearchTag));
  with_sizes(benchmark::RegisterBenchmark("search_metric", BM_SearchMetric));
  with_sizes(benchmark::RegisterBenchmark("search_filter_string", BM_SearchFilterString));
  with_sizes(benchmark::RegisterBenchmark("history_version", BM_HistoryVersion));
  with_sizes(benchmark::RegisterBenchmark("events_page", BM_EventsPage));
  with_sizes(benchmark::RegisterBenchmark("sqlite_raw/production", BM_RawProduction));
  with_sizes(benchmark::RegisterBenchmark("sqlite_raw/alias", BM_RawAlias));
  with_sizes(benchmark::RegisterBenchmark("sqlite_raw/search_tag", BM_RawSearchTag));
  with_sizes(benchmark::RegisterBenchmark("sqlite_raw/search_metric", BM_RawSearchMetric));
  with_sizes(benchmark::RegisterBenchmark("sqlite_raw/history_version", BM_RawHistoryVersion));
  for (const int poll_ms : {20, 100}) {
    benchmark::RegisterBenchmark("watch_latency", BM_WatchLatency)
        ->Arg(poll_ms)
        ->Iterations(mode.smoke() ? 3 : 30)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--promoter") {
    return run_promoter(argv[2], std::stoi(argv[3]), std::stoi(argv[4]));
  }
  g_mode = modelreg::bench::parse_bench_mode(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  modelreg::logger()->set_level(spdlog::level::warn);
  int status = 0;
  try {
    g_scratch = std::make_unique<ScratchDir>(g_mode.scratch_parent, "modelreg-lifecycle-bench-");
    benchmark::AddCustomContext("modelreg_bench_mode", g_mode.name());
    register_benchmarks(g_mode);
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lifecycle_bench: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  g_populations.clear();
  g_scratch.reset();
  return status;
}

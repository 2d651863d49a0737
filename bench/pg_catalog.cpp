// The MLflow Model Registry workload against the PostgreSQL catalog, next to raw libpq sending
// the same statements in the same run:
//
//   scripts/pg-server start /tmp/pg && source /tmp/pg/env
//   build/bench/pg_catalog --repetitions=5
//   build/bench/pg_catalog --smoke       # a fifth of the workload, once (CTest's
//   bench_smoke_pg_catalog)
//
// The workload (that of bench/compare's MLflow table): register 1,000 versions of one model,
// each with 3 tags and a description; 200 promotions to Production (each archiving the previous
// one); 2,000 Production lookups; 100 searches each returning all 1,000 versions; 4 processes
// registering 250 versions each into one model at once.
//
// modelreg: ModelRegistry::open("postgresql://...", "memory:"), through its public API.
// raw libpq: one connection per process, the statements modelreg sends for each operation (the
// same text, from src/sql/sql_statements.hpp, prepared once, text parameters, each operation one
// transaction taking the same advisory lock), every value of every row copied out of the result;
// no validation, no decoding into ModelVersion, no pool, no retries. What is left between the
// two is modelreg's own cost. The server is MODELREG_TEST_POSTGRES_URL (a user that may CREATE
// DATABASE): in each repetition each side works in fresh databases of its own, dropped
// afterwards, and the two sides take turns slice by slice through every phase, so that a slow
// moment of this shared machine falls on both. Prints each repetition, the medians over the
// repetitions and the ratio of modelreg's time to raw libpq's (goal: at most 1.5).

#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <modelreg/modelreg.hpp>
#include <modelreg/postgres_metadata_store.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "postgres_server.hpp"
#include "sql/sql_statements.hpp"

using Clock = std::chrono::steady_clock;
namespace sql = modelreg::detail;

namespace {

constexpr const char* kModel = "fraud";
constexpr int kProcesses = 4;

// The workload's size: MLflow's, or a fifth of it with --smoke (what CI runs).
struct Workload {
  int versions = 1000;
  int promotions = 200;
  int lookups = 2000;
  int searches = 100;
  int per_process = 250;
};
Workload workload;

// The search modelreg runs for search_versions("name = 'fraud'", {}, 1000): a page of 1,000
// and one more row to know whether another page follows.
constexpr const char* kSearchSql =
    "SELECT " MODELREG_VERSION_COLUMNS
    ", v.reg, v.created_at FROM models m JOIN versions v ON v.model_id = m.id "
    "WHERE v.state = 'visible' AND m.name = $1 ORDER BY v.created_at ASC, v.reg ASC LIMIT $2";

std::int64_t now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------------------------
// raw libpq

using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;
using Values = std::vector<std::optional<std::string>>;  // nullopt: NULL

class RawClient {
 public:
  explicit RawClient(const std::string& conninfo)
      : conn_(PQconnectdb(conninfo.c_str()), &PQfinish) {
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      throw std::runtime_error(std::string("connect: ") + PQerrorMessage(conn_.get()));
    }
    exec("SET client_min_messages = warning");
  }

  void exec(const char* text) {
    const Result result(PQexec(conn_.get(), text), &PQclear);
    check(result, text);
  }

  // Runs a statement of sql_statements.hpp (prepared on first use) and returns its result.
  Result run(sql::Sql statement, const Values& values) {
    return run_named(static_cast<int>(statement), postgres_text(sql::kSqlText[statement]), values);
  }
  Result run_search(const Values& values) { return run_named(1000, kSearchSql, values); }

 private:
  // ?N parameters as PostgreSQL's $N, as modelreg's connection writes them.
  static std::string postgres_text(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      out += text[i] == '?' ? '$' : text[i];
    }
    return out;
  }

  void check(const Result& result, const std::string& what) {
    const auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error(what + ": " + PQerrorMessage(conn_.get()));
    }
  }

  Result run_named(int id, const std::string& text, const Values& values) {
    const std::string name = "raw_" + std::to_string(id);
    auto& prepared = prepared_[id];
    if (!prepared) {
      check(Result(PQprepare(conn_.get(), name.c_str(), text.c_str(), 0, nullptr), &PQclear), text);
      prepared = true;
    }
    std::vector<const char*> params;
    params.reserve(values.size());
    for (const auto& v : values) params.push_back(v ? v->c_str() : nullptr);
    Result result(PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(params.size()),
                                 params.data(), nullptr, nullptr, 0),
                  &PQclear);
    check(result, text);
    return result;
  }

  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
  std::map<int, bool> prepared_;
};

// Every value of every row, copied out as a client keeping the rows would; returns the rows.
std::size_t copy_rows(const Result& result, std::vector<std::vector<std::string>>& rows) {
  const int n = PQntuples(result.get());
  const int columns = PQnfields(result.get());
  rows.assign(static_cast<std::size_t>(n), {});
  for (int r = 0; r < n; ++r) {
    auto& row = rows[static_cast<std::size_t>(r)];
    row.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      row.emplace_back(PQgetvalue(result.get(), r, c),
                       static_cast<std::size_t>(PQgetlength(result.get(), r, c)));
    }
  }
  return rows.size();
}

std::string value(const Result& result, int column) {
  return PQgetvalue(result.get(), 0, column);
}

constexpr const char* kBeginWrite = "BEGIN; SELECT pg_advisory_xact_lock(1297237319, 1)";

std::string event(RawClient& c, const std::string& time, const char* type,
                  const std::string& version, const std::string& old_value,
                  const std::string& new_value) {
  return value(c.run(sql::kInsertEvent,
                     {time, type, kModel, version, "", old_value, new_value, "bench@host", ""}),
               0);
}

// register_version(kModel, version, {description, 3 tags}): one transaction.
void raw_register(RawClient& c, const std::string& version) {
  const std::string time = std::to_string(now_nanos());
  c.exec(kBeginWrite);
  std::string model_id;
  {
    const Result model = c.run(sql::kFindModel, {kModel});
    if (PQntuples(model.get()) == 1) {
      model_id = value(model, 0);
      if (PQntuples(c.run(sql::kFindKey, {kModel, version}).get()) != 0) {
        throw std::runtime_error("version exists");
      }
    } else {
      model_id = value(c.run(sql::kInsertModel, {kModel, time, "visible"}), 0);
    }
  }
  const Result place = c.run(sql::kLastPlace, {model_id});
  const std::string seq =
      PQntuples(place.get()) == 1 ? std::to_string(std::stoll(value(place, 0)) + 1) : "1";
  const std::string reg = event(c, time, "version_registered", version, "", "development");
  const char* tags = R"({"dataset":"2026-11","owner":"risk-team","team":"risk"})";
  const std::string id = value(
      c.run(sql::kInsertVersion, {model_id, version, seq, "visible", std::nullopt, std::nullopt,
                                  "development", "custom", "", "0", "", "{}", "{}", tags,
                                  "fraud model trained on the November data", time, time, reg}),
      0);
  for (const auto& [key, tag] : std::map<std::string, std::string>{
           {"dataset", "2026-11"}, {"owner", "risk-team"}, {"team", "risk"}}) {
    c.run(sql::kInsertVersionTag, {id, key, tag});
  }
  c.exec("COMMIT");
}

// transition_stage(kModel, version, Production): archives the previous one, one transaction.
void raw_promote(RawClient& c, const std::string& version) {
  const std::string time = std::to_string(now_nanos());
  c.exec(kBeginWrite);
  const Result key = c.run(sql::kFindKeyWithVersion, {kModel, version});
  const std::string id = value(key, 0);
  const std::string old_stage = value(key, 4);
  const Result others = c.run(sql::kOtherProduction, {value(key, 1), id});
  for (int r = 0; r < PQntuples(others.get()); ++r) {
    c.run(sql::kSetStage, {PQgetvalue(others.get(), r, 0), "archived", time});
    event(c, time, "stage_changed", PQgetvalue(others.get(), r, 1), "production", "archived");
  }
  c.run(sql::kSetStage, {id, "production", time});
  event(c, time, "stage_changed", version, old_stage, "production");
  c.exec("COMMIT");
}

// ---------------------------------------------------------------------------------------------
// The workload, on either side

struct Side {
  std::function<void(const std::string&)> register_version;
  std::function<void(const std::string&)> promote;
  std::function<std::size_t()> production;  // rows
  std::function<std::size_t()> search;      // rows
};

Side raw_side(const std::string& url) {
  auto client = std::make_shared<RawClient>(url);
  auto rows = std::make_shared<std::vector<std::vector<std::string>>>();
  return {[client](const std::string& v) { raw_register(*client, v); },
          [client](const std::string& v) { raw_promote(*client, v); },
          [client, rows] { return copy_rows(client->run(sql::kProduction, {kModel}), *rows); },
          [client, rows] {
            return copy_rows(client->run_search({kModel, std::to_string(workload.versions + 1)}),
                             *rows);
          }};
}

Side modelreg_side(const std::string& url) {
  auto registry =
      std::make_shared<modelreg::ModelRegistry>(modelreg::ModelRegistry::open(url, "memory:", {}));
  registry->set_default_actor("bench@host");
  return {
      [registry](const std::string& v) {
        modelreg::RegisterOptions options;
        options.description = "fraud model trained on the November data";
        options.tags = {{"dataset", "2026-11"}, {"owner", "risk-team"}, {"team", "risk"}};
        registry->register_version(kModel, v, options);
      },
      [registry](const std::string& v) {
        registry->transition_stage(kModel, v, modelreg::ModelStage::Production);
      },
      [registry]() -> std::size_t { return registry->get_production_model(kModel) ? 1 : 0; },
      [registry] {
        return registry->search_versions("name = 'fraud'", {}, workload.versions).versions.size();
      }};
}

using SideFactory = std::function<Side(const std::string&)>;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// kProcesses processes, each with a side of its own, register `count` versions each (from
// `first` on) once all are connected; returns the wall time from the start signal to the last
// one's end (connecting is not timed).
double concurrent_registrations(const SideFactory& make, const std::string& url, int first,
                                int count) {
  int ready[2], go[2];
  if (pipe(ready) != 0 || pipe(go) != 0) throw std::runtime_error("pipe failed");
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      int status = 0;
      try {
        Side side = make(url);
        char byte = 1;
        if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 1) _exit(3);
        for (int i = first; i < first + count; ++i) {
          side.register_version("p" + std::to_string(p) + "-" + std::to_string(i));
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "pg_catalog: process %d: %s\n", p, e.what());
        status = 1;
      }
      _exit(status);
    }
    children.push_back(pid);
  }
  char byte = 0;
  for (int p = 0; p < kProcesses; ++p) {
    if (read(ready[0], &byte, 1) != 1) throw std::runtime_error("a process did not start");
  }
  const auto start = Clock::now();
  const std::string signal(kProcesses, '\1');
  if (write(go[1], signal.data(), signal.size()) != static_cast<ssize_t>(signal.size())) {
    throw std::runtime_error("could not start the processes");
  }
  bool failed = false;
  for (const pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    failed = failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  const double elapsed = seconds_since(start);
  for (int fd : {ready[0], ready[1], go[0], go[1]}) close(fd);
  if (failed) throw std::runtime_error("a registering process failed");
  return elapsed;
}

enum Phase { kRegister, kPromote, kProduction, kSearch, kConcurrent, kPhaseCount };
std::string phase_name(int phase) {
  char text[80];
  switch (phase) {
    case kRegister:
      std::snprintf(text, sizeof text, "register %d versions (3 tags + description)",
                    workload.versions);
      break;
    case kPromote:
      std::snprintf(text, sizeof text, "%d promotions to Production", workload.promotions);
      break;
    case kProduction:
      std::snprintf(text, sizeof text, "%d Production lookups", workload.lookups);
      break;
    case kSearch:
      std::snprintf(text, sizeof text, "%d searches returning %d versions", workload.searches,
                    workload.versions);
      break;
    default:
      std::snprintf(text, sizeof text, "%d processes x %d registrations", kProcesses,
                    workload.per_process);
  }
  return text;
}

int phase_operations(int phase) {
  const int operations[kPhaseCount] = {workload.versions, workload.promotions, workload.lookups,
                                       workload.searches, kProcesses * workload.per_process};
  return operations[phase];
}

// Each phase runs in kSlices slices, the two sides taking turns slice by slice (who goes first
// alternating), so that the machine's slow moments fall on both alike.
constexpr int kSlices = 10;

using Seconds = std::array<std::array<double, kPhaseCount>, 2>;  // [side][phase]

// One repetition of the whole workload on both sides; side s works in databases[s] (and
// concurrent_databases[s] for the processes). Returns each side's seconds in each phase.
Seconds run_repetition(int repetition, const std::array<SideFactory, 2>& make,
                       const std::array<std::string, 2>& databases,
                       const std::array<std::string, 2>& concurrent_databases) {
  Seconds seconds{};
  std::array<Side, 2> side = {make[0](databases[0]), make[1](databases[1])};
  const auto interleave = [&](Phase phase, const std::function<double(int, int)>& slice) {
    for (int c = 0; c < kSlices; ++c) {
      for (int k = 0; k < 2; ++k) {
        const int s = (repetition + c + k) % 2;
        seconds[static_cast<std::size_t>(s)][phase] += slice(s, c);
      }
    }
  };
  // Runs op(side, i) for the slice's share of n operations; returns the seconds it took.
  const auto timed = [&](int n, const std::function<void(Side&, int)>& op) {
    return [&side, n, op](int s, int c) {
      const int per_slice = n / kSlices;
      const auto start = Clock::now();
      for (int i = c * per_slice; i < (c + 1) * per_slice; ++i) {
        op(side[static_cast<std::size_t>(s)], i);
      }
      return seconds_since(start);
    };
  };
  interleave(kRegister, timed(workload.versions,
                              [](Side& x, int i) { x.register_version(std::to_string(i + 1)); }));
  interleave(kPromote, timed(workload.promotions, [](Side& x, int i) {
               x.promote(std::to_string(workload.versions - i));
             }));
  std::array<std::size_t, 2> rows{};
  interleave(kProduction, timed(workload.lookups, [&rows, &side](Side& x, int) {
               rows[&x == &side[0] ? 0 : 1] += x.production();
             }));
  const auto lookups = static_cast<std::size_t>(workload.lookups);
  if (rows[0] != lookups || rows[1] != lookups) {
    throw std::runtime_error("a lookup found no Production version");
  }
  rows = {};
  interleave(kSearch, timed(workload.searches, [&rows, &side](Side& x, int) {
               rows[&x == &side[0] ? 0 : 1] += x.search();
             }));
  for (const std::size_t n : rows) {
    if (n != static_cast<std::size_t>(workload.searches) * workload.versions) {
      throw std::runtime_error("a search did not return every version");
    }
  }
  interleave(kConcurrent, [&](int s, int c) {
    const int per_slice = workload.per_process / kSlices;
    return concurrent_registrations(make[static_cast<std::size_t>(s)],
                                    concurrent_databases[static_cast<std::size_t>(s)],
                                    c * per_slice, per_slice);
  });
  return seconds;
}

// ---------------------------------------------------------------------------------------------
// Databases

class ScratchDatabase {
 public:
  ScratchDatabase(std::string server, const std::string& name)
      : server_(std::move(server)), name_(name) {
    modelreg::testing::postgres_exec(server_, "CREATE DATABASE " + name_);
    // The schema, made by modelreg itself, outside the timed part.
    modelreg::PostgresMetadataStore schema(url());
  }
  ~ScratchDatabase() {
    try {
      modelreg::testing::postgres_exec(server_,
                                       "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "pg_catalog: could not drop database %s: %s\n", name_.c_str(), e.what());
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  // A postgresql:// URL: what ModelRegistry::open takes.
  std::string url() const {
    return modelreg::testing::postgres_url(modelreg::testing::with_database(server_, name_));
  }

 private:
  std::string server_, name_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int repetitions = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--repetitions=", 0) == 0) {
      repetitions = std::max(1, std::atoi(arg.c_str() + 14));
    } else if (arg == "--smoke") {
      workload = {200, 40, 400, 20, 50};
      repetitions = 1;
    } else {
      std::fprintf(stderr, "usage: %s [--repetitions=N] [--smoke]\n", argv[0]);
      return 2;
    }
  }
  // The server: MODELREG_TEST_POSTGRES_URL, else the one the tests' fixture started (what the
  // smoke test in CTest uses).
  std::string why_not;
  const auto found = modelreg::testing::postgres_test_url(why_not);
  if (!found) {
    std::fprintf(stderr, "pg_catalog: %s\n", why_not.c_str());
    return 2;
  }
  const std::string server = *found;
  const std::string prefix = "modelreg_catalog_bench_" + std::to_string(::getpid()) + "_";
  const std::array<SideFactory, 2> sides = {raw_side, modelreg_side};
  const char* side_names[2] = {"raw libpq", "modelreg"};
  std::vector<double> seconds[2][kPhaseCount];
  try {
    for (int r = 0; r < repetitions; ++r) {
      const std::string tag = prefix + std::to_string(r) + "_";
      ScratchDatabase raw(server, tag + "raw"), ours(server, tag + "modelreg");
      ScratchDatabase raw_concurrent(server, tag + "raw_4"),
          ours_concurrent(server, tag + "modelreg_4");
      const Seconds result = run_repetition(r, sides, {raw.url(), ours.url()},
                                            {raw_concurrent.url(), ours_concurrent.url()});
      for (int s = 0; s < 2; ++s) {
        std::fprintf(stderr, "pg_catalog: repetition %d/%d, %-9s ops/s:", r + 1, repetitions,
                     side_names[s]);
        for (int p = 0; p < kPhaseCount; ++p) {
          const double t = result[static_cast<std::size_t>(s)][static_cast<std::size_t>(p)];
          seconds[s][p].push_back(t);
          std::fprintf(stderr, " %6.0f", phase_operations(p) / t);
        }
        std::fprintf(stderr, "\n");
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_catalog: %s\n", e.what());
    return 1;
  }
  std::printf("MLflow workload on PostgreSQL, medians of %d repetitions (operations/s)\n",
              repetitions);
  std::printf("%-48s %12s %12s %22s\n", "workload", side_names[0], side_names[1],
              "time ratio (goal <=1.5)");
  bool met = true;
  for (int p = 0; p < kPhaseCount; ++p) {
    const double raw = median(seconds[0][p]);
    const double ours = median(seconds[1][p]);
    const double ratio = ours / raw;
    met = met && ratio <= 1.5;
    std::printf("%-48s %12.0f %12.0f %22.2f\n", phase_name(p).c_str(), phase_operations(p) / raw,
                phase_operations(p) / ours, ratio);
  }
  std::printf("goal (modelreg within 1.5x of raw libpq on every line): %s\n",
              met ? "met" : "NOT met");
  return 0;
}

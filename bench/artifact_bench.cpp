// Saving and loading artifacts through the durable registry (ModelRegistry::open, Durability
// Full), by file and by stream, with throughput and the peak resident memory of each, next to
// the baselines on the same file: `cp src dst && sync dst` and a plain read() in 1 MiB chunks.
//
//   artifact_bench [--smoke | --full] [--dir=PATH] [Google Benchmark flags]
//
// Sizes: 1 MiB and 64 MiB (default), plus 1 GiB with --full, 1 MiB only with --smoke.
// Benchmark names are "<operation>/<api>/<bytes>":
//   save/file     register_version with RegisterOptions::artifact_file
//   save/stream   register_version with RegisterOptions::artifact_stream (a std::ifstream)
//   load/file     load_artifact(name, version, destination path) (verified, fsync'd, renamed)
//   load/stream   load_artifact(name, version, std::ofstream&) (verified first, not fsync'd)
//   load/sink     load_artifact(name, version, std::ostream&) into a stream that consumes the
//                 bytes without storing them (a caller parsing them as they come)
//   open/verified open_verified_artifact: the stored file verified, for reading in place
//   baseline/cp_sync, baseline/read, baseline/read_sha256 (read + SHA-256 in one pass)
// Counters: peak_rss_mib (VmHWM during the benchmark, reset before it starts) and
// rss_growth_mib (that peak minus the resident set before the benchmark started).
//
// Page cache: warm. Every file is read right after it was written (the source file, the stored
// artifact); nothing is dropped from the cache, so these are memory-speed reads plus the
// fsyncs the operations do.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_mode.hpp"
#include "modelreg/logging.hpp"
#include "modelreg/model_registry.hpp"
#include "process_memory.hpp"
#include "scratch_files.hpp"
#include "sink_stream.hpp"

namespace {

namespace fs = std::filesystem;
namespace mb = modelreg::bench;
using modelreg::ModelRegistry;
using modelreg::RegisterOptions;

constexpr const char* kModel = "artifact-model";

mb::BenchMode g_mode;
std::unique_ptr<mb::ScratchDir> g_scratch;
std::unique_ptr<ModelRegistry> g_registry;

// The source file of each size, written once.
const fs::path& source_file(std::uint64_t bytes) {
  static std::map<std::uint64_t, fs::path> files;
  auto& path = files[bytes];
  if (path.empty()) {
    path = g_scratch->path() / ("source-" + std::to_string(bytes) + ".bin");
    mb::write_random_file(path, bytes, bytes);
  }
  return path;
}

// A registered version holding the source file of each size, for the load benchmarks.
const std::string& stored_version(std::uint64_t bytes) {
  static std::map<std::uint64_t, std::string> versions;
  auto& version = versions[bytes];
  if (version.empty()) {
    version = "stored-" + std::to_string(bytes);
    RegisterOptions options;
    options.artifact_file = source_file(bytes);
    g_registry->register_version(kModel, version, options);
  }
  return version;
}

std::string next_version() {
  static std::uint64_t counter = 0;
  return "v" + std::to_string(++counter);
}

// Measures the peak resident set of one benchmark run.
class RssProbe {
 public:
  RssProbe() : before_(mb::current_rss_bytes()) { mb::reset_peak_rss(); }
  void report(benchmark::State& state) const {
    const auto peak = mb::peak_rss_bytes();
    state.counters["peak_rss_mib"] = mb::to_mib(peak);
    state.counters["rss_growth_mib"] = mb::to_mib(peak > before_ ? peak - before_ : 0);
  }

 private:
  std::uint64_t before_;
};

void finish(benchmark::State& state, std::uint64_t bytes, const RssProbe& rss) {
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
  rss.report(state);
}

enum class Api { File, Stream, Sink };

void BM_Save(benchmark::State& state, Api api) {
  const auto bytes = static_cast<std::uint64_t>(state.range(0));
  const fs::path& source = source_file(bytes);
  RssProbe rss;
  for (auto _ : state) {
    const std::string version = next_version();
    RegisterOptions options;
    std::ifstream in;
    if (api == Api::File) {
      options.artifact_file = source;
    } else {
      in.open(source, std::ios::binary);
      options.artifact_stream = &in;
    }
    g_registry->register_version(kModel, version, options);
    state.PauseTiming();  // keep the disk usage at one copy per size
    g_registry->delete_version(kModel, version);
    state.ResumeTiming();
  }
  finish(state, bytes, rss);
}

void BM_Load(benchmark::State& state, Api api) {
  const auto bytes = static_cast<std::uint64_t>(state.range(0));
  const std::string& version = stored_version(bytes);
  const fs::path destination = g_scratch->path() / "loaded.bin";
  RssProbe rss;
  for (auto _ : state) {
    bool found = false;
    if (api == Api::File) {
      found = g_registry->load_artifact(kModel, version, destination);
    } else if (api == Api::Sink) {
      mb::SinkStream out;
      found = g_registry->load_artifact(kModel, version, out);
      benchmark::DoNotOptimize(out.checksum());
      if (found && out.size() != bytes) {
        state.SkipWithError("short stream");
        break;
      }
    } else {
      std::ofstream out(destination, std::ios::binary | std::ios::trunc);
      found = g_registry->load_artifact(kModel, version, out);
      out.close();
    }
    if (!found) {
      state.SkipWithError("artifact not found");
      break;
    }
    state.PauseTiming();
    fs::remove(destination);
    state.ResumeTiming();
  }
  finish(state, bytes, rss);
}

void BM_OpenVerified(benchmark::State& state) {
  const auto bytes = static_cast<std::uint64_t>(state.range(0));
  const std::string& version = stored_version(bytes);
  RssProbe rss;
  for (auto _ : state) {
    const auto artifact = g_registry->open_verified_artifact(kModel, version);
    if (!artifact || artifact->copied) {
      state.SkipWithError("no stored file handed out");
      break;
    }
  }
  finish(state, bytes, rss);
}

void BM_CopyAndSync(benchmark::State& state) {
  const auto bytes = static_cast<std::uint64_t>(state.range(0));
  const fs::path& source = source_file(bytes);
  const fs::path destination = g_scratch->path() / "copied.bin";
  RssProbe rss;
  for (auto _ : state) {
    mb::copy_and_sync_with_cp(source, destination);
    state.PauseTiming();
    fs::remove(destination);
    state.ResumeTiming();
  }
  finish(state, bytes, rss);
}

void BM_PlainRead(benchmark::State& state) {
  const auto bytes = static_cast<std::uint64_t>(state.range(0));
  const fs::path& source = source_file(bytes);
  RssProbe rss;
  for (auto _ : state) {
    if (mb::read_file_plain(source) != bytes) {
      state.SkipWithError("short read");
      break;
    }
  }
  finish(state, bytes, rss);
}

// read() in 1 MiB chunks and SHA-256 (OpenSSL) of every chunk: the least a verified read of an
// artifact costs, for comparison with load/sink and open/verified (which verify in one pass;
// load/sink then hands the verified file's bytes to the stream).
void BM_ReadAndHash(benchmark::State& state) {
  const auto bytes = static_cast<std::uint64_t>(state.range(0));
  const fs::path& source = source_file(bytes);
  std::vector<char> buffer(std::size_t{1} << 20);
  RssProbe rss;
  for (auto _ : state) {
    const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
    std::uint64_t total = 0;
    for (ssize_t n; (n = ::read(fd, buffer.data(), buffer.size())) > 0;) {
      EVP_DigestUpdate(context, buffer.data(), static_cast<std::size_t>(n));
      total += static_cast<std::uint64_t>(n);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context, digest, &length);
    EVP_MD_CTX_free(context);
    ::close(fd);
    benchmark::DoNotOptimize(digest);
    if (total != bytes) {
      state.SkipWithError("short read");
      break;
    }
  }
  finish(state, bytes, rss);
}

void register_benchmarks() {
  std::vector<std::int64_t> sizes{std::int64_t{1} << 20, std::int64_t{64} << 20};
  if (g_mode.smoke()) sizes = {std::int64_t{1} << 20};
  if (g_mode.full()) sizes.push_back(std::int64_t{1} << 30);
  auto with_sizes = [&](benchmark::internal::Benchmark* b) {
    for (const auto n : sizes) b->Arg(n);
    b->Unit(benchmark::kMillisecond)->UseRealTime();  // wall time: the operations wait on I/O
  };
  with_sizes(benchmark::RegisterBenchmark("save/file", BM_Save, Api::File));
  with_sizes(benchmark::RegisterBenchmark("save/stream", BM_Save, Api::Stream));
  with_sizes(benchmark::RegisterBenchmark("load/file", BM_Load, Api::File));
  with_sizes(benchmark::RegisterBenchmark("load/stream", BM_Load, Api::Stream));
  with_sizes(benchmark::RegisterBenchmark("load/sink", BM_Load, Api::Sink));
  with_sizes(benchmark::RegisterBenchmark("open/verified", BM_OpenVerified));
  with_sizes(benchmark::RegisterBenchmark("baseline/cp_sync", BM_CopyAndSync));
  with_sizes(benchmark::RegisterBenchmark("baseline/read", BM_PlainRead));
  with_sizes(benchmark::RegisterBenchmark("baseline/read_sha256", BM_ReadAndHash));
}

}  // namespace

int main(int argc, char** argv) {
  g_mode = mb::parse_bench_mode(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  modelreg::logger()->set_level(spdlog::level::warn);
  int status = 0;
  try {
    g_scratch = std::make_unique<mb::ScratchDir>(g_mode.scratch_parent, "modelreg-artifact-bench-");
    g_registry =
        std::make_unique<ModelRegistry>(ModelRegistry::open(g_scratch->path() / "registry"));
    benchmark::AddCustomContext("modelreg_bench_mode", g_mode.name());
    benchmark::AddCustomContext("scratch_dir", g_scratch->path().string());
    benchmark::AddCustomContext("page_cache", "warm (files read right after being written)");
    register_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "artifact_bench: %s\n", e.what());
    status = 1;
  }
  benchmark::Shutdown();
  g_registry.reset();
  g_scratch.reset();
  return status;
}

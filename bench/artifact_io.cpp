// Large artifacts in bounded memory: registers a file of N bytes (default 2 GiB) into a fresh
// durable registry and loads it back through the file and the stream APIs, timing each step and
// measuring the process's peak resident memory; in the same run, the baselines on the same file:
// `cp src dst && sync` (a file-only `sync dst`, and a bare `sync` for reference) and a plain
// read() in 1 MiB chunks, with and without SHA-256 (OpenSSL) in the same pass: the verified
// loads (to a stream that consumes the bytes or to an std::ofstream, and
// open_verified_artifact, which hands out the stored file itself) are
// compared with the hashed read. PASS means the process never held more than 64 MiB resident.
//
//   artifact_io [--size-mib=N] [--rounds=N] [--dir=PATH] [--cold]
//
//   --size-mib=N   artifact size in MiB (default 2048, or $MODELREG_ARTIFACT_IO_SIZE_MIB)
//   --rounds=N     run every step N times, in rounds of all steps in turn (default 3), and
//                  compare medians: on a virtual disk one copy may run at a third of the speed
//                  of the next, depending on the blocks it is given
//   --dir=PATH     parent of the scratch directory (default $MODELREG_BENCH_DIR or /tmp); the
//                  scratch directory and everything in it is removed at the end
//   --cold         drop each input file from the page cache (posix_fadvise, no root needed)
//                  before each step; default: warm cache, i.e. files are read right after they
//                  were written
//
// Exit status: 0 if every step worked and the peak RSS stayed under the limit, 1 otherwise.

#include <openssl/evp.h>
#include <sys/statfs.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "modelreg/model_registry.hpp"
#include "process_memory.hpp"
#include "scratch_files.hpp"
#include "sink_stream.hpp"

namespace {

namespace fs = std::filesystem;
namespace mb = modelreg::bench;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kRssLimit = std::uint64_t{64} << 20;

struct Options {
  std::uint64_t size_mib = 2048;
  fs::path dir = mb::default_scratch_parent();
  bool cold = false;
  int rounds = 3;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(
      stderr,
      "artifact_io: %s\nusage: artifact_io [--size-mib=N] [--rounds=N] [--dir=PATH] [--cold]\n",
      message);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  if (const char* env = std::getenv("MODELREG_ARTIFACT_IO_SIZE_MIB"); env && *env) {
    options.size_mib = std::strtoull(env, nullptr, 10);
  }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const std::string& flag) -> std::string {
      if (arg.size() > flag.size() && arg.compare(0, flag.size() + 1, flag + "=") == 0) {
        return arg.substr(flag.size() + 1);
      }
      if (arg == flag && i + 1 < argc) return argv[++i];
      usage(("missing value for " + flag).c_str());
    };
    if (arg.rfind("--size-mib", 0) == 0) {
      options.size_mib = std::strtoull(value("--size-mib").c_str(), nullptr, 10);
    } else if (arg.rfind("--rounds", 0) == 0) {
      options.rounds = std::atoi(value("--rounds").c_str());
    } else if (arg.rfind("--dir", 0) == 0) {
      options.dir = value("--dir");
    } else if (arg == "--cold") {
      options.cold = true;
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }
  if (options.size_mib == 0) usage("--size-mib must be a positive number");
  if (options.rounds < 1) usage("--rounds must be a positive number");
  return options;
}

std::string filesystem_type(const fs::path& path) {
  struct statfs info {};
  if (::statfs(path.c_str(), &info) != 0) return "?";
  switch (static_cast<unsigned long>(info.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794C7630:
      return "overlayfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(info.f_type));
      return hex;
    }
  }
}

// One pass over `path`: read() in 1 MiB chunks and SHA-256 of every byte (OpenSSL's EVP).
std::uint64_t read_and_hash(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buffer(std::size_t{1} << 20);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  std::uint64_t total = 0;
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    EVP_DigestUpdate(context, buffer.data(), static_cast<std::size_t>(in.gcount()));
    total += static_cast<std::uint64_t>(in.gcount());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, digest, &length);
  EVP_MD_CTX_free(context);
  return total;
}

struct Step {
  std::string name;
  double seconds = 0;
  std::uint64_t rss_before = 0;
  std::uint64_t peak_rss = 0;  // VmHWM during the step (reset before it)
  std::string baseline;        // name of the step it is compared with; empty for none
};

// Runs `body`, timing it and measuring the peak resident set while it runs.
Step measure(const std::string& name, const std::string& baseline,
             const std::function<void()>& body) {
  Step step;
  step.name = name;
  step.baseline = baseline;
  step.rss_before = mb::current_rss_bytes();
  mb::reset_peak_rss();
  const auto start = Clock::now();
  body();
  step.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  step.peak_rss = mb::peak_rss_bytes();
  std::fprintf(stderr, "# %-34s %8.3f s\n", name.c_str(), step.seconds);
  return step;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const std::uint64_t bytes = options.size_mib << 20;
  const double mib = static_cast<double>(options.size_mib);
  const std::uint64_t rss_at_start = mb::current_rss_bytes();

  std::vector<std::vector<Step>> rounds;
  bool ok = true;
  std::string cache_state = options.cold
                                ? "cold (each input dropped with posix_fadvise DONTNEED first)"
                                : "warm (each input was just written; nothing dropped)";
  std::string scratch_path;
  std::string fs_type;
  try {
    mb::ScratchDir scratch(options.dir, "modelreg-artifact-io-");
    scratch_path = scratch.path().string();
    fs_type = filesystem_type(scratch.path());
    const fs::path source = scratch.path() / "source.bin";
    const fs::path copy = scratch.path() / "copy.bin";
    const fs::path loaded = scratch.path() / "loaded.bin";
    const fs::path streamed = scratch.path() / "streamed.bin";
    std::fprintf(stderr, "# writing a %llu MiB source file in %s\n",
                 static_cast<unsigned long long>(options.size_mib), scratch_path.c_str());
    mb::write_random_file(source, bytes);
    modelreg::ModelRegistry registry = modelreg::ModelRegistry::open(scratch.path() / "registry");
    const fs::path stored =
        scratch.path() / "registry" / "artifacts" / "large-model" / "1" / "model.bin";

    auto prepare = [&](const fs::path& input) {
      if (options.cold && !mb::drop_file_cache(input)) {
        cache_state = "cold requested, but posix_fadvise failed: warm";
      }
    };

    for (int round = 1; round <= options.rounds; ++round) {
      std::fprintf(stderr, "# round %d of %d\n", round, options.rounds);
      std::vector<Step>& steps = rounds.emplace_back();
      // Baselines.
      prepare(source);
      steps.push_back(
          measure("cp src dst && sync dst", "", [&] { mb::copy_and_sync_with_cp(source, copy); }));
      fs::remove(copy);
      prepare(source);
      steps.push_back(measure("cp src dst && sync (all files)", "", [&] {
        const std::string command = "cp -- " + mb::shell_quote(source.string()) + " " +
                                    mb::shell_quote(copy.string()) + " && sync";
        if (std::system(command.c_str()) != 0) throw std::runtime_error("cp && sync failed");
      }));
      fs::remove(copy);
      prepare(source);
      steps.push_back(measure("plain read (1 MiB read() calls)", "", [&] {
        if (mb::read_file_plain(source) != bytes) throw std::runtime_error("short read");
      }));
      prepare(source);
      steps.push_back(measure("plain read + SHA-256, one pass", "", [&] {
        if (read_and_hash(source) != bytes) throw std::runtime_error("short read");
      }));

      // The registry.
      registry.delete_version("large-model", "1");  // the last round's; false in the first
      prepare(source);
      steps.push_back(measure("register_version(artifact_file)", "cp src dst && sync dst", [&] {
        modelreg::RegisterOptions register_options;
        register_options.artifact_file = source;
        registry.register_version("large-model", "1", register_options);
      }));
      // The load's baseline is a copy of the same stored file, right before it.
      prepare(stored);
      steps.push_back(measure("cp stored dst && sync dst", "",
                              [&] { mb::copy_and_sync_with_cp(stored, copy); }));
      fs::remove(copy);
      prepare(stored);
      steps.push_back(
          measure("load_artifact(name, version, path)", "cp stored dst && sync dst", [&] {
            if (!registry.load_artifact("large-model", "1", loaded)) {
              throw std::runtime_error("artifact not found");
            }
          }));
      if (fs::file_size(loaded) != bytes) {
        throw std::runtime_error("loaded file has the wrong size");
      }
      fs::remove(loaded);
      prepare(stored);
      steps.push_back(
          measure("load_artifact to a consuming ostream", "plain read + SHA-256, one pass", [&] {
            mb::SinkStream out;
            if (!registry.load_artifact("large-model", "1", out)) {
              throw std::runtime_error("artifact not found");
            }
            if (out.size() != bytes) throw std::runtime_error("short stream");
          }));
      prepare(stored);
      steps.push_back(
          measure("load_artifact to an std::ofstream", "plain read + SHA-256, one pass", [&] {
            std::ofstream out(streamed, std::ios::binary | std::ios::trunc);
            if (!registry.load_artifact("large-model", "1", out)) {
              throw std::runtime_error("artifact not found");
            }
            out.close();
            if (!out) throw std::runtime_error("cannot write the stream");
          }));
      if (fs::file_size(streamed) != bytes) {
        throw std::runtime_error("streamed file has the wrong size");
      }
      fs::remove(streamed);
      prepare(stored);
      steps.push_back(
          measure("open_verified_artifact (zero-copy)", "plain read + SHA-256, one pass", [&] {
            const auto artifact = registry.open_verified_artifact("large-model", "1");
            if (!artifact || artifact->copied) {
              throw std::runtime_error("no stored file handed out");
            }
          }));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "artifact_io: FAILED: %s\n", e.what());
    ok = false;
  }

  const std::uint64_t lifetime_peak = mb::lifetime_max_rss_bytes();
  std::printf(
      "artifact_io: %llu MiB artifact through ModelRegistry::open (Durability::Full), "
      "%d rounds\n",
      static_cast<unsigned long long>(options.size_mib), options.rounds);
  std::printf("scratch dir: %s (%s), removed afterwards\n", scratch_path.c_str(), fs_type.c_str());
  std::printf("page cache: %s\n", cache_state.c_str());
  std::printf(
      "RSS at start: %.1f MiB; MiB/s of each round, and their median; ratio = median throughput / "
      "median baseline throughput (1.00 = as fast)\n\n",
      mb::to_mib(rss_at_start));
  // Steps by name, in the order of the first round; each round's seconds.
  std::vector<std::string> names;
  std::map<std::string, std::vector<double>> seconds;
  std::map<std::string, std::string> baselines;
  std::map<std::string, std::uint64_t> peaks;
  for (const auto& steps : rounds) {
    for (const Step& step : steps) {
      if (seconds.find(step.name) == seconds.end()) names.push_back(step.name);
      seconds[step.name].push_back(step.seconds);
      baselines[step.name] = step.baseline;
      peaks[step.name] = std::max(peaks[step.name], step.peak_rss);
    }
  }
  auto median = [](std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  };
  std::printf("| %-38s | %-26s | %9s | %-40s | %6s | %13s |\n", "operation", "MiB/s (rounds)",
              "median", "baseline (median MiB/s)", "ratio", "peak RSS MiB");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(40, '-').c_str(), std::string(28, '-').c_str(),
              (std::string(10, '-') + ":").c_str(), std::string(42, '-').c_str(),
              (std::string(7, '-') + ":").c_str(), (std::string(14, '-') + ":").c_str());
  bool within_limit = lifetime_peak < kRssLimit;
  for (const std::string& name : names) {
    std::string per_round;
    for (const double s : seconds[name]) {
      char text[32];
      std::snprintf(text, sizeof text, "%s%.0f", per_round.empty() ? "" : ", ", mib / s);
      per_round += text;
    }
    const double mine = median(seconds[name]);
    std::string baseline = "-";
    std::string ratio = "-";
    if (const auto other = seconds.find(baselines[name]); other != seconds.end()) {
      const double theirs = median(other->second);
      char text[96];
      std::snprintf(text, sizeof text, "%s (%.0f)", other->first.c_str(), mib / theirs);
      baseline = text;
      std::snprintf(text, sizeof text, "%.2f", theirs / mine);
      ratio = text;
    }
    if (!baselines[name].empty() && peaks[name] >= kRssLimit) within_limit = false;
    std::printf("| %-38s | %-26s | %9.1f | %-40s | %6s | %13.1f |\n", name.c_str(),
                per_round.c_str(), mib / mine, baseline.c_str(), ratio.c_str(),
                mb::to_mib(peaks[name]));
  }
  std::printf("\npeak RSS of the process (getrusage ru_maxrss): %.1f MiB; limit %.0f MiB: %s\n",
              mb::to_mib(lifetime_peak), mb::to_mib(kRssLimit),
              ok ? (within_limit ? "PASS" : "FAIL") : "FAIL (a step failed)");
  std::printf(
      "(peak RSS per step: VmHWM, reset through /proc/self/clear_refs before each step; "
      "the cp baselines run in child processes)\n");
  return ok && within_limit ? 0 : 1;
}

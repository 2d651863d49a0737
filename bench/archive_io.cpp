// Export and import of a large model in bounded memory, next to tar on the same file in the
// same run: registers one artifact of N bytes (default 2 GiB) in a fresh durable registry, then
// R times (default 3, in alternating order) `tar cf X.tar -C dir model.bin && sync X.tar`,
// export_model, `tar xf X.tar -C dir && sync FILE`, and import_model into a fresh registry;
// prints the median time of each, its throughput, its ratio to the tar step and the peak
// resident memory of the process during it. PASS means the process never held 64 MiB or more.
//
//   archive_io [--size-mib=N] [--repetitions=R] [--dir=PATH]
//
// Exit status: 0 if every step worked and the peak RSS stayed under the limit, 1 otherwise.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "modelreg/model_archive.hpp"
#include "modelreg/model_registry.hpp"
#include "process_memory.hpp"
#include "scratch_files.hpp"

namespace {

namespace fs = std::filesystem;
namespace mb = modelreg::bench;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kRssLimit = std::uint64_t{64} << 20;

struct Options {
  std::uint64_t size_mib = 2048;
  int repetitions = 3;
  fs::path dir = mb::default_scratch_parent();
};

[[noreturn]] void usage(const std::string& message) {
  std::fprintf(stderr,
               "archive_io: %s\nusage: archive_io [--size-mib=N] [--repetitions=R] [--dir=PATH]\n",
               message.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    const std::string flag = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (value.empty()) usage("missing value in " + arg);
    if (flag == "--size-mib") {
      options.size_mib = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--repetitions") {
      options.repetitions = std::atoi(value.c_str());
    } else if (flag == "--dir") {
      options.dir = value;
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (options.size_mib == 0 || options.repetitions < 1) usage("sizes and counts must be > 0");
  return options;
}

void run_shell(const std::string& command) {
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

struct Sample {
  double seconds = 0;
  std::uint64_t peak_rss = 0;
};

Sample measure(const std::function<void()>& body) {
  mb::reset_peak_rss();
  const auto start = Clock::now();
  body();
  Sample sample;
  sample.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  sample.peak_rss = mb::peak_rss_bytes();
  return sample;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const std::uint64_t bytes = options.size_mib << 20;
  const double mib = static_cast<double>(options.size_mib);
  const char* kTarOut = "tar cf + sync (baseline)";
  const char* kExport = "export_model";
  const char* kTarIn = "tar xf + sync (baseline)";
  const char* kImport = "import_model";
  std::map<std::string, std::vector<Sample>> samples;
  bool ok = true;
  try {
    mb::ScratchDir scratch(options.dir, "modelreg-archive-io-");
    const fs::path files = scratch.path() / "files";
    fs::create_directories(files);
    const fs::path source = files / "model.bin";
    std::fprintf(stderr, "# writing a %llu MiB artifact in %s\n",
                 static_cast<unsigned long long>(options.size_mib), scratch.path().c_str());
    mb::write_random_file(source, bytes);
    modelreg::ModelRegistry registry = modelreg::ModelRegistry::open(scratch.path() / "source");
    modelreg::RegisterOptions register_options;
    register_options.artifact_file = source;
    registry.register_version("large-model", "1", register_options);

    const fs::path tar_file = scratch.path() / "baseline.tar";
    const fs::path archive = scratch.path() / "large-model.tar";
    const fs::path extracted = scratch.path() / "extracted";
    for (int round = 0; round < options.repetitions; ++round) {
      const bool tar_first = round % 2 == 0;
      auto tar_out = [&] {
        samples[kTarOut].push_back(measure([&] {
          run_shell("tar cf " + mb::shell_quote(tar_file.string()) + " -C " +
                    mb::shell_quote(files.string()) + " model.bin && sync -- " +
                    mb::shell_quote(tar_file.string()));
        }));
      };
      auto export_step = [&] {
        samples[kExport].push_back(
            measure([&] { modelreg::export_model(registry, "large-model", archive); }));
      };
      auto tar_in = [&] {
        fs::remove_all(extracted);
        fs::create_directories(extracted);
        samples[kTarIn].push_back(measure([&] {
          run_shell("tar xf " + mb::shell_quote(tar_file.string()) + " -C " +
                    mb::shell_quote(extracted.string()) + " && sync -- " +
                    mb::shell_quote((extracted / "model.bin").string()));
        }));
      };
      auto import_step = [&] {
        const fs::path target_dir = scratch.path() / ("target-" + std::to_string(round));
        modelreg::ModelRegistry target = modelreg::ModelRegistry::open(target_dir);
        samples[kImport].push_back(measure([&] { modelreg::import_model(target, archive); }));
        if (target.get_version("large-model", "1")->artifact_size != bytes) {
          throw std::runtime_error("the imported artifact has the wrong size");
        }
        fs::remove_all(target_dir);
      };
      if (tar_first) {
        tar_out();
        export_step();
        tar_in();
        import_step();
      } else {
        export_step();
        tar_out();
        import_step();
        tar_in();
      }
      std::fprintf(stderr, "# round %d done\n", round + 1);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "archive_io: FAILED: %s\n", e.what());
    ok = false;
  }

  std::printf(
      "archive_io: a %llu MiB model through export_model / import_model "
      "(ModelRegistry::open, Durability::Full), %d rounds, medians\n\n",
      static_cast<unsigned long long>(options.size_mib), options.repetitions);
  std::printf("| operation | time (s) | MiB/s | baseline | ratio | peak RSS MiB |\n");
  std::printf("|---|---:|---:|---|---:|---:|\n");
  bool within_limit = true;
  auto row = [&](const char* name, const char* baseline) {
    const auto& list = samples[name];
    if (list.empty()) return;
    std::vector<double> times;
    std::uint64_t peak = 0;
    for (const Sample& s : list) {
      times.push_back(s.seconds);
      peak = std::max(peak, s.peak_rss);
    }
    const double t = median(times);
    std::string ratio = "-";
    if (baseline != nullptr && !samples[baseline].empty()) {
      std::vector<double> base;
      for (const Sample& s : samples[baseline]) base.push_back(s.seconds);
      char text[32];
      std::snprintf(text, sizeof text, "%.2f", median(base) / t);
      ratio = text;
      if (peak >= kRssLimit) within_limit = false;
    }
    std::printf("| %s | %.3f | %.1f | %s | %s | %.1f |\n", name, t, mib / t,
                baseline != nullptr ? baseline : "-", ratio.c_str(), mb::to_mib(peak));
  };
  row(kTarOut, nullptr);
  row(kExport, kTarOut);
  row(kTarIn, nullptr);
  row(kImport, kTarIn);
  const std::uint64_t lifetime_peak = mb::lifetime_max_rss_bytes();
  if (lifetime_peak >= kRssLimit) within_limit = false;
  std::printf(
      "\nratio = baseline time / modelreg time (1.00: as fast as tar); peak RSS: VmHWM of this "
      "process during the step (tar runs in a child process)\npeak RSS of the process "
      "(ru_maxrss): %.1f MiB; limit %.0f MiB: %s\n",
      mb::to_mib(lifetime_peak), mb::to_mib(kRssLimit),
      ok ? (within_limit ? "PASS" : "FAIL") : "FAIL (a step failed)");
  return ok && within_limit ? 0 : 1;
}

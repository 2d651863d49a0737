// Artifact upload and download through an S3 server, S3ModelStore next to the curl command line
// moving the same file to the same server in the same run:
//
//   scripts/s3-server start /tmp/s3 && source /tmp/s3/env
//   build/bench/s3_transfer --size-mib=64 --runs=5
//   (MODELREG_S3_BLUESTORE=1 scripts/s3-server start ... for 1 GiB: memstore holds 1 GiB at most)
//
// The server comes from MODELREG_TEST_S3_BUCKET and the AWS_* variables (what scripts/s3-server
// writes into DIR/env). Baselines: `curl -T file` with the file's SHA-256 (computed beforehand,
// untimed) as x-amz-content-sha256, so the server checks the same bytes as for ours; and
// `curl -o file` (and `curl -o file && sync file`, as durable as the registry's load to a file).
// Ours: save_artifact(path) (hashed, then one streaming PUT read from the file; a file above
// --single-put-mib goes up in parts), load_artifact(path, std::ofstream) (the GET's body streamed
// into it), and the registry's load_artifact(name, version, file) (the GET written straight into
// the destination's temporary file, then hashed and checked, made durable and renamed into place).
// Prints the median of each and the ratio, and this process's peak RSS.

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <modelreg/modelreg.hpp>
#include <modelreg/s3_model_store.hpp>
#include <string>
#include <vector>

#include "process_memory.hpp"
#include "scratch_files.hpp"

namespace mb = modelreg::bench;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

double seconds_of(const std::function<void()>& body) {
  const auto start = Clock::now();
  body();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Runs a shell command (curl); throws if it fails.
void run(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("command failed: " + command);
  }
}

std::string sha256_of(const fs::path& file) {
  // Untimed: the baseline gets its hash for free.
  const std::string command = "sha256sum '" + file.string() + "' > '" + file.string() + ".sha'";
  run(command);
  std::ifstream in(file.string() + ".sha");
  std::string hex;
  in >> hex;
  return hex;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t size_mib = 64;
  int runs = 5;
  std::size_t part_mib = 0;       // 0: S3Options' default
  int concurrency = 0;            // likewise
  long long single_put_mib = -1;  // likewise (-1); 0 sends the file in parts
  fs::path dir = mb::default_scratch_parent();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--size-mib=", 0) == 0) {
      size_mib = std::stoull(arg.substr(11));
    } else if (arg.rfind("--runs=", 0) == 0) {
      runs = std::stoi(arg.substr(7));
    } else if (arg.rfind("--part-mib=", 0) == 0) {
      part_mib = std::stoull(arg.substr(11));
    } else if (arg.rfind("--concurrency=", 0) == 0) {
      concurrency = std::stoi(arg.substr(14));
    } else if (arg.rfind("--single-put-mib=", 0) == 0) {
      single_put_mib = std::stoll(arg.substr(17));
    } else if (arg.rfind("--dir=", 0) == 0) {
      dir = arg.substr(6);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--size-mib=N] [--runs=N] [--part-mib=N] [--concurrency=N] "
                   "[--single-put-mib=N] [--dir=DIR]\n",
                   argv[0]);
      return 2;
    }
  }
  const std::string bucket = env("MODELREG_TEST_S3_BUCKET");
  const std::string endpoint = env("AWS_ENDPOINT_URL");
  if (bucket.empty() || endpoint.empty()) {
    std::fprintf(stderr,
                 "s3_transfer: set MODELREG_TEST_S3_BUCKET and the AWS_* variables "
                 "(scripts/s3-server start DIR; source DIR/env)\n");
    return 2;
  }
  try {
    mb::ScratchDir scratch(dir, "modelreg-s3-transfer-");
    const fs::path source = scratch.path() / "source.bin";
    const fs::path fetched = scratch.path() / "fetched.bin";
    mb::write_random_file(source, size_mib << 20);
    const std::string hex = sha256_of(source);

    modelreg::S3Options options;
    options.bucket = bucket;
    options.prefix = "bench-s3-transfer";
    if (part_mib > 0) options.part_size = part_mib << 20;
    if (concurrency > 0) options.upload_concurrency = concurrency;
    if (single_put_mib >= 0) options.single_put_limit = std::uint64_t(single_put_mib) << 20;
    modelreg::S3ModelStore store(options);
    const std::string curl = "curl -sS --fail --aws-sigv4 'aws:amz:" + store.options().region +
                             ":s3' --user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" ";
    const std::string curl_url = endpoint + "/" + bucket + "/bench-s3-transfer/curl.bin";
    const std::string empty_sha =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    // The registry's load to a file: verified against the SHA-256 recorded at registration
    // (registered once, untimed), the GET writing straight into the destination's temporary
    // file (ModelStore::write_artifact_to).
    auto shared_store = std::make_shared<modelreg::S3ModelStore>(options);
    modelreg::ModelRegistry registry(shared_store);
    modelreg::RegisterOptions register_options;
    register_options.artifact_file = source;
    registry.register_version("bench", "2", register_options);

    std::vector<double> curl_put, curl_get, curl_get_synced, our_put, our_get, verified_get;
    mb::reset_peak_rss();
    for (int r = 0; r < runs; ++r) {
      curl_put.push_back(seconds_of([&] {
        run(curl + "-H 'x-amz-content-sha256: " + hex + "' -T '" + source.string() + "' '" +
            curl_url + "' -o /dev/null");
      }));
      our_put.push_back(seconds_of([&] { store.save_artifact("bench", "1", source); }));
      curl_get.push_back(seconds_of([&] {
        run(curl + "-H 'x-amz-content-sha256: " + empty_sha + "' -o '" + fetched.string() + "' '" +
            curl_url + "'");
      }));
      // The registry's load to a file is durable (fsync before the rename): the same for curl.
      curl_get_synced.push_back(seconds_of([&] {
        run(curl + "-H 'x-amz-content-sha256: " + empty_sha + "' -o '" + fetched.string() + "' '" +
            curl_url + "' && sync '" + fetched.string() + "'");
      }));
      our_get.push_back(seconds_of([&] {
        std::ofstream out(fetched, std::ios::binary | std::ios::trunc);
        store.load_artifact("bench/1/model.bin", out);
        out.close();
        if (!out) throw std::runtime_error("writing the fetched file failed");
      }));
      verified_get.push_back(seconds_of([&] {
        if (!registry.load_artifact("bench", "2", fetched)) {
          throw std::runtime_error("the registered version has no artifact");
        }
      }));
      std::fprintf(stderr,
                   "# run %d: curl -T %.3f s, save %.3f s, curl -o %.3f s, curl -o + sync %.3f s, "
                   "load %.3f s, verified load %.3f s\n",
                   r + 1, curl_put.back(), our_put.back(), curl_get.back(), curl_get_synced.back(),
                   our_get.back(), verified_get.back());
    }
    store.delete_artifact("bench/1/model.bin");
    registry.delete_version("bench", "2");
    run(curl + "-H 'x-amz-content-sha256: " + empty_sha + "' -X DELETE '" + curl_url + "'");

    const double mib = static_cast<double>(size_mib);
    const auto line = [&](const char* what, double ours, double baseline, const char* base) {
      std::printf("%-42s %8.1f MiB/s   %-10s %8.1f MiB/s   ratio %.2f\n", what, mib / ours, base,
                  mib / baseline, baseline / ours);
    };
    std::printf(
        "S3 transfer of %llu MiB, %d runs, medians (endpoint %s; one PUT for a file of up to "
        "%llu MiB, else parts of %zu MiB, %d at once)\n",
        static_cast<unsigned long long>(size_mib), runs, endpoint.c_str(),
        static_cast<unsigned long long>(store.options().single_put_limit >> 20),
        store.options().part_size >> 20, store.options().upload_concurrency);
    line("upload: save_artifact(file)", median(our_put), median(curl_put), "curl -T");
    line("download: load_artifact(ostream)", median(our_get), median(curl_get), "curl -o");
    line("download: registry, to a file, verified", median(verified_get), median(curl_get),
         "curl -o");
    line("  the same, durable as ours", median(verified_get), median(curl_get_synced), "+ sync");
    std::printf("peak RSS of this process during the runs: %.1f MiB\n",
                mb::to_mib(mb::peak_rss_bytes()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "s3_transfer: %s\n", e.what());
    return 1;
  }
  return 0;
}

// The durable embedded registry (ModelRegistry::open) as a user relies on it across process
// lifetimes: restarts, corrupted or moved files, databases it must refuse, large streamed
// artifacts and the Relaxed durability option. Everything that must survive a process is checked
// in a different process (a forked child that never shares the writer's registry object).

#include <fcntl.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "modelreg/modelreg.hpp"
#include "pseudo_random.hpp"
#include "reference_sha256.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using testing::fill_pseudo_random;
using testing::fork_child;
using ::testing::HasSubstr;
using testing::pseudo_random_bytes;
using testing::read_file;
using testing::ReferenceSha256;
using testing::silence_modelreg_logging;

// ---------------------------------------------------------------------------------------------
// Digests, checked against a reference SHA-256 of our own.

std::string sha256_hex(const Bytes& bytes) {
  ReferenceSha256 hash;
  hash.update(bytes.data(), bytes.size());
  return hash.hex_digest();
}

std::string sha256_of_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  ReferenceSha256 hash;
  std::vector<char> buffer(1 << 16);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    hash.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  return hash.hex_digest();
}

// ---------------------------------------------------------------------------------------------
// Streamed artifacts.

// An input stream of `size` pseudo-random bytes that never holds more than one chunk, so that
// registering from it proves nothing upstream needs the whole artifact in memory.
class GeneratedStreamBuf : public std::streambuf {
 public:
  GeneratedStreamBuf(std::uint64_t size, std::uint64_t seed) : remaining_(size), state_(seed) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (remaining_ == 0) return traits_type::eof();
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, chunk_.size()));
    fill_pseudo_random(state_, chunk_.data(), n);
    remaining_ -= n;
    setg(chunk_.data(), chunk_.data(), chunk_.data() + n);
    return traits_type::to_int_type(chunk_[0]);
  }

 private:
  std::uint64_t remaining_;
  std::uint64_t state_;
  std::array<char, 1 << 16> chunk_{};
};

// An output stream that hashes and counts what it receives and keeps none of it.
class HashingSinkBuf : public std::streambuf {
 public:
  std::uint64_t size() const { return size_; }
  std::string hex_digest() { return hash_.hex_digest(); }

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    hash_.update(&ch, 1);
    ++size_;
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    hash_.update(s, static_cast<std::size_t>(n));
    size_ += static_cast<std::uint64_t>(n);
    return n;
  }

 private:
  ReferenceSha256 hash_;
  std::uint64_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Files, directories, processes, logs.

void write_file(const fs::path& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Every entry below `root`, relative, sorted: a directory's exact contents.
std::set<std::string> tree(const fs::path& root) {
  std::set<std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    entries.insert(entry.path().lexically_relative(root).generic_string());
  }
  return entries;
}

struct ChildOutcome {
  int status = 0;      // as waitpid reports it
  std::string report;  // what the child sent back; empty means every check passed
};

// Runs `body` in a forked child process and returns what it reported. `body` returns a
// description of every failed check (empty when all passed); an exception counts as a failure.
// The child leaves through _exit so that nothing of the parent's test runner runs twice.
ChildOutcome run_in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {-1, std::string("pipe: ") + std::strerror(errno)};
  const pid_t pid = fork_child([&] {
    ::close(fds[0]);
    std::string report;
    try {
      report = body();
    } catch (const std::exception& e) {
      report = std::string("child threw: ") + e.what();
    } catch (...) {
      report = "child threw a non-standard exception";
    }
    const char* data = report.data();
    std::size_t left = report.size();
    while (left > 0) {
      const ssize_t n = ::write(fds[1], data, left);
      if (n <= 0 && errno != EINTR) break;
      if (n > 0) {
        data += n;
        left -= static_cast<std::size_t>(n);
      }
    }
    return report.empty() ? 0 : 1;
  });
  if (pid < 0) return {-1, std::string("fork: ") + std::strerror(errno)};
  ::close(fds[1]);
  ChildOutcome outcome;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n > 0) {
      outcome.report.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  while (::waitpid(pid, &outcome.status, 0) < 0 && errno == EINTR) {
  }
  return outcome;
}

#define EXPECT_CHILD_PASSED(outcome)                                             \
  do {                                                                           \
    const ChildOutcome& outcome_ = (outcome);                                    \
    EXPECT_TRUE(WIFEXITED(outcome_.status) && WEXITSTATUS(outcome_.status) == 0) \
        << "child status " << outcome_.status << "; it reported:\n"              \
        << outcome_.report;                                                      \
    EXPECT_EQ(outcome_.report, "");                                              \
  } while (false)

// Collects failed checks in a child process, where gtest assertions cannot report.
class Checks {
 public:
  template <typename... Args>
  void fail(fmt::format_string<Args...> format, Args&&... args) {
    report_ += fmt::format(format, std::forward<Args>(args)...);
    report_ += '\n';
  }
  void expect(bool condition, const std::string& what) {
    if (!condition) fail("{}", what);
  }
  const std::string& report() const { return report_; }

 private:
  std::string report_;
};

// Everything modelreg logs while it is alive; modelreg's default logger comes back afterwards.
class CapturedLog {
 public:
  struct Entry {
    spdlog::level::level_enum level;
    std::string message;
  };

  CapturedLog() : sink_(std::make_shared<Sink>()) {
    auto logger = std::make_shared<spdlog::logger>(kLoggerName, sink_);
    logger->set_level(spdlog::level::trace);
    set_logger(std::move(logger));
  }
  ~CapturedLog() { set_logger(nullptr); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  // The entries logged at exactly `level`.
  std::vector<Entry> at(spdlog::level::level_enum level) const {
    std::vector<Entry> found;
    for (auto& entry : sink_->entries()) {
      if (entry.level == level) found.push_back(std::move(entry));
    }
    return found;
  }

 private:
  class Sink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<Entry> entries() {
      std::lock_guard<std::mutex> lock(mutex_);
      return entries_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      entries_.push_back({msg.level, std::string(msg.payload.begin(), msg.payload.end())});
    }
    void flush_() override {}

   private:
    std::vector<Entry> entries_;
  };

  std::shared_ptr<Sink> sink_;
};

// Calls `call`, which must throw ErrorType; checks that the error was logged through the
// modelreg logger exactly once, with its message, at the level its kind deserves (error for
// storage and data loss, info for the caller's errors). Returns the message.
template <typename ErrorType, typename Call>
std::string expect_logged_error(const CapturedLog& log, const std::string& context, Call&& call) {
  const std::size_t errors_before = log.at(spdlog::level::err).size();
  const std::size_t infos_before = log.at(spdlog::level::info).size();
  try {
    call();
  } catch (const ErrorType& e) {
    const bool severe = e.code() == ErrorCode::Storage || e.code() == ErrorCode::DataLoss;
    const auto logged = log.at(severe ? spdlog::level::err : spdlog::level::info);
    EXPECT_EQ(logged.size(), (severe ? errors_before : infos_before) + 1)
        << context << ": the error must be logged exactly once";
    EXPECT_EQ(log.at(severe ? spdlog::level::info : spdlog::level::err).size(),
              severe ? infos_before : errors_before)
        << context << ": logged at the wrong level";
    if (!logged.empty()) {
      EXPECT_THAT(logged.back().message, HasSubstr(e.what())) << context;
    }
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << context << ": threw the wrong kind of error: " << e.what();
    return {};
  }
  ADD_FAILURE() << context << ": did not throw";
  return {};
}

class DurableRegistryTest : public ::testing::Test {
 protected:
  fs::path dir() const { return temp_.path() / "registry"; }
  fs::path db_file() const { return dir() / "registry.db"; }
  fs::path artifact_file(const ModelVersion& version) const {
    return dir() / "artifacts" / *version.artifact_path;
  }

  testing::TestDir temp_{"modelreg-durable"};
};

// ---------------------------------------------------------------------------------------------
// (a) Restart.

// What a populated registry must look like after any number of restarts.
struct Snapshot {
  std::vector<std::string> models;
  std::map<std::string, RegisteredModel> by_name;
  std::map<std::string, Bytes> artifacts;  // by full_name; versions with an artifact only
  std::vector<std::string> deleted;        // full names that must stay gone
};

Snapshot populate(ModelRegistry& registry, const fs::path& scratch) {
  Snapshot snapshot;

  RegisterOptions fraud;
  fraud.framework = ModelFramework::PyTorch;
  fraud.metrics.accuracy = 0.953;
  fraud.metrics.precision = 1.0 / 3.0;
  fraud.metrics.f1_score = 0.1;
  fraud.metrics.custom = {{"latency_ms", 3.25}, {"recall", 0.75}};
  fraud.parameters = {{"lr", 0.001},
                      {"layers", {64, 32, 16}},
                      {"name", "r\xc3\xa9sum\xc3\xa9"},
                      {"nested", {{"dropout", true}, {"seed", 9007199254740993LL}}}};
  fraud.tags = {{"team", "risk"}, {"dataset", "2024-q1"}, {"empty", ""}};
  fraud.description = "first production model\nwith a second line";
  fraud.artifact = pseudo_random_bytes(100 * 1024 + 7, 1);
  snapshot.artifacts["fraud-detector:1.0.0"] = *fraud.artifact;
  registry.register_version("fraud-detector", "1.0.0", fraud);

  RegisterOptions no_artifact;
  no_artifact.framework = ModelFramework::Sklearn;
  no_artifact.metrics.mse = 12.5;
  no_artifact.tags = {{"kind", "baseline"}};
  registry.register_version("fraud-detector", "1.1.0", no_artifact);

  const Bytes from_file = pseudo_random_bytes(3 * 1024 * 1024 + 1, 2);
  write_file(scratch / "model-2.onnx", to_string(from_file));
  RegisterOptions onnx;
  onnx.framework = ModelFramework::Onnx;
  onnx.artifact_file = scratch / "model-2.onnx";
  onnx.metrics.auc_roc = 0.99;
  snapshot.artifacts["fraud-detector:2.0.0"] = from_file;
  registry.register_version("fraud-detector", "2.0.0", onnx);

  RegisterOptions doomed;
  doomed.artifact = to_bytes("to be deleted");
  registry.register_version("fraud-detector", "0.9.0", doomed);
  EXPECT_TRUE(registry.delete_version("fraud-detector", "0.9.0"));
  snapshot.deleted.push_back("fraud-detector:0.9.0");

  RegisterOptions empty;
  empty.framework = ModelFramework::TensorFlow;
  empty.artifact = Bytes{};
  snapshot.artifacts["ranker:v1"] = Bytes{};
  registry.register_version("ranker", "v1", empty);

  const std::string streamed = "streamed artifact bytes\0with a NUL";
  std::istringstream stream(streamed);
  RegisterOptions from_stream;
  from_stream.artifact_stream = &stream;
  snapshot.artifacts["ranker:v2"] = to_bytes(streamed);
  registry.register_version("ranker", "v2", from_stream);

  EXPECT_TRUE(registry.transition_stage("fraud-detector", "1.0.0", ModelStage::Production));
  EXPECT_TRUE(registry.transition_stage("fraud-detector", "2.0.0", ModelStage::Staging));
  EXPECT_TRUE(registry.transition_stage("fraud-detector", "2.0.0", ModelStage::Production,
                                        ModelStage::Staging));
  EXPECT_TRUE(registry.transition_stage("fraud-detector", "1.1.0", ModelStage::Staging));
  EXPECT_TRUE(registry.transition_stage("ranker", "v1", ModelStage::Production));

  snapshot.models = registry.list_models();
  for (const auto& name : snapshot.models) snapshot.by_name[name] = *registry.get_model(name);
  return snapshot;
}

// Checks a freshly opened registry at `dir` against `expected`; returns the failures.
std::string verify_snapshot(const fs::path& dir, const Snapshot& expected,
                            const fs::path& scratch) {
  Checks checks;
  auto registry = ModelRegistry::open(dir);
  const RecoveryReport recovered = registry.recover();
  checks.expect(recovered.registrations_rolled_back == 0 && recovered.deletions_completed == 0,
                "a clean shutdown must leave nothing to recover");
  checks.expect(registry.metadata_store()->list_pending().empty(),
                "a clean shutdown must leave no reservation");

  if (registry.list_models() != expected.models) {
    checks.fail("list_models: got [{}], want [{}]", fmt::join(registry.list_models(), ", "),
                fmt::join(expected.models, ", "));
  }
  for (const auto& [name, model] : expected.by_name) {
    const auto got = registry.get_model(name);
    if (!got) {
      checks.fail("model {} is gone", name);
      continue;
    }
    if (*got != model) {
      checks.fail("model {} changed across the restart:\n got  {}\n want {}", name,
                  nlohmann::json(*got).dump(), nlohmann::json(model).dump());
    }
    const auto latest = registry.get_latest(name);
    checks.expect(latest && *latest == *model.latest_version(), "get_latest of " + name);
    const auto production = registry.get_production_model(name);
    checks.expect(production.has_value() == model.production_version().has_value() &&
                      (!production || *production == *model.production_version()),
                  "get_production_model of " + name);
    checks.expect(registry.list_versions(name) == model.versions, "list_versions of " + name);
    checks.expect(registry.list_versions(name, ModelStage::Production).size() ==
                      (model.production_version() ? 1u : 0u),
                  "one Production version of " + name);
    for (const auto& version : model.versions) {
      const auto loaded = registry.load_artifact(name, version.version);
      const auto it = expected.artifacts.find(version.full_name());
      if (it == expected.artifacts.end()) {
        checks.expect(!loaded && !version.artifact_path,
                      version.full_name() + " has no artifact, load_artifact must say so");
        continue;
      }
      checks.expect(loaded && *loaded == it->second,
                    version.full_name() + ": load_artifact (bytes) returns the registered bytes");
      checks.expect(version.artifact_size == it->second.size() &&
                        version.artifact_sha256 == sha256_hex(it->second),
                    version.full_name() + ": recorded size and SHA-256");
      std::ostringstream out;
      checks.expect(
          registry.load_artifact(name, version.version, out) && out.str() == to_string(it->second),
          version.full_name() + ": load_artifact (ostream)");
      const fs::path destination = scratch / ("loaded-" + version.version + ".bin");
      checks.expect(registry.load_artifact(name, version.version, destination) &&
                        read_file(destination) == to_string(it->second),
                    version.full_name() + ": load_artifact (file)");
    }
  }
  for (const auto& full_name : expected.deleted) {
    const auto colon = full_name.find(':');
    const std::string name = full_name.substr(0, colon);
    const std::string version = full_name.substr(colon + 1);
    checks.expect(!registry.get_version(name, version),
                  full_name + " was deleted, it must stay gone");
    checks.expect(!fs::exists(dir / "artifacts" / name / version),
                  full_name + " was deleted, its artifact directory must be gone");
  }
  return checks.report();
}

TEST_F(DurableRegistryTest, EverythingSurvivesARestartIntoAnotherProcess) {
  Snapshot expected;
  {
    auto registry = ModelRegistry::open(dir());
    expected = populate(registry, temp_.path());
  }
  ASSERT_EQ(expected.models, (std::vector<std::string>{"fraud-detector", "ranker"}));
  ASSERT_EQ(expected.by_name["fraud-detector"].production_version()->version, "2.0.0");
  ASSERT_EQ(expected.by_name["fraud-detector"].get_version("1.0.0")->stage, ModelStage::Archived);

  // Nothing of the writer outlives it: no lock file claims it is still alive.
  EXPECT_TRUE(!fs::exists(dir() / "locks") || fs::is_empty(dir() / "locks"));

  // Another process sees everything, and can keep writing.
  EXPECT_CHILD_PASSED(run_in_child([&] {
    std::string report = verify_snapshot(dir(), expected, temp_.path());
    auto registry = ModelRegistry::open(dir());
    RegisterOptions options;
    options.artifact = to_bytes("written by the second process");
    registry.register_version("fraud-detector", "3.0.0", options);
    registry.transition_stage("fraud-detector", "3.0.0", ModelStage::Production);
    return report;
  }));

  // And what the child wrote is visible here, on top of what we wrote.
  expected.artifacts["fraud-detector:3.0.0"] = to_bytes("written by the second process");
  {
    auto registry = ModelRegistry::open(dir());
    for (const auto& name : expected.models) expected.by_name[name] = *registry.get_model(name);
    const auto production = registry.get_production_model("fraud-detector");
    ASSERT_TRUE(production);
    EXPECT_EQ(production->version, "3.0.0");
    EXPECT_EQ(registry.get_version("fraud-detector", "2.0.0")->stage, ModelStage::Archived);
    EXPECT_EQ(registry.get_latest("fraud-detector")->version, "3.0.0");
    EXPECT_EQ(registry.list_versions("fraud-detector").size(), 4u);
  }
  EXPECT_EQ(verify_snapshot(dir(), expected, temp_.path()), "");
}

// ---------------------------------------------------------------------------------------------
// (b) Integrity.

TEST_F(DurableRegistryTest, ARelativeDirectoryKeepsMeaningTheSameOneAfterAChdir) {
  // Connections and lock files are opened after open() returns: a relative path must not be
  // resolved again against a new working directory.
  const fs::path first = temp_.path() / "first";
  const fs::path second = temp_.path() / "second";
  fs::create_directories(first);
  fs::create_directories(second / "reg");
  const fs::path before = fs::current_path();
  struct Restore {
    fs::path dir;
    ~Restore() { fs::current_path(dir); }
  } restore{before};
  fs::current_path(first);
  auto registry = ModelRegistry::open("reg");
  RegisterOptions options;
  options.artifact = to_bytes("weights");
  registry.register_version("m", "1", options);
  fs::current_path(second);
  ModelRegistry::open("reg").register_version("other", "1");  // a registry in second/reg
  EXPECT_EQ(registry.list_models(), std::vector<std::string>{"m"});
  EXPECT_EQ(registry.list_versions("m").size(), 1u);
  EXPECT_EQ(to_string(*registry.load_artifact("m", "1")), "weights");
  registry.register_version("m", "2", options);
  EXPECT_EQ(
      std::dynamic_pointer_cast<SqliteMetadataStore>(registry.metadata_store())->lock_directory(),
      first / "reg" / "locks");
  fs::current_path(before);
  EXPECT_EQ(ModelRegistry::open(first / "reg").list_versions("m").size(), 2u);
}

TEST_F(DurableRegistryTest, CorruptedArtifactsFailEveryLoadWithDataLoss) {
  CapturedLog log;
  auto registry = ModelRegistry::open(dir());
  std::map<std::string, Bytes> bytes;
  for (const std::string version :
       {"flipped", "truncated", "deleted", "appended", "swapped", "intact", "donor"}) {
    RegisterOptions options;
    // Same size everywhere, so that "swapped" gets a well-formed artifact of the right size.
    options.artifact = pseudo_random_bytes(256 * 1024, std::hash<std::string>{}(version));
    bytes[version] = *options.artifact;
    const ModelVersion v = registry.register_version("detector", version, options);
    ASSERT_EQ(v.artifact_path, "detector/" + version + "/model.bin");
  }
  auto file_of = [&](const std::string& version) {
    return artifact_file(*registry.get_version("detector", version));
  };

  {  // one byte flipped in the middle
    std::fstream file(testing::writable(file_of("flipped")),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(100000);
    const char original = static_cast<char>(file.get());
    file.seekp(100000);
    file.put(static_cast<char>(original ^ 0x20));
    ASSERT_TRUE(file.good());
  }
  fs::resize_file(testing::writable(file_of("truncated")), 128 * 1024);
  ASSERT_TRUE(fs::remove(file_of("deleted")));
  {  // a byte appended: a loader that stops at the recorded size would not notice
    std::ofstream file(testing::writable(file_of("appended")), std::ios::binary | std::ios::app);
    file.put('x');
    ASSERT_TRUE(file.good());
  }
  fs::copy_file(file_of("donor"), testing::writable(file_of("swapped")),
                fs::copy_options::overwrite_existing);

  const fs::path out_dir = temp_.path() / "out";
  fs::create_directories(out_dir);
  write_file(out_dir / "existing.bin", "previous contents");
  const auto out_dir_before = tree(out_dir);

  for (const std::string version : {"flipped", "truncated", "deleted", "appended", "swapped"}) {
    SCOPED_TRACE(version);
    // The metadata is intact: only the bytes are bad.
    ASSERT_TRUE(registry.get_version("detector", version));

    std::string message = expect_logged_error<DataLossError>(
        log, "bytes", [&] { (void)registry.load_artifact("detector", version); });
    EXPECT_THAT(message, HasSubstr("detector:" + version));

    std::ostringstream out;
    expect_logged_error<DataLossError>(
        log, "ostream", [&] { (void)registry.load_artifact("detector", version, out); });
    EXPECT_EQ(out.str().size(), 0u) << "the stream must receive no byte of a corrupt artifact";

    expect_logged_error<DataLossError>(log, "new file", [&] {
      (void)registry.load_artifact("detector", version, out_dir / "new.bin");
    });
    expect_logged_error<DataLossError>(log, "existing file", [&] {
      (void)registry.load_artifact("detector", version, out_dir / "existing.bin");
    });
    EXPECT_FALSE(fs::exists(out_dir / "new.bin")) << "no destination file may be created";
    EXPECT_EQ(read_file(out_dir / "existing.bin"), "previous contents")
        << "an existing destination must not be replaced";
    EXPECT_EQ(tree(out_dir), out_dir_before) << "no temporary file may be left behind";
  }

  // Corruption of some artifacts does not affect the others, nor does a failed load.
  for (const std::string version : {"intact", "donor"}) {
    EXPECT_EQ(registry.load_artifact("detector", version), bytes[version]) << version;
    std::ostringstream out;
    EXPECT_TRUE(registry.load_artifact("detector", version, out));
    EXPECT_EQ(out.str(), to_string(bytes[version])) << version;
    EXPECT_TRUE(registry.load_artifact("detector", version, out_dir / "existing.bin"));
    EXPECT_EQ(read_file(out_dir / "existing.bin"), to_string(bytes[version])) << version;
  }

  // Every load checks the bytes; nothing is cached from an earlier load: a registry opened
  // afresh refuses them too.
  auto reopened = ModelRegistry::open(dir());
  for (const std::string version : {"flipped", "truncated", "deleted", "appended", "swapped"}) {
    EXPECT_THROW((void)reopened.load_artifact("detector", version), DataLossError) << version;
  }
}

// ---------------------------------------------------------------------------------------------
// (c) Relocation.

bool file_contains(const fs::path& file, const std::string& needle) {
  return read_file(file).find(needle) != std::string::npos;
}

TEST_F(DurableRegistryTest, ACopiedOrMovedDirectoryOpensWithEverything) {
  Snapshot expected;
  {
    auto registry = ModelRegistry::open(dir());
    expected = populate(registry, temp_.path());
  }
  const fs::path copy = temp_.path() / "copied" / "elsewhere";
  fs::create_directories(copy.parent_path());
  fs::copy(dir(), copy, fs::copy_options::recursive);
  fs::remove_all(dir());

  // Nothing absolute is persisted: no file of the registry names the old place.
  const std::string old_path = fs::absolute(dir()).lexically_normal().string();
  for (const auto& entry : fs::recursive_directory_iterator(copy)) {
    if (entry.is_regular_file()) {
      EXPECT_FALSE(file_contains(entry.path(), old_path))
          << entry.path() << " records the registry's old absolute path";
    }
  }

  EXPECT_EQ(verify_snapshot(copy, expected, temp_.path()), "");
  {
    auto registry = ModelRegistry::open(copy);
    for (const auto& name : registry.list_models()) {
      for (const auto& version : registry.list_versions(name)) {
        if (version.artifact_path) {
          EXPECT_FALSE(fs::path(*version.artifact_path).is_absolute()) << version.full_name();
        }
      }
    }
    RegisterOptions options;
    options.artifact = to_bytes("registered in the copy");
    registry.register_version("ranker", "v3", options);
  }
  expected.artifacts["ranker:v3"] = to_bytes("registered in the copy");

  // Moved once more, by rename, with the version registered in the copy.
  const fs::path renamed = temp_.path() / "renamed";
  fs::rename(copy, renamed);
  {
    auto registry = ModelRegistry::open(renamed);
    for (const auto& name : expected.models) expected.by_name[name] = *registry.get_model(name);
    EXPECT_EQ(registry.load_artifact("ranker", "v3"), to_bytes("registered in the copy"));
  }
  EXPECT_CHILD_PASSED(
      run_in_child([&] { return verify_snapshot(renamed, expected, temp_.path()); }));
}

// ---------------------------------------------------------------------------------------------
// (d) Databases that must be refused, untouched.

// Creates a registry with one version and an artifact at `dir`, and closes it.
void create_small_registry(const fs::path& dir) {
  auto registry = ModelRegistry::open(dir);
  RegisterOptions options;
  options.artifact = to_bytes("weights");
  registry.register_version("model", "1", options);
  registry.transition_stage("model", "1", ModelStage::Production);
}

void expect_database_refused_untouched(const fs::path& dir, const fs::path& db, bool newer_schema) {
  const std::string before = read_file(db);
  const fs::path artifact = dir / "artifacts" / "model" / "1" / "model.bin";
  CapturedLog log;
  for (int attempt = 0; attempt < 2; ++attempt) {
    SCOPED_TRACE(attempt);
    std::string message;
    if (newer_schema) {
      message = expect_logged_error<FailedPreconditionError>(
          log, "open", [&] { (void)ModelRegistry::open(dir); });
    } else {
      message =
          expect_logged_error<DataLossError>(log, "open", [&] { (void)ModelRegistry::open(dir); });
    }
    EXPECT_THAT(message, HasSubstr(db.string())) << "the error must name the database file";
    EXPECT_TRUE(read_file(db) == before) << "the refused database file must be left untouched";
    // A registry that cannot read its catalog must not "recover" (delete) any artifact either.
    EXPECT_EQ(read_file(artifact), "weights");
  }
}

std::uint32_t read_be32(const std::string& bytes, std::size_t offset) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value = (value << 8) | static_cast<std::uint8_t>(bytes[offset + i]);
  }
  return value;
}

void write_be32(std::string& bytes, std::size_t offset, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) {
    bytes[offset + i] = static_cast<char>(value >> (24 - 8 * i));
  }
}

// The SQLite file header (https://www.sqlite.org/fileformat.html#the_database_header): the
// user version, where modelreg keeps its schema version, and the application id.
constexpr std::size_t kUserVersionOffset = 60;
constexpr std::size_t kApplicationIdOffset = 68;

// The bytes of a cleanly closed registry's database, with no WAL content that could override
// the header we are about to edit.
std::string closed_database(const fs::path& db) {
  const fs::path wal = db.string() + "-wal";
  EXPECT_TRUE(!fs::exists(wal) || fs::file_size(wal) == 0)
      << "a closed registry should have checkpointed its WAL";
  return read_file(db);
}

TEST_F(DurableRegistryTest, ADatabaseOfRandomBytesIsRefusedAndLeftUntouched) {
  create_small_registry(dir());
  const std::size_t size = closed_database(db_file()).size();
  std::mt19937_64 random(20240229);
  std::string garbage(size, '\0');
  for (auto& c : garbage) c = static_cast<char>(random());
  write_file(db_file(), garbage);
  expect_database_refused_untouched(dir(), db_file(), /*newer_schema=*/false);
}

TEST_F(DurableRegistryTest, ADatabaseWithAValidHeaderAndDamagedPagesIsRefusedAndLeftUntouched) {
  create_small_registry(dir());
  std::string bytes = closed_database(db_file());
  std::mt19937_64 random(7);
  for (std::size_t i = 100; i < bytes.size(); ++i) bytes[i] = static_cast<char>(random());
  write_file(db_file(), bytes);
  expect_database_refused_untouched(dir(), db_file(), /*newer_schema=*/false);
}

TEST_F(DurableRegistryTest, AnotherApplicationsSqliteDatabaseIsRefusedAndLeftUntouched) {
  create_small_registry(dir());
  std::string bytes = closed_database(db_file());
  write_be32(bytes, kApplicationIdOffset, 0x12345678);
  write_file(db_file(), bytes);
  expect_database_refused_untouched(dir(), db_file(), /*newer_schema=*/false);
}

TEST_F(DurableRegistryTest, ANewerSchemaVersionIsRefusedAndLeftUntouched) {
  create_small_registry(dir());
  std::string bytes = closed_database(db_file());
  ASSERT_EQ(read_be32(bytes, kUserVersionOffset),
            static_cast<std::uint32_t>(SqliteMetadataStore::kSchemaVersion))
      << "the database records its schema version in PRAGMA user_version";
  write_be32(bytes, kUserVersionOffset, SqliteMetadataStore::kSchemaVersion + 1);
  write_file(db_file(), bytes);
  expect_database_refused_untouched(dir(), db_file(), /*newer_schema=*/true);

  // Only the version was wrong: with it restored, everything is there.
  write_be32(bytes, kUserVersionOffset, SqliteMetadataStore::kSchemaVersion);
  write_file(db_file(), bytes);
  auto registry = ModelRegistry::open(dir());
  EXPECT_EQ(registry.get_production_model("model")->version, "1");
  EXPECT_EQ(registry.load_artifact("model", "1"), to_bytes("weights"));
}

// ---------------------------------------------------------------------------------------------
// (e) Digests and streaming.

TEST(ReferenceSha256Test, MatchesTheFipsTestVectors) {
  EXPECT_EQ(sha256_hex(to_bytes("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(Bytes{}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(to_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(Bytes(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_F(DurableRegistryTest, RecordsTheSha256AndSizeOfKnownInputs) {
  auto registry = ModelRegistry::open(dir());
  RegisterOptions abc;
  abc.artifact = to_bytes("abc");
  const ModelVersion v = registry.register_version("digest", "abc", abc);
  EXPECT_EQ(v.artifact_size, 3u);
  EXPECT_EQ(v.artifact_sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(read_file(artifact_file(v)), "abc");

  RegisterOptions empty;
  empty.artifact = Bytes{};
  const ModelVersion e = registry.register_version("digest", "empty", empty);
  EXPECT_EQ(e.artifact_size, 0u);
  EXPECT_EQ(e.artifact_sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ASSERT_TRUE(e.artifact_path);
  // An empty artifact is an artifact: loads return it, not "none".
  EXPECT_EQ(registry.load_artifact("digest", "empty"), std::optional<Bytes>(Bytes{}));
  std::ostringstream out;
  EXPECT_TRUE(registry.load_artifact("digest", "empty", out));
  EXPECT_TRUE(out.good());
  EXPECT_EQ(out.str(), "");
  const fs::path destination = temp_.path() / "empty.bin";
  EXPECT_TRUE(registry.load_artifact("digest", "empty", destination));
  EXPECT_TRUE(fs::exists(destination));
  EXPECT_EQ(fs::file_size(destination), 0u);

  // A version without an artifact has none to load, and loading it creates nothing.
  const RegisterOptions no_artifact;
  const ModelVersion none = registry.register_version("digest", "none", no_artifact);
  EXPECT_FALSE(none.artifact_path);
  EXPECT_EQ(none.artifact_size, 0u);
  EXPECT_EQ(none.artifact_sha256, "");
  EXPECT_EQ(registry.load_artifact("digest", "none"), std::nullopt);
  EXPECT_FALSE(registry.load_artifact("digest", "none", out));
  EXPECT_FALSE(registry.load_artifact("digest", "none", temp_.path() / "none.bin"));
  EXPECT_FALSE(fs::exists(temp_.path() / "none.bin"));
}

constexpr std::uint64_t kLargeSize = 50ull * 1024 * 1024 + 12345;

TEST_F(DurableRegistryTest, StreamsLargeArtifactsFromAndToFilesAndStreams) {
  // The source file and its digest, computed as it is written.
  const fs::path source = temp_.path() / "large-source.bin";
  std::string expected_sha;
  {
    GeneratedStreamBuf generated(kLargeSize, 42);
    std::ofstream out(source, std::ios::binary);
    ReferenceSha256 hash;
    std::vector<char> buffer(1 << 20);
    std::istream in(&generated);
    while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
      hash.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
      out.write(buffer.data(), in.gcount());
    }
    ASSERT_TRUE(out.good());
    expected_sha = hash.hex_digest();
  }
  ASSERT_EQ(fs::file_size(source), kLargeSize);

  auto registry = ModelRegistry::open(dir());
  RegisterOptions from_file;
  from_file.artifact_file = source;
  const ModelVersion a = registry.register_version("large", "from-file", from_file);
  EXPECT_EQ(a.artifact_size, kLargeSize);
  EXPECT_EQ(a.artifact_sha256, expected_sha);

  GeneratedStreamBuf generated(kLargeSize, 42);
  std::istream stream(&generated);
  RegisterOptions from_stream;
  from_stream.artifact_stream = &stream;
  const ModelVersion b = registry.register_version("large", "from-stream", from_stream);
  EXPECT_EQ(b.artifact_size, kLargeSize);
  EXPECT_EQ(b.artifact_sha256, expected_sha);
  EXPECT_EQ(fs::file_size(artifact_file(b)), kLargeSize);

  const fs::path loaded = temp_.path() / "loaded.bin";
  ASSERT_TRUE(registry.load_artifact("large", "from-stream", loaded));
  EXPECT_EQ(fs::file_size(loaded), kLargeSize);
  EXPECT_EQ(sha256_of_file(loaded), expected_sha);

  HashingSinkBuf sink;
  std::ostream out(&sink);
  ASSERT_TRUE(registry.load_artifact("large", "from-file", out));
  EXPECT_TRUE(out.good());
  EXPECT_EQ(sink.size(), kLargeSize);
  EXPECT_EQ(sink.hex_digest(), expected_sha);
}

// Starts a new peak-RSS measurement: a forked child inherits its parent's high-water mark, which
// would hide growth below it. Linux resets it on "5" written to clear_refs; where that is not
// allowed, the inherited mark only makes the check below weaker, never wrong.
void reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
}

// The process's peak resident memory in KiB (VmHWM), or ru_maxrss where /proc is unavailable.
long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST_F(DurableRegistryTest, StreamingALargeArtifactUsesBoundedMemory) {
  // In a fresh child, whose peak resident memory reflects only this work.
  EXPECT_CHILD_PASSED(run_in_child([&] {
    Checks checks;
    auto registry = ModelRegistry::open(dir());
    reset_peak_rss();
    const long before = peak_rss_kib();
    GeneratedStreamBuf generated(kLargeSize, 7);
    std::istream stream(&generated);
    RegisterOptions options;
    options.artifact_stream = &stream;
    const ModelVersion v = registry.register_version("large", "1", options);
    HashingSinkBuf sink;
    std::ostream out(&sink);
    checks.expect(registry.load_artifact("large", "1", out), "load_artifact (ostream)");
    checks.expect(sink.size() == kLargeSize && sink.hex_digest() == v.artifact_sha256,
                  "the streamed bytes match the recorded digest");
    checks.expect(registry.load_artifact("large", "1", temp_.path() / "copy.bin"),
                  "load_artifact (file)");
    const long growth_kib = peak_rss_kib() - before;
    if (growth_kib > 24 * 1024) {
      checks.fail("streaming a {} MiB artifact in and out grew the peak RSS by {} KiB",
                  kLargeSize >> 20, growth_kib);
    }
    return checks.report();
  }));
}

// ---------------------------------------------------------------------------------------------
// Durability::Relaxed.

TEST_F(DurableRegistryTest, RelaxedDurabilityKeepsCommitsWhenTheProcessIsKilled) {
  OpenOptions relaxed;
  relaxed.durability = Durability::Relaxed;
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  const pid_t pid = fork_child([&] {
    ::close(ready[0]);
    silence_modelreg_logging();
    char result = 'x';
    try {
      auto registry = ModelRegistry::open(dir(), relaxed);
      for (int i = 0; i < 20; ++i) {
        RegisterOptions options;
        if (i % 2 == 0) options.artifact = pseudo_random_bytes(1000 + 97 * i, i);
        registry.register_version("relaxed", fmt::format("v{}", i), options);
      }
      registry.transition_stage("relaxed", "v4", ModelStage::Production);
      registry.delete_version("relaxed", "v7");
      result = 'k';
    } catch (...) {
    }
    // Every call above has returned: report, then die without closing anything.
    (void)!::write(ready[1], &result, 1);
    ::raise(SIGKILL);
    return 99;
  });
  ASSERT_GE(pid, 0);
  ::close(ready[1]);
  char result = 0;
  ASSERT_EQ(::read(ready[0], &result, 1), 1);
  ::close(ready[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_EQ(result, 'k') << "the child failed before it was killed";
  ASSERT_TRUE(testing::killed_by_sigkill(status));

  for (const auto& options : {OpenOptions{}, relaxed}) {
    auto registry = ModelRegistry::open(dir(), options);
    EXPECT_TRUE(registry.metadata_store()->list_pending().empty());
    const auto versions = registry.list_versions("relaxed");
    ASSERT_EQ(versions.size(), 19u);
    EXPECT_FALSE(registry.get_version("relaxed", "v7"));
    EXPECT_EQ(registry.get_production_model("relaxed")->version, "v4");
    for (int i = 0; i < 20; i += 2) {
      EXPECT_EQ(registry.load_artifact("relaxed", fmt::format("v{}", i)),
                pseudo_random_bytes(1000 + 97 * i, i))
          << i;
    }
  }

  // Relaxed is a full registry in every other respect.
  {
    auto registry = ModelRegistry::open(dir(), relaxed);
    RegisterOptions options;
    options.artifact = to_bytes("relaxed and reopened");
    registry.register_version("relaxed", "v20", options);
    registry.transition_stage("relaxed", "v20", ModelStage::Production);
    EXPECT_THROW(registry.register_version("relaxed", "v20", options), AlreadyExistsError);
  }
  EXPECT_CHILD_PASSED(run_in_child([&] {
    Checks checks;
    auto registry = ModelRegistry::open(dir());
    checks.expect(registry.get_production_model("relaxed")->version == "v20",
                  "v20 is in Production after the restart");
    checks.expect(registry.get_version("relaxed", "v4")->stage == ModelStage::Archived,
                  "v4 was archived by the promotion of v20");
    checks.expect(registry.load_artifact("relaxed", "v20") == to_bytes("relaxed and reopened"),
                  "v20's artifact");
    return checks.report();
  }));
}

}  // namespace
}  // namespace modelreg

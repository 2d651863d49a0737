// Fault injection on both store interfaces: a whole workflow (register from bytes, a file and a
// stream, promote, alias, tags, loads of every kind, delete, export, import, garbage collection,
// delete_model) runs once per k, with the k-th call to either store failing (a save breaks off
// midway, as a full disk or an I/O error would). After each step the test checks: the caller got
// a StorageError, it was logged, the registry is as before the failed call once recover() ran
// (or, for the steps whose contract lets them finish instead, as after it), and the same call
// then succeeds. Every k up to the number of store calls of the workflow is tried.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "forwarding_metadata_store.hpp"
#include "log_capture.hpp"
#include "modelreg/model_archive.hpp"
#include "modelreg/modelreg.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;

// One count over the calls of every faulty store: the `fail_at`-th fails (0: none does).
struct Faults {
  int calls = 0;
  int fail_at = 0;
  bool paused = false;
  std::string fired;  // the call that failed, once one did

  // True if this call is the one to fail.
  bool next(const std::string& what) {
    if (paused || !fired.empty() || ++calls != fail_at) return false;
    fired = what;
    return true;
  }
  void hit(const std::string& what) {
    if (next(what)) throw StorageError("injected failure of " + what);
  }
};

class FaultyCatalog final : public testing::ForwardingMetadataStore {
 public:
  FaultyCatalog(std::shared_ptr<MetadataStore> inner, std::shared_ptr<Faults> faults)
      : ForwardingMetadataStore(std::move(inner)), faults_(std::move(faults)) {}

 private:
  void before(const char* operation) const override {
    faults_->hit(std::string("catalog ") + operation);
  }
  std::shared_ptr<Faults> faults_;
};

// Hands out `source`'s bytes up to `limit`, then fails (badbit), as a write that breaks off.
class BreakingBuf final : public std::streambuf {
 public:
  BreakingBuf(std::istream& source, std::streamsize limit) : source_(source), left_(limit) {}

 protected:
  int_type underflow() override {
    if (left_ <= 0) throw StorageError("injected failure midway through the artifact");
    source_.read(&byte_, 1);
    if (source_.gcount() == 0) return traits_type::eof();
    --left_;
    setg(&byte_, &byte_, &byte_ + 1);
    return traits_type::to_int_type(byte_);
  }

 private:
  std::istream& source_;
  std::streamsize left_;
  char byte_ = 0;
};

class FaultyArtifacts final : public ModelStore {
 public:
  FaultyArtifacts(std::shared_ptr<ModelStore> inner, std::shared_ptr<Faults> faults)
      : inner_(std::move(inner)), faults_(std::move(faults)) {}

 private:
  void save_impl(const std::string& path, std::istream& in) override {
    const auto first = path.find('/');
    const auto second = path.find('/', first + 1);
    const std::string model = path.substr(0, first);
    const std::string version = path.substr(first + 1, second - first - 1);
    if (faults_->next("store save " + path)) {
      BreakingBuf breaking(in, 3);  // a few bytes reach the file, then the write fails
      std::istream broken(&breaking);
      inner_->save_artifact(model, version, broken);
      throw StorageError("the broken save of " + path + " succeeded");
    }
    inner_->save_artifact(model, version, in);
  }
  std::unique_ptr<std::istream> open_impl(const std::string& path) const override {
    faults_->hit("store open " + path);
    return inner_->open_artifact(path);
  }
  bool delete_impl(const std::string& path) override {
    faults_->hit("store delete " + path);
    return inner_->delete_artifact(path);
  }
  std::vector<std::string> list_impl() const override {
    faults_->hit("store list");
    return inner_->list_artifacts();
  }

  std::shared_ptr<ModelStore> inner_;
  std::shared_ptr<Faults> faults_;
};

// A durable registry (SQLite catalog, files) behind the faulty stores.
struct Registry {
  Registry(const fs::path& dir, const std::shared_ptr<Faults>& faults)
      : files(std::make_shared<FileModelStore>(dir / "artifacts")),
        registry(std::make_shared<FaultyArtifacts>(files, faults),
                 std::make_shared<FaultyCatalog>(
                     std::make_shared<SqliteMetadataStore>(dir / "registry.db"), faults)) {}
  std::shared_ptr<FileModelStore> files;
  ModelRegistry registry;
};

// Everything visible of a registry except times and history, read around the faults: two
// registries with equal snapshots serve the same models.
std::string snapshot(const Registry& r) {
  std::ostringstream out;
  const ModelRegistry& registry = r.registry;
  for (const auto& name : registry.list_models()) {
    const auto model = registry.get_model(name);
    out << "model " << name << " '" << model->description << "' "
        << nlohmann::json(model->tags).dump() << '\n';
    for (const auto& v : registry.list_versions(name)) {
      out << "  " << v.version << ' ' << to_string(v.stage) << ' '
          << nlohmann::json(v.aliases).dump() << ' ' << nlohmann::json(v.tags).dump() << " '"
          << v.description << "' " << nlohmann::json(v.metrics).dump() << ' ' << v.artifact_size
          << ' ' << v.artifact_sha256 << '\n';
    }
  }
  for (const auto& path : r.files->list_artifacts()) out << "artifact " << path << '\n';
  for (const auto& entry : fs::recursive_directory_iterator(r.files->base_path())) {
    if (entry.path().filename().string().rfind(".tmp-", 0) == 0) {
      out << "temporary file " << entry.path().filename().string() << '\n';
    }
  }
  out << "reservations " << registry.metadata_store()->list_pending().size() << '\n';
  return out.str();
}

struct Step {
  std::string name;
  std::function<void()> run;
  // Its contract lets a failure midway finish the step rather than undo it (a deletion whose
  // artifact is already gone; garbage collection removes item by item).
  bool may_finish = false;
};

class FaultInjectionTest : public ::testing::Test {
 protected:
  // The workflow on `source` (and `target` for the import), in a fresh directory.
  std::vector<Step> workflow(Registry& source, Registry& target, const fs::path& dir) {
    ModelRegistry& r = source.registry;
    const fs::path archive = dir / "m.tar";
    std::vector<Step> steps;
    steps.push_back({"register m:1 from bytes", [&r] {
                       RegisterOptions options;
                       options.artifact = to_bytes("weights of version one");
                       options.metrics.accuracy = 0.9;
                       options.tags = {{"team", "risk"}};
                       r.register_version("m", "1", options);
                     }});
    steps.push_back({"register m:2 from a file", [&r, dir] {
                       RegisterOptions options;
                       options.artifact_file = dir / "source.bin";
                       r.register_version("m", "2", options);
                     }});
    steps.push_back({"register m:3 from a stream", [&r] {
                       std::istringstream in("weights of version three, streamed");
                       RegisterOptions options;
                       options.artifact_stream = &in;
                       r.register_version("m", "3", options);
                     }});
    steps.push_back(
        {"promote m:1", [&r] { r.transition_stage("m", "1", ModelStage::Production); }});
    steps.push_back(
        {"promote m:2 over m:1", [&r] { r.transition_stage("m", "2", ModelStage::Production); }});
    steps.push_back({"set alias", [&r] { r.set_alias("m", "champion", "2"); }});
    steps.push_back({"set version tag", [&r] { r.set_version_tag("m", "3", "stage", "canary"); }});
    steps.push_back(
        {"set model description", [&r] { r.set_model_description("m", "fraud model"); }});
    steps.push_back({"load bytes", [&r] {
                       ASSERT_EQ(to_string(*r.load_artifact("m", "1")), "weights of version one");
                     }});
    steps.push_back({"load to a stream", [&r] {
                       std::ostringstream out;
                       ASSERT_TRUE(r.load_artifact("m", "3", out));
                       ASSERT_EQ(out.str(), "weights of version three, streamed");
                     }});
    steps.push_back({"load to a file", [&r, dir] {
                       ASSERT_TRUE(r.load_artifact("m", "2", dir / "loaded.bin"));
                       ASSERT_EQ(testing::read_file(dir / "loaded.bin"), "weights from a file");
                     }});
    steps.push_back({"delete m:3", [&r] { ASSERT_TRUE(r.delete_version("m", "3")); }, true});
    steps.push_back({"export m", [&r, archive] { export_model(r, "m", archive); }});
    steps.push_back({"import m", [&target, archive] { import_model(target.registry, archive); }});
    steps.push_back({"collect garbage",
                     [&r] {
                       GcOptions options;
                       options.apply = true;
                       collect_garbage(r, options);
                     },
                     true});
    steps.push_back({"delete model m", [&r] { ASSERT_TRUE(r.delete_model("m")); }, true});
    return steps;
  }

  // Runs the workflow with the k-th store call failing (none for k = 0). Returns the snapshots
  // after each step, and whether a fault fired.
  bool run(int k, std::vector<std::string>& after, const std::vector<std::string>* expected,
           int* calls = nullptr, std::string* fired = nullptr) {
    testing::TestDir dir("modelreg-faults");
    std::ofstream(dir.path() / "source.bin") << "weights from a file";
    auto faults = std::make_shared<Faults>();
    Registry source(dir.path() / "source", faults);
    Registry target(dir.path() / "target", faults);
    faults->calls = 0;  // counted from here: the registries' construction is not the workflow
    faults->fail_at = k;
    const auto steps = workflow(source, target, dir.path());
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const Step& step = steps[i];
      SCOPED_TRACE(::testing::Message() << "k = " << k << ", step '" << step.name << "'");
      faults->paused = true;
      const std::string before = snapshot(source) + snapshot(target);
      faults->paused = false;
      testing::LogCapture log;
      const bool fired_before = !faults->fired.empty();
      bool failed = false;
      try {
        step.run();
      } catch (const Error& e) {
        failed = true;
        EXPECT_FALSE(fired_before || faults->fired.empty()) << "not injected: " << e.what();
        EXPECT_EQ(e.code(), ErrorCode::Storage) << faults->fired << ": " << e.what();
        bool logged = false;
        for (const auto& message : log.errors()) logged |= message.find(e.what()) != message.npos;
        EXPECT_TRUE(logged) << "not logged at error: " << e.what();
      }
      const bool fired_now = !fired_before && !faults->fired.empty();
      faults->paused = true;
      if (fired_now) {
        // Whatever was left behind, recover() settles (the registry's own reservations).
        source.registry.recover();
        target.registry.recover();
        const std::string now = snapshot(source) + snapshot(target);
        if (!failed) {
          // A failure the call may swallow (a best-effort cleanup) is logged and changes
          // nothing the caller sees.
          if (expected != nullptr) {
            EXPECT_EQ(now, (*expected)[i]) << faults->fired;
          }
        } else if (step.may_finish && expected != nullptr && now == (*expected)[i]) {
          failed = false;  // finished despite the failure, as its contract allows
        } else {
          EXPECT_EQ(now, before) << faults->fired;
        }
        if (failed) {
          EXPECT_NO_THROW(step.run()) << "the next call fails too";
        }
      }
      after.push_back(snapshot(source) + snapshot(target));
      if (expected != nullptr) {
        EXPECT_EQ(after.back(), (*expected)[i]) << faults->fired;
      }
      faults->paused = false;
      if (::testing::Test::HasFatalFailure()) return true;
    }
    if (calls != nullptr) *calls = faults->calls;
    if (fired != nullptr) *fired = faults->fired;
    return !faults->fired.empty();
  }
};

TEST_F(FaultInjectionTest, EveryStoreCallOfTheWorkflowFailsOnceInTurn) {
  std::vector<std::string> expected;
  int calls = 0;
  ASSERT_FALSE(run(0, expected, nullptr, &calls));
  ASSERT_FALSE(::testing::Test::HasFailure());
  int k = 1;
  for (;; ++k) {
    std::vector<std::string> after;
    std::string fired;
    if (!run(k, after, &expected, nullptr, &fired)) break;
    std::printf("fault %d: %s\n", k, fired.c_str());
    if (::testing::Test::HasFatalFailure()) break;
  }
  // Each call the fault-free workflow made was failed once, and none is left.
  EXPECT_EQ(k - 1, calls);
  EXPECT_GT(calls, 30);
}

}  // namespace
}  // namespace modelreg

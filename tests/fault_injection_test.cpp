// Fault injection on both store interfaces and on the library's I/O seam: a whole workflow
// (register from bytes, a file and a stream, promote, alias, tags, loads of every kind, delete,
// export, import, garbage collection, delete_model) runs once per k, with the k-th call to either
// store failing (a save breaks off midway, as a full disk or an I/O error would). After each step
// the test checks: the caller got a StorageError, it was logged, the registry is as before the
// failed call once recover() ran (or, for the steps whose contract lets them finish instead, as
// after it), and the same call then succeeds. Every k up to the number of store calls of the
// workflow is tried. At the seam (detail::Io: every open, read, write, fsync, rename, unlink, mkdir
// and flock of the library) the k-th eligible system call fails with EIO, or with ENOSPC where a
// full disk reports it; an EINTR where retrying is right, or a short write, must change nothing the
// caller sees.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "forwarding_metadata_store.hpp"
#include "io.hpp"
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

// How the seam's k-th eligible call fails.
enum class Fault { Eio, Enospc, Eintr, ShortWrite };

const char* name_of(Fault fault) {
  switch (fault) {
    case Fault::Eio:
      return "EIO";
    case Fault::Enospc:
      return "ENOSPC";
    case Fault::Eintr:
      return "EINTR";
    case Fault::ShortWrite:
      return "ShortWrite";
  }
  return "?";
}

// The library's I/O seam with the k-th call that `fault` applies to failing: EIO on any call;
// ENOSPC where a full disk reports it (creating, writing, syncing, renaming, making a
// directory); EINTR on the calls that wait (read, write, fsync, a blocking flock), which the
// library must retry; a write that takes only half of what it was given.
class FaultyIo final : public detail::Io {
 public:
  FaultyIo(Fault fault, std::shared_ptr<Faults> faults)
      : fault_(fault), faults_(std::move(faults)) {}

  int openat(int directory, const char* path, int flags, mode_t mode) override {
    const bool creates = (flags & O_CREAT) != 0;
    if (fails(fault_ == Fault::Eio || (fault_ == Fault::Enospc && creates), "open", path)) {
      return -1;
    }
    return Io::openat(directory, path, flags, mode);
  }
  ssize_t read(int fd, void* data, std::size_t size) override {
    if (fails(fault_ == Fault::Eio || fault_ == Fault::Eintr, "read", fd)) return -1;
    return Io::read(fd, data, size);
  }
  ssize_t write(int fd, const void* data, std::size_t size) override {
    if (fault_ == Fault::ShortWrite) {
      if (size > 1 && faults_->next("short write to " + describe(fd))) {
        return Io::write(fd, data, size / 2);
      }
      return Io::write(fd, data, size);
    }
    if (fails(true, "write", fd)) return -1;
    return Io::write(fd, data, size);
  }
  ssize_t pread(int fd, void* data, std::size_t size, off_t offset) override {
    if (fails(fault_ == Fault::Eio || fault_ == Fault::Eintr, "pread", fd)) return -1;
    return Io::pread(fd, data, size, offset);
  }
  // A read from the page cache fails as any read does (EAGAIN, "not cached", is no failure).
  ssize_t pread_cached(int fd, void* data, std::size_t size, off_t offset) override {
    if (fails(fault_ == Fault::Eio || fault_ == Fault::Eintr, "pread_cached", fd)) return -1;
    return Io::pread_cached(fd, data, size, offset);
  }
  // A kernel copy writes as write() does: it fails the same ways, and may copy only part.
  ssize_t copy_file_range(int from, off_t* from_offset, int to, off_t* to_offset,
                          std::size_t size) override {
    if (fault_ == Fault::ShortWrite) {
      if (size > 1 && faults_->next("short copy to " + describe(to))) {
        return Io::copy_file_range(from, from_offset, to, to_offset, size / 2);
      }
      return Io::copy_file_range(from, from_offset, to, to_offset, size);
    }
    if (fails(true, "copy_file_range", to)) return -1;
    return Io::copy_file_range(from, from_offset, to, to_offset, size);
  }
  int fsync(int fd) override {
    if (fails(fault_ != Fault::ShortWrite, "fsync", fd)) return -1;
    return Io::fsync(fd);
  }
  int fstat(int fd, struct stat* status) override {
    if (fails(fault_ == Fault::Eio, "fstat", fd)) return -1;
    return Io::fstat(fd, status);
  }
  int flock(int fd, int operation) override {
    const bool waits = (operation & LOCK_NB) == 0;
    if (fails(fault_ == Fault::Eio || (fault_ == Fault::Eintr && waits), "flock", fd)) return -1;
    return Io::flock(fd, operation);
  }
  int renameat(int from_directory, const char* from, int to_directory, const char* to) override {
    if (fails(fault_ == Fault::Eio || fault_ == Fault::Enospc, "rename", from)) return -1;
    return Io::renameat(from_directory, from, to_directory, to);
  }
  int unlinkat(int directory, const char* path, int flags) override {
    if (fails(fault_ == Fault::Eio, "unlink", path)) return -1;
    return Io::unlinkat(directory, path, flags);
  }
  int mkdirat(int directory, const char* path, mode_t mode) override {
    if (fails(fault_ == Fault::Eio || fault_ == Fault::Enospc, "mkdir", path)) return -1;
    return Io::mkdirat(directory, path, mode);
  }

 private:
  static std::string describe(int fd) {
    char target[4096];
    const ssize_t n =
        ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof target);
    return n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "fd " + std::to_string(fd);
  }
  bool fails(bool applies, const char* call, int fd) {
    return applies && fails_now(std::string(call) + " " + describe(fd));
  }
  bool fails(bool applies, const char* call, const char* path) {
    return applies && fails_now(std::string(call) + " " + path);
  }
  bool fails_now(const std::string& what) {
    if (!faults_->next(std::string(name_of(fault_)) + " on " + what)) return false;
    errno = fault_ == Fault::Eio ? EIO : fault_ == Fault::Enospc ? ENOSPC : EINTR;
    return true;
  }

  Fault fault_;
  std::shared_ptr<Faults> faults_;
};

// A durable registry (SQLite catalog, files) behind the faulty stores.
struct Registry {
  // With `faulty_stores` false the stores are the plain ones (the faults are at the seam).
  Registry(const fs::path& dir, const std::shared_ptr<Faults>& faults, bool faulty_stores)
      : files(std::make_shared<FileModelStore>(dir / "artifacts")),
        registry(faulty_stores
                     ? std::shared_ptr<ModelStore>(std::make_shared<FaultyArtifacts>(files, faults))
                     : files,
                 faulty_stores
                     ? std::shared_ptr<MetadataStore>(std::make_shared<FaultyCatalog>(
                           std::make_shared<SqliteMetadataStore>(dir / "registry.db"), faults))
                     : std::make_shared<SqliteMetadataStore>(dir / "registry.db")) {}
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
  // Unset: the faults are in the stores; set: at the I/O seam, of this kind.
  std::optional<Fault> seam_;

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
    FaultyIo faulty_io(seam_.value_or(Fault::Eio), faults);
    std::optional<detail::ScopedIo> installed;
    if (seam_) installed.emplace(faulty_io);
    const bool transparent = seam_ == Fault::Eintr || seam_ == Fault::ShortWrite;
    Registry source(dir.path() / "source", faults, !seam_);
    Registry target(dir.path() / "target", faults, !seam_);
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
        EXPECT_FALSE(transparent) << "not retried: " << faults->fired << ": " << e.what();
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

  // Runs the workflow failing each call in turn; returns how many calls it made fault-free.
  int fail_each_call_in_turn() {
    std::vector<std::string> expected;
    int calls = 0;
    EXPECT_FALSE(run(0, expected, nullptr, &calls));
    if (::testing::Test::HasFailure()) return 0;
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
    return calls;
  }
};

TEST_F(FaultInjectionTest, EveryStoreCallOfTheWorkflowFailsOnceInTurn) {
  EXPECT_GT(fail_each_call_in_turn(), 30);
}

class SeamFaultTest : public FaultInjectionTest, public ::testing::WithParamInterface<Fault> {};

TEST_P(SeamFaultTest, EverySystemCallOfTheWorkflowFailsOnceInTurn) {
  seam_ = GetParam();
  // The workflow's artifacts are small: each is one write (six of them, loads and imports
  // included); every kind of call is much more frequent.
  EXPECT_GE(fail_each_call_in_turn(), GetParam() == Fault::ShortWrite ? 6 : 40);
}

INSTANTIATE_TEST_SUITE_P(Faults, SeamFaultTest,
                         ::testing::Values(Fault::Eio, Fault::Enospc, Fault::Eintr,
                                           Fault::ShortWrite),
                         [](const ::testing::TestParamInfo<Fault>& fault) {
                           return std::string(name_of(fault.param));
                         });

}  // namespace
}  // namespace modelreg

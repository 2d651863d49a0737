// verify_registry and collect_garbage on durable registries (ModelRegistry::open) and in-memory
// ones: damaged artifacts found for exactly the versions they belong to, garbage found with its
// sizes, a dry run that changes nothing, and collection that never takes what a visible version,
// a registration in flight or a live writer's temporary file needs, also while other threads and
// processes register.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "child_process.hpp"
#include "forwarding_metadata_store.hpp"
#include "log_capture.hpp"
#include "modelreg/modelreg.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using Kind = ArtifactProblem::Kind;
using testing::read_file;
using testing::TestDir;

// --- helpers ------------------------------------------------------------------------------

RegisterOptions with_artifact(const std::string& text) {
  RegisterOptions options;
  options.artifact = to_bytes(text);
  return options;
}

void write_file(const fs::path& path, const std::string& contents) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

// Every entry below `root`: its type, and a file's size and contents (hashed, to keep a failure
// readable). SQLite's wal-index (registry.db-shm) only by name: readers record their read marks
// in it, so any read of the catalog changes it.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> entries;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string name = fs::relative(it->path(), root).generic_string();
    const auto status = it->symlink_status();
    if (fs::is_directory(status)) {
      entries[name] = "directory";
    } else if (it->path().filename() == "registry.db-shm") {
      entries[name] = "wal-index";
    } else if (fs::is_regular_file(status)) {
      const std::string contents = read_file(it->path());
      entries[name] = "file of " + std::to_string(contents.size()) + " bytes, hash " +
                      std::to_string(std::hash<std::string>()(contents));
    } else {
      entries[name] = "other";
    }
  }
  return entries;
}

// What a report says, comparable as a whole: (kind, path, bytes), sorted.
std::vector<std::tuple<std::string, std::string, std::uint64_t>> items_of(const GcReport& report) {
  std::vector<std::tuple<std::string, std::string, std::uint64_t>> items;
  for (const auto& item : report.items)
    items.emplace_back(to_string(item.kind), item.path, item.bytes);
  std::sort(items.begin(), items.end());
  return items;
}

std::vector<std::tuple<std::string, std::string, std::string>> problems_of(
    const VerifyReport& report) {
  std::vector<std::tuple<std::string, std::string, std::string>> problems;
  for (const auto& p : report.problems) {
    problems.emplace_back(p.model_name + ":" + p.version, p.artifact_path, to_string(p.kind));
  }
  return problems;
}

// A durable registry with three artifacts and one version without an artifact.
class DurableMaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.register_version("m", "1", with_artifact("first artifact"));
    registry_.register_version("m", "2", with_artifact("second artifact, longer"));
    registry_.register_version("m", "3");  // no artifact
    registry_.register_version("n", "1", with_artifact("another model"));
  }

  fs::path artifacts() const { return dir_.path() / "artifacts"; }
  fs::path artifact(const std::string& model, const std::string& version) const {
    return artifacts() / model / version / "model.bin";
  }
  // Loads every visible version's artifact (load_artifact verifies size and SHA-256).
  void expect_every_version_loads() {
    for (const auto& model : registry_.list_models()) {
      for (const auto& v : registry_.list_versions(model)) {
        if (v.artifact_path) {
          EXPECT_NO_THROW(registry_.load_artifact(model, v.version)) << v.full_name();
        }
      }
    }
  }

  TestDir dir_{"modelreg-maintenance"};
  ModelRegistry registry_ = ModelRegistry::open(dir_.path());
};

// --- verify_registry ----------------------------------------------------------------------

TEST_F(DurableMaintenanceTest, AHealthyRegistryIsHealthy) {
  const auto report = verify_registry(registry_);
  EXPECT_TRUE(report.healthy());
  EXPECT_TRUE(report.problems.empty());
  EXPECT_EQ(report.versions_checked, 4u);
  EXPECT_EQ(report.artifacts_checked, 3u);
  EXPECT_EQ(report.bytes_checked, std::string("first artifact").size() +
                                      std::string("second artifact, longer").size() +
                                      std::string("another model").size());
  EXPECT_TRUE(report.unreferenced_artifacts.empty());
}

TEST_F(DurableMaintenanceTest, AFlippedByteIsCorruptForExactlyThatVersion) {
  {
    std::fstream file(testing::writable(artifact("m", "2")),
                      std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(7);
    file.put('X');
  }
  const auto report = verify_registry(registry_);
  EXPECT_FALSE(report.healthy());
  using Problem = std::tuple<std::string, std::string, std::string>;
  EXPECT_EQ(problems_of(report), (std::vector<Problem>{{"m:2", "m/2/model.bin", "corrupt"}}));
  EXPECT_THAT(report.problems[0].message, ::testing::HasSubstr("SHA-256"));
  EXPECT_EQ(report.artifacts_checked, 3u);
}

TEST_F(DurableMaintenanceTest, ATruncatedArtifactIsTruncated) {
  fs::resize_file(testing::writable(artifact("m", "1")), 5);
  const auto report = verify_registry(registry_);
  using Problem = std::tuple<std::string, std::string, std::string>;
  EXPECT_EQ(problems_of(report), (std::vector<Problem>{{"m:1", "m/1/model.bin", "truncated"}}));
  EXPECT_THAT(report.problems[0].message, ::testing::HasSubstr("5 bytes"));
}

TEST_F(DurableMaintenanceTest, ARemovedArtifactIsMissing) {
  fs::remove(artifact("n", "1"));
  const auto report = verify_registry(registry_);
  using Problem = std::tuple<std::string, std::string, std::string>;
  EXPECT_EQ(problems_of(report), (std::vector<Problem>{{"n:1", "n/1/model.bin", "missing"}}));
}

TEST_F(DurableMaintenanceTest, AnArtifactTheStoreRefusesToOpenIsUnreadable) {
  // The store opens artifacts without following symlinks: a planted one is an I/O error.
  write_file(dir_.path() / "elsewhere", "first artifact");
  fs::remove(artifact("m", "1"));
  fs::create_symlink(dir_.path() / "elsewhere", artifact("m", "1"));
  const auto report = verify_registry(registry_);
  using Problem = std::tuple<std::string, std::string, std::string>;
  EXPECT_EQ(problems_of(report), (std::vector<Problem>{{"m:1", "m/1/model.bin", "unreadable"}}));
}

TEST_F(DurableMaintenanceTest, TheModelFilterChecksOnlyThatModel) {
  fs::remove(artifact("n", "1"));
  write_file(artifact("m", "9"), "orphan of m");
  write_file(artifact("n", "9"), "orphan of n");
  VerifyOptions options;
  options.model_name = "m";
  const auto report = verify_registry(registry_, options);
  EXPECT_TRUE(report.healthy());
  EXPECT_EQ(report.versions_checked, 3u);
  EXPECT_EQ(report.artifacts_checked, 2u);
  EXPECT_EQ(report.unreferenced_artifacts, std::vector<std::string>{"m/9/model.bin"});
  options.model_name = "n";
  EXPECT_EQ(verify_registry(registry_, options).problems.size(), 1u);
  // Unfiltered: both orphans and the missing artifact.
  const auto all = verify_registry(registry_);
  EXPECT_EQ(all.problems.size(), 1u);
  EXPECT_EQ(all.unreferenced_artifacts,
            (std::vector<std::string>{"m/9/model.bin", "n/9/model.bin"}));
}

TEST_F(DurableMaintenanceTest, AnUnknownModelIsNotFoundAndLoggedOnce) {
  testing::LogCapture log;
  VerifyOptions options;
  options.model_name = "nope";
  EXPECT_THROW(verify_registry(registry_, options), NotFoundError);
  EXPECT_EQ(log.infos().size(), 1u);
  options.model_name = "../m";
  EXPECT_THROW(verify_registry(registry_, options), InvalidArgumentError);
}

// A store over memory with hooks: something to run at the next open, and artifacts whose
// stream fails midway as a failing disk would.
class HookedStore final : public ModelStore {
 public:
  mutable std::function<void()> before_next_open;
  std::string failing_path;  // its stream fails after a few bytes
  InMemoryModelStore inner;

 private:
  // Hands out a few bytes, then fails as a read error does.
  class FailingBuf : public std::streambuf {
   protected:
    int_type underflow() override {
      if (delivered_) throw std::ios_base::failure("injected read error");
      delivered_ = true;
      setg(bytes_, bytes_, bytes_ + sizeof bytes_);
      return traits_type::to_int_type(bytes_[0]);
    }

   private:
    char bytes_[4] = {'a', 'b', 'c', 'd'};
    bool delivered_ = false;
  };
  class FailingStream : public std::istream {
   public:
    FailingStream() : std::istream(&buf_) {}

   private:
    FailingBuf buf_;
  };

  void save_impl(const std::string& path, std::istream& in) override {
    const auto slash = path.find('/');
    inner.save_artifact(path.substr(0, slash), path.substr(slash + 1, path.rfind('/') - slash - 1),
                        in);
  }
  std::unique_ptr<std::istream> open_impl(const std::string& path) const override {
    if (before_next_open) std::exchange(before_next_open, nullptr)();
    if (path == failing_path) return std::make_unique<FailingStream>();
    return inner.open_artifact(path);
  }
  bool delete_impl(const std::string& path) override { return inner.delete_artifact(path); }
  std::vector<std::string> list_impl() const override { return inner.list_artifacts(); }
};

class InMemoryMaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.register_version("m", "1", with_artifact("one"));
    registry_.register_version("m", "2", with_artifact("two"));
  }
  std::shared_ptr<HookedStore> store_ = std::make_shared<HookedStore>();
  ModelRegistry registry_{store_, std::make_shared<InMemoryMetadataStore>()};
};

TEST_F(InMemoryMaintenanceTest, FindsReplacedBytesAndAReadErrorAndOrphans) {
  EXPECT_TRUE(verify_registry(registry_).healthy());
  store_->save_artifact("m", "1", to_bytes("ONE"));  // same size, other bytes
  store_->save_artifact("m", "2", to_bytes("two!"));
  store_->save_artifact("x", "1", to_bytes("orphan"));
  auto report = verify_registry(registry_);
  using Problem = std::tuple<std::string, std::string, std::string>;
  EXPECT_EQ(problems_of(report), (std::vector<Problem>{{"m:1", "m/1/model.bin", "corrupt"},
                                                       {"m:2", "m/2/model.bin", "truncated"}}));
  EXPECT_EQ(report.unreferenced_artifacts, std::vector<std::string>{"x/1/model.bin"});

  store_->failing_path = "m/1/model.bin";
  report = verify_registry(registry_);
  ASSERT_EQ(report.problems.size(), 2u);
  EXPECT_EQ(report.problems[0].kind, Kind::Unreadable);
}

TEST_F(InMemoryMaintenanceTest, AVersionDeletedOrReplacedMeanwhileIsSkipped) {
  // m:1 goes away between the listing and the opening of its artifact.
  store_->before_next_open = [&] { registry_.delete_version("m", "1"); };
  auto report = verify_registry(registry_);
  EXPECT_TRUE(report.healthy());
  EXPECT_EQ(report.versions_checked, 1u);
  // m:1 is deleted and registered again with other bytes: the old record is not checked
  // against the new bytes.
  registry_.register_version("m", "1", with_artifact("one"));
  store_->before_next_open = [&] {
    registry_.delete_version("m", "2");
    registry_.register_version("m", "2", with_artifact("a new two"));
  };
  report = verify_registry(registry_);
  EXPECT_TRUE(report.healthy()) << (report.problems.empty() ? "" : report.problems[0].message);
}

TEST_F(InMemoryMaintenanceTest, CollectsAnOrphanButNothingReferenced) {
  store_->save_artifact("x", "1", to_bytes("orphan!"));
  const auto dry = collect_garbage(registry_);
  using Item = std::tuple<std::string, std::string, std::uint64_t>;
  EXPECT_EQ(items_of(dry), (std::vector<Item>{{"unreferenced-artifact", "x/1/model.bin", 7}}));
  EXPECT_FALSE(dry.applied);
  EXPECT_EQ(store_->list_artifacts().size(), 3u);
  GcOptions apply;
  apply.apply = true;
  const auto applied = collect_garbage(registry_, apply);
  EXPECT_EQ(items_of(applied), items_of(dry));
  EXPECT_EQ(applied.bytes, 7u);
  EXPECT_EQ(store_->list_artifacts(), (std::vector<std::string>{"m/1/model.bin", "m/2/model.bin"}));
  EXPECT_EQ(to_string(*registry_.load_artifact("m", "2")), "two");
}

// A catalog that runs `after_list_pending` with the number of the call each time it has listed
// the reservations: another writer acting between two of collect_garbage's steps.
class HookedCatalog final : public testing::ForwardingMetadataStore {
 public:
  using ForwardingMetadataStore::ForwardingMetadataStore;
  mutable int list_pending_calls = 0;
  mutable std::function<void(int)> after_list_pending;

 private:
  std::vector<PendingVersion> list_pending_impl() const override {
    auto pending = ForwardingMetadataStore::list_pending_impl();
    if (after_list_pending) after_list_pending(++list_pending_calls);
    return pending;
  }
};

TEST(GcRaceTest, ARegistrationAfterTheLastCheckKeepsItsArtifact) {
  auto store = std::make_shared<InMemoryModelStore>();
  auto catalog = std::make_shared<HookedCatalog>(std::make_shared<InMemoryMetadataStore>());
  ModelRegistry registry(store, catalog);
  store->save_artifact("x", "1", to_bytes("orphan"));
  // collect_garbage lists the reservations in recover(), after the store, and right before it
  // deletes: x:1 is registered (over the orphan) once all three said it was not referenced.
  bool registered = false;
  catalog->after_list_pending = [&](int call) {
    if (call != 3) return;
    registry.register_version("x", "1", with_artifact("registered"));
    registered = true;
  };
  GcOptions apply;
  apply.apply = true;
  const auto report = collect_garbage(registry, apply);
  ASSERT_TRUE(registered);
  EXPECT_TRUE(report.items.empty());
  EXPECT_EQ(to_string(*registry.load_artifact("x", "1")), "registered");
}

TEST(GcRaceTest, NoRegistrationOfItsKeyCanWriteWhileAnArtifactIsDeleted) {
  auto store = std::make_shared<HookedStore>();
  ModelRegistry registry(store, std::make_shared<InMemoryMetadataStore>());
  store->save_artifact("x", "1", to_bytes("orphan"));
  // The store is asked for the orphan only while collect_garbage holds its key.
  bool refused = false;
  store->before_next_open = [&] {
    try {
      registry.register_version("x", "1", with_artifact("registered"));
    } catch (const AlreadyExistsError&) {
      refused = true;
    }
  };
  GcOptions apply;
  apply.apply = true;
  EXPECT_EQ(collect_garbage(registry, apply).items.size(), 1u);
  EXPECT_TRUE(refused);
  EXPECT_TRUE(store->list_artifacts().empty());
  // The key is free again.
  registry.register_version("x", "1", with_artifact("registered"));
  EXPECT_EQ(to_string(*registry.load_artifact("x", "1")), "registered");
}

// --- collect_garbage on a durable registry ------------------------------------------------

class DurableGcTest : public DurableMaintenanceTest {
 protected:
  void plant_garbage() {
    write_file(artifact("m", "9"), std::string(1234, 'o'));                              // orphan
    write_file(artifacts() / "m" / "1" / ".tmp-model.bin-0123456789abcdef", "partial");  // dead
    fs::create_directories(artifacts() / "m" / "7");  // empty version directory
    write_file(artifact("gone", "1"), "orphan of a model without versions");
  }
  std::vector<std::tuple<std::string, std::string, std::uint64_t>> planted() const {
    return {
        {"empty-directory", (artifacts() / "gone").string(), 0},
        {"empty-directory", (artifacts() / "m" / "7").string(), 0},
        {"temporary-file", (artifacts() / "m" / "1" / ".tmp-model.bin-0123456789abcdef").string(),
         7},
        {"unreferenced-artifact", "gone/1/model.bin", 34},
        {"unreferenced-artifact", "m/9/model.bin", 1234},
    };
  }
  static GcOptions applying() {
    GcOptions options;
    options.apply = true;
    return options;
  }
};

TEST_F(DurableGcTest, ADryRunReportsEverythingAndChangesNothing) {
  plant_garbage();
  const auto before = snapshot(dir_.path());
  const auto report = collect_garbage(registry_);
  EXPECT_EQ(snapshot(dir_.path()), before);
  EXPECT_FALSE(report.applied);
  EXPECT_EQ(items_of(report), planted());
  EXPECT_EQ(report.bytes, 1234u + 7u + 34u);
}

TEST_F(DurableGcTest, ApplyRemovesExactlyTheGarbage) {
  plant_garbage();
  auto before = snapshot(artifacts());
  const auto report = collect_garbage(registry_, applying());
  EXPECT_TRUE(report.applied);
  EXPECT_EQ(items_of(report), planted());
  for (const char* gone : {"m/9/model.bin", "m/9", "m/1/.tmp-model.bin-0123456789abcdef", "m/7",
                           "gone/1/model.bin", "gone/1", "gone"}) {
    EXPECT_EQ(before.erase(gone), 1u) << gone;
  }
  EXPECT_EQ(snapshot(artifacts()), before);
  expect_every_version_loads();
  EXPECT_TRUE(verify_registry(registry_).healthy());
  EXPECT_TRUE(collect_garbage(registry_, applying()).items.empty());
  EXPECT_TRUE(fs::is_directory(artifacts()));
}

TEST_F(DurableGcTest, AnArtifactUnderAVisibleVersionsKeyIsKept) {
  // m:3 has no artifact, but a file at its key is where its registration would have written.
  write_file(artifact("m", "3"), "stray");
  EXPECT_TRUE(collect_garbage(registry_, applying()).items.empty());
  EXPECT_TRUE(fs::exists(artifact("m", "3")));
  EXPECT_TRUE(verify_registry(registry_).unreferenced_artifacts.empty());
}

TEST_F(DurableGcTest, ATemporaryFileWhoseLockIsHeldIsKept) {
  const fs::path temp = artifacts() / "m" / "2" / ".tmp-model.bin-live";
  write_file(temp, "being written");
  const int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  EXPECT_TRUE(collect_garbage(registry_).items.empty());
  EXPECT_TRUE(collect_garbage(registry_, applying()).items.empty());
  EXPECT_TRUE(fs::exists(temp));
  ::close(fd);  // the writer is gone
  using Item = std::tuple<std::string, std::string, std::uint64_t>;
  EXPECT_EQ(items_of(collect_garbage(registry_, applying())),
            (std::vector<Item>{{"temporary-file", temp.string(), 13}}));
  EXPECT_FALSE(fs::exists(temp));
}

TEST_F(DurableGcTest, AnArtifactOfARegistrationInFlightIsKeptUntilItsWriterDies) {
  auto lease = registry_.metadata_store()->acquire_writer_lease();
  ModelVersion v;
  v.model_name = "m";
  v.version = "5";
  registry_.metadata_store()->create_version(v, lease->owner());
  registry_.store()->save_artifact("m", "5", to_bytes("in flight"));
  EXPECT_TRUE(collect_garbage(registry_).items.empty());
  const auto kept = collect_garbage(registry_, applying());
  EXPECT_TRUE(kept.items.empty());
  EXPECT_EQ(kept.recovered.registrations_rolled_back, 0u);
  EXPECT_TRUE(fs::exists(artifact("m", "5")));
  EXPECT_TRUE(verify_registry(registry_).unreferenced_artifacts.empty());

  lease.reset();  // the writer dies: recovery settles its work first
  const auto settled = collect_garbage(registry_, applying());
  EXPECT_EQ(settled.recovered.registrations_rolled_back, 1u);
  EXPECT_FALSE(fs::exists(artifact("m", "5")));
  expect_every_version_loads();
}

// Registers `count` versions, each of a model of its own (so its directories are new and empty
// for an instant), and plants an orphan beside each; returns how many registrations succeeded.
int register_and_plant(ModelRegistry& registry, const std::string& prefix, int count) {
  int registered = 0;
  for (int i = 0; i < count; ++i) {
    const std::string name = prefix + std::to_string(i);
    registry.register_version(name, "1", with_artifact("artifact " + name));
    ++registered;
    registry.store()->save_artifact(name, "orphan", to_bytes("orphan"));
  }
  return registered;
}

void expect_all_registered(ModelRegistry& registry, const std::string& prefix, int count) {
  const auto report = verify_registry(registry);
  EXPECT_TRUE(report.healthy()) << (report.problems.empty() ? "" : report.problems[0].message);
  for (int i = 0; i < count; ++i) {
    const std::string name = prefix + std::to_string(i);
    const auto bytes = registry.load_artifact(name, "1");
    ASSERT_TRUE(bytes) << name;
    EXPECT_EQ(to_string(*bytes), "artifact " + name);
  }
}

TEST_F(DurableGcTest, CollectingWhileAThreadRegistersLosesNothing) {
  constexpr int kCount = 120;
  std::atomic<bool> done{false};
  std::exception_ptr failure;
  std::thread writer([&] {
    try {
      register_and_plant(registry_, "t", kCount);
    } catch (...) {
      failure = std::current_exception();
    }
    done = true;
  });
  int runs = 0;
  std::size_t removed = 0;
  while (!done) {
    removed += collect_garbage(registry_, applying()).items.size();
    ++runs;
  }
  writer.join();
  if (failure) std::rethrow_exception(failure);
  removed += collect_garbage(registry_, applying()).items.size();
  EXPECT_GE(removed, static_cast<std::size_t>(kCount));  // each orphan, at least
  expect_all_registered(registry_, "t", kCount);
  EXPECT_TRUE(verify_registry(registry_).unreferenced_artifacts.empty());
  EXPECT_GT(runs, 0);
}

TEST(DurableGcProcessTest, CollectingWhileAnotherProcessRegistersLosesNothing) {
  constexpr int kCount = 80;
  TestDir dir("modelreg-maintenance");
  { ModelRegistry::open(dir.path()); }  // created before the child starts
  const fs::path outcome = dir.path() / "child-outcome";
  testing::Children children;
  // Forked while this process has nothing of the registry open.
  const pid_t child = children.spawn([&] {
    testing::silence_modelreg_logging();
    try {
      auto registry = ModelRegistry::open(dir.path());
      testing::write_outcome(outcome, std::to_string(register_and_plant(registry, "p", kCount)));
      return 0;
    } catch (const std::exception& e) {
      testing::write_outcome(outcome, std::string("failed: ") + e.what());
      return 1;
    }
  });
  auto registry = ModelRegistry::open(dir.path());
  GcOptions apply;
  apply.apply = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(outcome) && std::chrono::steady_clock::now() < deadline) {
    collect_garbage(registry, apply);
  }
  const bool clean = testing::exited_cleanly(children.wait(child, deadline));
  ASSERT_TRUE(fs::exists(outcome));
  ASSERT_TRUE(clean) << read_file(outcome);
  ASSERT_EQ(read_file(outcome), std::to_string(kCount));
  collect_garbage(registry, apply);
  expect_all_registered(registry, "p", kCount);
  EXPECT_TRUE(verify_registry(registry).unreferenced_artifacts.empty());
}

}  // namespace
}  // namespace modelreg

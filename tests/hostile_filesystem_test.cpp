// Hostile file systems: a symlink planted in place of a model or version directory (pointing
// outside the registry), a version directory replaced by a file, and a read-only registry
// directory. Each must give a clear error without waiting, and nothing outside the registry may
// be read or written: loads, registrations, deletions, verification and garbage collection are
// all tried against each.

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "log_capture.hpp"
#include "modelreg/modelreg.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;

RegisterOptions with_artifact(const std::string& bytes) {
  RegisterOptions options;
  options.artifact = to_bytes(bytes);
  return options;
}

// Every file below `dir` with its contents, to tell that nothing there changed.
std::vector<std::string> contents_below(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    files.push_back(fs::relative(entry.path(), dir).string() +
                    (entry.is_regular_file() ? " = " + testing::read_file(entry.path()) : "/"));
  }
  std::sort(files.begin(), files.end());
  return files;
}

template <typename Error, typename Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("unexpected error: ") + e.what();
  }
  return "no error";
}

class HostileFileSystemTest : public ::testing::Test {
 protected:
  HostileFileSystemTest()
      : registry_dir_(dir_.path() / "registry"),
        artifacts_(registry_dir_ / "artifacts"),
        outside_(dir_.path() / "outside"),
        registry_(ModelRegistry::open(registry_dir_)) {
    registry_.register_version("m", "1", with_artifact("weights of m:1"));
    registry_.register_version("m", "2", with_artifact("weights of m:2"));
    registry_.register_version("n", "1", with_artifact("weights of n:1"));
    fs::create_directories(outside_);
  }

  // Moves `inside` (below the artifacts) outside and plants a symlink to it in its place, with
  // an orphan beside the moved files that garbage collection would take if it followed.
  void plant_symlink(const fs::path& inside, const std::string& name) {
    fs::rename(artifacts_ / inside, outside_ / name);
    fs::create_symlink(outside_ / name, artifacts_ / inside);
    std::ofstream(outside_ / name / ".tmp-model.bin-0123456789abcdef") << "not ours";
    std::ofstream(outside_ / "secret") << "secret";
    outside_before_ = contents_below(outside_);
  }

  // What every operation does with m:1 behind the planted symlink: refused, named, nothing
  // outside touched, and the rest of the registry unharmed.
  void expect_refused_everywhere(const std::string& version_to_register,
                                 std::size_t unreadable_versions) {
    const auto refused = [](const std::string& message) {
      EXPECT_NE(message.find("symbolic link"), std::string::npos) << message;
    };
    refused(error_of<StorageError>([&] { registry_.load_artifact("m", "1"); }));
    std::ostringstream out;
    refused(error_of<StorageError>([&] { registry_.load_artifact("m", "1", out); }));
    EXPECT_TRUE(out.str().empty());
    refused(error_of<StorageError>([&] {
      registry_.register_version("m", version_to_register, with_artifact("new weights"));
    }));
    EXPECT_FALSE(registry_.get_version("m", version_to_register));
    refused(error_of<StorageError>([&] { registry_.delete_version("m", "1"); }));
    ASSERT_TRUE(registry_.get_version("m", "1"));  // still there: its artifact was not deleted

    const VerifyReport report = verify_registry(registry_);
    ASSERT_EQ(report.problems.size(), unreadable_versions);
    for (const auto& problem : report.problems) {
      EXPECT_EQ(problem.kind, ArtifactProblem::Kind::Unreadable) << problem.message;
    }
    GcOptions gc;
    gc.apply = true;
    EXPECT_NO_THROW(collect_garbage(registry_, gc));
    EXPECT_EQ(registry_.recover().complete(), true);

    EXPECT_EQ(contents_below(outside_), outside_before_);
    EXPECT_EQ(to_string(*registry_.load_artifact("n", "1")), "weights of n:1");
    registry_.register_version("n", "2", with_artifact("weights of n:2"));
    EXPECT_EQ(to_string(*registry_.load_artifact("n", "2")), "weights of n:2");
  }

  testing::TestDir dir_{"modelreg-hostile"};
  fs::path registry_dir_;
  fs::path artifacts_;
  fs::path outside_;
  std::vector<std::string> outside_before_;
  ModelRegistry registry_;
};

TEST_F(HostileFileSystemTest, ASymlinkedModelDirectoryIsRefusedNotFollowed) {
  plant_symlink("m", "model-dir");
  expect_refused_everywhere("3", 2);  // m:1 and m:2
  // The store does not list what lies behind the link either.
  for (const auto& path : registry_.store()->list_artifacts()) {
    EXPECT_EQ(path.rfind("m/", 0), std::string::npos) << path;
  }
}

TEST_F(HostileFileSystemTest, ASymlinkedVersionDirectoryIsRefusedNotFollowed) {
  plant_symlink(fs::path("m") / "1", "version-dir");
  // A version not registered yet whose directory is already a planted link: registering it
  // would write behind the link.
  fs::create_symlink(outside_ / "version-dir", artifacts_ / "m" / "7");
  expect_refused_everywhere("7", 1);
  const auto listed = registry_.store()->list_artifacts();
  EXPECT_EQ(std::count(listed.begin(), listed.end(), "m/1/model.bin"), 0);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), "m/2/model.bin"), 1);
}

TEST_F(HostileFileSystemTest, AVersionDirectoryReplacedByAFileIsDataLoss) {
  fs::remove_all(artifacts_ / "m" / "1");
  std::ofstream(artifacts_ / "m" / "1") << "a file where the version directory was";
  const auto not_a_directory = [](const std::string& message) {
    EXPECT_NE(message.find("is not a directory"), std::string::npos) << message;
  };
  not_a_directory(error_of<DataLossError>([&] { registry_.load_artifact("m", "1"); }));
  not_a_directory(error_of<DataLossError>([&] { registry_.delete_version("m", "1"); }));
  EXPECT_TRUE(registry_.get_version("m", "1"));
  const VerifyReport report = verify_registry(registry_);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0].version, "1");
  // The file is nobody's artifact: garbage collection leaves it, and the rest works.
  GcOptions gc;
  gc.apply = true;
  collect_garbage(registry_, gc);
  EXPECT_EQ(testing::read_file(artifacts_ / "m" / "1"), "a file where the version directory was");
  EXPECT_EQ(to_string(*registry_.load_artifact("m", "2")), "weights of m:2");
  // Once the file is gone, the version can be deleted.
  fs::remove(artifacts_ / "m" / "1");
  EXPECT_TRUE(registry_.delete_version("m", "1"));
}

TEST_F(HostileFileSystemTest, AFileInPlaceOfTheModelDirectoryIsRefusedOnRegistration) {
  fs::remove_all(artifacts_ / "n");
  std::ofstream(artifacts_ / "n") << "a file where the model directory was";
  const std::string message = error_of<StorageError>(
      [&] { registry_.register_version("n", "2", with_artifact("weights of n:2")); });
  EXPECT_NE(message.find("exists and is not a directory"), std::string::npos) << message;
  EXPECT_FALSE(registry_.get_version("n", "2"));
  EXPECT_TRUE(registry_.metadata_store()->list_pending().empty());
}

// In a child (so that a hang fails at the deadline): the registry directory made read-only —
// by a read-only bind mount in a mount namespace of the child's own where the process may make
// one (as root), by taking the write permission away otherwise. Opening the registry is then a
// StorageError (it cannot take its writer lease); a store on the read-only artifacts serves
// reads, and a registration through it is a StorageError that leaves nothing behind.
TEST_F(HostileFileSystemTest, AReadOnlyRegistryDirectoryIsAClearErrorAndLosesNothing) {
  constexpr int kCannotSetUp = 77;
  const fs::path outcome = dir_.path() / "outcome";
  testing::Children children;
  const pid_t child = children.spawn([&] {
    testing::silence_modelreg_logging();
    if (::geteuid() == 0) {
      if (::unshare(CLONE_NEWNS) != 0) return kCannotSetUp;
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return kCannotSetUp;
      if (::mount(registry_dir_.c_str(), registry_dir_.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
          ::mount(nullptr, registry_dir_.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY,
                  nullptr) != 0) {
        return kCannotSetUp;
      }
    } else {
      for (const auto& entry : fs::recursive_directory_iterator(registry_dir_)) {
        fs::permissions(entry.path(), fs::perms::owner_write | fs::perms::group_write,
                        fs::perm_options::remove);
      }
      fs::permissions(registry_dir_, fs::perms::owner_write, fs::perm_options::remove);
    }
    std::ofstream out(outcome);
    const auto outcome_of = [&](const char* what, const std::function<void()>& call) {
      const std::string error = error_of<StorageError>(call);
      out << what << ": "
          << (error == "no error"                 ? "allowed"
              : error.rfind("unexpected", 0) == 0 ? error
                                                  : "StorageError")
          << '\n';
    };
    outcome_of("open", [&] { ModelRegistry::open(registry_dir_); });
    auto store = std::make_shared<FileModelStore>(artifacts_);
    out << "load: " << to_string(store->load_artifact("m/1/model.bin")) << '\n';
    ModelRegistry over_store(store, std::make_shared<InMemoryMetadataStore>());
    outcome_of("register", [&] { over_store.register_version("m", "3", with_artifact("x")); });
    out << "versions: " << over_store.list_versions("m").size() << '\n';
    out << "pending: " << over_store.metadata_store()->list_pending().size() << '\n';
    return 0;
  });
  const int status =
      children.wait(child, std::chrono::steady_clock::now() + std::chrono::seconds(60));
  if (WIFEXITED(status) && WEXITSTATUS(status) == kCannotSetUp) {
    GTEST_SKIP() << "this system lets the test neither bind-mount nor chmod read-only";
  }
  if (::geteuid() != 0) {  // the child's chmod was not its alone
    fs::permissions(registry_dir_, fs::perms::owner_write, fs::perm_options::add);
    for (const auto& entry : fs::recursive_directory_iterator(registry_dir_)) {
      fs::permissions(entry.path(), fs::perms::owner_write, fs::perm_options::add);
    }
  }
  ASSERT_TRUE(testing::exited_cleanly(status)) << status;
  EXPECT_EQ(testing::read_lines(outcome),
            (std::vector<std::string>{"open: StorageError", "load: weights of m:1",
                                      "register: StorageError", "versions: 0", "pending: 0"}));
  // Writable again: nothing was lost or left behind.
  EXPECT_EQ(registry_.list_versions("m").size(), 2u);
  EXPECT_FALSE(fs::exists(artifacts_ / "m" / "3"));
  EXPECT_EQ(to_string(*registry_.load_artifact("m", "2")), "weights of m:2");
}

}  // namespace
}  // namespace modelreg

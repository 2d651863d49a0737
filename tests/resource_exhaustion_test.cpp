// Real resource exhaustion, in child processes: an artifact that hits the file-size limit
// (RLIMIT_FSIZE) or fills the file system (a small tmpfs in a mount namespace of the child's own)
// ends in a StorageError, leaves no partial artifact and no reservation, and the registry goes
// on working.

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "modelreg/modelreg.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using testing::Children;

constexpr int kCannotSetUp = 77;

RegisterOptions artifact_of(std::size_t size) {
  RegisterOptions options;
  options.artifact = Bytes(size, 0x5a);
  return options;
}

std::size_t temporary_files_below(const fs::path& dir) {
  std::size_t count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().filename().string().rfind(".tmp-", 0) == 0) ++count;
  }
  return count;
}

// In the child: registers m:1 (small), then m:2 of `big` bytes, which must fail, then m:3
// (small). Writes what it saw to `outcome`, one fact per line.
int register_until_exhausted(const fs::path& dir, std::size_t big, const fs::path& outcome) {
  testing::silence_modelreg_logging();
  std::vector<std::string> facts;
  auto registry = ModelRegistry::open(dir);
  registry.register_version("m", "1", artifact_of(1000));
  try {
    registry.register_version("m", "2", artifact_of(big));
    facts.push_back("registered");
  } catch (const StorageError&) {
    facts.push_back("StorageError");
  } catch (const std::exception& e) {
    facts.push_back(std::string("other error: ") + e.what());
  }
  std::string versions;
  for (const auto& v : registry.list_versions("m")) versions += v.version + " ";
  facts.push_back("versions: " + versions);
  std::string artifacts;
  for (const auto& path : registry.store()->list_artifacts()) artifacts += path + " ";
  facts.push_back("artifacts: " + artifacts);
  facts.push_back("temporary files: " + std::to_string(temporary_files_below(dir / "artifacts")));
  facts.push_back("reservations: " +
                  std::to_string(registry.metadata_store()->list_pending().size()));
  registry.register_version("m", "3", artifact_of(1000));
  const auto loaded = registry.load_artifact("m", "1");
  facts.push_back(loaded && loaded->size() == 1000 ? "next call ok" : "m:1 lost");
  std::ofstream out(outcome);
  for (const auto& fact : facts) out << fact << '\n';
  return 0;
}

const std::vector<std::string> kExpected{
    "StorageError",       "versions: 1 ",    "artifacts: m/1/model.bin ",
    "temporary files: 0", "reservations: 0", "next call ok"};

TEST(ResourceExhaustionTest, AnArtifactPastTheFileSizeLimitIsAStorageErrorAndLeavesNothing) {
  testing::TestDir dir("modelreg-fsize");
  const fs::path outcome = dir.path() / "outcome";
  Children children;
  const pid_t child = children.spawn([&] {
    // Past the limit write() fails with EFBIG instead of the process being killed by SIGXFSZ.
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{1 << 20, 1 << 20};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return kCannotSetUp;
    return register_until_exhausted(dir.path() / "registry", 3 << 20, outcome);
  });
  const int status =
      children.wait(child, std::chrono::steady_clock::now() + std::chrono::seconds(120));
  ASSERT_TRUE(testing::exited_cleanly(status)) << status;
  EXPECT_EQ(testing::read_lines(outcome), kExpected);
}

TEST(ResourceExhaustionTest, AFullFileSystemIsAStorageErrorAndLeavesNothing) {
  testing::TestDir dir("modelreg-enospc");
  const fs::path mount_point = dir.path() / "small";
  fs::create_directories(mount_point);
  const fs::path outcome = dir.path() / "outcome";
  Children children;
  const pid_t child = children.spawn([&] {
    // A 4 MiB tmpfs that only this child sees.
    if (::unshare(CLONE_NEWNS) != 0) return kCannotSetUp;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return kCannotSetUp;
    if (::mount("modelreg-test", mount_point.c_str(), "tmpfs", 0, "size=4m") != 0) {
      return kCannotSetUp;
    }
    return register_until_exhausted(mount_point / "registry", 8 << 20, outcome);
  });
  const int status =
      children.wait(child, std::chrono::steady_clock::now() + std::chrono::seconds(120));
  if (WIFEXITED(status) && WEXITSTATUS(status) == kCannotSetUp) {
    GTEST_SKIP() << "this system does not let a process mount a tmpfs in a namespace of its own";
  }
  ASSERT_TRUE(testing::exited_cleanly(status)) << status;
  EXPECT_EQ(testing::read_lines(outcome), kExpected);
}

}  // namespace
}  // namespace modelreg

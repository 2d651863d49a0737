// A process forked (without exec) while its parent holds a registry: the child must neither keep
// the parent's writer lease alive after the parent dies nor remove it while the parent lives.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "modelreg/modelreg.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;
using testing::Children;
using testing::read_lines;

// Forks a process that just sleeps (at most `seconds`, then exits) holding whatever descriptors
// it inherited, and that does not die with its parent (unlike testing::fork_child's children).
pid_t fork_sleeper(int seconds) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::sleep(static_cast<unsigned>(seconds));
    ::_exit(0);
  }
  return pid;
}

bool process_exists(pid_t pid) {
  return ::kill(pid, 0) == 0;
}

TEST(ForkTest, AChildOutlivingItsParentDoesNotKeepTheParentsLeaseAlive) {
  testing::TestDir dir("modelreg-fork");
  const fs::path db = dir.path() / "registry.db";
  { SqliteMetadataStore create(db); }
  const fs::path facts = dir.path() / "facts";
  Children children;
  // The writer: takes a lease, forks a long-lived child, then dies without any cleanup (as a
  // kill -9 would leave it: the lock file stays).
  const pid_t writer = children.spawn([&] {
    testing::silence_modelreg_logging();
    SqliteMetadataStore store(db);
    auto lease = store.acquire_writer_lease();
    const pid_t sleeper = fork_sleeper(60);
    std::ofstream(facts) << lease->owner() << '\n' << sleeper << '\n';
    ::_exit(0);
    return 0;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  ASSERT_TRUE(testing::exited_cleanly(children.wait(writer, deadline)));
  const auto lines = read_lines(facts);
  ASSERT_EQ(lines.size(), 2u);
  const std::string owner = lines[0];
  const pid_t sleeper = static_cast<pid_t>(std::stol(lines[1]));
  ASSERT_TRUE(process_exists(sleeper));
  SqliteMetadataStore store(db);
  // The writer is dead although its child still runs with copies of its descriptors.
  EXPECT_FALSE(store.is_writer_alive(owner));
  EXPECT_TRUE(process_exists(sleeper));
  ::kill(sleeper, SIGKILL);
}

TEST(ForkTest, AChildThatDropsItsCopyOfTheRegistryLeavesTheParentsLeaseAlone) {
  testing::TestDir dir("modelreg-fork");
  auto registry = ModelRegistry::open(dir.path());
  auto lease = registry.metadata_store()->acquire_writer_lease();
  Children children;
  // The child's copy of the lease is destroyed there (as it would be by a child leaving the
  // scope that held the registry): the parent's lock file must stay.
  const pid_t child = children.spawn([&] {
    lease.reset();
    return 0;
  });
  ASSERT_TRUE(testing::exited_cleanly(
      children.wait(child, std::chrono::steady_clock::now() + std::chrono::seconds(60))));
  EXPECT_TRUE(registry.metadata_store()->is_writer_alive(lease->owner()));
  EXPECT_TRUE(fs::exists(dir.path() / "locks" / (lease->owner() + ".lock")));
}

}  // namespace
}  // namespace modelreg

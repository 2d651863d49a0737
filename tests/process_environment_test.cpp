// A registry in the process environments a library meets: a process forked (without exec) while
// its parent holds a registry must neither keep the parent's writer lease alive after the parent
// dies nor remove it while the parent lives; a process without /proc reads artifacts as usual.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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
// Returns once the child runs, i.e. once fork() has returned there and with it the library's
// fork handlers have run: before that instant the child still shares its parent's locks.
pid_t fork_sleeper(int seconds) {
  int running[2];
  if (::pipe2(running, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    const char byte = 1;
    (void)!::write(running[1], &byte, 1);
    ::sleep(static_cast<unsigned>(seconds));
    ::_exit(0);
  }
  ::close(running[1]);
  char byte = 0;
  while (pid > 0 && ::read(running[0], &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(running[0]);
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

TEST(FileModelStoreStreamTest, ArtifactStreamsReadAndSeekLikeFiles) {
  testing::TestDir dir("modelreg-stream");
  FileModelStore store(dir.path());
  std::string bytes(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 % 251);
  store.save_artifact("m", "1", to_bytes(bytes));
  auto in = store.open_artifact(ModelStore::artifact_path("m", "1"));
  EXPECT_EQ(in->tellg(), 0);
  char small[10];
  ASSERT_TRUE(in->read(small, sizeof small));
  EXPECT_EQ(std::string(small, sizeof small), bytes.substr(0, 10));
  EXPECT_EQ(in->tellg(), 10);
  ASSERT_TRUE(in->seekg(2 * 1024 * 1024));
  EXPECT_EQ(in->get(), static_cast<unsigned char>(bytes[2 * 1024 * 1024]));
  ASSERT_TRUE(in->seekg(0));
  std::ostringstream all;
  all << in->rdbuf();
  EXPECT_EQ(all.str(), bytes);
  in->clear();
  ASSERT_TRUE(in->seekg(-7, std::ios::end));
  std::string tail(7, '\0');
  ASSERT_TRUE(in->read(tail.data(), 7));
  EXPECT_EQ(tail, bytes.substr(bytes.size() - 7));
  EXPECT_EQ(in->get(), std::char_traits<char>::eof());
}

// Takes /proc away from a child process (a private mount namespace); exit 77 where the system
// does not allow it.
int without_proc() {
  if (::unshare(CLONE_NEWNS) != 0) return 77;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
  if (::umount2("/proc", MNT_DETACH) != 0) return 77;
  return fs::exists("/proc/self/fd") ? 77 : 0;
}

TEST(ProcTest, ArtifactsLoadWhereProcIsNotMounted) {
  testing::TestDir dir("modelreg-noproc");
  {
    auto registry = ModelRegistry::open(dir.path());
    RegisterOptions options;
    options.artifact = to_bytes("weights without proc");
    registry.register_version("m", "1", options);
  }
  const fs::path outcome = dir.path() / "outcome";
  Children children;
  const pid_t child = children.spawn([&] {
    if (const int status = without_proc(); status != 0) return status;
    auto registry = ModelRegistry::open(dir.path());
    const auto bytes = registry.load_artifact("m", "1");
    std::ostringstream stream;
    registry.load_artifact("m", "1", stream);
    registry.load_artifact("m", "1", dir.path() / "copy");
    std::ifstream copy(dir.path() / "copy", std::ios::binary);
    std::ofstream(outcome) << (bytes ? to_string(*bytes) : "none") << '|' << stream.str() << '|'
                           << copy.rdbuf();
    return 0;
  });
  const int status =
      children.wait(child, std::chrono::steady_clock::now() + std::chrono::seconds(60));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    GTEST_SKIP() << "this system does not let a process unmount /proc in a namespace of its own";
  }
  ASSERT_TRUE(testing::exited_cleanly(status));
  EXPECT_EQ(
      read_lines(outcome),
      std::vector<std::string>{"weights without proc|weights without proc|weights without proc"});
}

// In a child with umask `mask`: creates a registry in `dir` with one version and reports the
// permission bits of everything in it that are in `forbidden` (one "path mode" line each).
int report_permissions(const fs::path& dir, mode_t mask, mode_t forbidden, const fs::path& out) {
  ::umask(mask);
  {
    auto registry = ModelRegistry::open(dir);
    RegisterOptions options;
    options.artifact = to_bytes("weights");
    registry.register_version("m", "1", options);
    std::ofstream report(out);
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      struct stat status {};
      if (::lstat(entry.path().c_str(), &status) != 0) return 2;
      if ((status.st_mode & forbidden) != 0) {
        report << entry.path().lexically_relative(dir).string() << ' ' << std::oct
               << (status.st_mode & 07777) << std::dec << '\n';
      }
    }
  }
  return 0;
}

TEST(PermissionsTest, NothingIsWorldWritableAndTheUmaskIsHonoured) {
  testing::TestDir dir("modelreg-perms");
  Children children;
  for (const auto& [mask, forbidden] :
       {std::pair<mode_t, mode_t>{0, S_IWOTH}, std::pair<mode_t, mode_t>{022, S_IWGRP | S_IWOTH},
        std::pair<mode_t, mode_t>{077, 077}}) {
    SCOPED_TRACE(::testing::Message() << "umask " << std::oct << mask);
    const fs::path registry = dir.path() / ("registry-" + std::to_string(mask));
    const fs::path report = dir.path() / ("report-" + std::to_string(mask));
    const pid_t child =
        children.spawn([&] { return report_permissions(registry, mask, forbidden, report); });
    ASSERT_TRUE(testing::exited_cleanly(
        children.wait(child, std::chrono::steady_clock::now() + std::chrono::seconds(60))));
    EXPECT_TRUE(fs::exists(registry / "artifacts" / "m" / "1" / "model.bin"));
    EXPECT_EQ(read_lines(report), std::vector<std::string>{});
  }
}

}  // namespace
}  // namespace modelreg

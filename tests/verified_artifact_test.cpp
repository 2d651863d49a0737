// ModelRegistry::open_verified_artifact: the stored file itself, verified, as a read-only
// descriptor that serving code reads or maps without a copy; valid while held even if the
// version is deleted meanwhile; a verified copy for a store without files; damage refused.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "modelreg/modelreg.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

namespace fs = std::filesystem;

// The whole file behind `fd`, read with pread (the descriptor's offset is left alone).
std::string pread_all(int fd) {
  std::string bytes;
  char buffer[1 << 16];
  for (off_t at = 0;;) {
    const ssize_t got = ::pread(fd, buffer, sizeof buffer, at);
    if (got <= 0) break;
    bytes.append(buffer, static_cast<std::size_t>(got));
    at += got;
  }
  return bytes;
}

std::string large_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  return bytes;
}

class VerifiedArtifactTest : public ::testing::Test {
 protected:
  VerifiedArtifactTest() : registry_(ModelRegistry::open(dir_.path() / "registry")) {}

  ModelVersion register_bytes(const std::string& version, const std::string& bytes) {
    RegisterOptions options;
    options.artifact = to_bytes(bytes);
    return registry_.register_version("m", version, options);
  }
  fs::path stored(const std::string& version) const {
    return dir_.path() / "registry" / "artifacts" / "m" / version / "model.bin";
  }

  testing::TestDir dir_{"modelreg-verified"};
  ModelRegistry registry_;
};

TEST_F(VerifiedArtifactTest, GivesTheStoredFileItselfReadOnly) {
  const std::string bytes = large_bytes((std::size_t{9} << 20) + 123);  // several pipeline buffers
  const ModelVersion registered = register_bytes("1", bytes);
  auto artifact = registry_.open_verified_artifact("m", "1");
  ASSERT_TRUE(artifact);
  EXPECT_FALSE(artifact->copied);
  EXPECT_EQ(artifact->version.artifact_sha256, registered.artifact_sha256);
  EXPECT_EQ(artifact->file.path(), stored("1"));
  // The very stored file (same inode), not a copy.
  struct stat held {
  }, on_disk{};
  ASSERT_EQ(::fstat(artifact->file.fd(), &held), 0);
  ASSERT_EQ(::stat(stored("1").c_str(), &on_disk), 0);
  EXPECT_EQ(held.st_ino, on_disk.st_ino);
  EXPECT_EQ(held.st_dev, on_disk.st_dev);
  // Read-only: the descriptor, and the file on disk.
  EXPECT_EQ(::fcntl(artifact->file.fd(), F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(on_disk.st_mode & 0222, 0u) << std::oct << on_disk.st_mode;
  // Readable from the start with read(), with pread() and through mmap.
  char first[4] = {};
  ASSERT_EQ(::read(artifact->file.fd(), first, sizeof first), 4);
  EXPECT_EQ(std::string(first, 4), bytes.substr(0, 4));
  EXPECT_EQ(pread_all(artifact->file.fd()), bytes);
  void* mapped = ::mmap(nullptr, bytes.size(), PROT_READ, MAP_PRIVATE, artifact->file.fd(), 0);
  ASSERT_NE(mapped, MAP_FAILED);
  EXPECT_EQ(std::string(static_cast<const char*>(mapped), bytes.size()), bytes);
  ::munmap(mapped, bytes.size());
}

TEST_F(VerifiedArtifactTest, StaysValidWhileHeldAfterTheVersionIsDeleted) {
  register_bytes("1", "weights of m:1");
  auto artifact = registry_.open_verified_artifact("m", "1");
  ASSERT_TRUE(artifact);
  ASSERT_TRUE(registry_.delete_version("m", "1"));
  EXPECT_FALSE(fs::exists(stored("1")));
  EXPECT_EQ(pread_all(artifact->file.fd()), "weights of m:1");
  // A new registration under the same key is another file; the held one is unchanged.
  register_bytes("1", "other weights");
  EXPECT_EQ(pread_all(artifact->file.fd()), "weights of m:1");
  EXPECT_EQ(pread_all(registry_.open_verified_artifact("m", "1")->file.fd()), "other weights");
}

TEST_F(VerifiedArtifactTest, DamageIsDataLossAndNoDescriptorIsHandedOut) {
  register_bytes("1", "weights of m:1");
  register_bytes("2", "weights of m:2");
  register_bytes("3", "weights of m:3");
  // Changed in place (write permission given back first: the library stores it read-only).
  {
    std::fstream file(testing::writable(stored("1")),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(3);
    file.put('X');
  }
  EXPECT_THROW(registry_.open_verified_artifact("m", "1"), DataLossError);
  fs::resize_file(testing::writable(stored("2")), 4);
  EXPECT_THROW(registry_.open_verified_artifact("m", "2"), DataLossError);
  fs::remove(stored("3"));
  EXPECT_THROW(registry_.open_verified_artifact("m", "3"), DataLossError);
}

// A stream that, when it first receives bytes, calls `meanwhile`: what another process writing
// to the stored file while a load copies it from the verified descriptor looks like.
class InterferingBuf final : public std::stringbuf {
 public:
  explicit InterferingBuf(std::function<void()> meanwhile) : meanwhile_(std::move(meanwhile)) {}

 protected:
  std::streamsize xsputn(const char* data, std::streamsize size) override {
    if (meanwhile_) std::exchange(meanwhile_, nullptr)();
    return std::stringbuf::xsputn(data, size);
  }

 private:
  std::function<void()> meanwhile_;
};

TEST_F(VerifiedArtifactTest, AStreamLoadIsOfTheVerifiedFileAndRefusesAWriteMeanwhile) {
  const std::string bytes = large_bytes((std::size_t{3} << 20) + 5);
  register_bytes("1", bytes);
  std::ostringstream out;
  ASSERT_TRUE(registry_.load_artifact("m", "1", out));
  EXPECT_EQ(out.str(), bytes);

  // Written to in place after the verification, while the copy to the stream goes on.
  InterferingBuf interfering([&] {
    std::fstream file(testing::writable(stored("1")),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(bytes.size() - 1));
    file.put('X');
  });
  std::ostream interfered(&interfering);
  EXPECT_THROW(registry_.load_artifact("m", "1", interfered), DataLossError);
  // And the next load verifies again, and refuses the damaged file before writing a byte.
  std::ostringstream after;
  EXPECT_THROW(registry_.load_artifact("m", "1", after), DataLossError);
  EXPECT_TRUE(after.str().empty());
}

TEST_F(VerifiedArtifactTest, NothingToOpenIsNullopt) {
  registry_.register_version("m", "no-artifact");
  EXPECT_FALSE(registry_.open_verified_artifact("m", "no-artifact"));
  EXPECT_FALSE(registry_.open_verified_artifact("m", "404"));
  EXPECT_FALSE(registry_.open_verified_artifact("nobody", "1"));
  EXPECT_THROW(registry_.open_verified_artifact("bad/name", "1"), InvalidArgumentError);
}

TEST(VerifiedArtifactCopyTest, AStoreWithoutFilesGivesAVerifiedUnnamedCopy) {
  ModelRegistry registry(std::make_shared<InMemoryModelStore>());
  const std::string bytes = large_bytes((std::size_t{3} << 20) + 5);
  RegisterOptions options;
  options.artifact = to_bytes(bytes);
  registry.register_version("m", "1", options);
  auto artifact = registry.open_verified_artifact("m", "1");
  ASSERT_TRUE(artifact);
  EXPECT_TRUE(artifact->copied);
  EXPECT_TRUE(artifact->file.path().empty());
  EXPECT_EQ(::fcntl(artifact->file.fd(), F_GETFL) & O_ACCMODE, O_RDONLY);
  struct stat status {};
  ASSERT_EQ(::fstat(artifact->file.fd(), &status), 0);
  EXPECT_EQ(status.st_nlink, 0u);  // unnamed: it goes away with the descriptor
  EXPECT_EQ(pread_all(artifact->file.fd()), bytes);
}

TEST(ArtifactFileTest, OwnsItsDescriptorAcrossMoves) {
  testing::TestDir dir;
  std::ofstream(dir.path() / "f") << "bytes";
  const int fd = ::open((dir.path() / "f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  {
    ArtifactFile file(fd, dir.path() / "f");
    ArtifactFile moved(std::move(file));
    EXPECT_EQ(file.fd(), -1);  // NOLINT(bugprone-use-after-move): the moved-from state is defined
    EXPECT_EQ(moved.fd(), fd);
    ArtifactFile assigned(-1, {});
    assigned = std::move(moved);
    EXPECT_EQ(assigned.fd(), fd);
    EXPECT_EQ(pread_all(assigned.fd()), "bytes");
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // closed with its last owner
  ArtifactFile released(::open((dir.path() / "f").c_str(), O_RDONLY | O_CLOEXEC), {});
  const int given = released.release();
  EXPECT_EQ(released.fd(), -1);
  EXPECT_EQ(::close(given), 0);
}

}  // namespace
}  // namespace modelreg

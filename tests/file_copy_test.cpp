// The verified file copies of src/file_copy.hpp: the kernel copy with the destination read back
// and hashed while the next range is copied, and the read()/write() copy it falls back to where
// the kernel cannot copy between the two files. Both give the source's bytes and their digest for
// every length around the buffer and range sizes, survive short kernel copies, and report a
// failing call as a StorageError. Labelled concurrency: the hasher is a thread of its own.

#include "file_copy.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io.hpp"
#include "modelreg/error.hpp"
#include "posix_file.hpp"
#include "pseudo_random.hpp"
#include "sha256.hpp"
#include "test_dir.hpp"

namespace modelreg::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kBuffer = 4096;  // the pipeline's buffers: a range is four of them

std::string bytes_of(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint64_t state = 977;
  modelreg::testing::fill_pseudo_random(state, bytes.data(), size);
  return bytes;
}

using modelreg::testing::read_file;
using modelreg::testing::TestDir;

// How the seam treats copy_file_range: as the kernel does, unsupported, short, or failing.
class KernelCopyIo final : public Io {
 public:
  // ReportsNothing: 0 bytes copied at once, as for a file whose size its file system does not
  // report (procfs, some FUSE file systems).
  enum class Mode { Real, Unsupported, Short, FailLater, ReadBackFails, ReportsNothing };
  explicit KernelCopyIo(Mode mode) : mode_(mode) {}

  ssize_t copy_file_range(int from, off_t* from_offset, int to, off_t* to_offset,
                          std::size_t size) override {
    ++copies;
    switch (mode_) {
      case Mode::Real:
      case Mode::ReadBackFails:
        break;
      case Mode::Unsupported:
        errno = EXDEV;
        return -1;
      case Mode::ReportsNothing:
        return 0;
      case Mode::Short:
        if (copies % 3 == 0) {  // an interrupted call, retried
          errno = EINTR;
          return -1;
        }
        size = std::min<std::size_t>(size, 1000);
        break;
      case Mode::FailLater:
        if (copies == 2) {
          errno = EIO;
          return -1;
        }
        break;
    }
    return Io::copy_file_range(from, from_offset, to, to_offset, size);
  }
  ssize_t pread(int fd, void* data, std::size_t size, off_t offset) override {
    if (mode_ == Mode::ReadBackFails && offset > 0) {
      errno = EIO;
      return -1;
    }
    return Io::pread(fd, data, size, offset);
  }

  int copies = 0;

 private:
  Mode mode_;
};

class FileCopyTest : public ::testing::TestWithParam<KernelCopyIo::Mode> {
 protected:
  // Copies a file of `size` bytes with copy_file_hashed; returns what the destination holds.
  std::string copy(std::size_t size, HashPipeline& hash, std::uint64_t& copied) {
    const fs::path source = dir_.path() / "source.bin";
    const fs::path target = dir_.path() / "target.bin";
    {
      std::ofstream out(source, std::ios::binary | std::ios::trunc);
      const std::string bytes = bytes_of(size);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    UniqueFd from(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd to(::open(target.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_TRUE(from.valid() && to.valid());
    copied = copy_file_hashed(from.get(), to.get(), hash, source, target);
    return read_file(target);
  }

  TestDir dir_{"modelreg-file-copy"};
};

TEST_P(FileCopyTest, GivesTheBytesAndTheirDigestForEveryLength) {
  KernelCopyIo seam(GetParam());
  ScopedIo installed(seam);
  for (const std::size_t size :
       {std::size_t{0}, std::size_t{1}, kBuffer - 1, kBuffer, kBuffer + 1, 4 * kBuffer - 1,
        4 * kBuffer, 4 * kBuffer + 1, 9 * kBuffer + 17, 40 * kBuffer}) {
    SCOPED_TRACE(size);
    HashPipeline hash(kBuffer);
    std::uint64_t copied = 0;
    const std::string expected = bytes_of(size);
    EXPECT_EQ(copy(size, hash, copied), expected);
    EXPECT_EQ(copied, size);
    EXPECT_EQ(hash.size(), size);
    EXPECT_EQ(hash.hex_digest(), sha256_hex(expected.data(), expected.size()));
  }
  if (GetParam() == KernelCopyIo::Mode::Unsupported) {
    EXPECT_EQ(seam.copies, 10) << "one refused kernel copy per file, then read() and write()";
  } else {
    EXPECT_GT(seam.copies, 10);
  }
}

INSTANTIATE_TEST_SUITE_P(KernelCopy, FileCopyTest,
                         ::testing::Values(KernelCopyIo::Mode::Real,
                                           KernelCopyIo::Mode::Unsupported,
                                           KernelCopyIo::Mode::Short),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case KernelCopyIo::Mode::Real:
                               return std::string("Kernel");
                             case KernelCopyIo::Mode::Unsupported:
                               return std::string("Fallback");
                             default:
                               return std::string("ShortCopies");
                           }
                         });

TEST_F(FileCopyTest, AKernelCopyOfNothingAtAllIsCheckedWithRead) {
  KernelCopyIo seam(KernelCopyIo::Mode::ReportsNothing);
  ScopedIo installed(seam);
  HashPipeline hash(kBuffer);
  std::uint64_t copied = 0;
  const std::string expected = bytes_of(5 * kBuffer + 3);
  EXPECT_EQ(copy(expected.size(), hash, copied), expected);
  EXPECT_EQ(copied, expected.size());
  EXPECT_EQ(hash.hex_digest(), sha256_hex(expected.data(), expected.size()));
  EXPECT_EQ(seam.copies, 1);
}

TEST_F(FileCopyTest, AFailedCopyOrReadBackIsAStorageErrorNamingTheFile) {
  for (const auto mode : {KernelCopyIo::Mode::FailLater, KernelCopyIo::Mode::ReadBackFails}) {
    KernelCopyIo seam(mode);
    ScopedIo installed(seam);
    HashPipeline hash(kBuffer);
    std::uint64_t copied = 0;
    try {
      copy(20 * kBuffer, hash, copied);
      ADD_FAILURE() << "no error";
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("target.bin"), std::string::npos) << e.what();
    }
  }
}

TEST_F(FileCopyTest, CopiesAFileToAStreamAndReportsAFailingStream) {
  const fs::path source = dir_.path() / "source.bin";
  const std::string bytes = bytes_of(3 * (std::size_t{1} << 20) + 5);
  {
    std::ofstream out(source, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  UniqueFd from(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(from.valid());
  std::ostringstream out;
  EXPECT_EQ(copy_file_to_stream(from.get(), out, "m:1"), bytes.size());
  EXPECT_EQ(out.str(), bytes);

  std::ostringstream failing;
  failing.setstate(std::ios::badbit);
  EXPECT_THROW(copy_file_to_stream(from.get(), failing, "m:1"), StorageError);
}

// How the seam answers hash_file's reads from the page cache: the first `cached_reads` of them
// served (every second one short, as when only part of a range is cached), the next not cached
// (EAGAIN) or failing (EIO).
class PageCacheIo final : public Io {
 public:
  PageCacheIo(int cached_reads, int then_errno) : left_(cached_reads), then_(then_errno) {}

  ssize_t pread_cached(int fd, void* data, std::size_t size, off_t offset) override {
    ++cached_calls;
    if (left_ == 0) {
      errno = then_;
      return -1;
    }
    --left_;
    return Io::pread(fd, data, left_ % 2 == 0 ? size : size / 2 + 1, offset);
  }
  ssize_t pread(int fd, void* data, std::size_t size, off_t offset) override {
    ++device_calls;
    return Io::pread(fd, data, size, offset);
  }

  int cached_calls = 0;
  int device_calls = 0;

 private:
  int left_;
  int then_;
};

// hash_file hashes on the caller's thread while the file is cached and on the pipeline's
// thread from the first read that is not: the digest is the file's wherever that happens.
TEST_F(FileCopyTest, HashesAFileWhetherItsPagesAreCachedOrNot) {
  const fs::path path = dir_.path() / "artifact.bin";
  for (const std::size_t size : {std::size_t{0}, kBuffer - 1, 3 * kBuffer, 20 * kBuffer + 7}) {
    const std::string bytes = bytes_of(size);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    for (const int cached_reads : {0, 1, 2, 3, 5, 1000}) {
      SCOPED_TRACE(::testing::Message() << size << " bytes, " << cached_reads << " cached");
      PageCacheIo seam(cached_reads, EAGAIN);
      ScopedIo installed(seam);
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      ASSERT_TRUE(fd.valid());
      HashPipeline hash(kBuffer);
      EXPECT_EQ(hash_file(fd.get(), hash, "m:1"), bytes.size());
      EXPECT_EQ(hash.size(), bytes.size());
      EXPECT_EQ(hash.hex_digest(), sha256_hex(bytes.data(), bytes.size()));
      // Once a read was not cached, the rest comes from the device.
      EXPECT_LE(seam.cached_calls, cached_reads + 1);
      if (seam.cached_calls > cached_reads) {
        EXPECT_GT(seam.device_calls, 0);
      }
    }
  }
}

TEST_F(FileCopyTest, AFailingCachedReadIsAStorageErrorNamingTheArtifact) {
  const fs::path path = dir_.path() / "artifact.bin";
  {
    std::ofstream out(path, std::ios::binary);
    const std::string bytes = bytes_of(10 * kBuffer);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  PageCacheIo seam(2, EIO);
  ScopedIo installed(seam);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  HashPipeline hash(kBuffer);
  try {
    hash_file(fd.get(), hash, "m:1");
    ADD_FAILURE() << "no error";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("m:1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(seam.device_calls, 0) << "a failed read was retried from the device";
}

}  // namespace
}  // namespace modelreg::detail

#pragma once

// Scratch directories and test files for the benchmarks: a temporary directory removed with
// everything in it, files of N pseudo-random bytes written in bounded memory, and a way to push
// a file out of the page cache without root (posix_fadvise).

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace modelreg::bench {

namespace fs = std::filesystem;

// The parent of the benchmarks' scratch directories: --dir, else $MODELREG_BENCH_DIR, else the
// system temporary directory (/tmp).
inline fs::path default_scratch_parent() {
  if (const char* dir = std::getenv("MODELREG_BENCH_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return fs::temp_directory_path();
}

// A fresh directory "<parent>/<prefix>XXXXXX", removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir(const fs::path& parent, const std::string& prefix) {
    fs::create_directories(parent);
    std::string pattern = (parent / (prefix + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Writes `size` pseudo-random bytes (incompressible, different in every MiB) to `path` in 1 MiB
// chunks and fsyncs it, so that the file is complete, durable and clean in the page cache.
inline void write_random_file(const fs::path& path, std::uint64_t size, std::uint64_t seed = 1) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("open " + path.string());
  std::vector<std::uint64_t> chunk((std::size_t{1} << 20) / sizeof(std::uint64_t));
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  std::uint64_t left = size;
  while (left > 0) {
    for (auto& word : chunk) {  // xorshift64*: fast, and no two chunks are alike
      state ^= state >> 12;
      state ^= state << 25;
      state ^= state >> 27;
      word = state * 0x2545F4914F6CDD1DULL;
    }
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(left, chunk.size() * sizeof(std::uint64_t)));
    const char* data = reinterpret_cast<const char*>(chunk.data());
    std::size_t done = 0;
    while (done < want) {
      const ssize_t n = ::write(fd, data + done, want - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        ::close(fd);
        throw_errno("write " + path.string());
      }
      done += static_cast<std::size_t>(n);
    }
    left -= want;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) throw_errno("fsync " + path.string());
}

// Asks the kernel to drop the file's (clean) pages from the page cache, so that the next read
// comes from the device. Needs no privileges; returns false if the kernel refused. On a virtual
// machine the host may still cache the bytes, so "cold" is the guest's view only.
inline bool drop_file_cache(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ::fdatasync(fd);  // dirty pages cannot be dropped
  const bool ok = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok;
}

// Reads the whole file with read() in 1 MiB chunks (the "plain read" baseline). Returns the
// number of bytes read.
inline std::uint64_t read_file_plain(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open " + path.string());
  std::vector<char> buffer(std::size_t{1} << 20);
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      throw_errno("read " + path.string());
    }
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return total;
}

// Quotes `text` for /bin/sh.
inline std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// The "cp + sync" baseline: runs `cp src dst && sync dst` through /bin/sh (std::system), i.e.
// what a shell script does to copy a file durably. `sync FILE` fsyncs just that file; a bare
// `sync` would also flush every other process's dirty pages on a shared machine. Throws if the
// command fails.
inline void copy_and_sync_with_cp(const fs::path& src, const fs::path& dst) {
  const std::string command = "cp -- " + shell_quote(src.string()) + " " +
                              shell_quote(dst.string()) + " && sync -- " +
                              shell_quote(dst.string());
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

}  // namespace modelreg::bench

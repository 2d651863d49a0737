#pragma once

// A fresh, uniquely named temporary directory, removed when the test is done, and reading a
// file back whole.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace modelreg::testing {

class TestDir {
 public:
  // `prefix` starts the directory's name, to tell which test left a directory behind.
  explicit TestDir(const std::string& prefix = "modelreg-test") {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TestDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Every regular file below the directory (recursively).
  std::size_t file_count() const {
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path_)) {
      if (entry.is_regular_file()) ++count;
    }
    return count;
  }

 private:
  std::filesystem::path path_;
};

// Gives the owner write permission on `path` back, and returns it: the library stores artifacts
// read-only, and a test that damages one in place must be able to open it for writing without
// being root.
inline const std::filesystem::path& writable(const std::filesystem::path& path) {
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  return path;
}

// The whole contents of `path` (empty if it cannot be read).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace modelreg::testing

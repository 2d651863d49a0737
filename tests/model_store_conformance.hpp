#pragma once

// The conformance suite every ModelStore implementation passes: a test program includes this
// header and instantiates ModelStoreConformance with the factories of its stores, e.g.
//
//   INSTANTIATE_TEST_SUITE_P(Stores, ModelStoreConformance, ::testing::Values(StoreFactory{...}),
//                            store_factory_name);
//
// `make` gets a fresh directory per test (a store that keeps no files may ignore it) and must
// return an empty store, or null if the store cannot be had (the test skips).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <modelreg/modelreg.hpp>
#include <sstream>
#include <thread>

#include "log_capture.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

struct StoreFactory {
  std::string name;
  std::function<std::shared_ptr<ModelStore>(const std::filesystem::path&)> make;
};

// Test names show the parameter's name, not its bytes.
void PrintTo(const StoreFactory& param, std::ostream* os) {
  *os << param.name;
}

inline std::string store_factory_name(const ::testing::TestParamInfo<StoreFactory>& param) {
  return param.param.name;
}

class ModelStoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  // A factory may return null when its store cannot be had here (a server that is not
  // running): it reports why (as a failure where it must not be missing), and the test skips.
  void SetUp() override {
    store_ = GetParam().make(dir_.path() / "store");
    if (!store_) GTEST_SKIP() << GetParam().name << " store unavailable";
  }

  testing::TestDir dir_;
  std::shared_ptr<ModelStore> store_;
};

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<std::uint8_t>(seed + i * 31 + (i >> 8));
  return bytes;
}

// A stream that fails (badbit) after handing out `good_bytes` bytes.
class FailingBuf : public std::streambuf {
 public:
  explicit FailingBuf(std::size_t good_bytes) : data_(good_bytes, 'x') {
    setg(data_.data(), data_.data(), data_.data() + data_.size());
  }

 protected:
  int_type underflow() override { throw std::ios_base::failure("disk on fire"); }

 private:
  std::vector<char> data_;
};

TEST_P(ModelStoreConformance, SaveReturnsTheRelativePathAndLoadReturnsTheBytes) {
  const Bytes data = pattern(1000, 7);
  const std::string path = store_->save_artifact("my-model", "1.0.0", data);
  EXPECT_EQ(path, "my-model/1.0.0/model.bin");
  EXPECT_EQ(path, ModelStore::artifact_path("my-model", "1.0.0"));
  EXPECT_EQ(store_->load_artifact(path), data);
}

TEST_P(ModelStoreConformance, EmptyAndLargeArtifacts) {
  const std::string empty = store_->save_artifact("m", "empty", Bytes{});
  EXPECT_TRUE(store_->load_artifact(empty).empty());
  const Bytes large = pattern(3 * 1024 * 1024 + 17, 3);
  const std::string path = store_->save_artifact("m", "large", large);
  EXPECT_EQ(store_->load_artifact(path), large);
}

TEST_P(ModelStoreConformance, SavingAgainReplacesTheArtifact) {
  const std::string path = store_->save_artifact("m", "1", to_bytes("old"));
  store_->save_artifact("m", "1", to_bytes("new and longer"));
  EXPECT_EQ(to_string(store_->load_artifact(path)), "new and longer");
  EXPECT_EQ(store_->list_artifacts(), std::vector<std::string>{"m/1/model.bin"});
}

TEST_P(ModelStoreConformance, LoadingAMissingArtifactIsNotFound) {
  EXPECT_THROW(store_->load_artifact("m/1/model.bin"), NotFoundError);
  store_->save_artifact("m", "1", to_bytes("x"));
  EXPECT_THROW(store_->load_artifact("m/2/model.bin"), NotFoundError);
  EXPECT_THROW(store_->open_artifact("other/1/model.bin"), NotFoundError);
}

TEST_P(ModelStoreConformance, DeleteReturnsTrueOnceThenFalseWithAWarning) {
  testing::LogCapture log;
  const std::string path = store_->save_artifact("m", "1", to_bytes("x"));
  EXPECT_TRUE(store_->delete_artifact(path));
  EXPECT_THROW(store_->load_artifact(path), NotFoundError);
  EXPECT_TRUE(log.warnings().empty());
  EXPECT_FALSE(store_->delete_artifact(path));
  ASSERT_EQ(log.warnings().size(), 1u);
  EXPECT_NE(log.warnings()[0].find("m/1/model.bin"), std::string::npos);
  EXPECT_TRUE(store_->list_artifacts().empty());
}

TEST_P(ModelStoreConformance, StreamsInAndOut) {
  const Bytes data = pattern(2 * 1024 * 1024 + 5, 11);
  std::istringstream in(to_string(data));
  const std::string path = store_->save_artifact("m", "s", in);
  std::ostringstream out;
  store_->load_artifact(path, out);
  EXPECT_EQ(out.str(), to_string(data));
  auto stream = store_->open_artifact(path);
  std::string first(5, '\0');
  stream->read(first.data(), 5);
  EXPECT_EQ(first, to_string(data).substr(0, 5));
}

TEST_P(ModelStoreConformance, SavesFromAFile) {
  const auto source = dir_.path() / "weights.bin";
  const Bytes data = pattern(100000, 5);
  {
    std::ofstream out(source, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
  }
  const std::string path = store_->save_artifact("m", "f", source);
  EXPECT_EQ(store_->load_artifact(path), data);
  EXPECT_THROW(store_->save_artifact("m", "g", dir_.path() / "missing.bin"), NotFoundError);
  EXPECT_THROW(store_->load_artifact("m/g/model.bin"), NotFoundError);
}

// fill_artifact: a store that keeps files has the callback write its new file, and keeps the
// previous artifact when the callback throws; one that does not calls nothing and stores nothing.
TEST_P(ModelStoreConformance, FillsANewFileOrSaysItCannot) {
  store_->save_artifact("m", "1", to_bytes("previous"));
  const std::string bytes = to_string(pattern(200000, 9));
  int calls = 0;
  const auto filled =
      store_->fill_artifact("m", "1", [&](int fd, const std::filesystem::path& path) {
        ++calls;
        EXPECT_FALSE(path.empty());
        EXPECT_EQ(::lseek(fd, 0, SEEK_END), 0) << "not an empty file";
        ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
      });
  if (!filled) {
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(to_string(store_->load_artifact("m/1/model.bin")), "previous");
    EXPECT_FALSE(store_->fill_artifact("m", "2", [](int, const std::filesystem::path&) {}));
    EXPECT_THROW(store_->load_artifact("m/2/model.bin"), NotFoundError);
    return;
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(*filled, "m/1/model.bin");
  EXPECT_EQ(to_string(store_->load_artifact(*filled)), bytes);
  EXPECT_THROW(store_->fill_artifact("m", "1",
                                     [](int fd, const std::filesystem::path&) {
                                       ASSERT_EQ(::write(fd, "half", 4), 4);
                                       throw StorageError("source failed");
                                     }),
               StorageError);
  EXPECT_EQ(to_string(store_->load_artifact("m/1/model.bin")), bytes);
  EXPECT_EQ(store_->list_artifacts(), std::vector<std::string>{"m/1/model.bin"});
  EXPECT_THROW(store_->fill_artifact("bad/name", "1", [](int, const std::filesystem::path&) {}),
               InvalidArgumentError);
}

TEST_P(ModelStoreConformance, AFailingSourceStreamStoresNothing) {
  store_->save_artifact("m", "1", to_bytes("previous"));
  FailingBuf buf(1000);
  std::istream in(&buf);
  EXPECT_THROW(store_->save_artifact("m", "1", in), StorageError);
  EXPECT_EQ(to_string(store_->load_artifact("m/1/model.bin")), "previous");
  FailingBuf buf2(10);
  std::istream in2(&buf2);
  EXPECT_THROW(store_->save_artifact("m", "2", in2), StorageError);
  EXPECT_THROW(store_->load_artifact("m/2/model.bin"), NotFoundError);
}

TEST_P(ModelStoreConformance, AnOpenStreamSurvivesDeletionAndReplacement) {
  const std::string path = store_->save_artifact("m", "1", to_bytes("original bytes"));
  auto stream = store_->open_artifact(path);
  store_->save_artifact("m", "1", to_bytes("replacement"));
  store_->delete_artifact(path);
  std::string content((std::istreambuf_iterator<char>(*stream)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "original bytes");
}

TEST_P(ModelStoreConformance, ListsArtifactsSorted) {
  store_->save_artifact("b", "2", to_bytes("x"));
  store_->save_artifact("a", "10", to_bytes("x"));
  store_->save_artifact("a", "1", to_bytes("x"));
  EXPECT_EQ(store_->list_artifacts(),
            (std::vector<std::string>{"a/1/model.bin", "a/10/model.bin", "b/2/model.bin"}));
}

TEST_P(ModelStoreConformance, RejectsBadNamesAndPaths) {
  EXPECT_THROW(store_->save_artifact("../m", "1", to_bytes("x")), InvalidArgumentError);
  EXPECT_THROW(store_->save_artifact("m", "a/b", to_bytes("x")), InvalidArgumentError);
  EXPECT_THROW(store_->load_artifact("../../etc/passwd"), InvalidArgumentError);
  EXPECT_THROW(store_->delete_artifact("m/1/../../x/model.bin"), InvalidArgumentError);
  EXPECT_TRUE(store_->list_artifacts().empty());
}

TEST_P(ModelStoreConformance, ReadersNeverSeeAPartialArtifact) {
  // Writers replace one artifact with uniform buffers of different bytes and sizes; readers
  // must always get one complete buffer.
  const std::string path = store_->save_artifact("m", "1", Bytes(1000, 'a'));
  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0};
  std::atomic<int> reads{0};
  std::thread writer([&] {
    for (int i = 0; i < 60; ++i) {
      store_->save_artifact(
          "m", "1",
          Bytes(1000 + static_cast<std::size_t>(i) * 997, static_cast<std::uint8_t>('a' + i % 26)));
    }
    // The in-memory store is fast enough to finish before a reader ran: let them read too.
    while (reads.load() < 6) std::this_thread::yield();
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        const Bytes bytes = store_->load_artifact(path);
        ++reads;
        if (bytes.empty() || std::count(bytes.begin(), bytes.end(), bytes[0]) !=
                                 static_cast<std::ptrdiff_t>(bytes.size())) {
          ++mixed;
        }
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

TEST_P(ModelStoreConformance, ConcurrentWritersOfDifferentVersions) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string version = std::to_string(t) + "." + std::to_string(i);
        const std::string path = store_->save_artifact("m", version, to_bytes(version));
        if (i % 3 == 0) store_->delete_artifact(path);
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto listed = store_->list_artifacts();
  EXPECT_EQ(listed.size(), 8u * 16u);
  for (const auto& path : listed) {
    const std::string version = path.substr(2, path.size() - 2 - std::string("/model.bin").size());
    EXPECT_EQ(to_string(store_->load_artifact(path)), version);
  }
}

}  // namespace
}  // namespace modelreg

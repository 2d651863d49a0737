// The ModelStore conformance suite (model_store_conformance.hpp) on the in-memory and file
// stores, and FileModelStore's own behaviour.

#include "model_store_conformance.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <modelreg/modelreg.hpp>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "log_capture.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

INSTANTIATE_TEST_SUITE_P(
    Stores, ModelStoreConformance,
    ::testing::Values(StoreFactory{"InMemory",
                                   [](const std::filesystem::path&) -> std::shared_ptr<ModelStore> {
                                     return std::make_shared<InMemoryModelStore>();
                                   }},
                      StoreFactory{
                          "File",
                          [](const std::filesystem::path& dir) -> std::shared_ptr<ModelStore> {
                            return std::make_shared<FileModelStore>(dir);
                          }}),
    store_factory_name);

// FileModelStore specifics: the seed's layout, durability leftovers, directories.

TEST(FileModelStoreTest, UsesTheSeedLayoutAndCreatesDirectoriesOnFirstSave) {
  testing::TestDir dir;
  const auto base = dir.path() / "a" / "b";
  FileModelStore store(base);
  EXPECT_TRUE(std::filesystem::is_directory(base));
  store.save_artifact("clf", "2.1", to_bytes("weights"));
  const auto file = base / "clf" / "2.1" / "model.bin";
  ASSERT_TRUE(std::filesystem::is_regular_file(file));
  std::ifstream in(file, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "weights");
  // No temporary file is left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(file.parent_path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(FileModelStoreTest, RemovesAbandonedTemporaryFilesButNotArtifacts) {
  testing::TestDir dir;
  FileModelStore store(dir.path());
  store.save_artifact("m", "1", to_bytes("keep"));
  const auto leftover = dir.path() / "m" / "1" / ".tmp-model.bin-deadbeef";
  { std::ofstream(leftover) << "partial"; }
  EXPECT_EQ(store.remove_temporary_files(), 1u);
  EXPECT_FALSE(std::filesystem::exists(leftover));
  EXPECT_EQ(to_string(store.load_artifact("m/1/model.bin")), "keep");
  // Deleting an artifact also removes an abandoned partial file beside it, and the directory.
  { std::ofstream(leftover) << "partial"; }
  EXPECT_TRUE(store.delete_artifact("m/1/model.bin"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "m" / "1"));
}

TEST(FileModelStoreTest, ASymlinkedArtifactIsNotFollowed) {
  testing::TestDir dir;
  FileModelStore store(dir.path() / "store");
  { std::ofstream(dir.path() / "secret") << "secret"; }
  std::filesystem::create_directories(dir.path() / "store" / "m" / "1");
  std::filesystem::create_symlink(dir.path() / "secret",
                                  dir.path() / "store" / "m" / "1" / "model.bin");
  EXPECT_THROW(store.load_artifact("m/1/model.bin"), StorageError);
}

TEST(FileModelStoreTest, AFifoInTheArtifactsPlaceIsRefusedWithoutBlocking) {
  testing::TestDir dir;
  FileModelStore store(dir.path() / "store");
  std::filesystem::create_directories(dir.path() / "store" / "m" / "1");
  const auto fifo = dir.path() / "store" / "m" / "1" / "model.bin";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Without a writer, opening it for reading would wait forever.
  EXPECT_THROW(store.load_artifact("m/1/model.bin"), DataLossError);
  std::ostringstream out;
  EXPECT_THROW(store.load_artifact("m/1/model.bin", out), DataLossError);
}

TEST(FileModelStoreTest, AFifoNamedLikeATemporaryFileBlocksNeitherDeletionNorCleanup) {
  testing::TestDir dir;
  const auto version_dir = dir.path() / "artifacts" / "m" / "1";
  auto store = std::make_shared<FileModelStore>(dir.path() / "artifacts");
  ModelRegistry registry(store);
  RegisterOptions options;
  options.artifact = to_bytes("weights");
  registry.register_version("m", "1", options);
  ASSERT_EQ(::mkfifo((version_dir / ".tmp-model.bin-0123456789abcdef").c_str(), 0600), 0);
  // In a child, so that a blocking open fails the test at the deadline instead of hanging it.
  // Both paths look at temporary files: garbage collection's and a deletion's (recovery's too).
  testing::Children children;
  const pid_t child = children.spawn([&] {
    testing::silence_modelreg_logging();
    if (!store->list_abandoned_temporary_files().empty()) return 2;
    if (!store->remove_abandoned_temporary_files().empty()) return 3;
    return registry.delete_version("m", "1") && !registry.get_version("m", "1") ? 0 : 1;
  });
  const int status =
      children.wait(child, std::chrono::steady_clock::now() + std::chrono::seconds(30));
  EXPECT_TRUE(testing::exited_cleanly(status)) << "status " << status;
  // The FIFO is no abandoned temporary file (not a regular file): it is left alone.
  EXPECT_TRUE(std::filesystem::exists(version_dir / ".tmp-model.bin-0123456789abcdef"));
}

TEST(FileModelStoreTest, AnEmptyBasePathIsRefusedAndLogged) {
  testing::LogCapture log;
  EXPECT_THROW(FileModelStore(""), InvalidArgumentError);
  EXPECT_EQ(log.infos().size(), 1u);
}

}  // namespace
}  // namespace modelreg

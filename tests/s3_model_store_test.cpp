// S3ModelStore against a real S3 server (Ceph's RADOS Gateway, started by the CTest fixture
// through scripts/s3-server; see s3_test_server.hpp): the ModelStore conformance suite, multipart
// uploads, the server refusing damaged bytes, failures of the server and of the writer, and the
// registry verifying what it loads from S3.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <modelreg/modelreg.hpp>
#include <modelreg/s3_model_store.hpp>
#include <modelreg/sqlite_metadata_store.hpp>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "io.hpp"
#include "killed_writer.hpp"
#include "model_store_conformance.hpp"
#include "s3/s3_client.hpp"
#include "s3_test_server.hpp"
#include "sha256.hpp"
#include "test_dir.hpp"

namespace modelreg {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

using testing::kill_writer_mid_upload;
using testing::pattern_text;
using testing::PatternBuf;
using testing::read_file;

// Writes `text` to a new file at `path`.
void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.flush()) << path;
}

// Changes the file at `path` under the reader's feet once a first pass over it has read to its
// end (the store's hashing), for every read after (its PUT, rewinds included): the first byte
// flipped, or the file ending early at `end`, as if someone rewrote it in between.
class FileChangingIo final : public detail::Io {
 public:
  enum class Change { FlipFirstByte, EndAt };
  FileChangingIo(const std::filesystem::path& path, Change change, off_t end = 0)
      : change_(change), end_(end) {
    struct stat status {};
    EXPECT_EQ(::stat(path.c_str(), &status), 0) << path;
    device_ = status.st_dev;
    inode_ = status.st_ino;
  }
  ssize_t pread(int fd, void* data, std::size_t size, off_t offset) override {
    struct stat status {};
    if (::fstat(fd, &status) != 0 || status.st_dev != device_ || status.st_ino != inode_) {
      return Io::pread(fd, data, size, offset);
    }
    const bool changed = first_pass_done_;
    if (changed && change_ == Change::EndAt) {
      if (offset >= end_) return 0;
      size = std::min(size, static_cast<std::size_t>(end_ - offset));
    }
    const ssize_t got = Io::pread(fd, data, size, offset);
    if (changed && change_ == Change::FlipFirstByte && offset == 0 && got > 0) {
      static_cast<char*>(data)[0] ^= 1;
    }
    if (got == 0) first_pass_done_ = true;
    return got;
  }
  // Nothing is "in the page cache": every read of the file comes through pread above.
  ssize_t pread_cached(int /*fd*/, void* /*data*/, std::size_t /*size*/,
                       off_t /*offset*/) override {
    errno = EAGAIN;
    return -1;
  }
  bool first_pass_done() const { return first_pass_done_; }

 private:
  Change change_;
  off_t end_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  bool first_pass_done_ = false;
};

// A TCP proxy on 127.0.0.1 in front of the gateway (an http://127.0.0.1:<port> endpoint) that
// cuts its first connection once `cut_after` bytes of the server's answers have gone through,
// as a network failing mid-download would, and then calls `on_cut`; later connections it relays
// whole, once `on_cut` has returned. It keeps what the clients sent.
class CuttingProxy {
 public:
  CuttingProxy(const std::string& upstream, std::size_t cut_after,
               std::function<void()> on_cut = {})
      : cut_after_(cut_after), on_cut_(std::move(on_cut)) {
    upstream_port_ =
        static_cast<std::uint16_t>(std::stoi(upstream.substr(upstream.rfind(':') + 1)));
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = loopback(0);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~CuttingProxy() {
    stopping_ = true;
    acceptor_.join();
    for (auto& relay : relays_) relay.join();
    ::close(listener_);
  }
  CuttingProxy(const CuttingProxy&) = delete;
  CuttingProxy& operator=(const CuttingProxy&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  std::string requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    return address;
  }
  void accept_loop() {
    while (!stopping_) {
      pollfd ready{listener_, POLLIN, 0};
      if (::poll(&ready, 1, 50) <= 0) continue;
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const bool cut = connections_++ == 0;
      relays_.emplace_back([this, client, cut] { relay(client, cut); });
    }
  }
  void relay(int client, bool cut) {
    // The connections after the cut wait until the world has changed as on_cut changes it.
    while (!cut && !cut_done_ && !stopping_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = loopback(upstream_port_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ADD_FAILURE() << "the proxy cannot reach the gateway";
      ::close(server);
      ::close(client);
      return;
    }
    std::size_t answered = 0;
    char buffer[64 * 1024];
    while (!stopping_) {
      pollfd ends[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(ends, 2, 50) <= 0) continue;
      if (ends[0].revents != 0) {
        const ssize_t got = ::read(client, buffer, sizeof buffer);
        if (got <= 0) break;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          requests_.append(buffer, static_cast<std::size_t>(got));
        }
        if (::send(server, buffer, static_cast<std::size_t>(got), MSG_NOSIGNAL) != got) break;
      }
      if (ends[1].revents != 0) {
        ssize_t got = ::read(server, buffer, sizeof buffer);
        if (got <= 0) break;
        const bool cutting = cut && answered + static_cast<std::size_t>(got) >= cut_after_;
        if (cutting) got = static_cast<ssize_t>(cut_after_ - answered);
        if (::send(client, buffer, static_cast<std::size_t>(got), MSG_NOSIGNAL) != got) break;
        answered += static_cast<std::size_t>(got);
        if (cutting) break;
      }
    }
    ::close(server);
    ::close(client);
    if (!cut) return;
    try {
      if (on_cut_) on_cut_();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the proxy's on_cut failed: " << e.what();
    }
    cut_done_ = true;
  }

  std::size_t cut_after_;
  std::function<void()> on_cut_;
  std::uint16_t upstream_port_ = 0;
  std::uint16_t port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<bool> cut_done_{false};
  mutable std::mutex mutex_;
  std::string requests_;
  std::thread acceptor_;
  std::vector<std::thread> relays_;  // only the acceptor adds to it while it runs
};

// Removes every object and open upload under the test's prefix when the last user lets go, so
// that a test against a bucket of one's own leaves nothing behind.
std::shared_ptr<S3ModelStore> cleaned_up(std::shared_ptr<S3ModelStore> store) {
  return std::shared_ptr<S3ModelStore>(store.get(), [store](S3ModelStore*) {
    try {
      for (const auto& path : store->list_artifacts()) store->delete_artifact(path);
      store->abort_incomplete_uploads(std::chrono::seconds(0));
    } catch (const Error& e) {
      ADD_FAILURE() << "cleaning up the test's objects failed: " << e.what();
    }
  });
}

std::shared_ptr<ModelStore> make_s3_store(const std::filesystem::path&) {
  std::string why;
  auto options = testing::s3_test_options(
      testing::unique_prefix(::testing::UnitTest::GetInstance()->current_test_info()->name()), why);
  if (!options) {
    if (testing::servers_required()) ADD_FAILURE() << why;
    std::cerr << why << "\n";
    return nullptr;
  }
  options->part_size = 5 * kMiB;
  return cleaned_up(std::make_shared<S3ModelStore>(*options));
}

INSTANTIATE_TEST_SUITE_P(Stores, ModelStoreConformance,
                         ::testing::Values(StoreFactory{"S3", &make_s3_store}), store_factory_name);

class S3StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MODELREG_S3_OPTIONS_OR_SKIP(found);
    found.part_size = 5 * kMiB;
    options_ = found;
    store_ = cleaned_up(std::make_shared<S3ModelStore>(options_));
  }

  // A registry on the store (its catalog in dir_) with m:1, whose artifact is "the real
  // weights".
  ModelRegistry registry_with_real_weights() {
    ModelRegistry registry(store_,
                           std::make_shared<SqliteMetadataStore>(dir_.path() / "catalog.db"));
    RegisterOptions register_options;
    register_options.artifact = to_bytes("the real weights");
    registry.register_version("m", "1", register_options);
    return registry;
  }

  S3Options options_;
  std::shared_ptr<S3ModelStore> store_;
  testing::TestDir dir_;
};

TEST_F(S3StoreTest, ALargeArtifactGoesUpInPartsAndComesBackWhole) {
  const std::size_t size = 11 * kMiB + 3;  // three parts of 5, 5 and 1 MiB
  for (const int concurrency : {1, 3}) {
    S3Options options = options_;
    options.upload_concurrency = concurrency;
    S3ModelStore store(options);
    PatternBuf source(size, size);
    std::istream in(&source);
    const std::string path = store.save_artifact("big", std::to_string(concurrency), in);
    std::ostringstream out;
    store.load_artifact(path, out);
    EXPECT_EQ(out.str(), pattern_text(size)) << concurrency << " parts at once";
  }
  EXPECT_TRUE(store_->list_incomplete_uploads().empty());
}

TEST_F(S3StoreTest, AnArtifactOfExactlyOnePartIsOnePut) {
  const std::string data = pattern_text(5 * kMiB);
  std::istringstream in(data);
  const std::string path = store_->save_artifact("m", "1", in);
  EXPECT_EQ(to_string(store_->load_artifact(path)), data);
  EXPECT_TRUE(store_->list_incomplete_uploads().empty());
}

TEST_F(S3StoreTest, AFileGoesUpInOnePutReadStraightFromIt) {
  const std::size_t size = 12 * kMiB + 5;  // a stream of this size goes up in three parts
  const std::string data = pattern_text(size);
  const auto file = dir_.path() / "weights.bin";
  ASSERT_NO_FATAL_FAILURE(write_file(file, data));
  detail::s3::Client client(store_->options());
  // The ETag of an object made by a multipart upload ends in "-<parts>"; one PUT's does not.
  const auto etag_of = [&](const std::string& path) {
    detail::s3::Request head;
    head.method = "HEAD";
    head.key = store_->options().prefix + "/" + path;
    const auto response = client.perform(head, "HEAD");
    EXPECT_EQ(response.status, 200) << path;
    return response.header("etag");
  };

  const std::string path = store_->save_artifact("m", "1", file);
  EXPECT_EQ(to_string(store_->load_artifact(path)), data);
  EXPECT_EQ(etag_of(path).find('-'), std::string::npos) << etag_of(path);

  // Through the registry: what it records is what the server checked.
  ModelRegistry registry(store_, std::make_shared<SqliteMetadataStore>(dir_.path() / "catalog.db"));
  RegisterOptions register_options;
  register_options.artifact_file = file;
  const ModelVersion version = registry.register_version("m", "2", register_options);
  EXPECT_EQ(version.artifact_size, size);
  EXPECT_EQ(version.artifact_sha256, detail::sha256_hex(data.data(), data.size()));
  EXPECT_EQ(to_string(registry.load_artifact("m", "2").value()), data);
  EXPECT_EQ(etag_of(ModelStore::artifact_path("m", "2")).find('-'), std::string::npos);

  // Above single_put_limit, the file goes up as a stream does: in parts.
  S3Options options = options_;
  options.single_put_limit = 6 * kMiB;
  S3ModelStore parts(options);
  const std::string parted = parts.save_artifact("m", "3", file);
  EXPECT_EQ(to_string(parts.load_artifact(parted)), data);
  const std::string parted_etag = etag_of(parted);
  ASSERT_NE(parted_etag.find('-'), std::string::npos) << parted_etag;
  EXPECT_EQ(parted_etag.substr(parted_etag.find('-')), "-3\"") << parted_etag;
  EXPECT_TRUE(store_->list_incomplete_uploads().empty());

  S3Options too_large = options_;
  too_large.single_put_limit = (std::uint64_t{5} << 30) + 1;
  EXPECT_THROW(S3ModelStore{too_large}, InvalidArgumentError);
}

TEST_F(S3StoreTest, AFileThatChangesWhileItIsSentIsRefusedAndNothingIsRecorded) {
  ModelRegistry registry = registry_with_real_weights();
  const auto file = dir_.path() / "weights.bin";
  ASSERT_NO_FATAL_FAILURE(write_file(file, pattern_text(kMiB)));
  RegisterOptions register_options;
  register_options.artifact_file = file;

  {
    // Rewritten between the hash and the PUT: the server refuses what no longer matches.
    FileChangingIo changing(file, FileChangingIo::Change::FlipFirstByte);
    detail::ScopedIo installed(changing);
    try {
      registry.register_version("m", "2", register_options);
      ADD_FAILURE() << "registered a file that changed while it was sent";
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("XAmzContentSHA256Mismatch"), std::string::npos)
          << e.what();
    }
    EXPECT_TRUE(changing.first_pass_done());
  }
  {
    FileChangingIo changing(file, FileChangingIo::Change::FlipFirstByte);
    detail::ScopedIo installed(changing);
    EXPECT_THROW(store_->save_artifact("m", "1", file), StorageError);
  }
  {
    // Cut short: the PUT stops reading and says so.
    FileChangingIo shrinking(file, FileChangingIo::Change::EndAt, 300 * 1024);
    detail::ScopedIo installed(shrinking);
    try {
      registry.register_version("m", "2", register_options);
      ADD_FAILURE() << "registered a file that shrank while it was sent";
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("ended before"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(registry.get_version("m", "2"));
  EXPECT_EQ(store_->list_artifacts(), std::vector<std::string>{"m/1/model.bin"});
  EXPECT_EQ(to_string(registry.load_artifact("m", "1").value()), "the real weights");
  // Unchanged, the same file goes up.
  EXPECT_EQ(registry.register_version("m", "2", register_options).artifact_size, kMiB);
}

TEST_F(S3StoreTest, AStreamedDownloadCutMidwayResumesWhereItStopped) {
  if (options_.endpoint.rfind("http://127.0.0.1:", 0) != 0) {
    GTEST_SKIP() << "the cutting proxy needs a gateway at http://127.0.0.1:<port>, not "
                 << options_.endpoint;
  }
  const std::string data = pattern_text(3 * kMiB + 7);
  const std::string path = store_->save_artifact("m", "1", to_bytes(data));
  CuttingProxy proxy(options_.endpoint, kMiB);
  S3Options options = options_;
  options.endpoint = proxy.endpoint();
  options.initial_backoff = std::chrono::milliseconds(10);
  S3ModelStore through_proxy(options);
  std::ostringstream out;
  through_proxy.load_artifact(path, out);
  EXPECT_EQ(out.str(), data);
  EXPECT_EQ(proxy.connections(), 2);
  // The second request asked for the rest of the same object only.
  const std::string requests = proxy.requests();
  EXPECT_NE(requests.find("Range: bytes="), std::string::npos) << requests;
  EXPECT_NE(requests.find("If-Match: "), std::string::npos) << requests;
}

TEST_F(S3StoreTest, AStreamedDownloadWhoseObjectIsReplacedOrDeletedMidwayFails) {
  if (options_.endpoint.rfind("http://127.0.0.1:", 0) != 0) {
    GTEST_SKIP() << "the cutting proxy needs a gateway at http://127.0.0.1:<port>, not "
                 << options_.endpoint;
  }
  const std::string data = pattern_text(3 * kMiB + 7);
  for (const bool deleted : {false, true}) {
    const std::string path = store_->save_artifact("m", "1", to_bytes(data));
    // Replaced (or deleted) while the connection is down: the rest would be of another object.
    CuttingProxy proxy(options_.endpoint, kMiB, [&] {
      if (deleted) {
        store_->delete_artifact(path);
      } else {
        store_->save_artifact("m", "1", to_bytes(std::string(data.size(), 'x')));
      }
    });
    S3Options options = options_;
    options.endpoint = proxy.endpoint();
    options.initial_backoff = std::chrono::milliseconds(10);
    S3ModelStore through_proxy(options);
    std::ostringstream out;
    try {
      through_proxy.load_artifact(path, out);
      ADD_FAILURE() << "a download went on past its object " << (deleted ? "deleted" : "replaced");
    } catch (const NotFoundError& e) {
      ADD_FAILURE() << "a half-streamed artifact reported as never there: " << e.what();
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("the object changed or went away"), std::string::npos)
          << e.what();
    }
    // What the stream got is the start of the first object, nothing of the second.
    ASSERT_LT(out.str().size(), kMiB);
    EXPECT_EQ(out.str(), data.substr(0, out.str().size()));
  }
}

TEST_F(S3StoreTest, ASourceFailingMidUploadAbortsItAndKeepsTheOldArtifact) {
  store_->save_artifact("m", "1", to_bytes("previous"));
  PatternBuf source(20 * kMiB, 12 * kMiB);  // fails in the third part, two going up
  std::istream in(&source);
  S3Options options = options_;
  options.upload_concurrency = 2;
  EXPECT_THROW(S3ModelStore(options).save_artifact("m", "1", in), StorageError);
  EXPECT_EQ(to_string(store_->load_artifact("m/1/model.bin")), "previous");
  EXPECT_TRUE(store_->list_incomplete_uploads().empty());
}

TEST_F(S3StoreTest, TheServerRefusesBytesThatDoNotMatchTheirHash) {
  detail::s3::Client client(store_->options());
  const std::string body = "the bytes that were meant";
  detail::s3::Request put;
  put.method = "PUT";
  put.key = store_->options().prefix + "/m/1/model.bin";
  put.body = body.data();
  put.body_size = body.size();
  put.body_sha256 = detail::sha256_hex("other bytes", 11);
  const auto refused = client.perform(put, "PUT");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("XAmzContentSHA256Mismatch"), std::string::npos) << refused.body;
  EXPECT_THROW(store_->load_artifact("m/1/model.bin"), NotFoundError);
}

TEST_F(S3StoreTest, DeletingAnArtifactAbortsTheUploadADeadWriterLeft) {
  // A writer killed between two parts leaves its upload open on the server.
  ASSERT_NO_FATAL_FAILURE(kill_writer_mid_upload([&](int ready_fd) {
    S3ModelStore store(options_);
    PatternBuf source(20 * kMiB, 7 * kMiB, /*block=*/true, ready_fd);
    std::istream in(&source);
    store.save_artifact("m", "1", in);
  }));
  ASSERT_EQ(store_->list_incomplete_uploads().size(), 1u);
  EXPECT_FALSE(store_->delete_artifact("m/1/model.bin"));  // no object was ever completed
  EXPECT_TRUE(store_->list_incomplete_uploads().empty());
}

TEST_F(S3StoreTest, OldIncompleteUploadsAreAbortedYoungOnesKept) {
  detail::s3::Client client(store_->options());
  detail::s3::Request create;
  create.method = "POST";
  create.key = store_->options().prefix + "/m/1/model.bin";
  create.query = "uploads=";
  ASSERT_EQ(client.perform(create, "create").status, 200);
  EXPECT_EQ(store_->abort_incomplete_uploads(std::chrono::hours(1)), 0u);
  ASSERT_EQ(store_->list_incomplete_uploads().size(), 1u);
  EXPECT_EQ(store_->list_incomplete_uploads()[0].key, create.key);
  EXPECT_EQ(store_->abort_incomplete_uploads(std::chrono::seconds(0)), 1u);
  EXPECT_TRUE(store_->list_incomplete_uploads().empty());
}

TEST_F(S3StoreTest, AWrongSecretIsAStorageErrorAndTheRegistryRecordsNothing) {
  S3Options wrong = options_;
  wrong.secret_access_key += "x";
  auto store = std::make_shared<S3ModelStore>(wrong);
  try {
    store->check_access();
    ADD_FAILURE() << "check_access accepted a wrong secret";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("403"), std::string::npos) << e.what();
  }
  ModelRegistry registry(store);
  RegisterOptions register_options;
  register_options.artifact = to_bytes("weights");
  try {
    registry.register_version("m", "1", register_options);
    ADD_FAILURE() << "registered through a wrong secret";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("SignatureDoesNotMatch"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(registry.get_version("m", "1"));
  EXPECT_TRUE(store_->list_artifacts().empty());
}

TEST_F(S3StoreTest, AMissingBucketIsAStorageErrorNotAMissingArtifact) {
  S3Options other = options_;
  other.bucket = "modelreg-no-such-bucket";
  S3ModelStore store(other);
  EXPECT_THROW(store.check_access(), StorageError);
  try {
    store.load_artifact("m/1/model.bin");
    ADD_FAILURE() << "loaded from a bucket that does not exist";
  } catch (const NotFoundError& e) {
    ADD_FAILURE() << "a missing bucket taken for a missing artifact: " << e.what();
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("NoSuchBucket"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.save_artifact("m", "1", to_bytes("x")), StorageError);
  EXPECT_THROW(store.list_artifacts(), StorageError);
}

TEST_F(S3StoreTest, AGatewayThatIsDownIsAStorageErrorAfterTheRetries) {
  // A port nobody listens on: bind one, note it, close it.
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(probe);
  S3Options down = options_;
  down.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  down.max_attempts = 3;
  down.initial_backoff = std::chrono::milliseconds(10);
  S3ModelStore store(down);
  try {
    store.save_artifact("m", "1", to_bytes("x"));
    ADD_FAILURE() << "saved to a gateway that is down";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("failed 3 times"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.load_artifact("m/1/model.bin"), StorageError);
  EXPECT_THROW(store.list_artifacts(), StorageError);
}

TEST_F(S3StoreTest, TheRegistryVerifiesWhatItLoadsFromS3) {
  ModelRegistry registry = registry_with_real_weights();
  EXPECT_EQ(to_string(registry.load_artifact("m", "1").value()), "the real weights");
  const auto verified = registry.open_verified_artifact("m", "1");
  ASSERT_TRUE(verified);
  EXPECT_TRUE(verified->copied);
  // Someone replaces the object behind the registry's back: every load refuses it.
  store_->save_artifact("m", "1", to_bytes("the fake weights"));
  EXPECT_THROW(registry.load_artifact("m", "1"), DataLossError);
  std::ostringstream out;
  EXPECT_THROW(registry.load_artifact("m", "1", out), DataLossError);
  EXPECT_TRUE(out.str().empty());
  EXPECT_THROW(registry.open_verified_artifact("m", "1"), DataLossError);
}

TEST_F(S3StoreTest, ALoadToAFileGoesStraightIntoItVerifiedAndReplacesNothingWhenCorrupt) {
  ModelRegistry registry = registry_with_real_weights();
  const auto destination = dir_.path() / "out" / "model.bin";
  ASSERT_TRUE(registry.load_artifact("m", "1", destination));
  EXPECT_EQ(read_file(destination), "the real weights");

  // The store writes an artifact into a file it is given: the GET's body, nothing else.
  const auto raw = dir_.path() / "raw.bin";
  {
    const int fd = ::open(raw.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(store_->write_artifact_to(ModelStore::artifact_path("m", "1"), fd));
    ::close(fd);
  }
  EXPECT_EQ(read_file(raw), "the real weights");
  {
    const int fd = ::open(raw.c_str(), O_RDWR | O_TRUNC | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    EXPECT_THROW(store_->write_artifact_to(ModelStore::artifact_path("m", "2"), fd), NotFoundError);
    ::close(fd);
  }

  // Replaced behind the registry's back (same size): the load refuses it and the file it
  // would have replaced keeps the verified bytes, with no temporary file left beside it.
  store_->save_artifact("m", "1", to_bytes("the fake weights"));
  EXPECT_THROW(registry.load_artifact("m", "1", destination), DataLossError);
  EXPECT_EQ(read_file(destination), "the real weights");
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(destination.parent_path())) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"model.bin"});

  // Gone from the bucket: data loss, and still nothing replaced.
  store_->delete_artifact(ModelStore::artifact_path("m", "1"));
  EXPECT_THROW(registry.load_artifact("m", "1", destination), DataLossError);
  EXPECT_EQ(read_file(destination), "the real weights");
}

TEST_F(S3StoreTest, RecoveryRollsBackAWriterKilledMidUploadAndLeavesNoUpload) {
  const auto catalog_path = dir_.path() / "catalog.db";
  ASSERT_NO_FATAL_FAILURE(kill_writer_mid_upload([&](int ready_fd) {
    ModelRegistry registry(std::make_shared<S3ModelStore>(options_),
                           std::make_shared<SqliteMetadataStore>(catalog_path));
    // Blocks at 14 MiB: however far the registry's hashing reads ahead, the first part is up.
    PatternBuf source(20 * kMiB, 14 * kMiB, /*block=*/true, ready_fd);
    std::istream in(&source);
    RegisterOptions register_options;
    register_options.artifact_stream = &in;
    registry.register_version("m", "1", register_options);
  }));
  ASSERT_EQ(store_->list_incomplete_uploads().size(), 1u);

  ModelRegistry registry(store_, std::make_shared<SqliteMetadataStore>(catalog_path));
  const RecoveryReport report = registry.recover();
  EXPECT_EQ(report.registrations_rolled_back, 1u);
  EXPECT_TRUE(report.complete());
  EXPECT_FALSE(registry.get_version("m", "1"));
  EXPECT_TRUE(store_->list_incomplete_uploads().empty());
  EXPECT_TRUE(store_->list_artifacts().empty());
  // The key is free again.
  RegisterOptions again;
  again.artifact = to_bytes("second try");
  registry.register_version("m", "1", again);
  EXPECT_EQ(to_string(registry.load_artifact("m", "1").value()), "second try");
}

TEST(S3OptionsTest, UrlsAndTheEnvironment) {
  const auto options = S3Options::from_url("s3://my-bucket/team/models/");
  EXPECT_EQ(options.bucket, "my-bucket");
  EXPECT_EQ(options.prefix, "team/models/");
  EXPECT_EQ(S3Options::from_url("s3://b12").prefix, "");
  EXPECT_THROW(S3Options::from_url("http://b/x"), InvalidArgumentError);
  EXPECT_THROW(S3Options::from_url("s3://Bad_Bucket/x"), InvalidArgumentError);
  EXPECT_THROW(S3Options::from_url("s3://b12/x?versionId=1"), InvalidArgumentError);

  S3Options explicit_options;
  explicit_options.bucket = "bucket";
  explicit_options.prefix = "/a/b/";
  explicit_options.endpoint = "http://127.0.0.1:9000/";
  explicit_options.region = "eu-west-3";
  explicit_options.access_key_id = "id";
  explicit_options.secret_access_key = "secret";
  const auto resolved = explicit_options.resolved();
  EXPECT_EQ(resolved.prefix, "a/b");
  EXPECT_EQ(resolved.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(resolved.addressing, S3Options::Addressing::Path);
  EXPECT_EQ(detail::s3::Client(resolved).url("a/b/m/1/model.bin", "uploads="),
            "http://127.0.0.1:9000/bucket/a/b/m/1/model.bin?uploads=");

  S3Options half = explicit_options;
  half.secret_access_key.clear();
  EXPECT_THROW(half.resolved(), InvalidArgumentError);
  S3Options bad_endpoint = explicit_options;
  bad_endpoint.endpoint = "ftp://host";
  EXPECT_THROW(bad_endpoint.resolved(), InvalidArgumentError);
  S3Options small_parts = explicit_options;
  small_parts.part_size = kMiB;
  EXPECT_THROW(small_parts.resolved(), InvalidArgumentError);
  S3Options virtual_host = explicit_options;
  virtual_host.addressing = S3Options::Addressing::VirtualHost;
  EXPECT_EQ(detail::s3::Client(virtual_host.resolved()).url("k", ""),
            "http://bucket.127.0.0.1:9000/k");
}

TEST(S3OptionsTest, ResponsesAreReadAsS3WritesThem) {
  const std::string listing =
      "<ListBucketResult><Contents><Key>a/1/model.bin</Key></Contents>"
      "<Contents><Key>b&amp;c</Key></Contents><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>";
  EXPECT_EQ(detail::s3::xml_texts(listing, "Key"),
            (std::vector<std::string>{"a/1/model.bin", "b&c"}));
  EXPECT_EQ(detail::s3::xml_blocks(listing, "Contents").size(), 2u);
  EXPECT_EQ(detail::s3::uri_encode("a b/c~", false), "a%20b%2Fc~");
  EXPECT_EQ(detail::s3::uri_encode("a b/c~", true), "a%20b/c~");
  detail::s3::Response missing;
  missing.status = 404;
  missing.body = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
  EXPECT_THROW(detail::s3::throw_response_error(missing, "GET"), NotFoundError);
  detail::s3::Response no_bucket;
  no_bucket.status = 404;
  no_bucket.body = "<Error><Code>NoSuchBucket</Code></Error>";
  try {
    detail::s3::throw_response_error(no_bucket, "GET 'k'");
    ADD_FAILURE() << "no error";
  } catch (const StorageError& e) {
    EXPECT_EQ(std::string(e.what()), "GET 'k': HTTP 404 NoSuchBucket");
  }
}

}  // namespace
}  // namespace modelreg

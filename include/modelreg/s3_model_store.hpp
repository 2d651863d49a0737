#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/model_store.hpp"

namespace modelreg {

// Where an S3ModelStore keeps its objects and how it reaches them. Every empty string is taken
// from the standard environment variables when the store is made (S3Options::resolved).
struct S3Options {
  std::string bucket;  // required
  // A key prefix: the artifact "m/1/model.bin" is the object "<prefix>/m/1/model.bin" (no
  // leading or trailing '/' needed; empty: the bucket's root).
  std::string prefix;
  // "http://host:port" or "https://host" of an S3-compatible server. Empty: AWS_ENDPOINT_URL_S3,
  // then AWS_ENDPOINT_URL, else AWS's "https://s3.<region>.amazonaws.com".
  std::string endpoint;
  std::string region;  // empty: AWS_REGION, then AWS_DEFAULT_REGION, else "us-east-1"
  // Credentials; empty: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;

  // Path-style ("endpoint/bucket/key", what most S3-compatible servers want) or virtual-host
  // ("bucket.endpoint/key", what AWS prefers). Auto: virtual-host for AWS's own endpoint,
  // path-style for any other.
  enum class Addressing { Auto, Path, VirtualHost };
  Addressing addressing = Addressing::Auto;

  // Artifacts up to part_size bytes go up in one PUT; larger ones as a multipart upload of
  // parts of this size (at least 5 MiB, S3's minimum), upload_concurrency parts at once while
  // the next is read and hashed: memory stays at (upload_concurrency + 1) * part_size.
  std::size_t part_size = std::size_t{8} << 20;
  int upload_concurrency = 2;
  // An artifact saved from a regular file of at most this many bytes (save_artifact of a path,
  // register_version's artifact_file) goes up in one streaming PUT instead, read straight from
  // the file (no buffer) after a first pass has computed the SHA-256 the server checks it
  // against; a larger file goes up as a stream does. At most 5 GiB, S3's limit for one PUT. One
  // connection carries it all: where several parallel ones move more (AWS itself, far away),
  // a lower limit sends large files as multipart uploads.
  std::uint64_t single_put_limit = std::uint64_t{5} << 30;

  // Requests that fail with a connection error, a timeout, HTTP 5xx or 429 are retried this many
  // times in all, waiting initial_backoff, then twice as long each time (with jitter).
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds connect_timeout{10000};
  // A transfer that moves no byte for this long is abandoned (and retried).
  std::chrono::milliseconds stall_timeout{30000};

  // These options with every empty field filled in from the environment or its default.
  // Throws InvalidArgumentError if the bucket is missing or malformed, the endpoint is no
  // http(s) URL, or credentials are incomplete (a key id without a secret).
  S3Options resolved() const;

  // Options for an artifact URL "s3://bucket[/prefix]", the rest from the environment.
  // Throws InvalidArgumentError for anything else.
  static S3Options from_url(std::string_view url);
};

// Keeps artifacts as objects of an S3-compatible object store (AWS S3, Ceph's RADOS Gateway,
// MinIO, ...), talking to it over HTTP(S) with libcurl, requests signed with AWS Signature
// Version 4. The artifact "name/version/model.bin" is the object "<prefix>/name/version/model.bin".
//
// - Saving is atomic: an artifact of at most part_size bytes (or a file of at most
//   single_put_limit bytes) is one PUT, a larger one a multipart upload that becomes visible only
//   when completed; a failed save aborts its upload,
//   so a reader sees the old object or the new one, never a mix. Every request carries the
//   payload's real SHA-256 (x-amz-content-sha256), so the server refuses bytes damaged on the
//   way. Memory stays bounded by a few parts whatever the artifact's size.
// - open_artifact downloads the object into an unnamed temporary file first (in TMPDIR), so the
//   stream keeps the bytes it opened when the object is replaced or deleted meanwhile, and can
//   seek; load_artifact of the registry verifies those bytes against the catalog's SHA-256.
//   The store's own load_artifact(path, ostream) streams the GET's body into the stream as it
//   comes, a retry resuming where it stopped if the object is still the same (Range, If-Match),
//   failing with StorageError if it changed.
// - Deleting an artifact also aborts the multipart uploads still open for its key (those of a
//   writer that died mid-save, which recovery settles by deleting the artifact).
// - Errors: a missing object is NotFoundError; anything the server refuses (a wrong secret, a
//   missing bucket) or that keeps failing after the retries is StorageError, naming the request,
//   the HTTP status and the server's error code and message.
//
// Thread-safe: requests from any number of threads, over a pool of reused connections.
class S3ModelStore final : public ModelStore {
 public:
  // Throws InvalidArgumentError for bad options (see S3Options::resolved). Makes no request.
  explicit S3ModelStore(S3Options options);
  ~S3ModelStore() override;

  // The options in use, resolved (the secret included: do not log them).
  const S3Options& options() const;

  // A multipart upload that was started under the store's prefix and neither completed nor
  // aborted (a writer that died mid-save leaves one behind; the server keeps its parts).
  struct IncompleteUpload {
    std::string key;        // the object key, the prefix included
    std::string upload_id;  // as the server named it
    std::string initiated;  // when it began, as the server gives it (ISO 8601)
  };
  // The incomplete uploads under the prefix, sorted by key. Throws StorageError.
  std::vector<IncompleteUpload> list_incomplete_uploads() const;
  // Aborts the incomplete uploads whose initiation is at least `older_than` ago (by the server's
  // clock as it reports it; an upload a live writer is running right now is younger than any
  // sensible age). Returns how many it aborted (one the server refuses to abort is logged as a
  // warning and left). Throws StorageError if the uploads cannot be listed.
  std::size_t abort_incomplete_uploads(std::chrono::seconds older_than);

  // Checks that the bucket exists and the credentials are accepted (one HEAD request).
  // Throws StorageError naming what the server said otherwise.
  void check_access() const;

 private:
  void save_impl(const std::string& path, std::istream& in) override;
  std::unique_ptr<std::istream> open_impl(const std::string& path) const override;
  bool write_to_impl(const std::string& path, int fd) const override;
  bool write_stream_impl(const std::string& path, std::ostream& out) const override;
  std::optional<SentFile> send_file_impl(const std::string& path, int fd,
                                         const std::filesystem::path& source) override;
  bool delete_impl(const std::string& path) override;
  std::vector<std::string> list_impl() const override;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace modelreg

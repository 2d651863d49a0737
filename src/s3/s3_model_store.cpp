#include "modelreg/s3_model_store.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <istream>
#include <limits>
#include <vector>

#include "artifact_path.hpp"
#include "content_rules.hpp"
#include "fd_stream.hpp"
#include "file_copy.hpp"
#include "hash_pipeline.hpp"
#include "io.hpp"
#include "modelreg/error.hpp"
#include "modelreg/timestamp.hpp"
#include "modelreg/validation.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"
#include "s3/s3_client.hpp"
#include "sha256.hpp"

namespace modelreg {
namespace {

constexpr std::size_t kMinPartSize = std::size_t{5} << 20;
constexpr int kMaxParts = 10000;
constexpr std::uint64_t kMaxSinglePut = std::uint64_t{5} << 30;

// Reads up to `buffer.size()` bytes of `in`; returns how many. Throws StorageError if the
// stream fails before its end.
std::size_t read_part(std::istream& in, std::vector<char>& buffer, const std::string& path) {
  in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  const auto got = static_cast<std::size_t>(in.gcount());
  if (in.bad() || (got < buffer.size() && !in.eof())) {
    throw StorageError(
        fmt::format("reading the artifact failed before its end (writing '{}')", path));
  }
  return got;
}

// True once `in` has nothing more to give.
bool at_end(std::istream& in, const std::string& path) {
  if (in.eof()) return true;
  const bool end = in.peek() == std::istream::traits_type::eof();
  if (in.bad()) {
    throw StorageError(
        fmt::format("reading the artifact failed before its end (writing '{}')", path));
  }
  return end;
}

// An unnamed temporary file for a download, open for reading and writing.
detail::UniqueFd temporary_file() {
  std::error_code ec;
  const auto directory = std::filesystem::temp_directory_path(ec);
  if (ec) throw StorageError("no temporary directory for a download: " + ec.message());
  detail::UniqueFd fd(::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd.valid()) return fd;
  // A file system without O_TMPFILE: a named file, unlinked at once.
  const auto path =
      directory / (std::string(detail::kTempPrefix) + "s3-" + detail::random_suffix());
  fd = detail::UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) detail::throw_errno("cannot create a temporary file", path);
  ::unlink(path.c_str());
  return fd;
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

void fill(std::string& field, std::initializer_list<const char*> names, const char* fallback) {
  for (const char* name : names) {
    if (!field.empty()) return;
    field = environment(name);
  }
  if (field.empty()) field = fallback;
}

void check_bucket(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) {
    throw InvalidArgumentError(
        fmt::format("S3 bucket name '{}' must be 3 to 63 characters long", bucket));
  }
  for (const char c : bucket) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
      throw InvalidArgumentError(fmt::format(
          "S3 bucket name '{}' may contain only lower-case letters, digits, '-' and '.'", bucket));
    }
  }
}

std::string trim_slashes(std::string text) {
  while (!text.empty() && text.front() == '/') text.erase(text.begin());
  while (!text.empty() && text.back() == '/') text.pop_back();
  return text;
}

}  // namespace

S3Options S3Options::resolved() const {
  S3Options r = *this;
  check_bucket(r.bucket);
  r.prefix = trim_slashes(r.prefix);
  if (r.prefix.find("//") != std::string::npos) {
    throw InvalidArgumentError(fmt::format("S3 key prefix '{}' has an empty segment", r.prefix));
  }
  detail::require_utf8(r.prefix, "S3 key prefix");
  fill(r.region, {"AWS_REGION", "AWS_DEFAULT_REGION"}, "us-east-1");
  const bool aws = r.endpoint.empty() && environment("AWS_ENDPOINT_URL_S3").empty() &&
                   environment("AWS_ENDPOINT_URL").empty();
  fill(r.endpoint, {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}, "");
  if (r.endpoint.empty()) r.endpoint = "https://s3." + r.region + ".amazonaws.com";
  while (!r.endpoint.empty() && r.endpoint.back() == '/') r.endpoint.pop_back();
  if (r.endpoint.rfind("http://", 0) != 0 && r.endpoint.rfind("https://", 0) != 0) {
    throw InvalidArgumentError(
        fmt::format("S3 endpoint '{}' is not an http:// or https:// URL", r.endpoint));
  }
  if (r.addressing == Addressing::Auto) {
    r.addressing = aws ? Addressing::VirtualHost : Addressing::Path;
  }
  if (r.access_key_id.empty() && r.secret_access_key.empty()) {
    r.access_key_id = environment("AWS_ACCESS_KEY_ID");
    r.secret_access_key = environment("AWS_SECRET_ACCESS_KEY");
    if (r.session_token.empty()) r.session_token = environment("AWS_SESSION_TOKEN");
  }
  if (r.access_key_id.empty() != r.secret_access_key.empty()) {
    throw InvalidArgumentError(
        "S3 credentials are incomplete: an access key id needs a secret access key and the "
        "other way round");
  }
  if (r.part_size < kMinPartSize) {
    throw InvalidArgumentError(
        fmt::format("S3 part size {} is below S3's minimum of 5 MiB", r.part_size));
  }
  if (r.single_put_limit > kMaxSinglePut) {
    throw InvalidArgumentError(fmt::format(
        "S3 single_put_limit {} is above S3's limit of 5 GiB for one PUT", r.single_put_limit));
  }
  if (r.max_attempts < 1) throw InvalidArgumentError("S3 max_attempts must be at least 1");
  if (r.upload_concurrency < 1 || r.upload_concurrency > 64) {
    throw InvalidArgumentError("S3 upload_concurrency must be between 1 and 64");
  }
  if (r.initial_backoff.count() < 1 || r.connect_timeout.count() < 1 ||
      r.stall_timeout.count() < 1000) {
    throw InvalidArgumentError(
        "S3 initial_backoff and connect_timeout must be positive, stall_timeout at least 1 s");
  }
  return r;
}

S3Options S3Options::from_url(std::string_view url) {
  constexpr std::string_view scheme = "s3://";
  if (url.substr(0, scheme.size()) != scheme) {
    throw InvalidArgumentError(
        fmt::format("artifact URL '{}' is not of the form s3://bucket[/prefix]", url));
  }
  const std::string_view rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  S3Options options;
  options.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) options.prefix = std::string(rest.substr(slash + 1));
  if (options.bucket.find_first_of("?#") != std::string::npos ||
      options.prefix.find_first_of("?#") != std::string::npos) {
    throw InvalidArgumentError(fmt::format("artifact URL '{}' must not have a query", url));
  }
  check_bucket(options.bucket);
  return options;
}

struct S3ModelStore::Impl {
  explicit Impl(S3Options resolved) : options(std::move(resolved)), client(options) {}

  std::string key(const std::string& path) const {
    return options.prefix.empty() ? path : options.prefix + "/" + path;
  }
  // The prefix under which every key of the store lies ("" or "prefix/").
  std::string key_prefix() const { return options.prefix.empty() ? "" : options.prefix + "/"; }

  void put(const std::string& path, const char* data, std::size_t size) const {
    detail::s3::Request request;
    request.method = "PUT";
    request.key = key(path);
    request.body = data;
    request.body_size = size;
    const auto response = client.perform(request, fmt::format("PUT '{}'", request.key));
    if (response.status != 200) detail::s3::throw_response_error(response, "PUT " + request.key);
  }

  // Performs `get` (a GET of the artifact at `path`, its body going to a file or a stream).
  // Throws NotFoundError if there is no such object, StorageError for any other failure.
  void get(const std::string& path, const detail::s3::Request& request) const {
    const std::string what = "GET '" + request.key + "'";
    const auto response = client.perform(request, what);
    // A missing bucket is a StorageError (throw_response_error), not a missing artifact.
    if (detail::s3::is_missing_object(response)) {
      throw NotFoundError(fmt::format("no artifact at '{}' (object '{}' of bucket '{}')", path,
                                      request.key, options.bucket));
    }
    if (response.status != 200) detail::s3::throw_response_error(response, what);
  }

  void upload_multipart(const std::string& path, std::istream& in, std::vector<char>& buffer,
                        std::size_t first) const;
  // False (and a warning logged) if the server did not take the abort.
  bool abort_upload(const std::string& object_key, const std::string& upload_id) const;
  std::vector<IncompleteUpload> incomplete_uploads(const std::string& prefix,
                                                   std::string* date = nullptr) const;

  S3Options options;
  detail::s3::Client client;
};

void S3ModelStore::Impl::upload_multipart(const std::string& path, std::istream& in,
                                          std::vector<char>& buffer, std::size_t first) const {
  const std::string object_key = key(path);
  detail::s3::Request create;
  create.method = "POST";
  create.key = object_key;
  create.query = "uploads=";
  const auto created = client.perform(create, "starting the multipart upload of " + object_key);
  const auto ids = detail::s3::xml_texts(created.body, "UploadId");
  if (created.status != 200 || ids.empty() || ids.front().empty()) {
    detail::s3::throw_response_error(created, "starting the multipart upload of " + object_key);
  }
  const std::string upload_id = ids.front();
  // upload_concurrency parts go up at once, each on a thread of its own, while the next is read
  // and hashed: one buffer more than parts in flight. Part p uses buffer (p - 1) % buffers.
  const auto concurrency = static_cast<std::size_t>(options.upload_concurrency);
  std::deque<std::pair<int, std::future<std::string>>> in_flight;  // part number, its ETag
  const auto upload_part = [&](int part, const char* data, std::size_t size, std::string sha256) {
    detail::s3::Request upload;
    upload.method = "PUT";
    upload.key = object_key;
    upload.query =
        fmt::format("partNumber={}&uploadId={}", part, detail::s3::uri_encode(upload_id, false));
    upload.body = data;
    upload.body_size = size;
    upload.body_sha256 = std::move(sha256);
    const std::string what = fmt::format("uploading part {} of {}", part, object_key);
    const auto response = client.perform(upload, what);
    const std::string etag = response.header("etag");
    if (response.status != 200 || etag.empty()) detail::s3::throw_response_error(response, what);
    return etag;
  };
  // Declared before the guard below, so that they outlive every part still going up.
  std::vector<std::vector<char>> buffers;
  try {
    buffers.resize(concurrency + 1);
    buffers[0].swap(buffer);
    std::string complete = "<CompleteMultipartUpload>";
    const auto finish_oldest = [&] {
      auto [part, etag] = std::move(in_flight.front());
      in_flight.pop_front();
      complete += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", part,
                              detail::s3::xml_escape(etag.get()));
    };
    std::size_t size = first;
    for (int part = 1;; ++part) {
      if (part > kMaxParts) {
        throw StorageError(fmt::format("artifact '{}' is larger than {} parts of {} bytes", path,
                                       kMaxParts, options.part_size));
      }
      const auto& data = buffers[static_cast<std::size_t>(part - 1) % buffers.size()];
      std::string sha256 = detail::sha256_hex(data.data(), size);
      if (in_flight.size() == concurrency) finish_oldest();
      in_flight.emplace_back(part, std::async(std::launch::async, upload_part, part, data.data(),
                                              size, std::move(sha256)));
      if (at_end(in, path)) break;
      // Its last user, part (part + 1 - buffers.size()), has finished above.
      auto& next = buffers[static_cast<std::size_t>(part) % buffers.size()];
      next.resize(options.part_size);
      size = read_part(in, next, path);
      if (size == 0) break;
    }
    while (!in_flight.empty()) finish_oldest();
    complete += "</CompleteMultipartUpload>";
    detail::s3::Request finish;
    finish.method = "POST";
    finish.key = object_key;
    finish.query = "uploadId=" + detail::s3::uri_encode(upload_id, false);
    finish.body = complete.data();
    finish.body_size = complete.size();
    const std::string what = "completing the multipart upload of " + object_key;
    const auto response = client.perform(finish, what);
    // S3 may answer 200 and report the failure in the body.
    if (response.status != 200 || response.body.find("<Error>") != std::string::npos) {
      detail::s3::throw_response_error(response, what);
    }
  } catch (...) {
    // The parts still going up read buffers of this frame: they must end before the abort.
    for (auto& [part, etag] : in_flight) {
      try {
        etag.get();
      } catch (const std::exception& e) {
        detail::log_warning(
            fmt::format("after a failed upload of {}, part {}: {}", object_key, part, e.what()));
      }
    }
    abort_upload(object_key, upload_id);
    throw;
  }
}

bool S3ModelStore::Impl::abort_upload(const std::string& object_key,
                                      const std::string& upload_id) const {
  detail::s3::Request abort;
  abort.method = "DELETE";
  abort.key = object_key;
  abort.query = "uploadId=" + detail::s3::uri_encode(upload_id, false);
  const std::string what = "aborting the multipart upload of " + object_key;
  try {
    const auto response = client.perform(abort, what);
    if (response.status != 204 && response.status != 200 && response.status != 404) {
      detail::s3::throw_response_error(response, what);
    }
    return true;
  } catch (const Error& e) {
    // The upload's own failure is what the caller hears of; this one is logged, and the
    // upload is left for abort_incomplete_uploads.
    detail::log_warning(fmt::format("{} failed: {}", what, e.what()));
    return false;
  }
}

std::vector<S3ModelStore::IncompleteUpload> S3ModelStore::Impl::incomplete_uploads(
    const std::string& prefix, std::string* date) const {
  std::vector<IncompleteUpload> uploads;
  std::string key_marker;
  std::string id_marker;
  for (;;) {
    detail::s3::Request list;
    list.query.clear();
    if (!key_marker.empty())
      list.query += "key-marker=" + detail::s3::uri_encode(key_marker, false) + "&";
    list.query += "prefix=" + detail::s3::uri_encode(prefix, false);
    if (!id_marker.empty())
      list.query += "&upload-id-marker=" + detail::s3::uri_encode(id_marker, false);
    list.query += "&uploads=";
    const std::string what = "listing the multipart uploads under '" + prefix + "'";
    const auto response = client.perform(list, what);
    if (response.status != 200) detail::s3::throw_response_error(response, what);
    if (date && date->empty()) *date = response.header("date");
    for (const auto block : detail::s3::xml_blocks(response.body, "Upload")) {
      IncompleteUpload upload;
      const auto keys = detail::s3::xml_texts(block, "Key");
      const auto ids = detail::s3::xml_texts(block, "UploadId");
      const auto initiated = detail::s3::xml_texts(block, "Initiated");
      if (keys.empty() || ids.empty()) continue;
      upload.key = keys.front();
      upload.upload_id = ids.front();
      if (!initiated.empty()) upload.initiated = initiated.front();
      uploads.push_back(std::move(upload));
    }
    const auto truncated = detail::s3::xml_texts(response.body, "IsTruncated");
    if (truncated.empty() || truncated.front() != "true") break;
    const auto next_key = detail::s3::xml_texts(response.body, "NextKeyMarker");
    const auto next_id = detail::s3::xml_texts(response.body, "NextUploadIdMarker");
    if (next_key.empty() ||
        (next_key.front() == key_marker && (next_id.empty() || next_id.front() == id_marker))) {
      throw StorageError(what + ": the server said the listing goes on but not where");
    }
    key_marker = next_key.front();
    id_marker = next_id.empty() ? "" : next_id.front();
  }
  std::sort(uploads.begin(), uploads.end(),
            [](const auto& a, const auto& b) { return a.key < b.key; });
  return uploads;
}

S3ModelStore::S3ModelStore(S3Options options)
    : impl_(detail::public_call("S3ModelStore",
                                [&] { return std::make_unique<Impl>(options.resolved()); })) {}

S3ModelStore::~S3ModelStore() = default;

const S3Options& S3ModelStore::options() const {
  return impl_->options;
}

void S3ModelStore::save_impl(const std::string& path, std::istream& in) {
  std::vector<char> buffer(impl_->options.part_size);
  const std::size_t first = read_part(in, buffer, path);
  if (first < buffer.size() || at_end(in, path)) {
    impl_->put(path, buffer.data(), first);
  } else {
    impl_->upload_multipart(path, in, buffer, first);
  }
}

std::optional<ModelStore::SentFile> S3ModelStore::send_file_impl(
    const std::string& path, int fd, const std::filesystem::path& source) {
  struct stat status {};
  if (detail::io().fstat(fd, &status) != 0) detail::throw_errno("cannot stat", source);
  if (!S_ISREG(status.st_mode) ||
      static_cast<std::uint64_t>(status.st_size) > impl_->options.single_put_limit) {
    return std::nullopt;
  }
  // The hash first, for x-amz-content-sha256: the server then checks the bytes the PUT reads
  // from the file again against it, and refuses them if the file changed in between. A file
  // that only grew would pass that check with its first bytes: its stamp catches it.
  const std::string what_file = "'" + source.string() + "'";
  const detail::FileStamp before = detail::stamp_of(fd, what_file);
  detail::HashPipeline hash;
  const std::uint64_t size = detail::hash_file(fd, hash, what_file);
  if (size > impl_->options.single_put_limit || size > std::numeric_limits<std::size_t>::max()) {
    return std::nullopt;  // it grew meanwhile
  }
  SentFile sent{path, size, hash.hex_digest()};
  detail::s3::Request request;
  request.method = "PUT";
  request.key = impl_->key(path);
  request.body_fd = fd;
  request.body_size = static_cast<std::size_t>(size);
  request.body_sha256 = sent.sha256;
  const std::string what = fmt::format("PUT '{}' from '{}'", request.key, source.string());
  const auto response = impl_->client.perform(request, what);
  if (response.status != 200) detail::s3::throw_response_error(response, what);
  if (detail::stamp_of(fd, what_file) != before) {
    // Stored, but maybe not what the file holds now: the caller must not record it.
    throw StorageError(fmt::format("{}: the file changed while it was sent", what));
  }
  return sent;
}

std::unique_ptr<std::istream> S3ModelStore::open_impl(const std::string& path) const {
  auto file = temporary_file();
  detail::s3::Request get;
  get.key = impl_->key(path);
  get.download_fd = file.get();
  impl_->get(path, get);
  if (::lseek(file.get(), 0, SEEK_SET) != 0) {
    throw StorageError(
        fmt::format("cannot rewind the download of '{}': {}", path, std::strerror(errno)));
  }
  return std::make_unique<detail::FdInputStream>(std::move(file));
}

bool S3ModelStore::write_to_impl(const std::string& path, int fd) const {
  detail::s3::Request get;
  get.key = impl_->key(path);
  get.download_fd = fd;
  // The registry's load to a file makes it durable before renaming it into place.
  get.start_writeback = true;
  impl_->get(path, get);
  return true;
}

bool S3ModelStore::write_stream_impl(const std::string& path, std::ostream& out) const {
  detail::s3::Request get;
  get.key = impl_->key(path);
  get.download_stream = &out;
  impl_->get(path, get);
  return true;
}

bool S3ModelStore::delete_impl(const std::string& path) {
  const std::string object_key = impl_->key(path);
  detail::s3::Request head;
  head.method = "HEAD";
  head.key = object_key;
  const auto found = impl_->client.perform(head, "HEAD '" + object_key + "'");
  if (found.status != 200 && found.status != 404) {
    detail::s3::throw_response_error(found, "HEAD '" + object_key + "'");
  }
  detail::s3::Request remove;
  remove.method = "DELETE";
  remove.key = object_key;
  const auto removed = impl_->client.perform(remove, "DELETE '" + object_key + "'");
  if (removed.status != 204 && removed.status != 200 && removed.status != 404) {
    detail::s3::throw_response_error(removed, "DELETE '" + object_key + "'");
  }
  // Uploads a writer left behind for this key: nobody saves it once it is being deleted.
  for (const auto& upload : impl_->incomplete_uploads(object_key)) {
    if (upload.key == object_key) impl_->abort_upload(upload.key, upload.upload_id);
  }
  return found.status == 200;
}

std::vector<std::string> S3ModelStore::list_impl() const {
  const std::string prefix = impl_->key_prefix();
  std::vector<std::string> paths;
  std::string token;
  for (;;) {
    detail::s3::Request list;
    if (!token.empty())
      list.query = "continuation-token=" + detail::s3::uri_encode(token, false) + "&";
    list.query += "list-type=2&prefix=" + detail::s3::uri_encode(prefix, false);
    const std::string what = "listing the objects under '" + prefix + "'";
    const auto response = impl_->client.perform(list, what);
    if (response.status != 200) detail::s3::throw_response_error(response, what);
    for (const auto block : detail::s3::xml_blocks(response.body, "Contents")) {
      const auto keys = detail::s3::xml_texts(block, "Key");
      if (keys.empty() || keys.front().rfind(prefix, 0) != 0) continue;
      const std::string path = keys.front().substr(prefix.size());
      if (detail::is_artifact_path(path)) paths.push_back(path);
    }
    const auto truncated = detail::s3::xml_texts(response.body, "IsTruncated");
    const auto next = detail::s3::xml_texts(response.body, "NextContinuationToken");
    if (truncated.empty() || truncated.front() != "true") break;
    if (next.empty() || next.front() == token) {
      throw StorageError(what + ": the server said the listing goes on but not where");
    }
    token = next.front();
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::vector<S3ModelStore::IncompleteUpload> S3ModelStore::list_incomplete_uploads() const {
  return detail::public_call("list_incomplete_uploads",
                             [&] { return impl_->incomplete_uploads(impl_->key_prefix()); });
}

std::size_t S3ModelStore::abort_incomplete_uploads(std::chrono::seconds older_than) {
  return detail::public_call("abort_incomplete_uploads", [&] {
    std::string date;
    const auto uploads = impl_->incomplete_uploads(impl_->key_prefix(), &date);
    // The server's clock, as its Date header gives it; ours if it sent none.
    const std::time_t server_now = date.empty() ? -1 : curl_getdate(date.c_str(), nullptr);
    const auto now = server_now < 0 ? std::chrono::system_clock::now()
                                    : std::chrono::system_clock::from_time_t(server_now);
    std::size_t aborted = 0;
    for (const auto& upload : uploads) {
      if (upload.initiated.empty()) continue;
      // To the second, as the Date header has it.
      const auto initiated =
          std::chrono::floor<std::chrono::seconds>(parse_timestamp(upload.initiated));
      if (now - initiated < older_than) continue;
      if (impl_->abort_upload(upload.key, upload.upload_id)) ++aborted;
    }
    return aborted;
  });
}

void S3ModelStore::check_access() const {
  detail::public_call("check_access", [&] {
    detail::s3::Request head;
    head.method = "HEAD";
    const std::string what = "HEAD of bucket '" + impl_->options.bucket + "'";
    const auto response = impl_->client.perform(head, what);
    if (response.status != 200) {
      // HEAD has no body: say what the status means.
      if (response.status == 404) {
        throw StorageError(fmt::format("{}: HTTP 404, no such bucket", what));
      }
      if (response.status == 403) {
        throw StorageError(
            fmt::format("{}: HTTP 403, access denied (check the credentials)", what));
      }
      detail::s3::throw_response_error(response, what);
    }
  });
}

}  // namespace modelreg

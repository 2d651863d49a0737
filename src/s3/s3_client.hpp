#pragma once

// The HTTP side of S3ModelStore: one signed S3 request over libcurl, with retries, on a pool of
// reused connections. Requests are signed by libcurl (CURLOPT_AWS_SIGV4); the payload's SHA-256
// goes into x-amz-content-sha256 on every request, because libcurl 7.88 adds no such header
// and signs the query string exactly as given (so it must be canonical: names sorted, values
// encoded by uri_encode).

#include <cstddef>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "modelreg/s3_model_store.hpp"

namespace modelreg::detail::s3 {

struct Request {
  const char* method = "GET";  // GET, HEAD, PUT, POST or DELETE
  std::string key;             // the object key (prefix included); empty for the bucket
  std::string query;           // canonical query without '?' ("" for none)
  const char* body = nullptr;  // for PUT and POST
  std::size_t body_size = 0;
  std::string body_sha256;  // hex SHA-256 of the body (empty: computed here from `body`)
  // If >= 0 (PUT only), the body is the first body_size bytes of this file instead, read with
  // pread (its offset is left alone); body_sha256 must be given. A read that fails or finds the
  // file shorter fails the request with StorageError.
  int body_fd = -1;
  int download_fd = -1;  // if >= 0, a successful body is written to this file
  // For a download_fd that the caller will fsync: its pages start going to disk while the rest
  // arrives (sync_file_range), so that the fsync finds little left to write.
  bool start_writeback = false;
  // If set (GET only), a successful body is written to this stream as it arrives. What went to
  // it is never sent again: a retry after a part of the body asks for the rest (Range) of the
  // same object (If-Match its ETag), and fails with StorageError if the object changed. A
  // resumed download that completes reports status 200.
  std::ostream* download_stream = nullptr;
};

struct Response {
  long status = 0;
  std::string body;                            // unless written to download_fd
  std::map<std::string, std::string> headers;  // names lower-case
  std::string header(const std::string& name) const;
};

class Client {
 public:
  explicit Client(const S3Options& resolved);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Performs `request`, retrying connection errors, timeouts, 5xx and 429 with backoff, and
  // returns the final response, whatever its status. `what` names the request in errors
  // ("PUT 'm/1/model.bin'"). Throws StorageError when no response came after the retries.
  Response perform(const Request& request, std::string_view what) const;

  // The URL of `key` with `query`, path-style or virtual-host as configured.
  std::string url(std::string_view key, std::string_view query) const;

 private:
  struct Pool;
  S3Options options_;
  std::string sigv4_;
  std::string user_password_;
  std::unique_ptr<Pool> pool_;
};

// RFC 3986 percent-encoding as SigV4 wants it: everything but letters, digits and "-._~" (and
// '/' when `keep_slash`).
std::string uri_encode(std::string_view text, bool keep_slash);

// True if `response` says the object does not exist: a 404 without an error code (HEAD) or with
// NoSuchKey. A 404 NoSuchBucket is no missing object but a misconfigured store.
bool is_missing_object(const Response& response);

// Throws the error a failed response means: NotFoundError for a missing object
// (is_missing_object), StorageError otherwise, with `what`, the status and the server's error
// code and message.
[[noreturn]] void throw_response_error(const Response& response, std::string_view what);

// The text of every element <tag>...</tag> of `xml`, in order, entities decoded. Enough for
// S3's flat responses (ListObjectsV2, ListMultipartUploads, errors), not a general XML parser.
std::vector<std::string> xml_texts(std::string_view xml, std::string_view tag);
// The inner XML of every element <tag>...</tag> (undecoded, for nested lookups).
std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view tag);
// Text with &, <, > escaped, for request bodies.
std::string xml_escape(std::string_view text);

}  // namespace modelreg::detail::s3

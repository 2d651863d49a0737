#include "s3/s3_client.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <ostream>
#include <random>
#include <thread>

#include "io.hpp"
#include "modelreg/error.hpp"
#include "sha256.hpp"

namespace modelreg::detail::s3 {
namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;
// How much of a download goes to disk at a time when the caller wants it durable.
constexpr std::uint64_t kWritebackChunk = std::uint64_t{8} << 20;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw StorageError("libcurl could not be initialised");
    }
  });
}

// What a download to a stream has delivered over every attempt so far, and of which object.
struct StreamedDownload {
  std::uint64_t delivered = 0;
  std::uint64_t total = 0;  // the object's size, once a response said it (0: not known)
  std::string etag;         // of the object whose bytes went to the stream
};

// What one transfer reads from and writes to.
struct Transfer {
  const Request* request = nullptr;
  std::size_t sent = 0;
  Response response;
  int write_error = 0;             // errno of a failed write to download_fd
  std::uint64_t downloaded = 0;    // bytes written to download_fd
  std::uint64_t written_back = 0;  // of which writeback was started
  int read_error = 0;  // errno of a failed read of body_fd (ENODATA: the file ended first)
  // A download to a stream: what every attempt so far delivered; where this one starts; the
  // bytes of its body still to drop (a server that answered a Range request with the whole
  // body); why it stopped it.
  StreamedDownload* streamed = nullptr;
  std::uint64_t resume_from = 0;
  std::uint64_t skip = 0;
  bool body_started = false;
  bool stream_failed = false;
  bool other_object = false;
  std::exception_ptr stream_exception;
};

// Checks, before the first byte of an attempt's body goes to the stream, that it continues the
// object whose start the stream has; records that object on the first attempt. False: stop.
bool begin_streamed_body(Transfer& t) {
  StreamedDownload& streamed = *t.streamed;
  const long status = t.response.status;
  if (t.resume_from == 0) {
    streamed.etag = t.response.header("etag");
    if (status == 200) {
      streamed.total = std::strtoull(t.response.header("content-length").c_str(), nullptr, 10);
    }
    return true;
  }
  const bool rest =
      status == 206 &&
      t.response.header("content-range").rfind(fmt::format("bytes {}-", t.resume_from), 0) == 0;
  if (t.response.header("etag") != streamed.etag || !(rest || status == 200)) {
    t.other_object = true;
    return false;
  }
  if (status == 200) t.skip = t.resume_from;  // the whole body again
  return true;
}

// Writes a successful body's bytes to the request's stream (download_stream).
std::size_t stream_body(Transfer& t, const char* data, std::size_t n) {
  if (!t.body_started) {
    t.body_started = true;
    if (!begin_streamed_body(t)) return 0;  // aborts the transfer
  }
  const std::size_t dropped = static_cast<std::size_t>(std::min<std::uint64_t>(t.skip, n));
  t.skip -= dropped;
  if (dropped < n) {
    // No exception may cross libcurl: one the stream throws is rethrown after the transfer.
    try {
      t.request->download_stream->write(data + dropped, static_cast<std::streamsize>(n - dropped));
    } catch (...) {
      t.stream_exception = std::current_exception();
      return 0;
    }
    if (!*t.request->download_stream) {
      t.stream_failed = true;
      return 0;
    }
    t.streamed->delivered += n - dropped;
  }
  return n;
}

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = std::min(size * count, t.request->body_size - t.sent);
  if (t.request->body_fd < 0) {
    std::memcpy(buffer, t.request->body + t.sent, n);
    t.sent += n;
    return n;
  }
  if (n == 0) return 0;
  for (;;) {
    const ssize_t got = io().pread(t.request->body_fd, buffer, n, static_cast<off_t>(t.sent));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      t.read_error = got < 0 ? errno : ENODATA;
      return CURL_READFUNC_ABORT;
    }
    t.sent += static_cast<std::size_t>(got);
    return static_cast<std::size_t>(got);
  }
}

// libcurl rewinds the body to send it again on a new connection (a reused one the server
// closed meanwhile).
int seek_body(void* user, curl_off_t offset, int origin) {
  auto& t = *static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<std::size_t>(offset) > t.request->body_size) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t.sent = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  long status = t.response.status;
  // Only a successful body goes to the file or stream; an error's body is kept for its message.
  const bool success = status >= 200 && status < 300;
  if (t.request->download_stream != nullptr && success) return stream_body(t, data, n);
  if (t.request->download_fd >= 0 && success) {
    for (std::size_t done = 0; done < n;) {
      const ssize_t written = ::write(t.request->download_fd, data + done, n - done);
      if (written < 0) {
        if (errno == EINTR) continue;
        t.write_error = errno;
        return 0;  // aborts the transfer
      }
      done += static_cast<std::size_t>(written);
    }
    t.downloaded += n;
    if (t.request->start_writeback && t.downloaded - t.written_back >= kWritebackChunk) {
      // A hint: an error comes back from the caller's fsync.
      ::sync_file_range(t.request->download_fd, static_cast<off_t>(t.written_back),
                        static_cast<off_t>(t.downloaded - t.written_back), SYNC_FILE_RANGE_WRITE);
      t.written_back = t.downloaded;
    }
    return n;
  }
  if (t.response.body.size() < kMaxErrorBody ||
      (t.request->download_fd < 0 && t.request->download_stream == nullptr)) {
    t.response.body.append(data, n);
  }
  return n;
}

std::size_t write_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a 100 Continue, say): its status and headers replace the last.
    t.response.headers.clear();
    const auto space = line.find(' ');
    if (space != std::string_view::npos) {
      t.response.status = std::strtol(std::string(line.substr(space + 1, 3)).c_str(), nullptr, 10);
    }
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    t.response.headers[name] = std::string(value);
  }
  return size * count;
}

bool retryable_status(long status) {
  return status == 429 || status >= 500;
}

bool retryable_curl_error(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

std::string decode_entities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    const auto end = text.find(';', i);
    if (end == std::string_view::npos) {
      out += text.substr(i);
      break;
    }
    const std::string_view entity = text.substr(i + 1, end - i - 1);
    if (entity == "amp") {
      out += '&';
    } else if (entity == "lt") {
      out += '<';
    } else if (entity == "gt") {
      out += '>';
    } else if (entity == "quot") {
      out += '"';
    } else if (entity == "apos") {
      out += '\'';
    } else if (entity.size() > 1 && entity[0] == '#') {
      const bool hex = entity[1] == 'x' || entity[1] == 'X';
      const unsigned long code =
          std::strtoul(std::string(entity.substr(hex ? 2 : 1)).c_str(), nullptr, hex ? 16 : 10);
      // Only ASCII is decoded; S3 escapes nothing else that a key of ours could contain.
      out += code > 0 && code < 128 ? static_cast<char>(code) : '?';
    } else {
      out += text.substr(i, end - i + 1);
    }
    i = end;
  }
  return out;
}

}  // namespace

struct Client::Pool {
  std::mutex mutex;
  std::vector<CURL*> idle;
  ~Pool() {
    for (CURL* handle : idle) curl_easy_cleanup(handle);
  }
  CURL* take() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        curl_easy_reset(handle);
        return handle;
      }
    }
    CURL* handle = curl_easy_init();
    if (handle == nullptr) throw StorageError("libcurl could not create a handle");
    return handle;
  }
  void give_back(CURL* handle) noexcept {
    try {
      std::lock_guard<std::mutex> lock(mutex);
      idle.push_back(handle);
    } catch (const std::exception&) {
      curl_easy_cleanup(handle);  // not kept for reuse, nothing lost
    }
  }
};

std::string Response::header(const std::string& name) const {
  const auto found = headers.find(name);
  return found == headers.end() ? std::string() : found->second;
}

Client::Client(const S3Options& resolved) : options_(resolved), pool_(std::make_unique<Pool>()) {
  global_init();
  sigv4_ = "aws:amz:" + options_.region + ":s3";
  user_password_ = options_.access_key_id + ":" + options_.secret_access_key;
}

Client::~Client() = default;

std::string Client::url(std::string_view key, std::string_view query) const {
  std::string endpoint = options_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  std::string result;
  if (options_.addressing == S3Options::Addressing::VirtualHost) {
    const auto scheme_end = endpoint.find("://");
    result = endpoint.substr(0, scheme_end + 3) + options_.bucket + "." +
             endpoint.substr(scheme_end + 3) + "/";
  } else {
    result = endpoint + "/" + options_.bucket + "/";
  }
  result += uri_encode(key, true);
  if (!query.empty()) {
    result += '?';
    result += query;
  }
  return result;
}

Response Client::perform(const Request& request, std::string_view what) const {
  const std::string target = url(request.key, request.query);
  const std::string sha256 = !request.body_sha256.empty()
                                 ? request.body_sha256
                                 : sha256_hex(request.body, request.body ? request.body_size : 0);
  std::minstd_rand jitter(
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  auto backoff = options_.initial_backoff;
  std::string last_failure;
  StreamedDownload streamed;
  const std::uint64_t& delivered = streamed.delivered;
  for (int attempt = 1;; ++attempt) {
    if (request.download_fd >= 0 && (::ftruncate(request.download_fd, 0) != 0 ||
                                     ::lseek(request.download_fd, 0, SEEK_SET) != 0)) {
      throw StorageError(
          fmt::format("{}: cannot reset the download file: {}", what, std::strerror(errno)));
    }
    Transfer transfer;
    transfer.request = &request;
    transfer.streamed = &streamed;
    transfer.resume_from = delivered;
    if (delivered > 0 && delivered == streamed.total) {
      Response whole;  // every byte had gone to the stream before the failure
      whole.status = 200;
      return whole;
    }
    // The handle goes back to the pool and the header list is freed however this attempt ends.
    struct Attempt {
      Pool& pool;
      CURL* handle;
      curl_slist* headers = nullptr;
      ~Attempt() {
        curl_slist_free_all(headers);
        pool.give_back(handle);
      }
    } attempt_state{*pool_, pool_->take()};
    CURL* const handle = attempt_state.handle;
    curl_slist*& headers = attempt_state.headers;
    const std::string content_sha = "x-amz-content-sha256: " + sha256;
    headers = curl_slist_append(headers, content_sha.c_str());
    std::string token;
    if (!options_.session_token.empty()) {
      token = "x-amz-security-token: " + options_.session_token;
      headers = curl_slist_append(headers, token.c_str());
    }
    if (std::strcmp(request.method, "POST") == 0) {
      headers = curl_slist_append(headers, "Content-Type: application/xml");
    }
    std::string range;
    std::string if_match;
    if (delivered > 0) {
      // The rest of the same object: the stream has the first `delivered` bytes already.
      if (streamed.etag.empty() || streamed.etag.rfind("W/", 0) == 0) {
        throw StorageError(fmt::format(
            "{} failed after {} bytes had gone to the stream, and the server gave no strong "
            "ETag to resume by: {}",
            what, delivered, last_failure));
      }
      range = fmt::format("Range: bytes={}-", delivered);
      if_match = "If-Match: " + streamed.etag;
      headers = curl_slist_append(headers, range.c_str());
      headers = curl_slist_append(headers, if_match.c_str());
    }
    curl_easy_setopt(handle, CURLOPT_URL, target.c_str());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    if (!options_.access_key_id.empty()) {
      curl_easy_setopt(handle, CURLOPT_AWS_SIGV4, sigv4_.c_str());
      curl_easy_setopt(handle, CURLOPT_USERPWD, user_password_.c_str());
    }
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(options_.stall_timeout.count() / 1000)));
    curl_easy_setopt(handle, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &write_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &write_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
    char error_text[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
    const std::string_view method = request.method;
    if (method == "PUT") {
      curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(handle, CURLOPT_READFUNCTION, &read_body);
      curl_easy_setopt(handle, CURLOPT_READDATA, &transfer);
      curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, &seek_body);
      curl_easy_setopt(handle, CURLOPT_SEEKDATA, &transfer);
      curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body_size));
      curl_easy_setopt(handle, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
    } else if (method == "POST") {
      curl_easy_setopt(handle, CURLOPT_POST, 1L);
      curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body ? request.body : "");
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body_size));
    } else if (method == "HEAD") {
      curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
    } else if (method != "GET") {
      curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method);
    }
    const CURLcode code = curl_easy_perform(handle);
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
      transfer.response.status = status;
    }
    if (transfer.read_error != 0) {
      throw StorageError(
          transfer.read_error == ENODATA
              ? fmt::format("{}: the file being sent ended before its {} bytes (it changed)", what,
                            request.body_size)
              : fmt::format("{}: cannot read the file being sent: {}", what,
                            std::strerror(transfer.read_error)));
    }
    if (transfer.stream_exception) {
      try {
        std::rethrow_exception(transfer.stream_exception);
      } catch (const std::exception& e) {
        throw StorageError(fmt::format("{}: writing to the stream failed after {} bytes: {}", what,
                                       delivered, e.what()));
      }
    }
    if (transfer.stream_failed) {
      throw StorageError(
          fmt::format("{}: writing to the stream failed after {} bytes", what, delivered));
    }
    if (transfer.resume_from > 0 && code == CURLE_OK) {
      const long status = transfer.response.status;
      // 412: If-Match failed; 404: gone. Either way the rest is not of what the stream has.
      if (status == 412 || status == 404) transfer.other_object = true;
      if (status == 206) transfer.response.status = 200;  // whole now
    }
    if (transfer.other_object) {
      throw StorageError(fmt::format(
          "{}: the object changed or went away after {} of its bytes had gone to the stream "
          "(discard them)",
          what, transfer.resume_from));
    }
    if (transfer.write_error != 0) {
      throw StorageError(fmt::format("{}: cannot write the downloaded bytes: {}", what,
                                     std::strerror(transfer.write_error)));
    }
    if (code == CURLE_OK && !retryable_status(transfer.response.status)) {
      return std::move(transfer.response);
    }
    if (code != CURLE_OK && !retryable_curl_error(code)) {
      throw StorageError(fmt::format("{} at {}: {}", what, options_.endpoint,
                                     error_text[0] ? error_text : curl_easy_strerror(code)));
    }
    last_failure = code == CURLE_OK
                       ? fmt::format("HTTP {}", transfer.response.status)
                       : std::string(error_text[0] ? error_text : curl_easy_strerror(code));
    if (attempt >= options_.max_attempts) {
      if (code == CURLE_OK) throw_response_error(transfer.response, what);
      throw StorageError(fmt::format("{} at {} failed {} times, last: {}", what, options_.endpoint,
                                     attempt, last_failure));
    }
    const auto wait = backoff + std::chrono::milliseconds(jitter() % (backoff.count() / 2 + 1));
    std::this_thread::sleep_for(wait);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(20));
  }
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

bool is_missing_object(const Response& response) {
  if (response.status != 404) return false;
  const auto codes = xml_texts(response.body, "Code");
  return codes.empty() || codes.front() == "NoSuchKey";
}

void throw_response_error(const Response& response, std::string_view what) {
  const auto codes = xml_texts(response.body, "Code");
  const auto messages = xml_texts(response.body, "Message");
  std::string detail = codes.empty() ? std::string() : " " + codes.front();
  if (!messages.empty() && !messages.front().empty()) detail += ": " + messages.front();
  const std::string message = fmt::format("{}: HTTP {}{}", what, response.status, detail);
  if (is_missing_object(response)) throw NotFoundError(message);
  throw StorageError(message);
}

std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> blocks;
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  for (std::size_t at = xml.find(open); at != std::string_view::npos; at = xml.find(open, at)) {
    const std::size_t start = at + open.size();
    const std::size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    blocks.push_back(xml.substr(start, end - start));
    at = end + close.size();
  }
  return blocks;
}

std::vector<std::string> xml_texts(std::string_view xml, std::string_view tag) {
  std::vector<std::string> texts;
  for (const auto block : xml_blocks(xml, tag)) texts.push_back(decode_entities(block));
  return texts;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace modelreg::detail::s3

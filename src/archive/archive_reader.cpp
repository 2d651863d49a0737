#include "archive/archive_reader.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "io.hpp"
#include "modelreg/error.hpp"
#include "posix_file.hpp"

namespace modelreg::detail {

struct ArchiveReader::Source {
  UniqueFd fd;
  std::vector<char> buffer = std::vector<char>(std::size_t{1} << 20);
  int error = 0;  // errno of the read that failed, if one did
};

namespace {

// libarchive's read callback.
la_ssize_t read_in(struct archive* archive, void* client, const void** data) {
  auto& source = *static_cast<ArchiveReader::Source*>(client);
  for (;;) {
    const ssize_t got = io().read(source.fd.get(), source.buffer.data(), source.buffer.size());
    if (got >= 0) {
      *data = source.buffer.data();
      return got;
    }
    if (errno == EINTR) continue;
    source.error = errno;
    archive_set_error(archive, errno, "read failed: %s", std::strerror(errno));
    return -1;
  }
}

}  // namespace

ArchiveReader::ArchiveReader(const std::filesystem::path& path)
    : archive_(archive_read_new()), path_(path) {
  if (archive_ == nullptr) throw StorageError("libarchive: out of memory");
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    archive_read_free(archive_);
    throw NotFoundError(fmt::format("archive '{}' does not exist", path.string()));
  }
  if (!std::filesystem::is_regular_file(status)) {
    archive_read_free(archive_);
    throw InvalidArgumentError(fmt::format("archive '{}' is not a regular file", path.string()));
  }
  if (archive_read_support_format_tar(archive_) != ARCHIVE_OK ||
      archive_read_support_filter_none(archive_) != ARCHIVE_OK ||
      archive_read_support_filter_gzip(archive_) != ARCHIVE_OK ||
      archive_read_support_filter_zstd(archive_) != ARCHIVE_OK) {
    const std::string message = archive_error_string(archive_);
    archive_read_free(archive_);
    throw StorageError(fmt::format("libarchive cannot read tar archives: {}", message));
  }
  source_ = std::make_unique<Source>();
  source_->fd = UniqueFd(io().open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!source_->fd.valid()) {
    const int error = errno;
    archive_read_free(archive_);
    errno = error;
    throw_errno("cannot open archive", path);
  }
  if (archive_read_open2(archive_, source_.get(), nullptr, &read_in, nullptr, nullptr) !=
      ARCHIVE_OK) {
    const char* message = archive_error_string(archive_);
    const std::string text = message != nullptr ? message : "unknown error";
    const int error = archive_errno(archive_);
    archive_read_free(archive_);
    if (error == EILSEQ) {  // libarchive's "file format" errno
      throw InvalidArgumentError(
          fmt::format("'{}' is not a modelreg archive (a tar file): {}", path.string(), text));
    }
    // A system errno is an I/O failure; anything else (ARCHIVE_ERRNO_MISC: a gzip or zstd stream
    // that is damaged or cut short) is the archive's own damage.
    if (error <= 0) {
      throw DataLossError(fmt::format("archive '{}' is damaged: {}", path.string(), text));
    }
    throw StorageError(fmt::format("cannot open archive '{}': {}", path.string(), text));
  }
}

ArchiveReader::~ArchiveReader() {
  archive_read_free(archive_);
}

void ArchiveReader::fail(const char* what, bool damaged) const {
  const char* message = archive_error_string(archive_);
  const std::string text = fmt::format("archive '{}': {}: {}", path_.string(), what,
                                       message != nullptr ? message : "unknown error");
  if (source_ != nullptr && source_->error != 0)
    throw StorageError(text);  // the file's, not the archive's
  if (damaged) throw DataLossError(text);
  throw InvalidArgumentError(text);
}

std::optional<ArchiveReader::Entry> ArchiveReader::next() {
  archive_entry* header = nullptr;
  const int rc = archive_read_next_header(archive_, &header);
  const bool first = first_;
  first_ = false;
  if (rc == ARCHIVE_EOF) return std::nullopt;
  if (rc != ARCHIVE_OK) {
    // A file that does not even start like an archive is the caller's mistake; one that
    // breaks off later is damaged.
    fail(first ? "not a modelreg archive (no tar header)" : "damaged entry header", !first);
  }
  Entry entry;
  const char* name = archive_entry_pathname(header);
  entry.name = name != nullptr ? name : "";
  entry.regular_file = archive_entry_filetype(header) == AE_IFREG;
  entry.is_link =
      archive_entry_hardlink(header) != nullptr || archive_entry_symlink(header) != nullptr;
  if (archive_entry_size_is_set(header) != 0 && archive_entry_size(header) >= 0) {
    entry.size = static_cast<std::uint64_t>(archive_entry_size(header));
  }
  return entry;
}

std::size_t ArchiveReader::read(void* data, std::size_t size) {
  const la_ssize_t got = archive_read_data(archive_, data, size);
  if (got < 0) fail("damaged entry data", true);
  return static_cast<std::size_t>(got);
}

}  // namespace modelreg::detail

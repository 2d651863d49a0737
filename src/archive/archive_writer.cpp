#include "archive/archive_writer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "io.hpp"
#include "modelreg/error.hpp"

namespace modelreg::detail {

namespace {

struct EntryDeleter {
  void operator()(archive_entry* entry) const { archive_entry_free(entry); }
};

// libarchive's write callback: every byte through the library's I/O seam.
la_ssize_t write_out(struct archive* archive, void* client, const void* data, std::size_t size) {
  const int fd = *static_cast<const int*>(client);
  const auto* bytes = static_cast<const char*>(data);
  std::size_t left = size;
  while (left > 0) {
    const ssize_t written = io().write(fd, bytes, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      archive_set_error(archive, errno, "write failed: %s", std::strerror(errno));
      return -1;
    }
    bytes += written;
    left -= static_cast<std::size_t>(written);
  }
  return static_cast<la_ssize_t>(size);
}

}  // namespace

ArchiveWriter::ArchiveWriter(int fd, const std::filesystem::path& path,
                             ArchiveCompression compression)
    : archive_(archive_write_new()), path_(path), fd_(fd) {
  if (archive_ == nullptr) throw StorageError("libarchive: out of memory");
  if (archive_write_set_format_pax_restricted(archive_) != ARCHIVE_OK) fail("cannot select tar");
  int rc = ARCHIVE_OK;
  switch (compression) {
    case ArchiveCompression::None:
      rc = archive_write_add_filter_none(archive_);
      break;
    case ArchiveCompression::Gzip:
      rc = archive_write_add_filter_gzip(archive_);
      break;
    case ArchiveCompression::Zstd:
      rc = archive_write_add_filter_zstd(archive_);
      break;
  }
  if (rc != ARCHIVE_OK) fail("cannot select the compression");
  // Large blocks: one write() per MiB rather than per 10 KiB (tar's default).
  if (archive_write_set_bytes_per_block(archive_, 1 << 20) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(archive_, 1) != ARCHIVE_OK) {
    fail("cannot set the block size");
  }
  if (archive_write_open2(archive_, &fd_, nullptr, &write_out, nullptr, nullptr) != ARCHIVE_OK) {
    fail("cannot start the archive");
  }
}

ArchiveWriter::~ArchiveWriter() {
  archive_write_free(archive_);  // after finish() a no-op; else the file is discarded anyway
}

void ArchiveWriter::fail(const char* what) const {
  const char* message = archive_ != nullptr ? archive_error_string(archive_) : nullptr;
  throw StorageError(fmt::format("cannot write archive '{}': {}: {}", path_.string(), what,
                                 message != nullptr ? message : "unknown error"));
}

void ArchiveWriter::begin_entry(const std::string& name, std::uint64_t size,
                                std::int64_t mtime_seconds) {
  std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
  if (!entry) throw StorageError("libarchive: out of memory");
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
  archive_entry_set_mtime(entry.get(), mtime_seconds, 0);
  if (archive_write_header(archive_, entry.get()) != ARCHIVE_OK) fail("cannot write an entry");
}

void ArchiveWriter::write(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const la_ssize_t written = archive_write_data(archive_, bytes, size);
    if (written <= 0) fail("cannot write data");
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

void ArchiveWriter::finish() {
  if (archive_write_close(archive_) != ARCHIVE_OK) fail("cannot finish the archive");
}

}  // namespace modelreg::detail

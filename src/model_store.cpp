#include "modelreg/model_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <istream>
#include <ostream>
#include <vector>

#include "artifact_path.hpp"
#include "fd_stream.hpp"
#include "hashing_stream.hpp"
#include "modelreg/error.hpp"
#include "modelreg/validation.hpp"
#include "posix_file.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace {

constexpr std::string_view kArtifactFile = "model.bin";

// Checks that `path` is "name/version/model.bin" with a valid name and version.
std::string checked_relative_path(std::string_view path) {
  const auto first = path.find('/');
  const auto second = first == std::string_view::npos ? first : path.find('/', first + 1);
  if (second == std::string_view::npos || path.substr(second + 1) != kArtifactFile) {
    throw InvalidArgumentError(fmt::format(
        "artifact path '{}' is not of the form <model>/<version>/model.bin inside the store",
        path.substr(0, 300)));
  }
  validate_model_name(path.substr(0, first));
  validate_version(path.substr(first + 1, second - first - 1));
  return std::string(path);
}

void copy_stream(std::istream& in, std::ostream& out, std::string_view path) {
  std::vector<char> buffer(std::size_t{1} << 20);
  while (in.good()) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    if (got > 0) out.write(buffer.data(), got);
    if (!out) throw StorageError(fmt::format("cannot write artifact '{}' to the stream", path));
  }
  if (in.bad()) throw StorageError(fmt::format("cannot read artifact '{}'", path));
}

}  // namespace

bool detail::is_artifact_path(std::string_view path) {
  try {
    checked_relative_path(path);
    return true;
  } catch (const InvalidArgumentError&) {
    return false;  // not one of the store's: listings skip it
  }
}

ModelStore::~ModelStore() = default;

std::string ModelStore::artifact_path(std::string_view model_name, std::string_view version) {
  return detail::public_call("artifact_path", [&] {
    validate_model_name(model_name);
    validate_version(version);
    return fmt::format("{}/{}/{}", model_name, version, kArtifactFile);
  });
}

std::string ModelStore::save_artifact(std::string_view model_name, std::string_view version,
                                      const Bytes& artifact) {
  return detail::public_call("save_artifact", [&] {
    detail::MemoryInputBuf buffer(artifact.data(), artifact.size());
    std::istream in(&buffer);
    return save_artifact(model_name, version, in);
  });
}

std::string ModelStore::save_artifact(std::string_view model_name, std::string_view version,
                                      std::istream& in) {
  return detail::public_call("save_artifact", [&] {
    std::string path = artifact_path(model_name, version);
    save_impl(path, in);
    return path;
  });
}

std::string ModelStore::save_artifact(std::string_view model_name, std::string_view version,
                                      const std::filesystem::path& source) {
  return detail::public_call("save_artifact", [&] {
    detail::UniqueFd fd = detail::open_source_file(source, "artifact source file");
    if (auto sent = send_artifact_file(model_name, version, fd.get(), source)) {
      return std::move(sent->path);
    }
    detail::FdInputStream in(std::move(fd));
    return save_artifact(model_name, version, in);
  });
}

std::optional<ModelStore::SentFile> ModelStore::send_artifact_file(
    std::string_view model_name, std::string_view version, int fd,
    const std::filesystem::path& source) {
  return detail::public_call("send_artifact_file", [&] {
    return send_file_impl(artifact_path(model_name, version), fd, source);
  });
}

std::optional<ModelStore::SentFile> ModelStore::send_file_impl(
    const std::string& /*path*/, int /*fd*/, const std::filesystem::path& /*source*/) {
  return std::nullopt;
}

std::optional<std::string> ModelStore::fill_artifact(std::string_view model_name,
                                                     std::string_view version,
                                                     const FileFill& fill) {
  return detail::public_call("fill_artifact", [&]() -> std::optional<std::string> {
    std::string path = artifact_path(model_name, version);
    if (!fill_impl(path, fill)) return std::nullopt;
    return path;
  });
}

bool ModelStore::fill_impl(const std::string& /*path*/, const FileFill& /*fill*/) {
  return false;
}

Bytes ModelStore::load_artifact(std::string_view path) const {
  return detail::public_call("load_artifact", [&] {
    auto in = open_artifact(path);
    Bytes bytes;
    std::vector<char> buffer(std::size_t{1} << 20);
    while (in->good()) {
      in->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto got = in->gcount();
      bytes.insert(bytes.end(), buffer.data(), buffer.data() + got);
    }
    if (in->bad()) throw StorageError(fmt::format("cannot read artifact '{}'", path));
    return bytes;
  });
}

void ModelStore::load_artifact(std::string_view path, std::ostream& out) const {
  detail::public_call("load_artifact", [&] {
    const std::string normalized = normalize_path(path);
    if (write_stream_impl(normalized, out)) return;
    auto in = open_impl(normalized);
    copy_stream(*in, out, path);
  });
}

bool ModelStore::write_stream_impl(const std::string& /*path*/, std::ostream& /*out*/) const {
  return false;
}

std::unique_ptr<std::istream> ModelStore::open_artifact(std::string_view path) const {
  return detail::public_call("open_artifact", [&] { return open_impl(normalize_path(path)); });
}

std::optional<ArtifactFile> ModelStore::open_artifact_file(std::string_view path) const {
  return detail::public_call("open_artifact_file",
                             [&] { return open_file_impl(normalize_path(path)); });
}

std::optional<ArtifactFile> ModelStore::open_file_impl(const std::string& /*path*/) const {
  return std::nullopt;
}

bool ModelStore::write_artifact_to(std::string_view path, int fd) const {
  return detail::public_call("write_artifact_to",
                             [&] { return write_to_impl(normalize_path(path), fd); });
}

bool ModelStore::write_to_impl(const std::string& /*path*/, int /*fd*/) const {
  return false;
}

bool ModelStore::delete_artifact(std::string_view path) {
  return detail::public_call("delete_artifact", [&] {
    const std::string relative = normalize_path(path);
    const bool deleted = delete_impl(relative);
    if (!deleted) {
      detail::log_warning(fmt::format("artifact not found for deletion at '{}'", relative));
    }
    return deleted;
  });
}

std::vector<std::string> ModelStore::list_artifacts() const {
  return detail::public_call("list_artifacts", [&] {
    auto paths = list_impl();
    std::sort(paths.begin(), paths.end());
    return paths;
  });
}

std::string ModelStore::normalize_path(std::string_view path) const {
  return detail::public_call("normalize_path", [&]() -> std::string {
    if (!path.empty() && path.front() == '/') {
      if (auto relative = relative_path_impl(path)) return checked_relative_path(*relative);
      throw InvalidArgumentError(
          fmt::format("artifact path '{}' is outside the store", path.substr(0, 300)));
    }
    return checked_relative_path(path);
  });
}

std::optional<std::string> ModelStore::relative_path_impl(std::string_view /*absolute*/) const {
  return std::nullopt;
}

}  // namespace modelreg

// ModelRegistry::open(catalog_url, artifacts_url) and the table of URL schemes.

#include "registry_urls.hpp"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "ascii_case.hpp"
#include "modelreg/error.hpp"
#include "modelreg/file_model_store.hpp"
#include "modelreg/in_memory_metadata_store.hpp"
#include "modelreg/in_memory_model_store.hpp"
#include "modelreg/model_registry.hpp"
#include "public_call.hpp"

namespace modelreg {
namespace detail {
namespace {

struct Schemes {
  std::mutex mutex;
  std::map<std::string, CatalogOpener> catalogs;
  std::map<std::string, ArtifactsOpener> artifacts;
};

// Constructed on first use: registrars of other libraries run during static initialization.
Schemes& schemes() {
  static Schemes table;
  return table;
}

// The library that registers each scheme we know of, for the error when it is not linked.
std::string library_of(const std::string& scheme) {
  if (scheme == "postgresql" || scheme == "postgres") return "modelreg::postgres";
  if (scheme == "sqlite") return "modelreg::sqlite";
  if (scheme == "s3") return "modelreg::s3";
  return "";
}

// The scheme of `url` in lower case, or "" for a plain path (no "letters:" prefix).
std::string scheme_of(std::string_view url) {
  const auto colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return "";
  for (std::size_t i = 0; i < colon; ++i) {
    const char c = url[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) return "";
  }
  std::string scheme(url.substr(0, colon));
  for (char& c : scheme) c = ascii_lower(c);
  return scheme;
}

template <typename Opener>
const Opener& find_opener(const std::map<std::string, Opener>& table, const std::string& scheme,
                          std::string_view url, const char* what) {
  if (const auto found = table.find(scheme); found != table.end()) return found->second;
  const std::string library = library_of(scheme);
  throw InvalidArgumentError(
      library.empty()
          ? fmt::format("{} URL '{}': unknown scheme '{}:'", what, url, scheme)
          : fmt::format("{} URL '{}': {}: URLs need the {} library, which this program does not "
                        "link",
                        what, url, scheme, library));
}

}  // namespace

void register_catalog_scheme(const std::string& scheme, CatalogOpener opener) {
  std::lock_guard<std::mutex> lock(schemes().mutex);
  schemes().catalogs[scheme] = std::move(opener);
}

void register_artifacts_scheme(const std::string& scheme, ArtifactsOpener opener) {
  std::lock_guard<std::mutex> lock(schemes().mutex);
  schemes().artifacts[scheme] = std::move(opener);
}

std::string url_path(std::string_view url) {
  const auto colon = url.find(':');
  std::string_view rest = colon == std::string_view::npos ? url : url.substr(colon + 1);
  // file:///a (an empty authority) and file://a alike name the path after the slashes' pair.
  if (rest.substr(0, 2) == "//") rest.remove_prefix(2);
  return std::string(rest);
}

}  // namespace detail

ModelRegistry ModelRegistry::open(std::string_view catalog_url, std::string_view artifacts_url,
                                  const OpenOptions& options) {
  return detail::public_call("ModelRegistry::open", [&] {
    if (catalog_url.empty()) throw InvalidArgumentError("catalog URL must not be empty");
    if (artifacts_url.empty()) throw InvalidArgumentError("artifacts URL must not be empty");
    const std::string catalog_scheme = detail::scheme_of(catalog_url);
    const std::string artifacts_scheme = detail::scheme_of(artifacts_url);
    std::shared_ptr<MetadataStore> metadata;
    std::shared_ptr<ModelStore> store;
    detail::CatalogOpener open_catalog;
    detail::ArtifactsOpener open_artifacts;
    if (catalog_scheme == "memory") {
      metadata = std::make_shared<InMemoryMetadataStore>();
    } else if (catalog_scheme.empty()) {
      throw InvalidArgumentError(
          fmt::format("catalog URL '{}' has no scheme (postgresql://..., sqlite:<file>, memory:)",
                      catalog_url));
    } else {
      std::lock_guard<std::mutex> lock(detail::schemes().mutex);
      open_catalog =
          detail::find_opener(detail::schemes().catalogs, catalog_scheme, catalog_url, "catalog");
    }
    if (artifacts_scheme == "memory") {
      store = std::make_shared<InMemoryModelStore>();
    } else if (artifacts_scheme.empty() || artifacts_scheme == "file") {
      const std::string dir =
          artifacts_scheme.empty() ? std::string(artifacts_url) : detail::url_path(artifacts_url);
      if (dir.empty()) throw InvalidArgumentError("artifacts directory must not be empty");
      store = std::make_shared<FileModelStore>(dir);
    } else {
      std::lock_guard<std::mutex> lock(detail::schemes().mutex);
      open_artifacts = detail::find_opener(detail::schemes().artifacts, artifacts_scheme,
                                           artifacts_url, "artifacts");
    }
    // Opened outside the table's lock: opening may take a while (a server far away).
    if (open_catalog) metadata = open_catalog(std::string(catalog_url), options);
    if (open_artifacts) store = open_artifacts(std::string(artifacts_url), options);
    ModelRegistry registry(std::move(store), std::move(metadata));
    if (!options.actor.empty()) registry.set_default_actor(options.actor);
    if (options.recover) registry.recover();
    return registry;
  });
}

}  // namespace modelreg

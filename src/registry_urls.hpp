#pragma once

// The URL schemes of ModelRegistry::open(catalog_url, artifacts_url): the core library knows
// memory: and file: itself; each backend library registers its own schemes from a static
// initializer of a file that its CMake target makes every consumer link (an INTERFACE
// --undefined of the registrar's symbol), so that opening by URL works with static libraries
// too and the core depends on no engine.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "modelreg/metadata_store.hpp"
#include "modelreg/model_store.hpp"
#include "modelreg/registry_options.hpp"

namespace modelreg::detail {

using CatalogOpener =
    std::function<std::shared_ptr<MetadataStore>(const std::string& url, const OpenOptions&)>;
using ArtifactsOpener =
    std::function<std::shared_ptr<ModelStore>(const std::string& url, const OpenOptions&)>;

// Registers what opens URLs of `scheme` (lower case, without the ':'). Thread-safe; a later
// registration of the same scheme replaces the earlier one.
void register_catalog_scheme(const std::string& scheme, CatalogOpener opener);
void register_artifacts_scheme(const std::string& scheme, ArtifactsOpener opener);

// Registers at static initialization: `static SchemeRegistrar r([] { register_...(...); });`
struct SchemeRegistrar {
  explicit SchemeRegistrar(void (*registration)()) { registration(); }
};

// The part of a "scheme:rest" URL after "scheme:" and an optional "//" (sqlite:///a/b -> /a/b).
std::string url_path(std::string_view url);

}  // namespace modelreg::detail

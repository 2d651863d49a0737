// SqliteMetadataStore: lookups and listings of visible state. A lookup is one statement, hence
// one snapshot, on a pooled read connection; get_model reads several in one read transaction.

#include "modelreg/sqlite_metadata_store.hpp"
#include "sqlite/sqlite_rows.hpp"
#include "sqlite/sqlite_store_impl.hpp"

namespace modelreg {

using detail::Connection;
using detail::use;

std::optional<ModelVersion> SqliteMetadataStore::get_version_impl(std::string_view model_name,
                                                                  std::string_view version) const {
  return impl_->read("get_version", [&](Connection& connection) {
    auto rows = use(connection, detail::kGetVersion);
    rows->bind(1, model_name);
    rows->bind(2, version);
    return detail::read_optional_version(rows, connection.path());
  });
}

std::optional<ModelVersion> SqliteMetadataStore::latest_version_impl(
    std::string_view model_name) const {
  return impl_->read("latest_version", [&](Connection& connection) {
    auto rows = use(connection, detail::kLatest);
    rows->bind(1, model_name);
    return detail::read_optional_version(rows, connection.path());
  });
}

std::optional<ModelVersion> SqliteMetadataStore::production_version_impl(
    std::string_view model_name) const {
  return impl_->read("production_version", [&](Connection& connection) {
    auto rows = use(connection, detail::kProduction);
    rows->bind(1, model_name);
    return detail::read_optional_version(rows, connection.path());
  });
}

std::optional<ModelVersion> SqliteMetadataStore::get_version_by_alias_impl(
    std::string_view model_name, std::string_view alias) const {
  return impl_->read("get_version_by_alias", [&](Connection& connection) {
    auto rows = use(connection, detail::kVersionByAlias);
    rows->bind(1, model_name);
    rows->bind(2, alias);
    return detail::read_optional_version(rows, connection.path());
  });
}

std::vector<ModelVersion> SqliteMetadataStore::list_versions_impl(
    std::string_view model_name, std::optional<ModelStage> stage) const {
  // Each listing is one statement, hence one snapshot.
  const auto list = [&](detail::Sql sql) {
    return impl_->read("list_versions", [&](Connection& connection) {
      auto rows = use(connection, sql);
      rows->bind(1, model_name);
      return detail::read_versions(rows, connection.path());
    });
  };
  if (!stage && impl_->list_cache_enabled()) {
    const std::string name(model_name);
    const std::int64_t data_version = impl_->data_version();
    if (auto cached = impl_->cached_list(name, data_version)) return *cached;
    std::vector<ModelVersion> versions = list(detail::kListVersions);
    if (!impl_->cacheable(versions.size())) return versions;  // no copy of a list not kept
    auto shared = std::make_shared<const std::vector<ModelVersion>>(std::move(versions));
    impl_->remember_list(name, data_version, shared);
    return *shared;
  }
  detail::Sql sql = detail::kListVersions;
  if (stage) {
    switch (*stage) {
      case ModelStage::Development:
        sql = detail::kListDevelopment;
        break;
      case ModelStage::Staging:
        sql = detail::kListStaging;
        break;
      case ModelStage::Production:
        sql = detail::kListProduction;
        break;
      case ModelStage::Archived:
        sql = detail::kListArchived;
        break;
    }
  }
  return list(sql);
}

namespace detail {

// The visible model `model_name` as lookups show it, inside the caller's read transaction.
std::optional<RegisteredModel> read_model(Connection& connection, std::string_view model_name) {
  RegisteredModel model;
  std::int64_t id = 0;
  {
    auto row = use(connection, kGetModel);
    row->bind(1, model_name);
    if (!row->step()) return std::nullopt;
    id = row->int64(0);
    model.name = std::string(model_name);
    model.description = row->text(1);
    model.created_at = from_nanos(row->int64(2));
  }
  {
    auto rows = use(connection, kModelTags);
    rows->bind(1, id);
    while (rows->step()) model.tags.emplace(rows->text(0), rows->text(1));
  }
  auto rows = use(connection, kListVersions);
  rows->bind(1, model_name);
  model.versions = read_versions(rows, connection.path());
  for (const auto& version : model.versions) {
    for (const auto& alias : version.aliases) model.aliases.emplace(alias, version.version);
  }
  return model;
}

}  // namespace detail

std::optional<RegisteredModel> SqliteMetadataStore::get_model_impl(
    std::string_view model_name) const {
  return impl_->read_snapshot("get_model", [&](Connection& connection) {
    return detail::read_model(connection, model_name);
  });
}

std::vector<std::string> SqliteMetadataStore::list_models_impl() const {
  return impl_->read("list_models", [&](Connection& connection) {
    auto rows = use(connection, detail::kListModels);
    std::vector<std::string> names;
    while (rows->step()) names.push_back(rows->text(0));
    return names;
  });
}

}  // namespace modelreg

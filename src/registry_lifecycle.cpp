// ModelRegistry: aliases, tags and descriptions, search, history and model URIs. Each call is
// one catalog operation, so the registry adds validation, the audit's default actor, the
// in-process mutex for changes, and logging at the public boundary.

#include <fmt/format.h>

#include <mutex>

#include "modelreg/error.hpp"
#include "modelreg/model_registry.hpp"
#include "modelreg/validation.hpp"
#include "public_call.hpp"
#include "registry_impl.hpp"

namespace modelreg {

ModelVersion ModelRegistry::set_alias(std::string_view name, std::string_view alias,
                                      std::string_view version,
                                      const std::optional<std::string>& expected_version,
                                      const Audit& audit) {
  return detail::public_call("set_alias", [&] {
    const Audit change = impl_->audit(audit);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->metadata->set_alias(name, alias, version, expected_version, registry_now(),
                                      change);
  });
}

bool ModelRegistry::delete_alias(std::string_view name, std::string_view alias,
                                 const Audit& audit) {
  return detail::public_call("delete_alias", [&] {
    const Audit change = impl_->audit(audit);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->metadata->delete_alias(name, alias, registry_now(), change);
  });
}

std::optional<ModelVersion> ModelRegistry::get_version_by_alias(std::string_view name,
                                                                std::string_view alias) const {
  return detail::public_call("get_version_by_alias",
                             [&] { return impl_->metadata->get_version_by_alias(name, alias); });
}

void ModelRegistry::set_model_tag(std::string_view name, std::string_view key,
                                  std::string_view value, const Audit& audit) {
  detail::public_call("set_model_tag", [&] {
    const Audit change = impl_->audit(audit);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->metadata->set_model_tag(name, key, value, registry_now(), change);
  });
}

bool ModelRegistry::delete_model_tag(std::string_view name, std::string_view key,
                                     const Audit& audit) {
  return detail::public_call("delete_model_tag", [&] {
    const Audit change = impl_->audit(audit);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->metadata->delete_model_tag(name, key, registry_now(), change);
  });
}

void ModelRegistry::set_model_description(std::string_view name, std::string_view description,
                                          const Audit& audit) {
  detail::public_call("set_model_description", [&] {
    const Audit change = impl_->audit(audit);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->metadata->set_model_description(name, description, registry_now(), change);
  });
}

ModelVersion ModelRegistry::set_version_tag(std::string_view name, std::string_view version,
                                            std::string_view key, std::string_view value,
                                            const Audit& audit) {
  return detail::public_call("set_version_tag", [&] {
    const Audit change = impl_->audit(audit);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->metadata->set_version_tag(name, version, key, value, registry_now(), change);
  });
}

bool ModelRegistry::delete_version_tag(std::string_view name, std::string_view version,
                                       std::string_view key, const Audit& audit) {
  return detail::public_call("delete_version_tag", [&] {
    const Audit change = impl_->audit(audit);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->metadata->delete_version_tag(name, version, key, registry_now(), change)
        .has_value();
  });
}

ModelVersion ModelRegistry::set_version_description(std::string_view name, std::string_view version,
                                                    std::string_view description,
                                                    const Audit& audit) {
  return detail::public_call("set_version_description", [&] {
    const Audit change = impl_->audit(audit);
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->metadata->set_version_description(name, version, description, registry_now(),
                                                    change);
  });
}

VersionPage ModelRegistry::search_versions(const VersionQuery& query) const {
  return detail::public_call("search_versions",
                             [&] { return impl_->metadata->search_versions(query); });
}

VersionPage ModelRegistry::search_versions(std::string_view filter, std::string_view order_by,
                                           std::size_t max_results,
                                           std::string_view page_token) const {
  return detail::public_call("search_versions", [&] {
    VersionQuery query;
    query.conditions = parse_version_filter(filter);
    parse_version_order(order_by, query);
    query.max_results = max_results;
    query.page_token = std::string(page_token);
    return impl_->metadata->search_versions(query);
  });
}

ModelPage ModelRegistry::search_models(const ModelQuery& query) const {
  return detail::public_call("search_models",
                             [&] { return impl_->metadata->search_models(query); });
}

ModelPage ModelRegistry::search_models(std::string_view filter, std::string_view order_by,
                                       std::size_t max_results, std::string_view page_token) const {
  return detail::public_call("search_models", [&] {
    ModelQuery query;
    query.conditions = parse_model_filter(filter);
    parse_model_order(order_by, query);
    query.max_results = max_results;
    query.page_token = std::string(page_token);
    return impl_->metadata->search_models(query);
  });
}

std::optional<ModelVersion> ModelRegistry::best_version(std::string_view name,
                                                        std::string_view metric,
                                                        std::optional<ModelStage> stage,
                                                        MetricGoal goal) const {
  return detail::public_call("best_version", [&]() -> std::optional<ModelVersion> {
    validate_model_name(name);
    VersionQuery query;
    query.conditions.push_back(where::model_name(CompareOp::Equal, std::string(name)));
    if (stage) query.conditions.push_back(where::stage(*stage));
    query.order_by = VersionOrderBy::Metric;
    query.order_metric = std::string(metric);
    query.descending = goal == MetricGoal::Maximize;
    query.max_results = 1;
    auto page = impl_->metadata->search_versions(query);
    // Versions without the metric sort last: the first one lacking it means none has it.
    if (page.versions.empty()) return std::nullopt;
    const auto value = page.versions.front().metrics.get(query.order_metric);
    if (!value || *value != *value) return std::nullopt;
    if (goal == MetricGoal::Minimize) {
      // Ascending, ties come earliest first: ask for the latest of those with the best value.
      query.conditions.push_back(where::metric(query.order_metric, CompareOp::Equal, *value));
      query.descending = true;
      auto latest = impl_->metadata->search_versions(query);
      if (!latest.versions.empty()) return std::move(latest.versions.front());
    }
    return std::move(page.versions.front());
  });
}

std::vector<ModelEvent> ModelRegistry::history(std::string_view name) const {
  return detail::public_call("history", [&] {
    EventQuery query;
    query.model_name = std::string(name);
    return impl_->metadata->events(query);
  });
}

std::vector<ModelEvent> ModelRegistry::history(std::string_view name,
                                               std::string_view version) const {
  return detail::public_call("history", [&] {
    EventQuery query;
    query.model_name = std::string(name);
    query.version = std::string(version);
    return impl_->metadata->events(query);
  });
}

std::vector<ModelEvent> ModelRegistry::events_after(std::int64_t sequence,
                                                    std::size_t limit) const {
  return detail::public_call("events_after", [&] {
    if (limit == 0 || limit > kMaxSearchResults) {
      throw InvalidArgumentError(fmt::format("events_after returns 1 to {} events, asked for {}",
                                             kMaxSearchResults, limit));
    }
    EventQuery query;
    query.after_sequence = sequence;
    query.limit = limit;
    return impl_->metadata->events(query);
  });
}

std::int64_t ModelRegistry::latest_event_sequence() const {
  return detail::public_call("latest_event_sequence",
                             [&] { return impl_->metadata->latest_event_sequence(); });
}

std::optional<ModelVersion> ModelRegistry::resolve(const ModelUri& uri) const {
  return detail::public_call("resolve", [&]() -> std::optional<ModelVersion> {
    switch (uri.kind) {
      case ModelUri::Kind::Version:
        return impl_->metadata->get_version(uri.model_name, uri.version);
      case ModelUri::Kind::Alias:
        return impl_->metadata->get_version_by_alias(uri.model_name, uri.alias);
      case ModelUri::Kind::Latest:
        return impl_->metadata->latest_version(uri.model_name);
      case ModelUri::Kind::Stage:
        break;
    }
    if (uri.stage == ModelStage::Production) {
      return impl_->metadata->production_version(uri.model_name);
    }
    // MLflow's meaning of a stage URI: the latest version in that stage.
    VersionQuery query;
    query.conditions = {where::model_name(CompareOp::Equal, uri.model_name),
                        where::stage(uri.stage)};
    query.descending = true;
    query.max_results = 1;
    auto page = impl_->metadata->search_versions(query);
    if (page.versions.empty()) return std::nullopt;
    return std::move(page.versions.front());
  });
}

std::optional<ModelVersion> ModelRegistry::resolve(std::string_view uri) const {
  return detail::public_call("resolve", [&] { return resolve(ModelUri::parse(uri)); });
}

std::optional<Bytes> ModelRegistry::load_artifact(const ModelUri& uri) const {
  return detail::public_call("load_artifact", [&]() -> std::optional<Bytes> {
    auto version = resolve(uri);
    if (!version) return std::nullopt;
    return load_artifact(version->model_name, version->version);
  });
}

std::optional<Bytes> ModelRegistry::load_artifact(std::string_view uri) const {
  return detail::public_call("load_artifact", [&] { return load_artifact(ModelUri::parse(uri)); });
}

bool ModelRegistry::load_artifact(const ModelUri& uri, std::ostream& out) const {
  return detail::public_call("load_artifact", [&] {
    auto version = resolve(uri);
    return version && load_artifact(version->model_name, version->version, out);
  });
}

bool ModelRegistry::load_artifact(const ModelUri& uri,
                                  const std::filesystem::path& destination) const {
  return detail::public_call("load_artifact", [&] {
    auto version = resolve(uri);
    return version && load_artifact(version->model_name, version->version, destination);
  });
}

void ModelRegistry::set_default_actor(std::string actor) {
  detail::public_call("set_default_actor", [&] {
    if (actor.empty()) throw InvalidArgumentError("the default actor must not be empty");
    MetadataStore::validate_audit(Audit{actor, {}});
    std::lock_guard<std::mutex> lock(impl_->actor_mutex);
    impl_->default_actor = std::move(actor);
  });
}

std::string ModelRegistry::default_actor() const {
  std::lock_guard<std::mutex> lock(impl_->actor_mutex);
  return impl_->default_actor;
}

}  // namespace modelreg

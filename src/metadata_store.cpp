#include "modelreg/metadata_store.hpp"

#include <fmt/format.h>

#include <set>
#include <type_traits>

#include "content_rules.hpp"
#include "modelreg/error.hpp"
#include "modelreg/validation.hpp"
#include "owner_lease.hpp"
#include "public_call.hpp"
#include "search_query.hpp"

namespace modelreg {
namespace {

void validate_key(std::string_view model_name, std::string_view version) {
  validate_model_name(model_name);
  validate_version(version);
}

// An enum value cast from an integer outside the enumerators would be stored as a name that no
// reader accepts: refuse it here.
void validate_stage(ModelStage stage) {
  switch (stage) {
    case ModelStage::Development:
    case ModelStage::Staging:
    case ModelStage::Production:
    case ModelStage::Archived:
      return;
  }
  throw InvalidArgumentError(fmt::format("{} is not a ModelStage value",
                                         static_cast<std::underlying_type_t<ModelStage>>(stage)));
}

void validate_framework(ModelFramework framework) {
  switch (framework) {
    case ModelFramework::Sklearn:
    case ModelFramework::PyTorch:
    case ModelFramework::TensorFlow:
    case ModelFramework::Onnx:
    case ModelFramework::Custom:
      return;
  }
  throw InvalidArgumentError(
      fmt::format("{} is not a ModelFramework value",
                  static_cast<std::underlying_type_t<ModelFramework>>(framework)));
}

void validate_owner(std::string_view owner) {
  if (owner.empty()) throw InvalidArgumentError("a reservation owner must not be empty");
}

void validate_tag_key(std::string_view key) {
  validate_tag(key, {});
}

void validate_limit(std::size_t limit) {
  if (limit > kMaxSearchResults) {
    throw InvalidArgumentError(fmt::format("an event query returns at most {} events, asked for {}",
                                           kMaxSearchResults, limit));
  }
}

}  // namespace

WriterLease::WriterLease(std::string owner) : owner_(std::move(owner)) {}
WriterLease::~WriterLease() = default;

CommitNotification::~CommitNotification() = default;

MetadataStore::~MetadataStore() = default;

void MetadataStore::validate_audit(const Audit& audit) {
  if (audit.actor.size() > 255) {
    throw InvalidArgumentError(
        fmt::format("actor is longer than 255 bytes ({} bytes)", audit.actor.size()));
  }
  for (const char c : audit.actor) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      throw InvalidArgumentError("actor contains a control character");
    }
  }
  if (audit.reason.size() > 5000) {
    throw InvalidArgumentError(
        fmt::format("reason is longer than 5000 bytes ({} bytes)", audit.reason.size()));
  }
  if (audit.reason.find('\0') != std::string::npos) {
    throw InvalidArgumentError("reason contains a NUL character");
  }
  detail::require_utf8(audit.actor, "actor");
  detail::require_utf8(audit.reason, "reason");
}

std::unique_ptr<WriterLease> MetadataStore::acquire_writer_lease() {
  return detail::public_call("acquire_writer_lease", [&] { return acquire_writer_lease_impl(); });
}

bool MetadataStore::is_writer_alive(std::string_view owner) const {
  return detail::public_call("is_writer_alive", [&] { return is_writer_alive_impl(owner); });
}

std::unique_ptr<WriterLease> MetadataStore::acquire_writer_lease_impl() {
  return std::make_unique<detail::ProcessLocalLease>();
}

bool MetadataStore::is_writer_alive_impl(std::string_view /*owner*/) const {
  return true;
}

std::unique_ptr<CommitNotification> MetadataStore::notify_on_commit(
    std::function<void(std::int64_t sequence)> wake) const {
  return detail::public_call("notify_on_commit", [&] {
    if (!wake) throw InvalidArgumentError("notify_on_commit needs a callback");
    return notify_on_commit_impl(std::move(wake));
  });
}

std::unique_ptr<CommitNotification> MetadataStore::notify_on_commit_impl(
    std::function<void(std::int64_t)> /*wake*/) const {
  return nullptr;
}

ModelVersion MetadataStore::create_version(const ModelVersion& version, std::string_view owner,
                                           const Audit& audit) {
  return detail::public_call("create_version", [&] {
    validate_key(version.model_name, version.version);
    validate_stage(version.stage);
    validate_framework(version.framework);
    detail::validate_version_content(version);
    validate_audit(audit);
    if (version.stage == ModelStage::Production) {
      throw InvalidArgumentError("a new version cannot start in Production; promote it instead");
    }
    return create_version_impl(version, owner, audit);
  });
}

ModelVersion MetadataStore::publish_version(std::string_view model_name, std::string_view version,
                                            std::string_view owner, const ArtifactInfo& artifact,
                                            Timestamp now, const Audit& audit) {
  return detail::public_call("publish_version", [&] {
    validate_key(model_name, version);
    validate_owner(owner);
    validate_audit(audit);
    return publish_version_impl(model_name, version, owner, artifact, now, audit);
  });
}

void MetadataStore::import_model(const ModelImport& import, std::string_view owner,
                                 const Audit& audit) {
  detail::public_call("import_model", [&] {
    validate_model_name(import.model_name);
    validate_owner(owner);
    validate_audit(audit);
    validate_description(import.description);
    detail::require_utf8(import.description, "model description");
    for (const auto& [key, value] : import.tags) detail::validate_tag_text(key, value);
    std::set<std::string_view> versions;
    std::set<std::string_view> aliases;
    std::size_t production = 0;
    for (const ModelVersion& version : import.versions) {
      if (version.model_name != import.model_name) {
        throw InvalidArgumentError(
            fmt::format("cannot import {} into model {}", version.full_name(), import.model_name));
      }
      validate_key(version.model_name, version.version);
      validate_stage(version.stage);
      validate_framework(version.framework);
      try {
        detail::validate_version_content(version);
      } catch (const InvalidArgumentError& e) {
        throw InvalidArgumentError(fmt::format("{}: {}", version.full_name(), e.what()));
      }
      if (!versions.insert(version.version).second) {
        throw InvalidArgumentError(
            fmt::format("the import has version {} twice", version.full_name()));
      }
      if (version.stage == ModelStage::Production && ++production > 1) {
        throw InvalidArgumentError(fmt::format(
            "the import of model {} has more than one Production version", import.model_name));
      }
      for (const std::string& alias : version.aliases) {
        validate_alias(alias);
        if (!aliases.insert(alias).second) {
          throw InvalidArgumentError(
              fmt::format("the import of model {} has alias '{}' twice", import.model_name, alias));
        }
      }
    }
    for (const ModelEvent& event : import.events) {
      if (event.model_name != import.model_name) {
        throw InvalidArgumentError(fmt::format("cannot import an event of model {} into model {}",
                                               event.model_name, import.model_name));
      }
      validate_audit(Audit{event.actor, event.reason});
      detail::require_utf8(event.version, "event version");
      detail::require_utf8(event.key, "event key");
      if (event.old_value) detail::require_utf8(*event.old_value, "event old value");
      if (event.new_value) detail::require_utf8(*event.new_value, "event new value");
    }
    import_model_impl(import, owner, audit);
  });
}

bool MetadataStore::release_version(std::string_view model_name, std::string_view version,
                                    std::string_view owner, const Audit& audit) {
  return detail::public_call("release_version", [&] {
    validate_key(model_name, version);
    validate_owner(owner);
    validate_audit(audit);
    return release_version_impl(model_name, version, owner, audit);
  });
}

std::optional<ModelVersion> MetadataStore::begin_delete(std::string_view model_name,
                                                        std::string_view version,
                                                        std::string_view owner,
                                                        const Audit& audit) {
  return detail::public_call("begin_delete", [&] {
    validate_key(model_name, version);
    validate_owner(owner);
    validate_audit(audit);
    return begin_delete_impl(model_name, version, owner, audit);
  });
}

bool MetadataStore::cancel_delete(std::string_view model_name, std::string_view version,
                                  std::string_view owner, const Audit& audit) {
  return detail::public_call("cancel_delete", [&] {
    validate_key(model_name, version);
    validate_owner(owner);
    validate_audit(audit);
    return cancel_delete_impl(model_name, version, owner, audit);
  });
}

std::optional<std::vector<ModelVersion>> MetadataStore::begin_delete_model(
    std::string_view model_name, std::string_view owner, Timestamp now, const Audit& audit) {
  return detail::public_call("begin_delete_model", [&] {
    validate_model_name(model_name);
    validate_owner(owner);
    validate_audit(audit);
    return begin_delete_model_impl(model_name, owner, now, audit);
  });
}

std::vector<PendingVersion> MetadataStore::list_pending() const {
  return detail::public_call("list_pending", [&] { return list_pending_impl(); });
}

bool MetadataStore::claim_pending(std::string_view model_name, std::string_view version,
                                  std::string_view expected_owner, std::string_view new_owner) {
  return detail::public_call("claim_pending", [&] {
    validate_key(model_name, version);
    validate_owner(expected_owner);
    validate_owner(new_owner);
    return claim_pending_impl(model_name, version, expected_owner, new_owner);
  });
}

std::optional<ModelVersion> MetadataStore::set_stage(std::string_view model_name,
                                                     std::string_view version, ModelStage stage,
                                                     std::optional<ModelStage> expected,
                                                     Timestamp now, const Audit& audit) {
  return detail::public_call("set_stage", [&] {
    validate_key(model_name, version);
    validate_stage(stage);
    if (expected) validate_stage(*expected);
    validate_audit(audit);
    return set_stage_impl(model_name, version, stage, expected, now, audit);
  });
}

ModelVersion MetadataStore::set_alias(std::string_view model_name, std::string_view alias,
                                      std::string_view version,
                                      const std::optional<std::string>& expected_version,
                                      Timestamp now, const Audit& audit) {
  return detail::public_call("set_alias", [&] {
    validate_key(model_name, version);
    validate_alias(alias);
    if (expected_version && !expected_version->empty()) validate_version(*expected_version);
    validate_audit(audit);
    return set_alias_impl(model_name, alias, version, expected_version, now, audit);
  });
}

bool MetadataStore::delete_alias(std::string_view model_name, std::string_view alias, Timestamp now,
                                 const Audit& audit) {
  return detail::public_call("delete_alias", [&] {
    validate_model_name(model_name);
    validate_alias(alias);
    validate_audit(audit);
    return delete_alias_impl(model_name, alias, now, audit);
  });
}

std::optional<ModelVersion> MetadataStore::get_version_by_alias(std::string_view model_name,
                                                                std::string_view alias) const {
  return detail::public_call("get_version_by_alias", [&] {
    validate_model_name(model_name);
    validate_alias(alias);
    return get_version_by_alias_impl(model_name, alias);
  });
}

void MetadataStore::set_model_tag(std::string_view model_name, std::string_view key,
                                  std::string_view value, Timestamp now, const Audit& audit) {
  detail::public_call("set_model_tag", [&] {
    validate_model_name(model_name);
    detail::validate_tag_text(key, value);
    validate_audit(audit);
    set_model_tag_impl(model_name, key, value, now, audit);
  });
}

bool MetadataStore::delete_model_tag(std::string_view model_name, std::string_view key,
                                     Timestamp now, const Audit& audit) {
  return detail::public_call("delete_model_tag", [&] {
    validate_model_name(model_name);
    validate_tag_key(key);
    validate_audit(audit);
    return set_model_tag_impl(model_name, key, std::nullopt, now, audit);
  });
}

void MetadataStore::set_model_description(std::string_view model_name, std::string_view description,
                                          Timestamp now, const Audit& audit) {
  detail::public_call("set_model_description", [&] {
    validate_model_name(model_name);
    validate_description(description);
    validate_audit(audit);
    set_model_description_impl(model_name, description, now, audit);
  });
}

ModelVersion MetadataStore::set_version_tag(std::string_view model_name, std::string_view version,
                                            std::string_view key, std::string_view value,
                                            Timestamp now, const Audit& audit) {
  return detail::public_call("set_version_tag", [&] {
    validate_key(model_name, version);
    detail::validate_tag_text(key, value);
    validate_audit(audit);
    auto updated = set_version_tag_impl(model_name, version, key, value, now, audit);
    if (!updated) {
      // Only a deletion may answer "nothing there"; a backend that does is broken.
      throw StorageError(fmt::format("setting tag of {}:{} returned nothing", model_name, version));
    }
    return *updated;
  });
}

std::optional<ModelVersion> MetadataStore::delete_version_tag(std::string_view model_name,
                                                              std::string_view version,
                                                              std::string_view key, Timestamp now,
                                                              const Audit& audit) {
  return detail::public_call("delete_version_tag", [&] {
    validate_key(model_name, version);
    validate_tag_key(key);
    validate_audit(audit);
    return set_version_tag_impl(model_name, version, key, std::nullopt, now, audit);
  });
}

ModelVersion MetadataStore::set_version_description(std::string_view model_name,
                                                    std::string_view version,
                                                    std::string_view description, Timestamp now,
                                                    const Audit& audit) {
  return detail::public_call("set_version_description", [&] {
    validate_key(model_name, version);
    validate_description(description);
    validate_audit(audit);
    return set_version_description_impl(model_name, version, description, now, audit);
  });
}

std::optional<ModelVersion> MetadataStore::get_version(std::string_view model_name,
                                                       std::string_view version) const {
  return detail::public_call("get_version", [&] {
    validate_key(model_name, version);
    return get_version_impl(model_name, version);
  });
}

std::optional<ModelVersion> MetadataStore::latest_version(std::string_view model_name) const {
  return detail::public_call("latest_version", [&] {
    validate_model_name(model_name);
    return latest_version_impl(model_name);
  });
}

std::optional<ModelVersion> MetadataStore::production_version(std::string_view model_name) const {
  return detail::public_call("production_version", [&] {
    validate_model_name(model_name);
    return production_version_impl(model_name);
  });
}

std::vector<ModelVersion> MetadataStore::list_versions(std::string_view model_name,
                                                       std::optional<ModelStage> stage) const {
  return detail::public_call("list_versions", [&] {
    validate_model_name(model_name);
    if (stage) validate_stage(*stage);
    return list_versions_impl(model_name, stage);
  });
}

std::optional<RegisteredModel> MetadataStore::get_model(std::string_view model_name) const {
  return detail::public_call("get_model", [&] {
    validate_model_name(model_name);
    return get_model_impl(model_name);
  });
}

std::vector<std::string> MetadataStore::list_models() const {
  return detail::public_call("list_models", [&] { return list_models_impl(); });
}

VersionPage MetadataStore::search_versions(const VersionQuery& query) const {
  return detail::public_call("search_versions", [&] {
    detail::validate_query(query);
    return search_versions_impl(query);
  });
}

ModelPage MetadataStore::search_models(const ModelQuery& query) const {
  return detail::public_call("search_models", [&] {
    detail::validate_query(query);
    return search_models_impl(query);
  });
}

std::vector<ModelEvent> MetadataStore::events(const EventQuery& query) const {
  return detail::public_call("events", [&] {
    if (query.model_name) validate_model_name(*query.model_name);
    if (query.version) {
      if (!query.model_name) {
        throw InvalidArgumentError("an event query for a version needs the model name");
      }
      validate_version(*query.version);
    }
    if (query.after_sequence < 0) {
      throw InvalidArgumentError(
          fmt::format("event sequence {} is negative", query.after_sequence));
    }
    validate_limit(query.limit);
    return events_impl(query);
  });
}

std::int64_t MetadataStore::latest_event_sequence() const {
  return detail::public_call("latest_event_sequence", [&] { return latest_event_sequence_impl(); });
}

}  // namespace modelreg

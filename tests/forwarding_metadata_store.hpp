#pragma once

// A MetadataStore that hands every call to another one: tests derive from it and override the
// operations they want to fail, delay or observe (each override may call the forwarding one).

#include <memory>
#include <utility>

#include "modelreg/metadata_store.hpp"

namespace modelreg::testing {

class ForwardingMetadataStore : public MetadataStore {
 public:
  explicit ForwardingMetadataStore(std::shared_ptr<MetadataStore> inner)
      : inner_(std::move(inner)) {}

  MetadataStore& inner() const { return *inner_; }

 protected:
  // Runs first in every forwarded call, with the operation's name (e.g. "create_version"):
  // a place to fail, delay or count calls without overriding each one.
  virtual void before(const char* /*operation*/) const {}

  std::unique_ptr<WriterLease> acquire_writer_lease_impl() override {
    before("acquire_writer_lease");
    return inner_->acquire_writer_lease();
  }
  bool is_writer_alive_impl(std::string_view owner) const override {
    before("is_writer_alive");
    return inner_->is_writer_alive(owner);
  }
  std::unique_ptr<CommitNotification> notify_on_commit_impl(
      std::function<void(std::int64_t)> wake) const override {
    before("notify_on_commit");
    return inner_->notify_on_commit(std::move(wake));
  }
  ModelVersion create_version_impl(const ModelVersion& v, std::string_view owner,
                                   const Audit& audit) override {
    before("create_version");
    return inner_->create_version(v, owner, audit);
  }
  ModelVersion publish_version_impl(std::string_view name, std::string_view version,
                                    std::string_view owner, const ArtifactInfo& artifact,
                                    Timestamp now, const Audit& audit) override {
    before("publish_version");
    return inner_->publish_version(name, version, owner, artifact, now, audit);
  }
  bool release_version_impl(std::string_view name, std::string_view version, std::string_view owner,
                            const Audit& audit) override {
    before("release_version");
    return inner_->release_version(name, version, owner, audit);
  }
  std::optional<ModelVersion> begin_delete_impl(std::string_view name, std::string_view version,
                                                std::string_view owner,
                                                const Audit& audit) override {
    before("begin_delete");
    return inner_->begin_delete(name, version, owner, audit);
  }
  bool cancel_delete_impl(std::string_view name, std::string_view version, std::string_view owner,
                          const Audit& audit) override {
    before("cancel_delete");
    return inner_->cancel_delete(name, version, owner, audit);
  }
  std::optional<std::vector<ModelVersion>> begin_delete_model_impl(std::string_view name,
                                                                   std::string_view owner,
                                                                   Timestamp now,
                                                                   const Audit& audit) override {
    before("begin_delete_model");
    return inner_->begin_delete_model(name, owner, now, audit);
  }
  void import_model_impl(const ModelImport& import, std::string_view owner,
                         const Audit& audit) override {
    before("import_model");
    inner_->import_model(import, owner, audit);
  }
  std::vector<PendingVersion> list_pending_impl() const override {
    before("list_pending");
    return inner_->list_pending();
  }
  bool claim_pending_impl(std::string_view name, std::string_view version,
                          std::string_view expected_owner, std::string_view new_owner) override {
    before("claim_pending");
    return inner_->claim_pending(name, version, expected_owner, new_owner);
  }
  std::optional<ModelVersion> set_stage_impl(std::string_view name, std::string_view version,
                                             ModelStage stage, std::optional<ModelStage> expected,
                                             Timestamp now, const Audit& audit) override {
    before("set_stage");
    return inner_->set_stage(name, version, stage, expected, now, audit);
  }
  ModelVersion set_alias_impl(std::string_view name, std::string_view alias,
                              std::string_view version,
                              const std::optional<std::string>& expected_version, Timestamp now,
                              const Audit& audit) override {
    before("set_alias");
    return inner_->set_alias(name, alias, version, expected_version, now, audit);
  }
  bool delete_alias_impl(std::string_view name, std::string_view alias, Timestamp now,
                         const Audit& audit) override {
    before("delete_alias");
    return inner_->delete_alias(name, alias, now, audit);
  }
  std::optional<ModelVersion> get_version_by_alias_impl(std::string_view name,
                                                        std::string_view alias) const override {
    before("get_version_by_alias");
    return inner_->get_version_by_alias(name, alias);
  }
  bool set_model_tag_impl(std::string_view name, std::string_view key,
                          const std::optional<std::string_view>& value, Timestamp now,
                          const Audit& audit) override {
    before("set_model_tag");
    if (value) {
      inner_->set_model_tag(name, key, *value, now, audit);
      return true;
    }
    return inner_->delete_model_tag(name, key, now, audit);
  }
  void set_model_description_impl(std::string_view name, std::string_view description,
                                  Timestamp now, const Audit& audit) override {
    before("set_model_description");
    inner_->set_model_description(name, description, now, audit);
  }
  std::optional<ModelVersion> set_version_tag_impl(std::string_view name, std::string_view version,
                                                   std::string_view key,
                                                   const std::optional<std::string_view>& value,
                                                   Timestamp now, const Audit& audit) override {
    before("set_version_tag");
    if (value) return inner_->set_version_tag(name, version, key, *value, now, audit);
    return inner_->delete_version_tag(name, version, key, now, audit);
  }
  ModelVersion set_version_description_impl(std::string_view name, std::string_view version,
                                            std::string_view description, Timestamp now,
                                            const Audit& audit) override {
    before("set_version_description");
    return inner_->set_version_description(name, version, description, now, audit);
  }
  std::optional<ModelVersion> get_version_impl(std::string_view name,
                                               std::string_view version) const override {
    before("get_version");
    return inner_->get_version(name, version);
  }
  std::optional<ModelVersion> latest_version_impl(std::string_view name) const override {
    before("latest_version");
    return inner_->latest_version(name);
  }
  std::optional<ModelVersion> production_version_impl(std::string_view name) const override {
    before("production_version");
    return inner_->production_version(name);
  }
  std::vector<ModelVersion> list_versions_impl(std::string_view name,
                                               std::optional<ModelStage> stage) const override {
    before("list_versions");
    return inner_->list_versions(name, stage);
  }
  std::optional<RegisteredModel> get_model_impl(std::string_view name) const override {
    before("get_model");
    return inner_->get_model(name);
  }
  std::vector<std::string> list_models_impl() const override {
    before("list_models");
    return inner_->list_models();
  }
  VersionPage search_versions_impl(const VersionQuery& query) const override {
    before("search_versions");
    return inner_->search_versions(query);
  }
  ModelPage search_models_impl(const ModelQuery& query) const override {
    before("search_models");
    return inner_->search_models(query);
  }
  std::vector<ModelEvent> events_impl(const EventQuery& query) const override {
    before("events");
    return inner_->events(query);
  }
  std::int64_t latest_event_sequence_impl() const override {
    before("latest_event_sequence");
    return inner_->latest_event_sequence();
  }

 private:
  std::shared_ptr<MetadataStore> inner_;
};

}  // namespace modelreg::testing

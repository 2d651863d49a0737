#pragma once

#include <memory>
#include <shared_mutex>
#include <string>

#include "modelreg/metadata_store.hpp"

namespace modelreg {
namespace detail {
class LiveOwners;
}

// Keeps the catalog in memory (the seed's behaviour): fast, thread-safe, gone when the process
// exits. Readers share a lock; each mutation takes it exclusively, so every method is atomic.
class InMemoryMetadataStore final : public MetadataStore {
 public:
  InMemoryMetadataStore();
  ~InMemoryMetadataStore() override;

  struct State;  // internal

 private:
  // A writer is alive while its lease is held: the reservations of a registry destroyed midway
  // are recovered by another registry on this catalog (an owner never issued is not alive).
  std::unique_ptr<WriterLease> acquire_writer_lease_impl() override;
  bool is_writer_alive_impl(std::string_view owner) const override;
  ModelVersion create_version_impl(const ModelVersion& version, std::string_view owner,
                                   const Audit& audit) override;
  ModelVersion publish_version_impl(std::string_view model_name, std::string_view version,
                                    std::string_view owner, const ArtifactInfo& artifact,
                                    Timestamp now, const Audit& audit) override;
  bool release_version_impl(std::string_view model_name, std::string_view version,
                            std::string_view owner, const Audit& audit) override;
  std::optional<ModelVersion> begin_delete_impl(std::string_view model_name,
                                                std::string_view version, std::string_view owner,
                                                const Audit& audit) override;
  bool cancel_delete_impl(std::string_view model_name, std::string_view version,
                          std::string_view owner, const Audit& audit) override;
  std::optional<std::vector<ModelVersion>> begin_delete_model_impl(std::string_view model_name,
                                                                   std::string_view owner,
                                                                   Timestamp now,
                                                                   const Audit& audit) override;
  void import_model_impl(const ModelImport& import, std::string_view owner,
                         const Audit& audit) override;
  std::vector<PendingVersion> list_pending_impl() const override;
  bool claim_pending_impl(std::string_view model_name, std::string_view version,
                          std::string_view expected_owner, std::string_view new_owner) override;
  std::optional<ModelVersion> set_stage_impl(std::string_view model_name, std::string_view version,
                                             ModelStage stage, std::optional<ModelStage> expected,
                                             Timestamp now, const Audit& audit) override;
  ModelVersion set_alias_impl(std::string_view model_name, std::string_view alias,
                              std::string_view version,
                              const std::optional<std::string>& expected_version, Timestamp now,
                              const Audit& audit) override;
  bool delete_alias_impl(std::string_view model_name, std::string_view alias, Timestamp now,
                         const Audit& audit) override;
  std::optional<ModelVersion> get_version_by_alias_impl(std::string_view model_name,
                                                        std::string_view alias) const override;
  bool set_model_tag_impl(std::string_view model_name, std::string_view key,
                          const std::optional<std::string_view>& value, Timestamp now,
                          const Audit& audit) override;
  void set_model_description_impl(std::string_view model_name, std::string_view description,
                                  Timestamp now, const Audit& audit) override;
  std::optional<ModelVersion> set_version_tag_impl(std::string_view model_name,
                                                   std::string_view version, std::string_view key,
                                                   const std::optional<std::string_view>& value,
                                                   Timestamp now, const Audit& audit) override;
  ModelVersion set_version_description_impl(std::string_view model_name, std::string_view version,
                                            std::string_view description, Timestamp now,
                                            const Audit& audit) override;
  std::optional<ModelVersion> get_version_impl(std::string_view model_name,
                                               std::string_view version) const override;
  std::optional<ModelVersion> latest_version_impl(std::string_view model_name) const override;
  std::optional<ModelVersion> production_version_impl(std::string_view model_name) const override;
  std::vector<ModelVersion> list_versions_impl(std::string_view model_name,
                                               std::optional<ModelStage> stage) const override;
  std::optional<RegisteredModel> get_model_impl(std::string_view model_name) const override;
  std::vector<std::string> list_models_impl() const override;
  VersionPage search_versions_impl(const VersionQuery& query) const override;
  ModelPage search_models_impl(const ModelQuery& query) const override;
  std::vector<ModelEvent> events_impl(const EventQuery& query) const override;
  std::int64_t latest_event_sequence_impl() const override;

  mutable std::shared_mutex mutex_;
  std::unique_ptr<State> state_;
  std::shared_ptr<detail::LiveOwners> writers_;
};

}  // namespace modelreg

#pragma once

// The catalog operations of the SQL backends, written once over Connection (sql_connection.hpp)
// and the statements of sql_statements.hpp: SqliteMetadataStore and PostgresMetadataStore each
// supply an SqlDatabase (connections, transactions, retries) and forward their MetadataStore
// hooks to an SqlCatalog. Each method's contract is the MetadataStore method of the same name.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "modelreg/metadata_store.hpp"
#include "sql/sql_connection.hpp"

namespace modelreg::detail {

// A non-owning reference to a callable, for the transaction hooks below.
template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f) noexcept  // NOLINT(google-explicit-constructor): a parameter type
      : object_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* o, Args... a) {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(a)...);
        }) {}
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

// How a SQL backend runs an operation: `body` may run more than once (a retried transaction),
// and only its last run counts.
class SqlDatabase {
 public:
  virtual ~SqlDatabase() = default;

  // One write transaction. `durable` false: the commit need not be flushed before returning (a
  // reservation, which the publishing commit makes durable).
  virtual void run_write(std::string_view operation, FunctionRef<void(Connection&)> body,
                         bool durable) = 0;
  // A read; with `snapshot`, every statement of `body` sees one snapshot, otherwise `body` is
  // one statement.
  virtual void run_read(std::string_view operation, FunctionRef<void(Connection&)> body,
                        bool snapshot) const = 0;

  // A lookup of one version (by number, in Production, the latest, by alias): `load` reads it as
  // one statement. `key` tells this lookup from every other of the same database (kind, model
  // and version or alias), so that a backend may answer from results it knows to be current
  // (SqliteDatabase: those read since the last commit of any connection). The default reads.
  virtual std::optional<ModelVersion> run_lookup(
      std::string_view operation, std::string_view key,
      FunctionRef<std::optional<ModelVersion>(Connection&)> load) const;

  template <typename Body>
  auto write(std::string_view operation, Body&& body, bool durable = true) {
    return run(body, [&](FunctionRef<void(Connection&)> f) { run_write(operation, f, durable); });
  }
  template <typename Body>
  auto read(std::string_view operation, Body&& body, bool snapshot = false) const {
    return run(body, [&](FunctionRef<void(Connection&)> f) { run_read(operation, f, snapshot); });
  }

 private:
  template <typename Body, typename Runner>
  static auto run(Body& body, Runner&& runner) {
    using Result = decltype(body(std::declval<Connection&>()));
    if constexpr (std::is_void_v<Result>) {
      runner([&](Connection& connection) { body(connection); });
    } else {
      std::optional<Result> result;
      runner([&](Connection& connection) { result.emplace(body(connection)); });
      return std::move(*result);
    }
  }
};

inline std::optional<ModelVersion> SqlDatabase::run_lookup(
    std::string_view operation, std::string_view /*key*/,
    FunctionRef<std::optional<ModelVersion>(Connection&)> load) const {
  return read(operation, [&](Connection& connection) { return load(connection); });
}

// The operations. Thread-safe as its SqlDatabase is.
class SqlCatalog {
 public:
  SqlCatalog(SqlDatabase& database, SqlDialect dialect) : db_(database), dialect_(dialect) {}

  ModelVersion create_version(const ModelVersion& version, std::string_view owner,
                              const Audit& audit);
  ModelVersion publish_version(std::string_view model_name, std::string_view version,
                               std::string_view owner, const ArtifactInfo& artifact, Timestamp now,
                               const Audit& audit);
  bool release_version(std::string_view model_name, std::string_view version,
                       std::string_view owner, const Audit& audit);
  std::optional<ModelVersion> begin_delete(std::string_view model_name, std::string_view version,
                                           std::string_view owner, const Audit& audit);
  bool cancel_delete(std::string_view model_name, std::string_view version, std::string_view owner,
                     const Audit& audit);
  std::optional<std::vector<ModelVersion>> begin_delete_model(std::string_view model_name,
                                                              std::string_view owner, Timestamp now,
                                                              const Audit& audit);
  void import_model(const ModelImport& import, std::string_view owner, const Audit& audit);
  std::vector<PendingVersion> list_pending() const;
  bool claim_pending(std::string_view model_name, std::string_view version,
                     std::string_view expected_owner, std::string_view new_owner);
  std::optional<ModelVersion> set_stage(std::string_view model_name, std::string_view version,
                                        ModelStage stage, std::optional<ModelStage> expected,
                                        Timestamp now, const Audit& audit);

  ModelVersion set_alias(std::string_view model_name, std::string_view alias,
                         std::string_view version,
                         const std::optional<std::string>& expected_version, Timestamp now,
                         const Audit& audit);
  bool delete_alias(std::string_view model_name, std::string_view alias, Timestamp now,
                    const Audit& audit);
  std::optional<ModelVersion> get_version_by_alias(std::string_view model_name,
                                                   std::string_view alias) const;
  bool set_model_tag(std::string_view model_name, std::string_view key,
                     const std::optional<std::string_view>& value, Timestamp now,
                     const Audit& audit);
  void set_model_description(std::string_view model_name, std::string_view description,
                             Timestamp now, const Audit& audit);
  std::optional<ModelVersion> set_version_tag(std::string_view model_name, std::string_view version,
                                              std::string_view key,
                                              const std::optional<std::string_view>& value,
                                              Timestamp now, const Audit& audit);
  ModelVersion set_version_description(std::string_view model_name, std::string_view version,
                                       std::string_view description, Timestamp now,
                                       const Audit& audit);

  std::optional<ModelVersion> get_version(std::string_view model_name,
                                          std::string_view version) const;
  std::optional<ModelVersion> latest_version(std::string_view model_name) const;
  std::optional<ModelVersion> production_version(std::string_view model_name) const;
  std::vector<ModelVersion> list_versions(std::string_view model_name,
                                          std::optional<ModelStage> stage) const;
  std::optional<RegisteredModel> get_model(std::string_view model_name) const;
  std::vector<std::string> list_models() const;
  VersionPage search_versions(const VersionQuery& query) const;
  ModelPage search_models(const ModelQuery& query) const;
  std::vector<ModelEvent> events(const EventQuery& query) const;
  // The newest event's sequence, read from the table (0 if none).
  std::int64_t latest_event_sequence() const;

  SqlDatabase& database() const { return db_; }

 private:
  SqlDatabase& db_;
  SqlDialect dialect_;
};

}  // namespace modelreg::detail

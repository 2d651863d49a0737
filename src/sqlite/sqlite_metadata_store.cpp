// SqliteMetadataStore: opening, writer leases and the history. The operations live in files of
// their own: sqlite_versions.cpp (registration, deletion, stages), sqlite_lookups.cpp,
// sqlite_aliases_tags.cpp and sqlite_search.cpp; the schema in sqlite_schema.cpp, the
// connections in sqlite_database.cpp.

#include "modelreg/sqlite_metadata_store.hpp"

#include "owner_lease.hpp"
#include "public_call.hpp"
#include "sqlite/sqlite_rows.hpp"
#include "sqlite/sqlite_store_impl.hpp"

namespace modelreg {

using detail::Connection;
using detail::use;

// The constructor is a public boundary too: a refused file is logged like any other error.
SqliteMetadataStore::SqliteMetadataStore(const std::filesystem::path& path, SqliteOptions options)
    : impl_(detail::public_call("SqliteMetadataStore::open",
                                [&] { return std::make_unique<Impl>(path, options); })) {}

SqliteMetadataStore::~SqliteMetadataStore() = default;

const std::filesystem::path& SqliteMetadataStore::path() const {
  return impl_->path();
}

const std::filesystem::path& SqliteMetadataStore::lock_directory() const {
  return impl_->lock_directory();
}

std::unique_ptr<WriterLease> SqliteMetadataStore::acquire_writer_lease_impl() {
  return std::make_unique<detail::FileLockLease>(impl_->lock_directory());
}

bool SqliteMetadataStore::is_writer_alive_impl(std::string_view owner) const {
  return detail::FileLockLease::is_alive(impl_->lock_directory(), owner);
}

std::vector<ModelEvent> SqliteMetadataStore::events_impl(const EventQuery& query) const {
  const detail::Sql sql = !query.model_name ? detail::kEventsAll
                          : query.version   ? detail::kEventsOfVersion
                                            : detail::kEventsOfModel;
  return impl_->read("events", [&](Connection& connection) {
    auto rows = use(connection, sql);
    rows->bind(1, query.after_sequence);
    if (query.model_name) rows->bind(2, *query.model_name);
    if (query.version) rows->bind(3, *query.version);
    rows->bind(4, query.limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(query.limit));
    std::vector<ModelEvent> events;
    while (rows->step()) events.push_back(detail::read_event(*rows, connection.path()));
    return events;
  });
}

std::int64_t SqliteMetadataStore::latest_event_sequence_impl() const {
  return impl_->latest_event_sequence();
}

}  // namespace modelreg

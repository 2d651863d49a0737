// InMemoryMetadataStore: search and history. Conditions are evaluated with detail::matches,
// the reference meaning of every condition that the SQL backends are tested against.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "in_memory_state.hpp"
#include "modelreg/in_memory_metadata_store.hpp"
#include "search_query.hpp"

namespace modelreg {

using detail::Model;
using detail::ModelState;
using detail::PagePosition;
using detail::Row;

namespace {

std::int64_t nanos(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Where a version stands in a query's order.
PagePosition position_of(const VersionQuery& query, const Row& row) {
  PagePosition position;
  position.tie = row.reg;
  switch (query.order_by) {
    case VersionOrderBy::CreatedAt:
      position.time = nanos(row.version.created_at);
      break;
    case VersionOrderBy::UpdatedAt:
      position.time = nanos(row.version.updated_at);
      break;
    case VersionOrderBy::Metric:
      if (auto value = row.version.metrics.get(query.order_metric); value && !std::isnan(*value)) {
        position.metric = *value;
      }
      break;
  }
  return position;
}

// Whether `a` comes before `b` in the order of `query` (a strict total order: `tie` is unique;
// ties go in the query's direction).
bool before(const VersionQuery& query, const PagePosition& a, const PagePosition& b) {
  if (query.order_by == VersionOrderBy::Metric) {
    if (a.metric.has_value() != b.metric.has_value()) return a.metric.has_value();  // nulls last
    if (a.metric && *a.metric != *b.metric) {
      return query.descending ? *a.metric > *b.metric : *a.metric < *b.metric;
    }
  } else if (a.time != b.time) {
    return query.descending ? a.time > b.time : a.time < b.time;
  }
  return query.descending ? a.tie > b.tie : a.tie < b.tie;
}

PagePosition position_of(const ModelQuery& query, const Model& model) {
  PagePosition position;
  position.name = model.info.name;
  if (query.order_by == ModelOrderBy::CreatedAt) position.time = nanos(model.info.created_at);
  return position;
}

bool before(const ModelQuery& query, const PagePosition& a, const PagePosition& b) {
  if (query.order_by == ModelOrderBy::CreatedAt && a.time != b.time) {
    return query.descending ? a.time > b.time : a.time < b.time;
  }
  return query.descending ? a.name > b.name : a.name < b.name;
}

// The name a query is limited to, if one of its conditions is `name = '...'`.
const std::string* only_model(const std::vector<SearchCondition>& conditions) {
  for (const auto& condition : conditions) {
    if (condition.field == SearchField::ModelName && condition.op == CompareOp::Equal) {
      return &condition.text;
    }
  }
  return nullptr;
}

// Sorts `items` (pairs of position and result) in the query's order, drops those at or before
// the page token's position, and returns one page of results with the next token.
template <class Query, class Result>
void paginate(const Query& query, std::vector<std::pair<PagePosition, Result>> items,
              std::vector<Result>& out, std::string& next_token) {
  const auto after = detail::decode_page_token(query);
  auto order = [&](const auto& a, const auto& b) { return before(query, a.first, b.first); };
  if (after) {
    items.erase(
        std::remove_if(items.begin(), items.end(),
                       [&](const auto& item) { return !before(query, *after, item.first); }),
        items.end());
  }
  const std::size_t page = std::min(items.size(), query.max_results);
  std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(page), items.end(),
                    order);
  for (std::size_t i = 0; i < page; ++i) out.push_back(std::move(items[i].second));
  if (items.size() > page) next_token = detail::encode_page_token(query, items[page - 1].first);
}

}  // namespace

VersionPage InMemoryMetadataStore::search_versions_impl(const VersionQuery& query) const {
  std::shared_lock lock(mutex_);
  std::vector<std::pair<PagePosition, ModelVersion>> items;
  auto consider = [&](const Model& model) {
    if (model.state != ModelState::Visible) return;
    for (const auto& [seq, version] : model.visible_by_seq) {
      const Row& row = model.rows.find(version)->second;
      const bool all = std::all_of(query.conditions.begin(), query.conditions.end(),
                                   [&](const SearchCondition& condition) {
                                     return detail::matches(condition, row.version);
                                   });
      if (all) items.emplace_back(position_of(query, row), row.version);
    }
  };
  if (const std::string* name = only_model(query.conditions)) {
    if (const Model* model = state_->find_model(*name)) consider(*model);
  } else {
    for (const auto& entry : state_->models) consider(entry.second);
  }
  VersionPage page;
  paginate(query, std::move(items), page.versions, page.next_page_token);
  return page;
}

ModelPage InMemoryMetadataStore::search_models_impl(const ModelQuery& query) const {
  std::shared_lock lock(mutex_);
  std::vector<std::pair<PagePosition, RegisteredModel>> items;
  for (const auto& entry : state_->models) {
    const auto& model = entry.second;  // no structured binding: clang < 16 cannot capture one
    if (model.state != ModelState::Visible) continue;
    // Model conditions look at the name and tags only, which `info` holds.
    const bool all = std::all_of(
        query.conditions.begin(), query.conditions.end(),
        [&](const SearchCondition& condition) { return detail::matches(condition, model.info); });
    if (all) items.emplace_back(position_of(query, model), state_->snapshot(model));
  }
  ModelPage page;
  paginate(query, std::move(items), page.models, page.next_page_token);
  return page;
}

std::vector<ModelEvent> InMemoryMetadataStore::events_impl(const EventQuery& query) const {
  std::shared_lock lock(mutex_);
  std::vector<ModelEvent> result;
  const auto& events = state_->events;
  for (auto i = static_cast<std::size_t>(
           std::min<std::int64_t>(query.after_sequence, static_cast<std::int64_t>(events.size())));
       i < events.size(); ++i) {
    const ModelEvent& event = events[i];
    if (query.model_name && event.model_name != *query.model_name) continue;
    if (query.version && event.version != *query.version) continue;
    result.push_back(event);
    if (query.limit != 0 && result.size() == query.limit) break;
  }
  return result;
}

std::int64_t InMemoryMetadataStore::latest_event_sequence_impl() const {
  std::shared_lock lock(mutex_);
  return static_cast<std::int64_t>(state_->events.size());
}

}  // namespace modelreg

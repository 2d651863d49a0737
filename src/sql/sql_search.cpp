// SqlCatalog: searches. A query becomes one SELECT whose conditions mean exactly what
// detail::matches says (the conformance suite compares the two on random queries), with keyset
// pagination on (sort key, registration order).
//
// The plan: a tag equality or a metric comparison is usually the most selective condition, so
// the query is driven from that condition's index (the key of version_tags, or
// version_metrics_by_value) with CROSS JOIN, which makes SQLite keep the order of the tables as
// written; the matching rows are read, not every version of the model. Without one, SQLite chooses
// (through the model name when it is given). Stage and framework names come from the enums, so they
// go into the text as literals: a bound stage would make SQLite re-plan the statement on every use
// to decide whether the partial index versions_one_production applies.

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include "search_query.hpp"
#include "sql/sql_catalog.hpp"
#include "sql/sql_rows.hpp"
#include "sql/sql_statements.hpp"

namespace modelreg {

using detail::Connection;
using detail::PagePosition;

namespace {

// SQL text with numbered parameters and their values, bound in one go.
class SqlText {
 public:
  using Value = std::variant<std::int64_t, double, std::string>;

  SqlText& operator<<(std::string_view text) {
    sql_ += text;
    return *this;
  }
  // Appends a parameter placeholder for `value`. Each type is emplaced in place: moving a
  // variant temporary into the vector makes GCC 12 warn falsely (-Wmaybe-uninitialized) at -O2.
  SqlText& param(std::int64_t value) { return placeholder(values_.emplace_back(value)); }
  SqlText& param(double value) { return placeholder(values_.emplace_back(value)); }
  SqlText& param(std::string value) {
    return placeholder(values_.emplace_back(std::in_place_type<std::string>, std::move(value)));
  }

  const std::string& sql() const { return sql_; }

  void bind(detail::Statement& statement) const {
    for (std::size_t i = 0; i < values_.size(); ++i) {
      const int index = static_cast<int>(i + 1);
      std::visit([&](const auto& value) { statement.bind(index, value); }, values_[i]);
    }
  }

 private:
  SqlText& placeholder(const Value&) {
    sql_ += fmt::format("?{}", values_.size());
    return *this;
  }

  std::string sql_;
  std::vector<Value> values_;
};

std::string_view comparison(CompareOp op) {
  switch (op) {
    case CompareOp::Equal:
      return " = ";
    case CompareOp::NotEqual:
      return " <> ";
    case CompareOp::Less:
      return " < ";
    case CompareOp::LessEqual:
      return " <= ";
    case CompareOp::Greater:
      return " > ";
    case CompareOp::GreaterEqual:
      return " >= ";
    case CompareOp::Like:
    case CompareOp::ILike:
      break;
  }
  return " = ";  // LIKE and ILIKE go through text_condition
}

// `column op value` for text: exact comparisons in SQL, patterns through modelreg_like.
void text_condition(SqlText& sql, std::string_view column, CompareOp op, const std::string& value) {
  if (op == CompareOp::Like || op == CompareOp::ILike) {
    sql << "modelreg_like(";
    sql.param(value) << ", " << column << (op == CompareOp::ILike ? ", 1)" : ", 0)");
    return;
  }
  sql << column << comparison(op);
  sql.param(value);
}

// A literal of one of our own enum names (letters only), safe to put into the text.
std::string literal(std::string_view name) {
  return fmt::format("'{}'", name);
}

// Whether `condition` can drive the query from an index.
bool drives(const SearchCondition& condition) {
  if (condition.field == SearchField::Tag) return condition.op == CompareOp::Equal;
  if (condition.field == SearchField::Metric) return condition.op != CompareOp::NotEqual;
  return false;
}

const SearchCondition* driving_condition(const std::vector<SearchCondition>& conditions) {
  for (const auto& c : conditions) {
    if (c.field == SearchField::Tag && drives(c)) return &c;
  }
  for (const auto& c : conditions) {
    if (c.field == SearchField::Metric && drives(c)) return &c;
  }
  return nullptr;
}

void version_condition(SqlText& sql, const SearchCondition& c, detail::SqlDialect dialect) {
  sql << " AND ";
  switch (c.field) {
    case SearchField::ModelName:
      text_condition(sql, "m.name", c.op, c.text);
      return;
    case SearchField::Version:
      text_condition(sql, "v.version", c.op, c.text);
      return;
    case SearchField::Stage:
      sql << "v.stage" << comparison(c.op) << literal(to_string(c.stage));
      return;
    case SearchField::Framework:
      sql << "v.framework" << comparison(c.op) << literal(to_string(c.framework));
      return;
    case SearchField::Alias:
      sql << "EXISTS (SELECT 1 FROM aliases a WHERE a.version_id = v.id AND a.alias = ";
      sql.param(c.text) << ")";
      return;
    case SearchField::Tag:
      // SQLite's version_tags is keyed by value, not by version: a condition that does not
      // drive the search reads the version's own tags column. PostgreSQL's is also indexed by
      // version.
      if (dialect == detail::SqlDialect::Sqlite) {
        sql << "EXISTS (SELECT 1 FROM json_each(v.tags) t WHERE t.key = ";
      } else {
        sql << "EXISTS (SELECT 1 FROM version_tags t WHERE t.version_id = v.id AND t.key = ";
      }
      sql.param(c.key) << " AND ";
      text_condition(sql, "t.value", c.op, c.text);
      sql << ")";
      return;
    case SearchField::Metric:
      sql << "EXISTS (SELECT 1 FROM version_metrics x WHERE x.version_id = v.id AND x.name = ";
      sql.param(c.key) << " AND x.value" << comparison(c.op);
      sql.param(c.number) << ")";
      return;
    case SearchField::CreatedAt:
      sql << "v.created_at" << comparison(c.op);
      sql.param(detail::to_nanos(c.time));
      return;
    case SearchField::UpdatedAt:
      sql << "v.updated_at" << comparison(c.op);
      sql.param(detail::to_nanos(c.time));
      return;
  }
}

// The statement of a version query; the sort key is the column after the version's columns
// and its registration order.
SqlText version_sql(const VersionQuery& query, const std::optional<PagePosition>& after,
                    detail::SqlDialect dialect) {
  SqlText sql;
  const bool by_metric = query.order_by == VersionOrderBy::Metric;
  const std::string key = by_metric                                     ? "o.value"
                          : query.order_by == VersionOrderBy::UpdatedAt ? "v.updated_at"
                                                                        : "v.created_at";
  sql << "SELECT " MODELREG_VERSION_COLUMNS ", v.reg, " << key;
  const SearchCondition* drive = driving_condition(query.conditions);
  if (drive != nullptr && drive->field == SearchField::Tag) {
    sql << " FROM version_tags d CROSS JOIN versions v CROSS JOIN models m";
  } else if (drive != nullptr) {
    sql << " FROM version_metrics d CROSS JOIN versions v CROSS JOIN models m";
  } else {
    sql << " FROM models m JOIN versions v ON v.model_id = m.id";
  }
  if (by_metric) {
    sql << " LEFT JOIN version_metrics o ON o.version_id = v.id AND o.name = ";
    sql.param(query.order_metric);
  }
  sql << " WHERE v.state = 'visible'";
  if (drive != nullptr) {
    sql << " AND v.id = d.version_id AND m.id = v.model_id";
    if (drive->field == SearchField::Tag) {
      sql << " AND d.key = ";
      sql.param(drive->key) << " AND d.value = ";
      sql.param(drive->text);
    } else {
      sql << " AND d.name = ";
      sql.param(drive->key) << " AND d.value" << comparison(drive->op);
      sql.param(drive->number);
    }
  }
  for (const auto& condition : query.conditions) {
    if (&condition != drive) version_condition(sql, condition, dialect);
  }
  const std::string_view direction = query.descending ? " DESC" : " ASC";
  const std::string_view beyond = query.descending ? " < " : " > ";
  // Ties go in the query's direction too.
  if (after) {
    if (!by_metric) {
      sql << " AND (" << key << beyond;
      sql.param(after->time) << " OR (" << key << " = ";
      sql.param(after->time) << " AND v.reg" << beyond;
      sql.param(after->tie) << "))";
    } else if (after->metric) {
      // Versions without the metric come after every version that has it.
      sql << " AND (o.value" << beyond;
      sql.param(*after->metric) << " OR (o.value = ";
      sql.param(*after->metric) << " AND v.reg" << beyond;
      sql.param(after->tie) << ") OR o.value IS NULL)";
    } else {
      sql << " AND o.value IS NULL AND v.reg" << beyond;
      sql.param(after->tie);
    }
  }
  if (by_metric) {
    sql << " ORDER BY (o.value IS NULL), o.value" << direction << ", v.reg" << direction;
  } else {
    sql << " ORDER BY " << key << direction << ", v.reg" << direction;
  }
  sql << " LIMIT ";
  sql.param(static_cast<std::int64_t>(query.max_results) + 1);
  return sql;
}

SqlText model_sql(const ModelQuery& query, const std::optional<PagePosition>& after) {
  SqlText sql;
  sql << "SELECT m.name, m.created_at FROM models m WHERE m.state = 'visible'";
  for (const auto& c : query.conditions) {
    sql << " AND ";
    if (c.field == SearchField::ModelName) {
      text_condition(sql, "m.name", c.op, c.text);
    } else {
      sql << "EXISTS (SELECT 1 FROM model_tags t WHERE t.model_id = m.id AND t.key = ";
      sql.param(c.key) << " AND ";
      text_condition(sql, "t.value", c.op, c.text);
      sql << ")";
    }
  }
  const std::string_view direction = query.descending ? " DESC" : " ASC";
  const std::string_view beyond = query.descending ? " < " : " > ";
  if (query.order_by == ModelOrderBy::Name) {
    if (after) {
      sql << " AND m.name" << beyond;
      sql.param(after->name);
    }
    sql << " ORDER BY m.name" << direction;
  } else {
    if (after) {
      sql << " AND (m.created_at" << beyond;
      sql.param(after->time) << " OR (m.created_at = ";
      sql.param(after->time) << " AND m.name" << beyond;
      sql.param(after->name) << "))";
    }
    sql << " ORDER BY m.created_at" << direction << ", m.name" << direction;
  }
  sql << " LIMIT ";
  sql.param(static_cast<std::int64_t>(query.max_results) + 1);
  return sql;
}

}  // namespace

VersionPage detail::SqlCatalog::search_versions(const VersionQuery& query) const {
  const auto after = detail::decode_page_token(query);
  const SqlText sql = version_sql(query, after, dialect_);
  return db_.read("search_versions", [&](Connection& connection) {
    auto rows = connection.use_dynamic(sql.sql());
    sql.bind(*rows);
    VersionPage page;
    page.versions.reserve(std::min<std::size_t>(query.max_results, 1024));
    PagePosition last;
    while (rows->step()) {
      if (page.versions.size() == query.max_results) {
        page.next_page_token = detail::encode_page_token(query, last);
        break;
      }
      page.versions.push_back(detail::read_version(*rows, connection.label()));
      last.tie = rows->int64(detail::kVersionColumnCount);
      const int key = detail::kVersionColumnCount + 1;
      if (query.order_by == VersionOrderBy::Metric) {
        last.metric.reset();
        if (!rows->is_null(key)) last.metric = rows->real(key);
      } else {
        last.time = rows->int64(key);
      }
    }
    return page;
  });
}

ModelPage detail::SqlCatalog::search_models(const ModelQuery& query) const {
  const auto after = detail::decode_page_token(query);
  const SqlText sql = model_sql(query, after);
  return db_.read(
      "search_models",
      [&](Connection& connection) {
        std::vector<std::string> names;
        PagePosition last;
        ModelPage page;
        {
          auto rows = connection.use_dynamic(sql.sql());
          sql.bind(*rows);
          while (rows->step()) {
            if (names.size() == query.max_results) {
              page.next_page_token = detail::encode_page_token(query, last);
              break;
            }
            names.push_back(rows->text(0));
            last.name = names.back();
            last.time = rows->int64(1);
          }
        }
        for (const auto& name : names) {
          if (auto model = detail::read_model(connection, name)) page.models.push_back(*model);
        }
        return page;
      },
      /*snapshot=*/true);
}

}  // namespace modelreg

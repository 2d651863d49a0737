#include "postgres/pg_connection.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "modelreg/logging.hpp"

namespace modelreg::detail::pg {

namespace {

std::string_view trimmed(const char* message) {
  std::string_view text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return text;
}

}  // namespace

void throw_error(PGconn* conn, const PGresult* result, const std::string& label,
                 std::string_view context) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view sqlstate = state != nullptr ? state : "";
  const std::string_view server =
      trimmed(result != nullptr && *PQresultErrorMessage(result) != '\0'
                  ? PQresultErrorMessage(result)
                  : (conn != nullptr ? PQerrorMessage(conn) : "no connection"));
  const std::string message =
      fmt::format("{}: {}: {}{}", label, context, server,
                  sqlstate.empty() ? std::string() : fmt::format(" (SQLSTATE {})", sqlstate));
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK || sqlstate.substr(0, 2) == "08" ||
      sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    throw ConnectionLostError(message);
  }
  if (sqlstate == "40001" || sqlstate == "40P01") throw RetryableError(message);
  if (sqlstate == "22021" || sqlstate == "22P05") throw InvalidArgumentError(message);
  throw StorageError(message);
}

std::string to_postgres_parameters(std::string_view sql, int& count, std::vector<bool>* used) {
  std::string out;
  out.reserve(sql.size());
  count = 0;
  if (used != nullptr) used->clear();
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != '?' || i + 1 >= sql.size() || sql[i + 1] < '0' || sql[i + 1] > '9') {
      out += sql[i];
      continue;
    }
    int number = 0;
    std::size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9')
      number = number * 10 + (sql[j++] - '0');
    out += '$';
    out.append(sql.substr(i + 1, j - i - 1));
    count = std::max(count, number);
    if (used != nullptr && number > 0) {
      if (used->size() < static_cast<std::size_t>(number)) used->resize(number);
      (*used)[static_cast<std::size_t>(number - 1)] = true;
    }
    i = j - 1;
  }
  return out;
}

// --- Statement -------------------------------------------------------------------------------

Statement::Statement(Connection& connection, std::string name, std::string sql)
    : connection_(connection), name_(std::move(name)) {
  std::vector<bool> used;
  sql_ = to_postgres_parameters(sql, parameter_count_, &used);
  params_.resize(static_cast<std::size_t>(parameter_count_));
  // A parameter the text does not use (a statement shared by variants, such as the events
  // queries) gets a type, which the server cannot infer for it; the others are inferred.
  constexpr Oid kTextOid = 25;
  types_.assign(static_cast<std::size_t>(parameter_count_), 0);
  for (std::size_t i = 0; i < types_.size(); ++i) {
    if (i >= used.size() || !used[i]) types_[i] = kTextOid;
  }
}

Statement::~Statement() {
  reset();
}

std::optional<std::string>& Statement::param(int index) {
  if (index < 1 || index > parameter_count_) {
    throw StorageError(
        fmt::format("{}: parameter {} of \"{}\" does not exist", connection_.label(), index, sql_));
  }
  return params_[static_cast<std::size_t>(index - 1)];
}

void Statement::bind(int index, std::string_view text) {
  param(index) = std::string(text);
}

void Statement::bind(int index, std::int64_t value) {
  param(index) = std::to_string(value);
}

void Statement::bind(int index, double value) {
  if (std::isnan(value)) {
    param(index) = "NaN";
  } else if (std::isinf(value)) {
    param(index) = value > 0 ? "Infinity" : "-Infinity";
  } else {
    param(index) = fmt::format("{}", value);  // the shortest text that reads back exactly
  }
}

void Statement::bind_null(int index) {
  param(index).reset();
}

void Statement::execute() {
  PGconn* conn = connection_.conn_;
  if (!prepared_) {
    PGresult* prepared =
        PQprepare(conn, name_.c_str(), sql_.c_str(), parameter_count_, types_.data());
    if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
      // Freed before throwing; the message is copied first.
      std::unique_ptr<PGresult, decltype(&PQclear)> guard(prepared, &PQclear);
      throw_error(conn, prepared, connection_.label(), fmt::format("cannot prepare \"{}\"", sql_));
    }
    PQclear(prepared);
    prepared_ = true;
  }
  std::vector<const char*> values(params_.size());
  for (std::size_t i = 0; i < params_.size(); ++i) {
    values[i] = params_[i] ? params_[i]->c_str() : nullptr;
  }
  result_ =
      PQexecPrepared(conn, name_.c_str(), parameter_count_, values.data(), nullptr, nullptr, 0);
  const ExecStatusType status = PQresultStatus(result_);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    std::unique_ptr<PGresult, decltype(&PQclear)> guard(result_, &PQclear);
    result_ = nullptr;
    throw_error(conn, guard.get(), connection_.label(), fmt::format("cannot execute \"{}\"", sql_));
  }
  rows_ = PQntuples(result_);
  row_ = -1;
}

bool Statement::step() {
  if (result_ == nullptr) execute();
  if (row_ < rows_) ++row_;
  return row_ < rows_;
}

bool Statement::is_null(int column) const {
  return PQgetisnull(result_, row_, column) != 0;
}

std::int64_t Statement::int64(int column) const {
  const std::string_view text = text_view(column);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw DataLossError(fmt::format("{}: column {} of \"{}\" is not an integer: '{}'",
                                    connection_.label(), column, sql_, text));
  }
  return value;
}

double Statement::real(int column) const {
  const std::string value(text_view(column));
  char* end = nullptr;
  const double number = std::strtod(value.c_str(), &end);  // also "Infinity", "-Infinity", "NaN"
  if (end == value.c_str() || *end != '\0') {
    throw DataLossError(fmt::format("{}: column {} of \"{}\" is not a number: '{}'",
                                    connection_.label(), column, sql_, value));
  }
  return number;
}

std::string_view Statement::text_view(int column) const {
  if (result_ == nullptr || row_ < 0 || row_ >= rows_) return {};
  // A NULL reads as "" (PQgetvalue returns an empty string for it).
  return std::string_view(PQgetvalue(result_, row_, column),
                          static_cast<std::size_t>(PQgetlength(result_, row_, column)));
}

void Statement::reset() noexcept {
  if (result_ != nullptr) PQclear(result_);
  result_ = nullptr;
  row_ = -1;
  rows_ = 0;
  for (auto& value : params_) value.reset();
}

// --- Connection ------------------------------------------------------------------------------

Connection::Connection(const std::string& conninfo, const std::string& label,
                       int connect_timeout_seconds)
    : label_(label) {
  const std::string timeout = std::to_string(connect_timeout_seconds);
  // expand_dbname: `dbname` may be a whole URL or conninfo string; what it sets wins over the
  // defaults given here, and libpq's environment variables and service files fill the rest.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "modelreg", conninfo.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords, values, 1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string message =
        fmt::format("{}: cannot connect: {}", label_,
                    trimmed(conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory"));
    PQfinish(conn_);
    conn_ = nullptr;
    throw ConnectionLostError(message);
  }
  // Notices, and the server's messages about the end of an idle session, go to the log rather
  // than to stderr.
  PQsetNoticeProcessor(
      conn_,
      [](void* database, const char* message) {
        logger()->debug("{}: the server says: {}", *static_cast<const std::string*>(database),
                        trimmed(message));
      },
      &label_);
  exec("SET client_min_messages = warning");
}

Connection::~Connection() {
  statements_.clear();
  dynamic_.clear();
  PQfinish(conn_);
}

std::optional<std::string> Connection::exec(const char* sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn_, sql), &PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw_error(conn_, result.get(), label_, fmt::format("cannot execute \"{}\"", sql));
  }
  if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0 &&
      !PQgetisnull(result.get(), 0, 0)) {
    return std::string(PQgetvalue(result.get(), 0, 0));
  }
  return std::nullopt;
}

StatementUse Connection::use(std::size_t slot, std::string_view sql) {
  if (slot >= statements_.size()) statements_.resize(slot + 1);
  if (!statements_[slot]) {
    statements_[slot] =
        std::make_unique<Statement>(*this, fmt::format("modelreg_{}", slot), std::string(sql));
  }
  return StatementUse(*statements_[slot]);
}

StatementUse Connection::use_dynamic(const std::string& sql) {
  auto it = dynamic_.find(sql);
  if (it == dynamic_.end()) {
    if (dynamic_.size() >= kMaxDynamic) {
      // The server keeps what the connection prepared: drop those statements there too.
      for (const auto& entry : dynamic_) {
        if (entry.second->prepared()) exec(("DEALLOCATE " + entry.second->name()).c_str());
      }
      dynamic_.clear();
    }
    it = dynamic_
             .emplace(sql, std::make_unique<Statement>(
                               *this, fmt::format("modelreg_d{}", next_dynamic_++), sql))
             .first;
  }
  return StatementUse(*it->second);
}

}  // namespace modelreg::detail::pg

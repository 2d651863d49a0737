#include "modelreg/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace modelreg {
namespace {

std::mutex& logger_mutex() {
  static std::mutex mutex;
  return mutex;
}

// The logger set by the application; null means "use the one registered as modelreg".
std::shared_ptr<spdlog::logger>& custom_logger() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}

// The logger registered in spdlog under kLoggerName, created (stderr) if the application did not
// register one. Looked up each time so that an application can drop and replace it.
std::shared_ptr<spdlog::logger> registered_logger() {
  if (auto existing = spdlog::get(kLoggerName)) return existing;
  auto created = std::make_shared<spdlog::logger>(
      kLoggerName, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    // Another thread registered one first: use theirs.
    if (auto existing = spdlog::get(kLoggerName)) return existing;
    throw;
  }
  return created;
}

// Registered when the library is loaded, so that spdlog::get("modelreg") finds the logger
// (to attach a sink, say) before modelreg has logged anything.
[[maybe_unused]] const bool registered_at_load = [] {
  try {
    return registered_logger() != nullptr;
  } catch (const std::exception&) {
    return false;  // the next logger() call tries again and reports
  }
}();

}  // namespace

void set_logger(std::shared_ptr<spdlog::logger> logger) {
  std::lock_guard<std::mutex> lock(logger_mutex());
  custom_logger() = std::move(logger);
}

std::shared_ptr<spdlog::logger> logger() {
  std::lock_guard<std::mutex> lock(logger_mutex());
  if (custom_logger()) return custom_logger();
  return registered_logger();
}

}  // namespace modelreg

#include "modelreg/error.hpp"
#include "public_call.hpp"

namespace modelreg::detail {

void log_error(const char* operation, const std::exception& e) noexcept {
  try {
    // A caller's mistake or a lost compare-and-swap is routine for the caller (a retry loop may
    // meet it often); only failures of storage or data deserve the application's error log.
    const auto* error = dynamic_cast<const Error*>(&e);
    const bool callers = error != nullptr && error->code() != ErrorCode::Storage &&
                         error->code() != ErrorCode::DataLoss;
    logger()->log(callers ? spdlog::level::info : spdlog::level::err, "{}: {}", operation,
                  e.what());
  } catch (const std::exception&) {
    // Logging must never replace the caller's exception; there is nowhere left to report this.
  }
}

void log_warning(const std::string& message) noexcept {
  try {
    logger()->warn("{}", message);
  } catch (const std::exception&) {
    // As above: a failing sink must not turn a warning into an error.
  }
}

}  // namespace modelreg::detail

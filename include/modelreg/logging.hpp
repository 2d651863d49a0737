#pragma once

#include <memory>

namespace spdlog {
class logger;
}

namespace modelreg {

// The name of the logger modelreg writes to.
inline constexpr const char* kLoggerName = "modelreg";

// Routes modelreg's log messages to `logger` (any name). Passing nullptr restores the default:
// whatever logger spdlog has under "modelreg", looked up on every message. modelreg registers a
// stderr one there when the library loads (so spdlog::get finds it before anything is logged);
// an application replaces it with spdlog::drop("modelreg") and then its own registration, or
// (if the application dropped it without replacing it) modelreg creates it again on the next
// message. modelreg never changes spdlog's default logger, global level or pattern. Thread-safe.
void set_logger(std::shared_ptr<spdlog::logger> logger);

// The logger modelreg currently writes to (never null). Thread-safe.
std::shared_ptr<spdlog::logger> logger();

}  // namespace modelreg

#pragma once

#include <memory>

namespace spdlog {
class logger;
}

namespace modelreg {

// The name of the logger modelreg writes to.
inline constexpr const char* kLoggerName = "modelreg";

// Routes modelreg's log messages to `logger` (any name). Passing nullptr restores the default:
// the logger registered in spdlog under "modelreg" if the application registered one, otherwise
// one that modelreg creates (stderr, registered under "modelreg" so spdlog::get finds it).
// modelreg never changes spdlog's default logger, global level or pattern. Thread-safe.
void set_logger(std::shared_ptr<spdlog::logger> logger);

// The logger modelreg currently writes to (never null). Thread-safe.
std::shared_ptr<spdlog::logger> logger();

}  // namespace modelreg

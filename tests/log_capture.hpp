#pragma once

// Captures what modelreg logs: installs a logger with an in-memory sink for the test's lifetime
// and restores modelreg's default afterwards.

#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <memory>
#include <modelreg/logging.hpp>
#include <string>
#include <vector>

namespace modelreg::testing {

class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)),
        logger_(std::make_shared<spdlog::logger>("modelreg-test", sink_)) {
    logger_->set_level(spdlog::level::trace);
    set_logger(logger_);
  }
  ~LogCapture() { set_logger(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The messages logged at `level` so far.
  std::vector<std::string> messages(spdlog::level::level_enum level) const {
    std::vector<std::string> result;
    for (const auto& message : sink_->last_raw()) {
      if (message.level == level) {
        result.emplace_back(message.payload.begin(), message.payload.end());
      }
    }
    return result;
  }
  // Storage and data-loss errors, and warnings, are logged at these levels ...
  std::vector<std::string> errors() const { return messages(spdlog::level::err); }
  std::vector<std::string> warnings() const { return messages(spdlog::level::warn); }
  // ... and the caller's errors (invalid argument, not found, already exists, failed
  // precondition) at info.
  std::vector<std::string> infos() const { return messages(spdlog::level::info); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace modelreg::testing

#include "cli_logging.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "exit_codes.hpp"
#include "modelreg/logging.hpp"

namespace modelreg::cli {
namespace {

std::atomic<bool> errors_enabled{false};

class StderrLineSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const bool error = msg.level >= spdlog::level::err;
    if (error && !errors_enabled.load()) return;
    const std::string level = msg.level == spdlog::level::warn ? "warning"
                              : error
                                  ? "error"
                                  : std::string(spdlog::level::to_string_view(msg.level).data(),
                                                spdlog::level::to_string_view(msg.level).size());
    const std::string line = "modelreg: " + level + ": " +
                             printable(std::string_view(msg.payload.data(), msg.payload.size())) +
                             "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

void configure_logging(bool verbose) {
  auto logger =
      std::make_shared<spdlog::logger>("modelreg-cli", std::make_shared<StderrLineSink>());
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::warn);
  if (verbose) errors_enabled = true;
  set_logger(std::move(logger));
}

void print_library_errors(bool enabled) {
  errors_enabled = enabled;
}

}  // namespace modelreg::cli

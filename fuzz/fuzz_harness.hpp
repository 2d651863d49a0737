#pragma once

// What every fuzz target shares: modelreg's log silenced (libFuzzer runs millions of inputs,
// most of them errors the library logs), and the rule that a broken property or an exception
// the library does not document is a crash, which libFuzzer reports with the input.

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

#include "modelreg/error.hpp"
#include "modelreg/logging.hpp"

namespace modelreg::fuzz {

// Routes modelreg's log to a logger that is off, so that nothing is even formatted.
inline void silence_logging() {
  auto quiet = std::make_shared<spdlog::logger>("modelreg-fuzz",
                                                std::make_shared<spdlog::sinks::null_sink_mt>());
  quiet->set_level(spdlog::level::off);
  set_logger(std::move(quiet));
}

// Every target includes this header: its log is silenced before libFuzzer runs the first input.
inline const bool kLoggingSilenced = (silence_logging(), true);

// Reports a broken property and aborts (libFuzzer then saves the input as a crash).
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz property failed: %s\n", what);
  std::abort();
}

// Runs `body`. Returns true if it returns, false if it throws an `Expected` (by default
// InvalidArgumentError, the documented error of every parser and validator); aborts on any other
// exception.
template <class Expected = InvalidArgumentError, class Body>
bool accepts(Body&& body) {
  try {
    body();
    return true;
  } catch (const Expected&) {
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "unexpected exception of a non-standard type\n");
    std::abort();
  }
}

}  // namespace modelreg::fuzz

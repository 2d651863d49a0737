#pragma once

// The public boundary of modelreg: every public method that can fail runs its body through
// public_call, which logs an escaping exception once (at the outermost public call on this thread)
// and rethrows it unchanged.

#include <exception>
#include <string>
#include <utility>

namespace modelreg::detail {

// Logs `e`, escaping from `operation`, through modelreg's logger: caller errors (invalid
// argument, not found, already exists, failed precondition) at info, everything else (storage,
// data loss, non-modelreg exceptions) at error. Never throws.
void log_error(const char* operation, const std::exception& e) noexcept;

// Logs a warning through modelreg's logger. Never throws.
void log_warning(const std::string& message) noexcept;

// Counts the public calls active on this thread, so that only the outermost logs.
class PublicCallDepth {
 public:
  PublicCallDepth() noexcept { ++depth(); }
  ~PublicCallDepth() { --depth(); }
  PublicCallDepth(const PublicCallDepth&) = delete;
  PublicCallDepth& operator=(const PublicCallDepth&) = delete;
  bool outermost() const noexcept { return depth() == 1; }

 private:
  static int& depth() noexcept {
    thread_local int value = 0;
    return value;
  }
};

template <class Body>
decltype(auto) public_call(const char* operation, Body&& body) {
  PublicCallDepth depth;
  try {
    return std::forward<Body>(body)();
  } catch (const std::exception& e) {
    if (depth.outermost()) log_error(operation, e);
    throw;
  }
}

}  // namespace modelreg::detail

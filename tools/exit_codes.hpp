#pragma once

// The exit codes of the modelreg tool, and the one-line error report printed on stderr. Stable:
// scripts switch on them (docs/cli.md).

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include "modelreg/error.hpp"

namespace modelreg::cli {

enum class ExitCode : int {
  Ok = 0,
  Failure = 1,  // any other failure; also "unhealthy" (a check found problems)
  Usage = 2,    // the command line is malformed (CLI11 parse errors, bad KEY=VALUE syntax)
  NotFound = 3,
  AlreadyExists = 4,
  InvalidArgument = 5,
  FailedPrecondition = 6,  // a compare-and-swap was lost
  Storage = 7,
  DataLoss = 8,
};

// The exit code of a modelreg::Error of `code`.
ExitCode exit_code_for(ErrorCode code) noexcept;

// A malformed command line that CLI11 itself cannot see (KEY=VALUE syntax, a missing --yes, a
// combination of options that does not make sense). Exit code 2.
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& message) : std::runtime_error(message) {}
};

// `text` made safe for one line of a terminal: control characters (newlines, escapes) are shown
// as \n, \t, \xNN, so that nothing a caller passed can break the line or drive the terminal.
std::string printable(std::string_view text);

// Prints "modelreg: error: <message>" on stderr (one line).
void report_error(std::string_view message) noexcept;

// Reports `e` (the exception being handled at the top of main) and returns its exit code:
// modelreg::Error by its code, UsageError 2, anything else 1.
int report_exception(const std::exception& e) noexcept;

}  // namespace modelreg::cli

#include "exit_codes.hpp"

#include <cstdio>

namespace modelreg::cli {

ExitCode exit_code_for(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return ExitCode::InvalidArgument;
    case ErrorCode::NotFound:
      return ExitCode::NotFound;
    case ErrorCode::AlreadyExists:
      return ExitCode::AlreadyExists;
    case ErrorCode::FailedPrecondition:
      return ExitCode::FailedPrecondition;
    case ErrorCode::Storage:
      return ExitCode::Storage;
    case ErrorCode::DataLoss:
      return ExitCode::DataLoss;
  }
  return ExitCode::Failure;
}

std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string result;
  result.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      result += "\\n";
    } else if (c == '\t') {
      result += "\\t";
    } else if (c == '\r') {
      result += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      result += "\\x";
      result += kHex[byte >> 4];
      result += kHex[byte & 0xf];
    } else {
      result += c;  // UTF-8 sequences pass unchanged
    }
  }
  return result;
}

void report_error(std::string_view message) noexcept {
  try {
    const std::string line = "modelreg: error: " + printable(message) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  } catch (const std::exception&) {
    // Out of memory while reporting: the exit code still says what happened.
  }
}

int report_exception(const std::exception& e) noexcept {
  report_error(e.what());
  if (const auto* error = dynamic_cast<const Error*>(&e)) {
    return static_cast<int>(exit_code_for(error->code()));
  }
  if (dynamic_cast<const UsageError*>(&e) != nullptr) return static_cast<int>(ExitCode::Usage);
  return static_cast<int>(ExitCode::Failure);
}

}  // namespace modelreg::cli

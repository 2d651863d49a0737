#include "modelreg/error.hpp"

namespace modelreg {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return "invalid_argument";
    case ErrorCode::NotFound:
      return "not_found";
    case ErrorCode::AlreadyExists:
      return "already_exists";
    case ErrorCode::FailedPrecondition:
      return "failed_precondition";
    case ErrorCode::Storage:
      return "storage";
    case ErrorCode::DataLoss:
      return "data_loss";
  }
  return "unknown";
}

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(message), code_(code) {}

}  // namespace modelreg

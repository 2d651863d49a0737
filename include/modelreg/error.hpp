#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace modelreg {

// What kind of failure an Error reports. Stable: callers may switch on it.
enum class ErrorCode {
  InvalidArgument,     // the caller passed something malformed (a bad name, a bad option)
  NotFound,            // the model, version or artifact does not exist
  AlreadyExists,       // the (model, version) is already registered
  FailedPrecondition,  // the state was not what the operation required (compare-and-swap lost)
  Storage,             // an I/O or database failure; the operation may be retried
  DataLoss,            // stored bytes or metadata are corrupt (checksum mismatch, broken database)
};

// Returns the lower-case name of `code`, e.g. "not_found".
std::string_view to_string(ErrorCode code) noexcept;

// The root of every exception modelreg throws on purpose. Derives from std::runtime_error so
// that existing `catch (const std::exception&)` blocks keep working.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// A name, version, option or argument is malformed; nothing was changed.
class InvalidArgumentError : public Error {
 public:
  explicit InvalidArgumentError(const std::string& message)
      : Error(ErrorCode::InvalidArgument, message) {}
};

// The requested model, version or artifact does not exist.
class NotFoundError : public Error {
 public:
  explicit NotFoundError(const std::string& message) : Error(ErrorCode::NotFound, message) {}
};

// The (model, version) is already registered; nothing was written or overwritten.
class AlreadyExistsError : public Error {
 public:
  explicit AlreadyExistsError(const std::string& message)
      : Error(ErrorCode::AlreadyExists, message) {}
};

// The current state does not allow the operation (e.g. a compare-and-swap promotion lost).
class FailedPreconditionError : public Error {
 public:
  explicit FailedPreconditionError(const std::string& message)
      : Error(ErrorCode::FailedPrecondition, message) {}
};

// An I/O or database operation failed.
class StorageError : public Error {
 public:
  explicit StorageError(const std::string& message) : Error(ErrorCode::Storage, message) {}
};

// Stored data is corrupt: a checksum or size mismatch, or a damaged database file.
class DataLossError : public Error {
 public:
  explicit DataLossError(const std::string& message) : Error(ErrorCode::DataLoss, message) {}
};

}  // namespace modelreg

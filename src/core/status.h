// Status and Result<T>: how vigil reports expected failures (bad input, an unreachable
// broker, a corrupt file). The code tells the caller what to do: retry (kUnavailable),
// fix the input (kInvalidArgument), stop and alarm (kDataLoss). Each layer adds
// context in lower case with Annotate: "open wal segment 12: read header: ...".
// Programming errors are not Statuses: they stop the process through VIGIL_CHECK.
//
// Thread safety: values; immutable once built.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/check.h"

namespace vigil {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the input is wrong; retrying the same input fails again
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // the thing to create exists
  kResourceExhausted,   // a bound was reached (queue full, too many points); back off
  kUnavailable,         // a dependency is down or busy; retry later
  kDeadlineExceeded,    // gave up waiting
  kDataLoss,            // stored data is corrupt; stop and alarm
  kFailedPrecondition,  // the system is not in a state to do this
  kCancelled,           // the operation was stopped on request (shutdown)
  kUnimplemented,       // not supported
  kInternal,            // an invariant of a dependency broke
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns this status with "context: " in front of its message; ok stays ok.
  Status Annotate(std::string_view context) const;
  // "InvalidArgument: bad label name" (or "OK").
  std::string ToString() const;

  bool operator==(const Status& other) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgumentError(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceededError(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status FailedPreconditionError(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status CancelledError(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status UnimplementedError(std::string m) {
  return {StatusCode::kUnimplemented, std::move(m)};
}
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Whether trying the same thing again later may succeed: a dependency down or busy, a
// timeout, a bound reached. Everything else fails again on the same input.
inline bool IsTransient(const Status& status) {
  return status.code() == StatusCode::kUnavailable ||
         status.code() == StatusCode::kDeadlineExceeded ||
         status.code() == StatusCode::kResourceExhausted;
}

// A value of T, or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    VIGIL_CHECK(!status_.ok(), "Result built from an OK status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { return Get(); }
  const T& value() const& { return const_cast<Result*>(this)->Get(); }
  T&& value() && { return std::move(Get()); }
  T* operator->() { return &Get(); }
  const T* operator->() const { return &const_cast<Result*>(this)->Get(); }
  T& operator*() & { return Get(); }
  const T& operator*() const& { return const_cast<Result*>(this)->Get(); }
  T&& operator*() && { return std::move(Get()); }

 private:
  T& Get() {
    VIGIL_CHECK(value_.has_value(), "value() of a failed Result: " + status_.ToString());
    return *value_;
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace vigil

#define VIGIL_CONCAT_INNER_(a, b) a##b
#define VIGIL_CONCAT_(a, b) VIGIL_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` is not ok.
#define VIGIL_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::vigil::Status vigil_status_ = (expr);        \
    if (!vigil_status_.ok()) return vigil_status_; \
  } while (0)

// `VIGIL_ASSIGN_OR_RETURN(auto x, MakeX());` binds the value or returns the error.
#define VIGIL_ASSIGN_OR_RETURN(lhs, expr) \
  VIGIL_ASSIGN_OR_RETURN_IMPL_(VIGIL_CONCAT_(vigil_result_, __LINE__), lhs, expr)
#define VIGIL_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                                 \
  if (!result.ok()) return result.status();             \
  lhs = std::move(result).value()

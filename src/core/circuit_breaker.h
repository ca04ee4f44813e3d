// A CircuitBreaker stops a caller from hammering a service that keeps failing (the agent's
// publishes to a lost broker). Closed: calls go through; `failure_threshold` failures in a
// row trip it open. Open: calls are refused (the agent spools instead) until the cooldown
// has passed; then half-open: one trial call is let through — success closes the breaker,
// failure opens it again with the cooldown doubled (up to `max_cooldown_ms`). Time comes
// from a Clock, so tests drive it by hand.
//
// Thread safety: one thread at a time.
#pragma once

#include <cstdint>

#include "core/clock.h"

namespace vigil {

class CircuitBreaker {
 public:
  enum class State { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
  struct Options {
    int failure_threshold = 3;
    int64_t cooldown_ms = 1000;
    int64_t max_cooldown_ms = 10'000;
  };

  CircuitBreaker(Clock& clock, Options options) : clock_(clock), options_(options) {}

  // Whether a call may go out now. Open past its cooldown turns half-open and allows one.
  bool Allow();
  void RecordSuccess();
  void RecordFailure();

  State state() const { return state_; }
  // Times it went from closed to open.
  uint64_t trips() const { return trips_; }

 private:
  Clock& clock_;
  Options options_;
  State state_ = State::kClosed;
  int failures_ = 0;
  int64_t cooldown_ms_ = 0;
  int64_t open_until_ms_ = 0;
  bool trial_out_ = false;
  uint64_t trips_ = 0;
};

}  // namespace vigil

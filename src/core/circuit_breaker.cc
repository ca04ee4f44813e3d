#include "core/circuit_breaker.h"

#include <algorithm>

namespace vigil {

bool CircuitBreaker::Allow() {
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (clock_.NowMillis() < open_until_ms_) return false;
      state_ = State::kHalfOpen;
      trial_out_ = true;
      return true;
    case State::kHalfOpen:
      if (trial_out_) return false;  // one trial at a time
      trial_out_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::RecordSuccess() {
  state_ = State::kClosed;
  failures_ = 0;
  cooldown_ms_ = 0;
  trial_out_ = false;
}

void CircuitBreaker::RecordFailure() {
  trial_out_ = false;
  if (state_ == State::kHalfOpen) {
    cooldown_ms_ = std::min(cooldown_ms_ * 2, options_.max_cooldown_ms);
    state_ = State::kOpen;
    open_until_ms_ = clock_.NowMillis() + cooldown_ms_;
    return;
  }
  if (state_ == State::kOpen) return;
  if (++failures_ < options_.failure_threshold) return;
  state_ = State::kOpen;
  ++trips_;
  cooldown_ms_ = options_.cooldown_ms;
  open_until_ms_ = clock_.NowMillis() + cooldown_ms_;
}

}  // namespace vigil

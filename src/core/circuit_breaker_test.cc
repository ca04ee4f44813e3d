#include "core/circuit_breaker.h"

#include <gtest/gtest.h>

#include "testing/fake_clock.h"

namespace vigil {
namespace {

using State = CircuitBreaker::State;

TEST(CircuitBreaker, TripsAfterRepeatedFailuresAndRecoversThroughOneTrial) {
  testing::FakeClock clock;
  CircuitBreaker breaker(clock,
                         {.failure_threshold = 3, .cooldown_ms = 1000, .max_cooldown_ms = 3000});
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(breaker.Allow());
    breaker.RecordFailure();
  }
  EXPECT_EQ(breaker.state(), State::kClosed);  // two failures are not yet a pattern
  breaker.RecordSuccess();
  for (int i = 0; i < 3; ++i) breaker.RecordFailure();  // three in a row are
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_EQ(breaker.trips(), 1u);
  EXPECT_FALSE(breaker.Allow());
  clock.Advance(999);
  EXPECT_FALSE(breaker.Allow());
  clock.Advance(1);
  EXPECT_TRUE(breaker.Allow());  // the one trial
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  EXPECT_FALSE(breaker.Allow());
  breaker.RecordFailure();  // failed trial: open again, twice as long
  EXPECT_EQ(breaker.state(), State::kOpen);
  clock.Advance(1999);
  EXPECT_FALSE(breaker.Allow());
  clock.Advance(1);
  EXPECT_TRUE(breaker.Allow());
  breaker.RecordFailure();
  clock.Advance(3000);  // capped at max_cooldown_ms
  EXPECT_TRUE(breaker.Allow());
  breaker.RecordSuccess();
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_EQ(breaker.trips(), 1u);
}

}  // namespace
}  // namespace vigil

#include "store/aggregate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace vigil::store {
namespace {

using model::Sample;

std::vector<Sample> Seconds(std::initializer_list<std::pair<int, double>> points) {
  std::vector<Sample> out;
  for (auto [t, v] : points) out.push_back({t * 1000LL, v});
  return out;
}

double Eval(Aggregation f, const std::vector<Sample>& s, int end_s, int window_s) {
  auto v = EvaluateWindow(f, s, end_s * 1000LL, window_s * 1000LL);
  EXPECT_TRUE(v.has_value());
  return v.value_or(std::nan(""));
}

TEST(Aggregate, WindowsAreLeftOpen) {
  auto s = Seconds({{0, 1}, {10, 2}, {20, 4}});
  EXPECT_EQ(Eval(Aggregation::kCount, s, 20, 20), 2);  // (0, 20]: 10 and 20
  EXPECT_EQ(Eval(Aggregation::kSum, s, 20, 20), 6);
  EXPECT_EQ(Eval(Aggregation::kAvg, s, 20, 20), 3);
  EXPECT_EQ(Eval(Aggregation::kMin, s, 20, 20), 2);
  EXPECT_EQ(Eval(Aggregation::kMax, s, 20, 21), 4);
  EXPECT_EQ(Eval(Aggregation::kLast, s, 15, 100), 2);
  EXPECT_FALSE(EvaluateWindow(Aggregation::kAvg, s, 30'000, 5'000).has_value());
}

TEST(Aggregate, MinAndMaxIgnoreNaNUnlessAllAreNaN) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(Eval(Aggregation::kMax, Seconds({{1, nan}, {2, 3}, {3, nan}}), 3, 10), 3);
  EXPECT_EQ(Eval(Aggregation::kMin, Seconds({{1, 5}, {2, nan}}), 3, 10), 5);
  EXPECT_TRUE(std::isnan(Eval(Aggregation::kMin, Seconds({{1, nan}}), 3, 10)));
}

// Expected values worked out by hand with Prometheus's extrapolatedRate.
TEST(Aggregate, RateExtrapolatesToZeroAtTheStartOfACounter) {
  auto s = Seconds({{10, 0}, {20, 10}, {30, 20}, {40, 30}, {50, 40}, {60, 50}});
  EXPECT_DOUBLE_EQ(Eval(Aggregation::kIncrease, s, 60, 60), 50);
  EXPECT_DOUBLE_EQ(Eval(Aggregation::kRate, s, 60, 60), 50.0 / 60);
}

TEST(Aggregate, RateExtrapolatesHalfAGapWhereSamplesAreMissing) {
  auto s = Seconds({{20, 5}, {30, 15}, {40, 25}});
  EXPECT_DOUBLE_EQ(Eval(Aggregation::kIncrease, s, 60, 60), 30);  // 20 * (20+5+5)/20
  EXPECT_DOUBLE_EQ(Eval(Aggregation::kRate, s, 60, 60), 0.5);
}

TEST(Aggregate, CounterResetsAreAddedBack) {
  auto s = Seconds({{10, 10}, {20, 20}, {30, 5}});
  EXPECT_DOUBLE_EQ(Eval(Aggregation::kIncrease, s, 30, 30), 22.5);  // 15 * (20+10)/20
}

TEST(Aggregate, RateNeedsTwoSamples) {
  EXPECT_FALSE(EvaluateWindow(Aggregation::kRate, Seconds({{10, 1}}), 10'000, 60'000).has_value());
}

TEST(Aggregate, StepsSkipEmptyWindows) {
  AggregateQuery q;
  q.start_ms = 0;
  q.end_ms = 40'000;
  q.step_ms = 10'000;
  q.function = Aggregation::kMax;
  auto points = EvaluateSteps(q, Seconds({{5, 1}, {9, 7}, {31, 2}}));
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0], (Sample{10'000, 7}));
  EXPECT_EQ(points[1], (Sample{40'000, 2}));
  EXPECT_EQ(StepCount(q), 5);
}

}  // namespace
}  // namespace vigil::store

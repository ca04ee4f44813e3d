#include "store/aggregate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

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

// Long windows of a random walk, many resets: the value before each reset is added in
// order, as promql's loop adds it, to the bit.
TEST(Aggregate, CounterResetsAreAddedInOrderOverLongWindows) {
  std::mt19937_64 rng(20261206);
  for (int round = 0; round < 50; ++round) {
    std::vector<Sample> samples;
    double v = 1e9;  // far from 0: no extrapolation towards zero
    const size_t n = 10 + rng() % 400;
    for (size_t i = 0; i < n; ++i) {
      v += static_cast<double>(static_cast<int>(rng() % 2001) - 1000) / 3.0;
      samples.push_back({static_cast<int64_t>(i + 1) * 1000, v});
    }
    double expected = samples.back().value - samples.front().value;
    for (size_t i = 1; i < n; ++i) {
      if (samples[i].value < samples[i - 1].value) expected += samples[i - 1].value;
    }
    const int64_t end = static_cast<int64_t>(n) * 1000;
    // The window (0, end] holds every sample: extrapolated by the first one's 1 s.
    auto increase = EvaluateWindow(Aggregation::kIncrease, samples, end, end);
    ASSERT_TRUE(increase.has_value());
    const double sampled = static_cast<double>(n - 1);
    EXPECT_EQ(*increase, expected * ((sampled + 1.0 + 0.0) / sampled)) << "round " << round;
  }
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

// A window as long as the step starts where the one before ended; the first one where
// its own start says, whatever came before it.
TEST(Aggregate, WindowsAsLongAsTheStepFollowEachOther) {
  std::vector<Sample> samples;
  for (int t = 0; t <= 100; t += 10) samples.push_back({t * 1000LL, 1});
  AggregateQuery q{.start_ms = 50'000, .end_ms = 90'000, .step_ms = 20'000, .window_ms = 20'000};
  q.function = Aggregation::kCount;
  EXPECT_EQ(EvaluateSteps(q, samples),
            (std::vector<Sample>{{50'000, 2}, {70'000, 2}, {90'000, 2}}));  // (30, 50] ...
}

// Summaries answer every aligned window as the samples do: the same points, the same
// values (sums up to rounding), also over NaN, stale markers, resets and pieces of a
// window summarized apart and merged. EvaluateSteps answers as EvaluateWindow does.
TEST(Aggregate, SummariesAnswerAlignedWindowsAsTheSamplesDo) {
  std::mt19937_64 rng(20261205);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int round = 0; round < 300; ++round) {
    std::vector<Sample> samples;
    int64_t t = -50'000 + static_cast<int64_t>(rng() % 20'000);
    double v = 0;
    const bool integers = round % 2 == 0;
    for (int i = 0, n = static_cast<int>(rng() % 200); i < n; ++i) {
      t += 1 + static_cast<int64_t>(rng() % 4'000);
      const int kind = static_cast<int>(rng() % 40);
      if (kind == 0) {
        samples.push_back({t, nan});
      } else if (kind == 1) {
        samples.push_back({t, model::StaleMarker()});
      } else if (kind == 2) {
        v = 0;  // a counter reset
        samples.push_back({t, v});
      } else {
        v += integers ? static_cast<double>(rng() % 10)
                      : static_cast<double>(rng() % 1000) / 7.0 - 20;
        samples.push_back({t, v});
      }
    }
    const int64_t resolution = 1'000 * (1 + static_cast<int64_t>(rng() % 10));
    // Summarized in two pieces cut anywhere, as a block's end cuts them, then merged.
    const size_t cut = samples.empty() ? 0 : rng() % samples.size();
    std::vector<WindowSummary> summaries, second;
    Summarize(std::span(samples).first(cut), resolution, &summaries);
    Summarize(std::span(samples).subspan(cut), resolution, &second);
    for (const WindowSummary& s : second) {
      if (!summaries.empty() && summaries.back().end_ms == s.end_ms) {
        MergeSummary(&summaries.back(), s);
      } else {
        summaries.push_back(s);
      }
    }
    AggregateQuery q;
    q.start_ms = resolution * (-60 + static_cast<int64_t>(rng() % 20));
    q.end_ms = q.start_ms + 400'000;
    q.step_ms = resolution * (1 + static_cast<int64_t>(rng() % 4));
    q.window_ms = resolution * static_cast<int64_t>(rng() % 8);
    q.function = static_cast<Aggregation>(rng() % 9);
    ASSERT_TRUE(SummariesAnswer(q, resolution));
    const std::vector<Sample> want = EvaluateSteps(q, samples);
    // EvaluateSteps cuts its windows as it moves and looks for stale markers once a
    // series: each step as EvaluateWindow answers it over the whole series.
    std::vector<Sample> each_window;
    const int64_t window = q.window_ms > 0 ? q.window_ms : q.step_ms;
    for (int64_t step = q.start_ms; step <= q.end_ms; step += q.step_ms) {
      if (auto value = EvaluateWindow(q.function, samples, step, window)) {
        each_window.push_back({step, *value});
      }
    }
    ASSERT_EQ(each_window.size(), want.size()) << round;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(each_window[i].timestamp_ms, want[i].timestamp_ms) << round;
      ASSERT_TRUE(each_window[i].value == want[i].value ||
                  (std::isnan(each_window[i].value) && std::isnan(want[i].value)))
          << round;
    }
    const std::vector<Sample> got = EvaluateSummarySteps(q, summaries);
    ASSERT_EQ(got.size(), want.size()) << round;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i].timestamp_ms, want[i].timestamp_ms);
      if (std::isnan(want[i].value)) {
        ASSERT_TRUE(std::isnan(got[i].value))
            << round << " function " << static_cast<int>(q.function);
      } else if (integers) {
        ASSERT_EQ(got[i].value, want[i].value)
            << round << " function " << static_cast<int>(q.function);
      } else {
        ASSERT_NEAR(got[i].value, want[i].value, 1e-9 * std::max(1.0, std::fabs(want[i].value)))
            << round << " function " << static_cast<int>(q.function);
      }
    }
  }
  AggregateQuery unaligned{.start_ms = 1'500, .end_ms = 10'000, .step_ms = 1'000};
  EXPECT_FALSE(SummariesAnswer(unaligned, 1'000));
  unaligned.start_ms = 2'000;
  unaligned.window_ms = 2'500;
  EXPECT_FALSE(SummariesAnswer(unaligned, 1'000));
}

}  // namespace
}  // namespace vigil::store

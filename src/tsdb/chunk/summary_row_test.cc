#include "tsdb/chunk/summary_row.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <iostream>
#include <limits>
#include <random>

namespace vigil::tsdb::chunk {
namespace {

using model::Sample;
using store::WindowSummary;

bool SameBits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

void ExpectRoundTrip(const std::vector<WindowSummary>& summaries, int64_t resolution,
                     bool cut = true) {
  const std::string row = EncodeSummaries(summaries, resolution);
  std::vector<WindowSummary> got(1);  // decoding appends
  Status status = DecodeSummaries(row, resolution, &got);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(got.size(), summaries.size() + 1);
  for (size_t i = 0; i < summaries.size(); ++i) {
    const WindowSummary& w = summaries[i];
    const WindowSummary& g = got[i + 1];
    EXPECT_EQ(g.end_ms, w.end_ms);
    EXPECT_EQ(g.count, w.count);
    EXPECT_EQ(g.first_ms, w.first_ms);
    EXPECT_EQ(g.last_ms, w.last_ms);
    for (auto [x, y] : {std::pair{g.min, w.min}, std::pair{g.max, w.max}, std::pair{g.sum, w.sum},
                        std::pair{g.first, w.first}, std::pair{g.last, w.last}}) {
      EXPECT_TRUE(SameBits(x, y)) << i << ": " << x << " != " << y;
    }
    if (SummariesHaveResets(row)) {
      EXPECT_TRUE(SameBits(g.resets, w.resets)) << i;
    } else {
      EXPECT_TRUE(std::isnan(g.resets)) << i;
    }
  }
  // Damage: any cut is refused, and leaves what was decoded before.
  for (size_t n = 0; cut && n < row.size(); ++n) {
    std::vector<WindowSummary> none;
    EXPECT_FALSE(DecodeSummaries(row.substr(0, n), resolution, &none).ok()) << n;
    EXPECT_TRUE(none.empty());
  }
}

TEST(SummaryRow, RoundTripsBitForBit) {
  std::mt19937_64 rng(20261205);
  const double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             -0.0,
                             1e300,
                             -1e-300,
                             9007199254740993.0,
                             0.1};
  for (int round = 0; round < 200; ++round) {
    std::vector<Sample> samples;
    int64_t t = 1'700'000'000'000 + static_cast<int64_t>(rng() % 1'000'000);
    double v = static_cast<double>(rng() % 100);
    const int decimals = static_cast<int>(rng() % 4);
    for (int i = 0, n = 1 + static_cast<int>(rng() % 800); i < n; ++i) {
      t += 1 + static_cast<int64_t>(rng() % 20'000);
      if (rng() % 50 == 0) {
        samples.push_back({t, specials[rng() % std::size(specials)]});
        continue;
      }
      // Counters (rising, few resets) in even rounds, gauges in odd ones.
      const int64_t step = round % 2 == 0 ? static_cast<int64_t>(rng() % 1001)
                                          : static_cast<int64_t>(rng() % 2001) - 1000;
      v += static_cast<double>(step) / std::pow(10, decimals);
      if (rng() % 30 == 0) v = 0;
      samples.push_back({t, v});
    }
    const int64_t resolution = round % 3 == 0 ? 3'600'000 : 1'000 * (1 + rng() % 300);
    std::vector<WindowSummary> summaries;
    store::Summarize(samples, resolution, &summaries);
    ExpectRoundTrip(summaries, resolution, round % 10 == 0);
  }
  ExpectRoundTrip({}, 60'000);
}

// Regular integers, the common case, take a few bytes a window.
TEST(SummaryRow, RegularIntegersAreSmall) {
  std::vector<Sample> samples;
  double v = 50;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 720; ++i) {  // 2 hours at 10 s
    v += static_cast<double>(static_cast<int>(rng() % 3) - 1);
    samples.push_back({1'700'006'410'000 + i * 10'000LL, v});
  }
  std::vector<WindowSummary> summaries;
  store::Summarize(samples, 300'000, &summaries);
  ASSERT_EQ(summaries.size(), 24u);
  const size_t bytes = EncodeSummaries(summaries, 300'000).size();
  EXPECT_LE(bytes, 24u * 9);
  std::cout << "24 windows of 5 min: " << bytes << " bytes\n";
}

TEST(SummaryRow, DamagedRowsAreRefused) {
  std::vector<WindowSummary> out;
  EXPECT_FALSE(DecodeSummaries("", 60'000, &out).ok());
  EXPECT_FALSE(DecodeSummaries(std::string("\x02\x00\x00", 3), 60'000, &out).ok());  // version
  EXPECT_FALSE(DecodeSummaries(std::string("\x01\x0d\x00", 3), 60'000, &out).ok());  // decimals
  EXPECT_FALSE(DecodeSummaries(std::string("\x01\x00\x7f", 3), 60'000, &out).ok());  // count
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace vigil::tsdb::chunk

#include "tsdb/chunk/xor_chunk.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

namespace vigil::tsdb::chunk {
namespace {

using model::Sample;

std::vector<Sample> RoundTrip(const std::vector<Sample>& samples) {
  XorAppender appender;
  for (const Sample& s : samples) appender.Append(s.timestamp_ms, s.value);
  std::vector<Sample> out;
  Status status = DecodeXorChunk(appender.bytes(), &out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

void ExpectBitIdentical(const std::vector<Sample>& want, const std::vector<Sample>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].timestamp_ms, got[i].timestamp_ms) << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(want[i].value), std::bit_cast<uint64_t>(got[i].value)) << i;
  }
}

TEST(XorChunk, SpecialDoublesRoundTripBitForBit) {
  const double nan_payload = std::bit_cast<double>(uint64_t{0x7FF8000000000ABCull});
  const double negative_nan = std::bit_cast<double>(uint64_t{0xFFF0000000000001ull});
  std::vector<Sample> samples = {
      {1000, 0.0},
      {2000, -0.0},
      {3000, std::numeric_limits<double>::infinity()},
      {4000, -std::numeric_limits<double>::infinity()},
      {5000, std::numeric_limits<double>::quiet_NaN()},
      {6000, nan_payload},
      {7000, negative_nan},
      {8000, std::numeric_limits<double>::denorm_min()},
      {9000, std::numeric_limits<double>::max()},
      {10000, std::numeric_limits<double>::lowest()},
      {11000, 1.0},
      {12000, 1.0},
  };
  ExpectBitIdentical(samples, RoundTrip(samples));
}

TEST(XorChunk, EveryTimestampDeltaBucketRoundTrips) {
  std::vector<Sample> samples;
  int64_t t = -5'000'000'000'000;  // negative timestamps too
  const int64_t deltas[] = {
      1, 10,     10, 8200,   3,     70000, 1,    600000, 1, XorAppender::kMaxSpanMs, 1, 5,
      5, 524287, 1,  524288, 65535, 65536, 8191, 8192,   1};
  for (int64_t d : deltas) {
    t += d;
    samples.push_back({t, static_cast<double>(d)});
  }
  ExpectBitIdentical(samples, RoundTrip(samples));
}

TEST(XorChunk, RandomSeriesRoundTrip) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<Sample> samples;
    int64_t t = static_cast<int64_t>(rng() % (1ull << 42));
    const int n = 1 + static_cast<int>(rng() % 120);
    for (int i = 0; i < n; ++i) {
      t += 1 + static_cast<int64_t>(rng() % (round % 3 == 0 ? 3 : 100000));
      double v;
      switch (rng() % 4) {
        case 0:
          v = std::bit_cast<double>(rng());
          break;  // any bit pattern, NaNs included
        case 1:
          v = static_cast<double>(rng() % 100);
          break;
        case 2:
          v = samples.empty() ? 1.5 : samples.back().value;
          break;
        default:
          v = std::ldexp(static_cast<double>(rng() % 1000), -static_cast<int>(rng() % 60));
      }
      samples.push_back({t, v});
    }
    ExpectBitIdentical(samples, RoundTrip(samples));
  }
}

TEST(XorChunk, RegularIntegerSeriesCompressesWell) {
  XorAppender appender;
  double v = 50;
  std::mt19937 rng(1);
  for (int i = 0; i < 120; ++i) {
    v += static_cast<double>(static_cast<int>(rng() % 3) - 1);
    appender.Append(1'700'000'000'000 + i * 10'000, v);
  }
  // Gorilla's regular-interval integer case: far below 16 bytes a sample.
  EXPECT_LT(appender.bytes().size(), 120u * 2);
  EXPECT_EQ(XorChunkCount(appender.bytes()), 120);
  EXPECT_EQ(appender.min_time(), 1'700'000'000'000);
  EXPECT_EQ(appender.max_time(), 1'700'000'000'000 + 119 * 10'000);
}

TEST(XorChunk, TruncatedOrGarbageBytesAreDataLossNotACrash) {
  XorAppender appender;
  for (int i = 0; i < 50; ++i) appender.Append(i * 1000 + 1, i * 1.25);
  const std::string whole(appender.bytes());
  for (size_t cut = 0; cut < whole.size(); ++cut) {
    std::vector<Sample> out;
    EXPECT_FALSE(DecodeXorChunk(std::string_view(whole).substr(0, cut), &out).ok()) << cut;
  }
  std::mt19937 rng(3);
  for (int round = 0; round < 500; ++round) {
    std::string garbage(rng() % 64, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    std::vector<Sample> out;
    (void)DecodeXorChunk(garbage, &out);  // must return, whatever it says
    EXPECT_LE(out.size(), 0xFFFFu);
  }
}

// The open chunk of a series is moved, reset and reused in place: each state reads back
// as the samples appended since the last reset, and a reset one holds nothing.
TEST(XorChunk, MovedAndResetAppendersStartOver) {
  std::vector<Sample> first;
  for (int i = 0; i < 40; ++i) first.push_back({1'000 + i * 10, i * 0.5});
  XorAppender appender;
  EXPECT_TRUE(appender.bytes().empty());
  for (const Sample& s : first) appender.Append(s.timestamp_ms, s.value);
  XorAppender moved(std::move(appender));
  EXPECT_EQ(appender.count(), 0);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_TRUE(appender.bytes().empty());
  std::vector<Sample> out;
  ASSERT_TRUE(DecodeXorChunk(moved.bytes(), &out).ok());
  ExpectBitIdentical(first, out);

  moved.Reset();
  EXPECT_EQ(moved.count(), 0);
  EXPECT_TRUE(moved.bytes().empty());
  const std::vector<Sample> second = {{5, -1.0}, {6, 1e300}, {900, 0.0}};
  for (const Sample& s : second) moved.Append(s.timestamp_ms, s.value);
  appender = std::move(moved);
  out.clear();
  ASSERT_TRUE(DecodeXorChunk(appender.bytes(), &out).ok());
  ExpectBitIdentical(second, out);
  EXPECT_EQ(appender.min_time(), 5);
  EXPECT_EQ(appender.max_time(), 900);

  // A cut chunk holds nothing but still knows its newest time; a reset one does not.
  appender.Cut();
  EXPECT_EQ(appender.count(), 0);
  EXPECT_TRUE(appender.bytes().empty());
  EXPECT_EQ(appender.max_time(), 900);
  appender.Append(901, 2.0);
  out.clear();
  ASSERT_TRUE(DecodeXorChunk(appender.bytes(), &out).ok());
  ExpectBitIdentical({{901, 2.0}}, out);
  appender.Reset();
  EXPECT_EQ(appender.max_time(), INT64_MIN);
  appender.set_max_time(1'000);
  EXPECT_EQ(appender.max_time(), 1'000);
}

}  // namespace
}  // namespace vigil::tsdb::chunk

#include "tsdb/chunk/block_chunk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "tsdb/chunk/range_coder.h"
#include "tsdb/chunk/xor_chunk.h"

namespace vigil::tsdb::chunk {
namespace {

using model::Sample;

void ExpectRoundTrip(const std::vector<Sample>& samples) {
  const std::string block = EncodeBlock(samples);
  std::vector<Sample> got = {{1, 1.0}};  // decoding appends
  Status status = DecodeChunk(kBlockEncoding, block, &got);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(got.size(), samples.size() + 1);
  for (size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(got[i + 1].timestamp_ms, samples[i].timestamp_ms) << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(got[i + 1].value), std::bit_cast<uint64_t>(samples[i].value))
        << i << ": " << samples[i].value;
  }
}

std::vector<Sample> Regular(int n, int64_t start, int64_t step, auto value) {
  std::vector<Sample> samples;
  for (int i = 0; i < n; ++i) samples.push_back({start + i * step, value(i)});
  return samples;
}

TEST(BlockChunk, DecimalsRoundTripAndCompress) {
  std::mt19937 rng(7);
  double level = 15.25;
  auto walk = [&](int) {  // boiler_pressure_out's walk, written with 2 decimals
    level =
        std::clamp(level + std::uniform_real_distribution<double>(-0.05, 0.05)(rng), 15.0, 15.5);
    return std::round(level * 100) / 100;
  };
  const auto samples = Regular(720, 1'767'225'600'000, 10'000, walk);
  ExpectRoundTrip(samples);
  // Two-decimal values with small steps and regular timestamps: a fraction of the XOR
  // chunk's ~1.4 bytes a sample (the steps' entropy is about 3.5 bits).
  EXPECT_LT(EncodeBlock(samples).size(), samples.size() * 6 / 10);
}

TEST(BlockChunk, IntegersAndCountersRoundTrip) {
  ExpectRoundTrip(Regular(720, 0, 10'000, [](int i) { return 1000.0 + 17.0 * i; }));
  ExpectRoundTrip(Regular(720, 0, 15'000, [](int i) { return static_cast<double>(i % 7); }));
  ExpectRoundTrip(Regular(1, 42, 1, [](int) { return -3.0; }));
  // The largest exact integers and negative ones.
  ExpectRoundTrip({{1, 9007199254740992.0}, {2, -9007199254740992.0}, {3, 0.0}});
  const auto counter = Regular(720, 0, 10'000, [](int i) { return 1e6 + 250.0 * i; });
  EXPECT_LT(EncodeBlock(counter).size(), 40u);  // a straight line: delta-of-delta is all zero
}

TEST(BlockChunk, AnyDoubleRoundTripsBitForBit) {
  const double nan_payload = std::bit_cast<double>(uint64_t{0x7FF8000000000ABCull});
  ExpectRoundTrip({{1000, 0.0},
                   {2000, -0.0},
                   {3000, std::numeric_limits<double>::infinity()},
                   {4000, -std::numeric_limits<double>::infinity()},
                   {5000, nan_payload},
                   {6000, std::numeric_limits<double>::denorm_min()},
                   {7000, 0.1 + 0.2},
                   {8000, 1e300}});
  std::mt19937_64 rng(3);
  std::vector<Sample> random;
  int64_t t = -5'000'000;
  for (int i = 0; i < 500; ++i) {
    t += 1 + static_cast<int64_t>(rng() % 100'000);
    random.push_back({t, std::bit_cast<double>(rng())});
  }
  ExpectRoundTrip(random);
}

TEST(BlockChunk, ExtremeTimestampsRoundTrip) {
  ExpectRoundTrip({{std::numeric_limits<int64_t>::min(), 1.0},
                   {-1, 2.0},
                   {0, 3.0},
                   {std::numeric_limits<int64_t>::max(), 4.0}});
}

TEST(BlockChunk, DamagedBytesAreDataLossAndLeaveTheOutputAlone) {
  const auto samples = Regular(300, 0, 10'000, [](int i) { return i * 0.25; });
  const std::string block = EncodeBlock(samples);
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::string damaged = block;
    if (round % 3 == 0) {
      damaged.resize(rng() % damaged.size());
    } else {
      damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    std::vector<Sample> out = {{1, 1.0}};
    Status status = DecodeBlock(damaged, &out);
    if (!status.ok()) {
      EXPECT_EQ(status.code(), StatusCode::kDataLoss);
      EXPECT_EQ(out.size(), 1u);
    }
  }
  std::vector<Sample> out;
  EXPECT_EQ(DecodeChunk(7, block, &out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeBlock("", &out).code(), StatusCode::kDataLoss);
}

TEST(BlockChunk, DecodeChunkReadsXorChunksToo) {
  XorAppender appender;
  appender.Append(10, 1.5);
  appender.Append(20, 2.5);
  std::vector<Sample> out;
  ASSERT_TRUE(DecodeChunk(kXorEncoding, appender.bytes(), &out).ok());
  EXPECT_EQ(out, (std::vector<Sample>{{10, 1.5}, {20, 2.5}}));
}

TEST(BlockChunk, ExceptionsKeepDecimalsForTheRest) {
  // −0.0 (what rounding −0.4 gives), a staleness NaN and one long fraction among
  // integers: stored verbatim, the rest still as small integers.
  auto samples = Regular(720, 0, 10'000, [](int i) { return static_cast<double>(i % 5); });
  samples[10].value = -0.0;
  samples[20].value = std::bit_cast<double>(uint64_t{0x7FF0000000000002ull});
  samples[30].value = 1.0 / 3;
  ExpectRoundTrip(samples);
  EXPECT_LT(EncodeBlock(samples).size(), 300u);
}

TEST(RangeCoder, RoundTripsNearTheEntropy) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> gauss(0, 1);
  struct Case {
    const char* name;
    std::function<uint64_t()> next;
    double max_bits;  // per value
  };
  const Case cases[] = {
      {"zeros", [] { return uint64_t{0}; }, 0.05},
      // Rounded N(0, 1) steps, zigzagged: entropy 2.10 bits.
      {"steps",
       [&] {
         const int64_t v = std::llround(gauss(rng));
         return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
       },
       2.25},
      {"wide", [&] { return rng() >> (rng() % 64); }, 80},
  };
  for (const Case& c : cases) {
    RangeEncoder encoder;
    SymbolModel model;
    std::vector<uint64_t> values;
    for (int i = 0; i < 7200; ++i) {
      values.push_back(c.next());
      encoder.Put(values.back(), model);
    }
    encoder.PutBits(0xDEADBEEFCAFEF00Dull, 64);
    const std::string bytes = encoder.Finish();
    EXPECT_LT(bytes.size() * 8.0 / 7200, c.max_bits) << c.name;
    RangeDecoder decoder(bytes);
    SymbolModel decoding;
    for (uint64_t v : values) ASSERT_EQ(decoder.Get(decoding), v) << c.name;
    EXPECT_EQ(decoder.GetBits(64), 0xDEADBEEFCAFEF00Dull);
    EXPECT_FALSE(decoder.failed());
  }
}

// The decoder divides by a model's total through a table of reciprocals: exact for every
// total a model can have and any 32-bit dividend (the edges and random ones).
TEST(RangeCoder, DividesByEveryModelTotalExactly) {
  std::mt19937_64 rng(2);
  const uint64_t* reciprocals = ModelTotalReciprocals();
  for (uint32_t d = 2; d <= SymbolModel::kMaxTotal; ++d) {
    const uint32_t edges[] = {0,
                              1,
                              d - 1,
                              d,
                              d + 1,
                              0xFFFFFFFFu,
                              0xFFFFFFFFu - 1,
                              0xFFFFFFFFu / d * d,
                              0xFFFFFFFFu / d * d - 1};
    for (uint32_t n : edges)
      ASSERT_EQ(DivideByModelTotal(n, d, reciprocals), n / d) << n << "/" << d;
    for (int i = 0; i < 64; ++i) {
      const auto n = static_cast<uint32_t>(rng());
      ASSERT_EQ(DivideByModelTotal(n, d, reciprocals), n / d) << n << "/" << d;
    }
  }
}

}  // namespace
}  // namespace vigil::tsdb::chunk

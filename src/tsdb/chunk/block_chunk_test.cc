#include "tsdb/chunk/block_chunk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "tsdb/chunk/range_coder.h"
#include "tsdb/chunk/symbol_stream.h"
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
  EXPECT_LT(EncodeBlock(counter).size(), 48u);  // a straight line: delta-of-delta is all zero
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

// Thinned for step picks, a block keeps for every pick time the sample it would find
// among all of them (the last at or before it), with its exact value, and the block's
// last sample; it keeps fewer when the picks are sparser than the samples.
TEST(BlockChunk, StepPicksKeepWhatEachPickTimeFinds) {
  std::mt19937_64 rng(17);
  size_t kept = 0, all = 0;
  for (int round = 0; round < 400; ++round) {
    const int n = 2 + static_cast<int>(rng() % 800);
    const int64_t start = static_cast<int64_t>(rng() % 1'000'000) - 500'000;
    std::vector<Sample> samples;
    int64_t t = start;
    for (int i = 0; i < n; ++i) {
      // Regular times (the header's t0 and step), or jittered (coded); decimals with an
      // exception now and then, or values that are no decimals (XOR planes).
      t += round % 2 ? 10'000 : 1 + static_cast<int64_t>(rng() % 20'000);
      double value = static_cast<double>(rng() % 10'000) / 100;
      if (round % 5 == 0 || rng() % 50 == 0) value = std::bit_cast<double>(rng() >> 2);
      samples.push_back({t, value});
    }
    const std::string block = EncodeBlock(samples);
    const store::StepPicks picks{.first = start - 50'000 + static_cast<int64_t>(rng() % 100'000),
                                 .step = 1 + static_cast<int64_t>(rng() % 120'000),
                                 .count = static_cast<size_t>(rng() % 3000)};
    std::vector<Sample> got = {{INT64_MIN, 1.0}};  // decoding appends
    ASSERT_TRUE(DecodeBlock(block, &got, &picks).ok());
    got.erase(got.begin());
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(std::bit_cast<uint64_t>(got.back().value),
              std::bit_cast<uint64_t>(samples.back().value));
    EXPECT_EQ(got.back().timestamp_ms, samples.back().timestamp_ms);
    auto last_at = [](const std::vector<Sample>& s, int64_t t) -> const Sample* {
      auto after = std::upper_bound(s.begin(), s.end(), t,
                                    [](int64_t t, const Sample& x) { return t < x.timestamp_ms; });
      return after == s.begin() ? nullptr : &*(after - 1);
    };
    for (size_t i = 0; i < picks.count; ++i) {
      const Sample* want = last_at(samples, picks.At(i));
      const Sample* found = last_at(got, picks.At(i));
      ASSERT_EQ(want == nullptr, found == nullptr) << round << " at " << picks.At(i);
      if (want == nullptr) continue;
      EXPECT_EQ(found->timestamp_ms, want->timestamp_ms) << round << " at " << picks.At(i);
      EXPECT_EQ(std::bit_cast<uint64_t>(found->value), std::bit_cast<uint64_t>(want->value));
    }
    for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].timestamp_ms, got[i].timestamp_ms);
    kept += got.size();
    all += samples.size();
  }
  EXPECT_LT(kept, all / 2);  // the picks are mostly sparser than the samples
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

TEST(SymbolStream, RoundTripsNearTheEntropy) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> gauss(0, 1);
  struct Case {
    const char* name;
    std::function<uint64_t()> next;
    double max_bits;  // per value, the table included
  };
  uint64_t n = 0;
  const Case cases[] = {
      {"zeros", [] { return uint64_t{0}; }, 0.05},
      // Rounded N(0, 1) steps, zigzagged: entropy 2.10 bits.
      {"steps",
       [&] {
         const int64_t v = std::llround(gauss(rng));
         return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
       },
       2.2},
      {"wide", [&] { return rng() >> (rng() % 64); }, 40},
      // Every symbol: the 16 small values and each bit length up to 64.
      {"every symbol", [&] { return ++n % 76 < 16 ? n % 76 : uint64_t{1} << (n % 76 - 12); }, 40},
  };
  for (const Case& c : cases) {
    for (StreamLayout layout :
         {kTwoStatesBytes, kFourStatesBytes, kFourStatesWords, kStatesInStream}) {
      for (size_t count : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{7200}}) {
        const std::string name = std::string(c.name) + ", " + std::to_string(layout.states) +
                                 (layout.words ? " word-wise" : " byte-wise") + " states, " +
                                 std::to_string(count);
        std::vector<uint64_t> values;
        for (size_t i = 0; i < count; ++i) values.push_back(c.next());
        std::string bytes = "x";  // streams append
        PutSymbolStream(values, layout, &bytes);
        bytes += "tail";
        if (count == 7200) {
          EXPECT_LT((bytes.size() - 5) * 8.0 / 7200, c.max_bits) << name;
        }
        std::string_view in(bytes);
        in.remove_prefix(1);
        SymbolStreamReader reader;
        ASSERT_TRUE(reader.Open(&in, layout)) << name;
        // In parts of odd and even sizes, as a reader may take them: each part starts at
        // another state's turn (and sixteen states are read a state at a time, or by
        // vectors when a part starts at state 0's turn and holds 16 values).
        std::vector<uint64_t> got(values.size());
        for (size_t done = 0, part = 1; done < count; done += part, part += 2) {
          reader.Read(got.data() + done, std::min(part, count - done));
        }
        EXPECT_EQ(got, values) << name;
        EXPECT_TRUE(reader.Finished()) << name;
        EXPECT_EQ(in, "tail");
        // And at once, as blocks are read.
        std::string_view again(bytes);
        again.remove_prefix(1);
        SymbolStreamReader whole;
        ASSERT_TRUE(whole.Open(&again, layout)) << name;
        std::vector<uint64_t> all(values.size());
        whole.Read(all.data(), all.size());
        EXPECT_EQ(all, values) << name;
        EXPECT_TRUE(whole.Finished()) << name;
      }
    }
  }
}

TEST(SymbolStream, DamageIsNoticed) {
  std::mt19937_64 rng(5);
  std::vector<uint64_t> values;
  for (int i = 0; i < 1000; ++i) values.push_back(rng() % 9 == 0 ? rng() >> 20 : rng() % 6);
  for (StreamLayout layout :
       {kTwoStatesBytes, kFourStatesBytes, kFourStatesWords, kStatesInStream}) {
    std::string bytes;
    PutSymbolStream(values, layout, &bytes);
    int noticed = 0;
    for (int round = 0; round < 500; ++round) {
      std::string damaged = bytes;
      damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
      std::string_view in(damaged);
      SymbolStreamReader reader;
      std::vector<uint64_t> got(values.size());
      if (reader.Open(&in, layout)) reader.Read(got.data(), got.size());
      if (got != values || !reader.Finished()) ++noticed;
    }
    // A flipped byte nearly always shows; the row's CRC has the rest.
    EXPECT_GE(noticed, 490) << layout.states << " states, words " << layout.words;
  }
}

// Blocks of the encodings written before still read, as the encoders of the time wrote
// them: encoding 2 (range coded, before 2026-12) with 2-decimal values, coded timestamps
// and exceptions, and with XOR planes and regular timestamps; encoding 3 (symbol streams
// of two states, before 2026-12-05) and encoding 5 (four word-wise states, before the
// sixteen of 2026-12-06's last pass) with the same decimals.
TEST(BlockChunk, OlderEncodingsStillRead) {
  std::vector<Sample> decimals, planes;
  int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 40; ++i) {
    t += 10'000 + (i % 3) * 7 - (i % 5);
    double v = 15 + ((i * 37) % 11) / 100.0;
    if (i == 5) v = std::numeric_limits<double>::quiet_NaN();
    if (i == 17) v = -0.0;
    if (i == 30) v = 1.0 / 3;
    if (i == 33) v = 1e15 + 12345;
    decimals.push_back({t, v});
    planes.push_back({1'700'000'000'000 + i * 15'000, std::sin(i) * 1000});
  }
  struct Old {
    int encoding;
    const char* hex;
    const std::vector<Sample>& want;
  };
  const Old blocks[] = {
      {kRangeCodedBlockEncoding,
       "002800020151b2f2ee3e415340d488f6aff87a1155cfb1cb98e372bc6f2dd38566c61fc60000"
       "0008a8e162f96c0000000008325e82ed5555556176f00d10584a45dea03296a7226d0eec1cac"
       "72174d600bff2818fd7a00",
       decimals},
      {kRangeCodedBlockEncoding,
       "01280180a0abfef962b0ea01040000000028b52ffd604000050900441100400000808a06ede6"
       "0afcf50af7f80e0ffaf40af5ff09e5ee06abab06ece70afdf4f6fc004b21c9055181f16d2bc1"
       "3ffb86b6a6acf57ccb3ba296c23dc75f370d535da07b04b74a3ce2999b00c4a5b6bc0fc14139"
       "38cec07e3977963e5dcbf79db1e01d63e136767f6c52daf322e245d775abb90093b23a99680b"
       "6c3de06ccda778f3a283ecf1f8c66070ac1ff53d52fd2af5f5e6aa2a61210faa4100aefe748c"
       "b56daeb9a0e84661c6836e0f149a5d62f7d8f1012989222103c3da2195188e5a5f15b200d61c"
       "4679a02b05a13c7de725e3ce9e0c1e5368cebf9383dfb45bc521970592a10ef355eb1d650200"
       "a0ac57ad6a6c3c52ea0205302b675865c88bc3c1ae458c830e3b718a75f04a90ed448e58e064"
       "3c030001c2732240da6901",
       planes},
      {kTwoStateBlockEncoding,
       "0028000201040cff0310cd031a1a351a10201ecb9f17599cb66eeb69ebb69eb66e0e0174a7e8"
       "01c9dbcf8d115588cd530405000000000000f87f0c00000000000000800d555555555555d53f"
       "03c8813526f56b0c430500660566089a040d8002171a02b803101dc297f601702d38775f6667"
       "7aeebe4e",
       decimals},
      {kFourWordStatesBlockEncoding,
       "0028000201040cff0310cd031a1a351a10201ecb9f17599cb66eeb69ebb69eb66e107930b3ee"
       "860cbbd30624ddbc06d807810405000000000000f87f0c00000000000000800d555555555555"
       "d53f03c8813526f56b0c430500660566089a040d8002171a02b803160001d7ef000628d60020"
       "6ad377a21b9412e2be178a63",
       decimals},
  };
  for (const Old& old : blocks) {
    std::string bytes;
    for (const char* h = old.hex; *h != 0; h += 2) {
      bytes.push_back(static_cast<char>(std::stoi(std::string(h, 2), nullptr, 16)));
    }
    std::vector<Sample> got;
    ASSERT_TRUE(DecodeChunk(old.encoding, bytes, &got).ok()) << old.encoding;
    ASSERT_EQ(got.size(), old.want.size());
    for (size_t i = 0; i < old.want.size(); ++i) {
      EXPECT_EQ(got[i].timestamp_ms, old.want[i].timestamp_ms) << i;
      EXPECT_EQ(std::bit_cast<uint64_t>(got[i].value), std::bit_cast<uint64_t>(old.want[i].value))
          << i;
    }
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

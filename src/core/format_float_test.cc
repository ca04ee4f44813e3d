#include "core/format_float.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <random>

namespace vigil {
namespace {

TEST(FormatFloat, FixedIsPrometheusApiStyle) {
  EXPECT_EQ(FormatFloat(1e21, FloatStyle::kFixed), "1000000000000000000000");
  EXPECT_EQ(FormatFloat(0.1, FloatStyle::kFixed), "0.1");
  EXPECT_EQ(FormatFloat(-0.0, FloatStyle::kFixed), "-0");
  EXPECT_EQ(FormatFloat(1e-7, FloatStyle::kFixed), "0.0000001");
  EXPECT_EQ(FormatFloat(std::nan(""), FloatStyle::kFixed), "NaN");
  EXPECT_EQ(FormatFloat(-INFINITY, FloatStyle::kFixed), "-Inf");
}

// Go's 'f' with the shortest digits, built another way: std::to_chars's shortest
// scientific form, its digits laid out around the point and padded with zeros (as Go
// pads; std::to_chars's own fixed form writes a large value's exact integer instead).
std::string GoFixed(double value) {
  char text[64];
  std::string scientific(
      text, std::to_chars(text, text + sizeof(text), value, std::chars_format::scientific).ptr);
  std::string sign;
  if (scientific[0] == '-') {
    sign = "-";
    scientific.erase(0, 1);
  }
  const size_t e = scientific.find('e');
  const int point = std::stoi(scientific.substr(e + 1)) + 1;  // digits before the point
  std::string digits = scientific.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int count = static_cast<int>(digits.size());
  if (point <= 0) return sign + "0." + std::string(static_cast<size_t>(-point), '0') + digits;
  if (point >= count) return sign + digits + std::string(static_cast<size_t>(point - count), '0');
  return sign + digits.substr(0, static_cast<size_t>(point)) + "." +
         digits.substr(static_cast<size_t>(point));
}

// The fixed form against GoFixed on random bit patterns (every exponent) and on values
// like a rate's or a gauge's.
TEST(FormatFloat, FixedMatchesGoOnRandomValues) {
  std::mt19937_64 random(20261206);
  std::uniform_real_distribution<double> typical(-1000, 1000);
  for (int i = 0; i < 100000; ++i) {
    double value;
    if (i % 2 == 0) {
      const uint64_t bits = random();
      std::memcpy(&value, &bits, sizeof(value));
      if (!std::isfinite(value)) continue;
    } else {
      value = typical(random) / static_cast<double>(1 + i % 7);
    }
    ASSERT_EQ(FormatFloat(value, FloatStyle::kFixed), GoFixed(value)) << value;
  }
}

// The hundredths path writes what the fixed form writes, on values of two decimals of
// every size up to where it gives up, on their neighbours a bit away (which it must
// refuse or write alike), and on other values; it takes the values it is for.
TEST(FormatFloat, HundredthsWriteTheFixedFormOrNothing) {
  std::mt19937_64 random(20261207);
  auto check = [](double value) {
    char fast[kMaxFloatChars];
    char* end = WriteFixedHundredths(fast, value);
    if (end != nullptr) {
      EXPECT_EQ(std::string(fast, end), GoFixed(value)) << value;
    }
    return end != nullptr;
  };
  int taken = 0;
  for (int i = 0; i < 200000; ++i) {
    // h / 100 with h of 1 to 54 bits: up to and past 2⁴⁰.
    const uint64_t h = random() >> (10 + i % 54);
    const double value = (i % 3 == 0 ? -1.0 : 1.0) * static_cast<double>(h) / 100;
    const bool fast = check(value);
    if (std::fabs(value) < 0x1p39) {
      EXPECT_TRUE(fast) << value;
      taken += fast ? 1 : 0;
    }
    check(std::nextafter(value, INFINITY));
    check(std::nextafter(value, -INFINITY));
    check(value / 10);  // three decimals
    uint64_t bits = random();
    double any;
    std::memcpy(&any, &bits, sizeof(any));
    check(any);
  }
  EXPECT_GT(taken, 1000);
  for (double value : {0.0, -0.0, 0.01, 0.1, 0.5, 15.23, 100.0, 0x1p40 - 0.5, 0x1p40, 0.005,
                       0.1 + 0.2, 1e-300, -7.05, std::nan(""), static_cast<double>(INFINITY)}) {
    check(value);
  }
  char text[kMaxFloatChars];
  EXPECT_EQ(std::string(text, WriteFixedHundredths(text, -0.0)), "-0");
  EXPECT_EQ(std::string(text, WriteFixedHundredths(text, 7.05)), "7.05");
  EXPECT_EQ(std::string(text, WriteFixedHundredths(text, 7.5)), "7.5");
  EXPECT_EQ(WriteFixedHundredths(text, 0.30000000000000004), nullptr);
  EXPECT_EQ(WriteFixedHundredths(text, std::nan("")), nullptr);
}

// Answers Prometheus 2.42 gave for these scalars (/api/v1/query): shortest digits, then
// zeros, never the double's exact integer.
TEST(FormatFloat, FixedPadsLargeValuesWithZerosAsPrometheusDoes) {
  EXPECT_EQ(FormatFloat(1e23, FloatStyle::kFixed), "100000000000000000000000");
  EXPECT_EQ(FormatFloat(123456789012345678.0, FloatStyle::kFixed), "123456789012345680");
  EXPECT_EQ(FormatFloat(12345678901234567890.0, FloatStyle::kFixed), "12345678901234567000");
  EXPECT_EQ(FormatFloat(-2.7148630788634419e+163, FloatStyle::kFixed),
            "-2714863078863442" + std::string(148, '0'));
  EXPECT_EQ(FormatFloat(2.5e-7, FloatStyle::kFixed), "0.00000025");
  EXPECT_EQ(FormatFloat(5e-324, FloatStyle::kFixed), "0." + std::string(323, '0') + "5");
  EXPECT_EQ(FormatFloat(0.1 + 0.2, FloatStyle::kFixed), "0.30000000000000004");
}

TEST(FormatFloat, ShortestIsGoG) {
  EXPECT_EQ(FormatFloat(1e21, FloatStyle::kShortest), "1e+21");
  EXPECT_EQ(FormatFloat(1e-7, FloatStyle::kShortest), "1e-07");
  EXPECT_EQ(FormatFloat(15.25, FloatStyle::kShortest), "15.25");
  // Go's 'g' switches to the exponent at 1e6 and below 1e-4, whatever is shorter.
  EXPECT_EQ(FormatFloat(123456, FloatStyle::kShortest), "123456");
  EXPECT_EQ(FormatFloat(1234567, FloatStyle::kShortest), "1.234567e+06");
  EXPECT_EQ(FormatFloat(21504000, FloatStyle::kShortest), "2.1504e+07");
  EXPECT_EQ(FormatFloat(0.0001, FloatStyle::kShortest), "0.0001");
  EXPECT_EQ(FormatFloat(0.00001234, FloatStyle::kShortest), "1.234e-05");
  EXPECT_EQ(FormatFloat(1, FloatStyle::kExponent), "1e+00");
  EXPECT_EQ(FormatFloat(-15.25, FloatStyle::kExponent), "-1.525e+01");
  EXPECT_EQ(FormatFloat(1e100, FloatStyle::kShortest), "1e+100");
  EXPECT_EQ(FormatFloat(INFINITY, FloatStyle::kShortest), "+Inf");
}

}  // namespace
}  // namespace vigil

#include "core/format_float.h"

#include <gtest/gtest.h>

#include <cmath>

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

#include "core/options.h"

#include <gtest/gtest.h>

namespace vigil::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsPrometheusStyle) {
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("15s"), milliseconds(15'000));
  EXPECT_EQ(*ParseDuration("1m30s"), milliseconds(90'000));
  EXPECT_EQ(*ParseDuration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(*ParseDuration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(*ParseDuration("0"), milliseconds(0));
}

TEST(ParseDuration, RejectsWhatItCannotRead) {
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("15").ok());
  EXPECT_FALSE(ParseDuration("s").ok());
  EXPECT_FALSE(ParseDuration("1x").ok());
  EXPECT_FALSE(ParseDuration("30s1m").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("99999999999999999w").ok());
  EXPECT_NE(ParseDuration("15").status().message().find("needs a unit"), std::string::npos);
}

TEST(CheckValue, ReportsRangeAndChoices) {
  OptionSpec freq{"freq", OptionType::kFloat, "Hz", 1.0, 0.001, 1000.0};
  EXPECT_FALSE(CheckValue(freq, 5.0));
  EXPECT_EQ(*CheckValue(freq, 2000.0), "must be at most 1000, got 2000");
  EXPECT_EQ(*CheckValue(freq, 0.0), "must be at least 0.001, got 0");
  OptionSpec level{"level",      OptionType::kString, "", std::string("info"), std::nullopt,
                   std::nullopt, {"info", "debug"}};
  EXPECT_EQ(*CheckValue(level, std::string("loud")), "must be one of info, debug, got \"loud\"");
  OptionSpec timeout{"t", OptionType::kDuration, "", milliseconds(1000), 0.5, 10.0};
  EXPECT_EQ(*CheckValue(timeout, milliseconds(100)), "must be at least 0.5s, got 0.1s");
}

TEST(FormatValue, WritesTomlLiterals) {
  EXPECT_EQ(FormatValue(milliseconds(90'000)), "\"1m30s\"");
  EXPECT_EQ(FormatValue(1.0), "1.0");
  EXPECT_EQ(FormatValue(std::string("x")), "\"x\"");
  EXPECT_EQ(FormatValue(LabelMap{{"unit", "bar"}}), "{ unit = \"bar\" }");
}

}  // namespace
}  // namespace vigil::config

#include "model/matcher.h"

#include <gtest/gtest.h>

namespace vigil::model {
namespace {

Matcher Make(MatchType type, std::string name, std::string value) {
  auto m = Matcher::Create(type, std::move(name), std::move(value));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

TEST(Matcher, FourKindsAsInPrometheus) {
  Labels labels = Labels::Of({{"__name__", "boiler_pressure_out"}, {"area", "boiler"}});
  EXPECT_TRUE(Make(MatchType::kEqual, "area", "boiler").Matches(labels));
  EXPECT_FALSE(Make(MatchType::kNotEqual, "area", "boiler").Matches(labels));
  EXPECT_TRUE(Make(MatchType::kRegexMatch, "__name__", "boiler_.*").Matches(labels));
  EXPECT_TRUE(Make(MatchType::kRegexNoMatch, "area", "turb.*").Matches(labels));
}

TEST(Matcher, RegexIsFullyAnchored) {
  Labels labels = Labels::Of({{"area", "boiler"}});
  EXPECT_FALSE(Make(MatchType::kRegexMatch, "area", "boil").Matches(labels));
  EXPECT_TRUE(Make(MatchType::kRegexMatch, "area", "boil|boiler").Matches(labels));
  EXPECT_FALSE(Make(MatchType::kRegexMatch, "area", "a|boil").Matches(labels));
}

TEST(Matcher, AbsentLabelIsTheEmptyString) {
  Labels labels = Labels::Of({{"a", "1"}});
  EXPECT_TRUE(Make(MatchType::kEqual, "missing", "").Matches(labels));
  EXPECT_TRUE(Make(MatchType::kRegexMatch, "missing", ".*").Matches(labels));
  EXPECT_FALSE(Make(MatchType::kRegexMatch, "missing", ".+").Matches(labels));
}

TEST(Matcher, InvalidInputIsRejected) {
  EXPECT_EQ(Matcher::Create(MatchType::kRegexMatch, "a", "(").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(Matcher::Create(MatchType::kEqual, "a-b", "x").ok());
}

TEST(Matcher, ToStringQuotes) {
  EXPECT_EQ(Make(MatchType::kRegexNoMatch, "a", "x\"y").ToString(), "a!~\"x\\\"y\"");
}

}  // namespace
}  // namespace vigil::model

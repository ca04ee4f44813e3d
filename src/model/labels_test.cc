#include "model/labels.h"

#include <gtest/gtest.h>

#include <unordered_set>

#include "model/json_values.h"

namespace vigil::model {
namespace {

TEST(Labels, FromPairsSortsAndDropsEmptyValues) {
  auto labels = Labels::FromPairs({{"unit", "bar"}, {"__name__", "p"}, {"area", ""}, {"a", "1"}});
  ASSERT_TRUE(labels.ok());
  ASSERT_EQ(labels->size(), 3u);
  std::vector<Label> pairs(labels->begin(), labels->end());
  EXPECT_EQ(pairs, (std::vector<Label>{{"__name__", "p"}, {"a", "1"}, {"unit", "bar"}}));
  EXPECT_EQ(labels->Get("area"), "");
  EXPECT_EQ(labels->MetricName(), "p");
}

TEST(Labels, FromPairsRejectsInvalidInput) {
  EXPECT_EQ(Labels::FromPairs({{"bad-name", "x"}}).status().message(),
            "invalid label name \"bad-name\"");
  EXPECT_EQ(Labels::FromPairs({{"a", "1"}, {"a", "2"}}).status().message(),
            "label \"a\" given twice");
  EXPECT_EQ(Labels::FromPairs({{"__name__", "1x"}}).status().message(),
            "invalid metric name \"1x\"");
  EXPECT_FALSE(Labels::FromPairs({{"a", "\xFF"}}).ok());
}

TEST(Labels, ToStringIsCanonicalAndEscaped) {
  Labels labels = Labels::Of({{"__name__", "up"}, {"path", "C:\\tmp"}, {"msg", "say \"hi\"\nbye"}});
  EXPECT_EQ(labels.ToString(), "up{msg=\"say \\\"hi\\\"\\nbye\",path=\"C:\\\\tmp\"}");
  EXPECT_EQ(Labels::Of({{"a", "b"}}).ToString(), "{a=\"b\"}");
  EXPECT_EQ(Labels().ToString(), "{}");
  // A NUL or an escape byte from a hostile writer never reaches a log raw.
  EXPECT_EQ(Labels::Of({{"a", std::string("x\0\x1b", 3)}}).ToString(), "{a=\"x\\x00\\x1b\"}");
}

TEST(Labels, LimitsRefuseTheSeriesAndSayWhy) {
  const LabelLimits limits{.max_labels = 3, .max_name_length = 8, .max_value_length = 5};
  std::string why;
  EXPECT_EQ(CheckLabelLimits(Labels::Of({{"__name__", "up"}, {"job", "node"}}), limits, &why),
            LabelViolation::kNone);
  EXPECT_EQ(CheckLabelLimits(Labels(), limits, &why), LabelViolation::kEmpty);
  EXPECT_EQ(why, "series {} refused: it has no labels");
  EXPECT_EQ(CheckLabelLimits(Labels::Of({{"__name__", "up"}, {"a", "1"}, {"b", "2"}, {"c", "3"}}),
                             limits, &why),
            LabelViolation::kTooMany);
  EXPECT_NE(why.find("4 labels, more than label_limit 3"), std::string::npos) << why;
  EXPECT_EQ(CheckLabelLimits(Labels::Of({{"__name__", "up"}, {"verylongname", "1"}}), limits, &why),
            LabelViolation::kNameTooLong);
  EXPECT_EQ(CheckLabelLimits(Labels::Of({{"__name__", "up"}, {"job", "123456"}}), limits, &why),
            LabelViolation::kValueTooLong);
  EXPECT_NE(why.find("label job has a value of 6 bytes"), std::string::npos) << why;
  EXPECT_EQ(LabelViolationName(LabelViolation::kValueTooLong), "label_value_length_limit");
  // 0 is no bound; the series in the reason is cut to a readable length.
  EXPECT_EQ(CheckLabelLimits(Labels::Of({{"__name__", "up"}, {"job", std::string(5000, 'x')}}),
                             LabelLimits{0, 0, 0}, &why),
            LabelViolation::kNone);
  EXPECT_EQ(CheckLabelLimits(Labels::Of({{"__name__", "up"}, {"job", std::string(5000, 'x')}}),
                             LabelLimits{}, &why),
            LabelViolation::kValueTooLong);
  EXPECT_LT(why.size(), 400u);
}

TEST(Labels, HashSeparatesNameFromValue) {
  EXPECT_NE(Labels::Of({{"a", "bc"}}).Hash(), Labels::Of({{"ab", "c"}}).Hash());
  EXPECT_EQ(Labels::Of({{"a", "1"}, {"b", "2"}}).Hash(),
            Labels::Of({{"b", "2"}, {"a", "1"}}).Hash());
  std::unordered_set<uint64_t> hashes;
  for (int i = 0; i < 10000; ++i) {
    hashes.insert(Labels::Of({{"__name__", "m"}, {"server", std::to_string(i)}}).Hash());
  }
  EXPECT_EQ(hashes.size(), 10000u);
}

TEST(Labels, WithSetsReplacesAndRemoves) {
  Labels base = Labels::Of({{"a", "1"}, {"c", "3"}});
  EXPECT_EQ(base.With("b", "2").ToString(), "{a=\"1\",b=\"2\",c=\"3\"}");
  EXPECT_EQ(base.With("a", "9").ToString(), "{a=\"9\",c=\"3\"}");
  EXPECT_EQ(base.With("a", "").ToString(), "{c=\"3\"}");
  EXPECT_EQ(base.ToString(), "{a=\"1\",c=\"3\"}");  // With leaves the original alone
}

TEST(Labels, SetChangesInPlaceAndKeepsTheOrder) {
  Labels labels = Labels::Of({{"b", "2"}});
  labels.Set("c", "3");
  labels.Set("a", "1");
  labels.Set("b", "9");
  EXPECT_EQ(labels.ToString(), "{a=\"1\",b=\"9\",c=\"3\"}");
  labels.Set("b", "");
  labels.Set("zz", "");  // removing an absent label is nothing
  EXPECT_EQ(labels.ToString(), "{a=\"1\",c=\"3\"}");
  EXPECT_EQ(labels, Labels::Of({{"a", "1"}, {"c", "3"}}));
}

TEST(Labels, GetFindsEveryNameAmongLookalikes) {
  // Names that share first bytes and lengths, and names that sort before, between and
  // after them.
  Labels labels = Labels::Of({{"__name__", "up"},
                              {"area", "boiler"},
                              {"arez", "x"},
                              {"unit", "bar"},
                              {"zone", "steam"},
                              {"Zone", "upper"}});
  EXPECT_EQ(labels.Get("__name__"), "up");
  EXPECT_EQ(labels.Get("area"), "boiler");
  EXPECT_EQ(labels.Get("arez"), "x");
  EXPECT_EQ(labels.Get("unit"), "bar");
  EXPECT_EQ(labels.Get("zone"), "steam");
  EXPECT_EQ(labels.Get("Zone"), "upper");
  for (std::string_view absent : {"", "A", "_", "are", "areas", "arey", "b", "zonf", "zz"})
    EXPECT_EQ(labels.Get(absent), "") << absent;
}

}  // namespace
}  // namespace vigil::model

namespace vigil::model {
namespace {

// The series rows' JSON: the plain form is read without a JSON tree, anything else by the
// full parser; both give what LabelsJsonText wrote, and neither accepts what is not labels.
TEST(LabelsJson, RoundTripsPlainAndEscapedAndRefusesTheRest) {
  for (const Labels& labels :
       {Labels::Of({{"__name__", "up"}, {"job", "node"}}), Labels::Of({{"a", "quote \" here"}}),
        Labels::Of({{"a", "back\\slash"}, {"b", "new\nline"}}), Labels::Of({{"z", "ünïcödé"}}),
        Labels()}) {
    auto back = LabelsFromJsonText(LabelsJsonText(labels));
    ASSERT_TRUE(back.ok()) << LabelsJsonText(labels);
    EXPECT_EQ(*back, labels);
  }
  auto spaced = LabelsFromJsonText(R"({ "job" : "node", "__name__": "up" })");
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(*spaced, Labels::Of({{"__name__", "up"}, {"job", "node"}}));
  for (std::string_view bad : {"", "{", R"({"a":1})", R"({"a":"b",})", R"({"1a":"b"})",
                               R"(["a","b"])", R"({"a":"b"}x)", R"({"a""b"})"}) {
    EXPECT_FALSE(LabelsFromJsonText(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace vigil::model

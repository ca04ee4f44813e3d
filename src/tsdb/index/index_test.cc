#include "tsdb/index/index.h"

#include <gtest/gtest.h>

namespace vigil::tsdb::index {
namespace {

using model::Labels;
using model::Matcher;
using model::MatchType;

Matcher M(MatchType type, const std::string& name, const std::string& value) {
  return *Matcher::Create(type, name, value);
}

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    index_.Add(1, Labels::Of({{"__name__", "cpu"}, {"host", "a"}, {"mode", "user"}}));
    index_.Add(2, Labels::Of({{"__name__", "cpu"}, {"host", "b"}, {"mode", "system"}}));
    index_.Add(3, Labels::Of({{"__name__", "cpu"}, {"host", "ab"}}));
    index_.Add(4, Labels::Of({{"__name__", "mem"}, {"host", "a"}}));
  }
  std::vector<uint64_t> Select(std::vector<Matcher> matchers) { return index_.Select(matchers); }
  Index index_;
};

TEST_F(IndexTest, FindsByLabelSet) {
  const Labels l = Labels::Of({{"__name__", "mem"}, {"host", "a"}});
  EXPECT_EQ(index_.Find(l, l.Hash()), 4u);
  const Labels other = Labels::Of({{"__name__", "mem"}, {"host", "z"}});
  EXPECT_EQ(index_.Find(other, other.Hash()), 0u);
  // A hash that collides with a known series still needs equal labels.
  EXPECT_EQ(index_.Find(other, l.Hash()), 0u);
}

TEST_F(IndexTest, AllFourMatchersWithPrometheusSemantics) {
  EXPECT_EQ(Select({M(MatchType::kEqual, "__name__", "cpu")}), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(Select({M(MatchType::kEqual, "__name__", "cpu"), M(MatchType::kNotEqual, "host", "a")}),
            (std::vector<uint64_t>{2, 3}));
  // Regexes are fully anchored: "a" does not match "ab".
  EXPECT_EQ(Select({M(MatchType::kRegexMatch, "host", "a")}), (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(Select({M(MatchType::kRegexMatch, "host", "a.*")}), (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(Select({M(MatchType::kRegexNoMatch, "host", "a.*")}), (std::vector<uint64_t>{2}));
  // An absent label matches as "": series 3 has no mode.
  EXPECT_EQ(Select({M(MatchType::kEqual, "__name__", "cpu"), M(MatchType::kEqual, "mode", "")}),
            (std::vector<uint64_t>{3}));
  EXPECT_EQ(Select({M(MatchType::kNotEqual, "mode", "")}), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Select({M(MatchType::kRegexMatch, "mode", "user|")}), (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(Select({}), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(Select({M(MatchType::kEqual, "nope", "x")}).empty());
}

TEST_F(IndexTest, LabelNamesAndValues) {
  EXPECT_EQ(index_.LabelNames({}), (std::vector<std::string>{"__name__", "host", "mode"}));
  EXPECT_EQ(index_.LabelNames({M(MatchType::kEqual, "__name__", "mem")}),
            (std::vector<std::string>{"__name__", "host"}));
  EXPECT_EQ(index_.LabelValues("host", {}), (std::vector<std::string>{"a", "ab", "b"}));
  EXPECT_EQ(index_.LabelValues("host", {M(MatchType::kEqual, "mode", "user")}),
            (std::vector<std::string>{"a"}));
}

TEST_F(IndexTest, RemoveForgetsPostingsAndNames) {
  index_.Remove(2);
  EXPECT_EQ(index_.size(), 3u);
  EXPECT_EQ(index_.LabelValues("mode", {}), (std::vector<std::string>{"user"}));
  EXPECT_EQ(Select({M(MatchType::kEqual, "__name__", "cpu")}), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(index_.Get(2), nullptr);
  const Labels l = Labels::Of({{"__name__", "cpu"}, {"host", "b"}, {"mode", "system"}});
  EXPECT_EQ(index_.Find(l, l.Hash()), 0u);
}

}  // namespace
}  // namespace vigil::tsdb::index

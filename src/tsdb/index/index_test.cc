#include "tsdb/index/index.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

namespace vigil::tsdb::index {
namespace {

using model::Labels;
using model::Matcher;
using model::MatchType;

Matcher M(MatchType type, const std::string& name, const std::string& value) {
  return *Matcher::Create(type, name, value);
}

// A record as the store's derives from Entry.
struct TestEntry : Entry {
  explicit TestEntry(uint64_t id) : Entry(id) {}
};

class IndexTest : public ::testing::Test {
 protected:
  ~IndexTest() override {
    for (TestEntry* entry : entries_) Entry::Free(entry);
  }
  void SetUp() override {
    Add(1, Labels::Of({{"__name__", "cpu"}, {"host", "a"}, {"mode", "user"}}));
    Add(2, Labels::Of({{"__name__", "cpu"}, {"host", "b"}, {"mode", "system"}}));
    Add(3, Labels::Of({{"__name__", "cpu"}, {"host", "ab"}}));
    Add(4, Labels::Of({{"__name__", "mem"}, {"host", "a"}}));
  }
  void Add(uint64_t id, Labels labels) {
    entries_.push_back(Entry::Make<TestEntry>(labels.view(), id));
    index_.Add(entries_.back());
  }
  std::vector<uint64_t> Select(std::vector<Matcher> matchers) { return index_.Select(matchers); }
  // The id of the series with `labels` looked up under `hash`; 0: none.
  uint64_t FindId(model::LabelsView labels, uint64_t hash) const {
    const Entry* entry = index_.Find(labels, hash);
    return entry == nullptr ? 0 : entry->id;
  }
  std::vector<TestEntry*> entries_;  // declared first: they outlive index_
  Index index_;
};

TEST_F(IndexTest, FindsByLabelSet) {
  const Labels l = Labels::Of({{"__name__", "mem"}, {"host", "a"}});
  EXPECT_EQ(FindId(l.view(), l.Hash()), 4u);
  const Labels other = Labels::Of({{"__name__", "mem"}, {"host", "z"}});
  EXPECT_EQ(FindId(other.view(), other.Hash()), 0u);
  // A hash that collides with a known series still needs equal labels.
  EXPECT_EQ(FindId(other.view(), l.Hash()), 0u);
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
  index_.Remove(index_.Get(2));
  EXPECT_EQ(index_.size(), 3u);
  EXPECT_EQ(index_.LabelValues("mode", {}), (std::vector<std::string>{"user"}));
  EXPECT_EQ(Select({M(MatchType::kEqual, "__name__", "cpu")}), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(index_.Get(2), nullptr);
  const Labels l = Labels::Of({{"__name__", "cpu"}, {"host", "b"}, {"mode", "system"}});
  EXPECT_EQ(FindId(l.view(), l.Hash()), 0u);
}

TEST_F(IndexTest, GetsByIdAcrossGrowthAndRemoval) {
  for (uint64_t id = 5; id < 5000; ++id) {
    Add(id, Labels::Of({{"__name__", "many"}, {"n", std::to_string(id)}}));
  }
  for (uint64_t id = 5; id < 5000; id += 2) index_.Remove(index_.Get(id));
  for (uint64_t id = 1; id < 5000; ++id) {
    const Entry* entry = index_.Get(id);
    if (id >= 5 && id % 2 == 1) {
      EXPECT_EQ(entry, nullptr) << id;
    } else {
      ASSERT_NE(entry, nullptr) << id;
      EXPECT_EQ(entry->id, id);
      EXPECT_EQ(FindId(entry->labels(), entry->labels().Hash()), id);
    }
  }
  EXPECT_EQ(index_.Get(5000), nullptr);
  size_t seen = 0;
  for (const Entry& entry : index_.entries()) seen += index_.Get(entry.id) == &entry ? 1 : 0;
  EXPECT_EQ(seen, index_.size());
  EXPECT_EQ(Select({M(MatchType::kEqual, "__name__", "many")}).size(), 2497u);
}

// Ids by the page: added and removed in random order, in runs as the store numbers its
// series and far apart (pages freed, the directory's front given back, ids below all the
// others), Get, size() and entries() agree with a plain map after each step.
TEST(IndexById, RandomAddsAndRemovesAgreeWithAMap) {
  std::mt19937_64 rng(7);
  Index index;
  std::map<uint64_t, TestEntry*> want;
  auto check = [&] {
    ASSERT_EQ(index.size(), want.size());
    std::vector<uint64_t> ids;
    for (const Entry& entry : index.entries()) ids.push_back(entry.id);
    std::vector<uint64_t> want_ids;
    for (const auto& [id, entry] : want) want_ids.push_back(id);
    ASSERT_EQ(ids, want_ids);  // ascending
    for (int k = 0; k < 50; ++k) {
      const uint64_t id = 1 + rng() % 40'000;
      auto it = want.find(id);
      ASSERT_EQ(index.Get(id), it == want.end() ? nullptr : it->second) << id;
    }
  };
  uint64_t next = 20'000;
  for (int round = 0; round < 300; ++round) {
    const int what = static_cast<int>(rng() % 10);
    if (what < 5) {  // a run of new ids, as the store hands them out
      const uint64_t run = 1 + rng() % 700;
      for (uint64_t i = 0; i < run && next < 40'000; ++i, ++next) {
        auto* entry = Entry::Make<TestEntry>(
            Labels::Of({{"__name__", "s"}, {"id", std::to_string(next)}}).view(), next);
        index.Add(entry);
        want[next] = entry;
      }
    } else if (what < 6) {  // one id anywhere below, also below every other
      const uint64_t id = 1 + rng() % 20'000;
      if (want.count(id) == 0) {
        auto* entry = Entry::Make<TestEntry>(
            Labels::Of({{"__name__", "s"}, {"id", std::to_string(id)}}).view(), id);
        index.Add(entry);
        want[id] = entry;
      }
    } else if (!want.empty()) {  // the oldest ones, or some at random
      const size_t n = 1 + rng() % 600;
      for (size_t i = 0; i < n && !want.empty(); ++i) {
        auto it = what < 8 ? want.begin() : want.lower_bound(1 + rng() % 40'000);
        if (it == want.end()) continue;
        index.Remove(it->second);
        Entry::Free(it->second);
        want.erase(it);
      }
    }
    check();
  }
  for (auto& [id, entry] : want) {
    index.Remove(entry);
    Entry::Free(entry);
  }
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.entries().begin(), index.entries().end());
}

}  // namespace
}  // namespace vigil::tsdb::index

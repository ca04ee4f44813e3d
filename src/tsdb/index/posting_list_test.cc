#include "tsdb/index/posting_list.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace vigil::tsdb::index {
namespace {

std::vector<uint64_t> Ids(const std::set<uint64_t>& set) { return {set.begin(), set.end()}; }

TEST(PostingListTest, AddsAtTheEndAndInBetween) {
  PostingList list;
  EXPECT_TRUE(list.empty());
  for (uint64_t id : {5, 9, 300, 301}) list.Add(id);
  list.Add(7);    // between
  list.Add(1);    // before the first
  list.Add(200);  // between, its neighbour's delta shrinks from two bytes to one
  list.Add(9);    // there already
  EXPECT_EQ(list.Ids(), (std::vector<uint64_t>{1, 5, 7, 9, 200, 300, 301}));
}

TEST(PostingListTest, RemovesFirstMiddleAndLast) {
  PostingList list;
  for (uint64_t id : {3, 130, 20000, 20001}) list.Add(id);
  list.Remove(130);
  list.Remove(20001);  // the last: the next Add at the end counts from 20000
  list.Remove(4);      // not there
  list.Add(20005);
  list.Remove(3);
  EXPECT_EQ(list.Ids(), (std::vector<uint64_t>{20000, 20005}));
  list.Remove(20000);
  list.Remove(20005);
  EXPECT_TRUE(list.empty());
  list.Add(2);
  EXPECT_EQ(list.Ids(), (std::vector<uint64_t>{2}));
}

// Random adds (mostly ascending, as the store assigns ids, some anywhere) and removes
// against a std::set.
TEST(PostingListTest, MatchesASetUnderRandomChanges) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    PostingList list;
    std::set<uint64_t> want;
    uint64_t next = 1;
    for (int op = 0; op < 2000; ++op) {
      const int kind = static_cast<int>(rng() % 10);
      if (kind < 6) {
        next += 1 + rng() % (round % 2 == 0 ? 4 : 100'000);
        list.Add(next);
        want.insert(next);
      } else if (kind < 8) {
        const uint64_t id = 1 + rng() % next;
        list.Add(id);
        want.insert(id);
      } else if (!want.empty()) {
        auto it = want.begin();
        std::advance(it, static_cast<long>(rng() % want.size()));
        const uint64_t id = rng() % 4 == 0 ? *it + 1 : *it;  // sometimes one not there
        list.Remove(id);
        want.erase(id);
      }
    }
    ASSERT_EQ(list.Ids(), Ids(want)) << "round " << round;
    ASSERT_EQ(list.empty(), want.empty());
  }
}

}  // namespace
}  // namespace vigil::tsdb::index

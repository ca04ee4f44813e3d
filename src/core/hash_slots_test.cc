#include "core/hash_slots.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

namespace vigil {
namespace {

// Random inserts and erases under 5,000 hashes (five share each top 16 bits, the slots'
// tag), checked against std::multimap. The hash of each value is kept for rehashes.
TEST(HashSlots, AgreesWithAMultimapThroughInsertsErasesAndRehashes) {
  HashSlots slots;
  std::multimap<uint64_t, uint64_t> want;
  std::vector<uint64_t> hash_of_value{0};
  auto hash_of = [&](uint64_t value) { return hash_of_value[value]; };
  std::mt19937_64 rng(7);
  uint64_t next_value = 1;
  for (int op = 0; op < 200'000; ++op) {
    const uint64_t key = rng() % 5'000;
    const uint64_t hash = (key % 1'000 << 48) | (key * 0x9e3779b97f4a7c15ULL >> 16);
    if (rng() % 3 != 0 || want.empty()) {
      hash_of_value.push_back(hash);
      slots.Insert(hash, next_value, hash_of);
      want.emplace(hash, next_value++);
    } else {
      auto it = want.lower_bound(hash);
      if (it == want.end() || it->first != hash) continue;
      slots.Erase(hash, it->second);
      want.erase(it);
    }
    if (op % 97 == 0) {
      // Every value under the hash is found, and nothing else.
      auto [begin, end] = want.equal_range(hash);
      for (auto it = begin; it != end; ++it) {
        const uint64_t v = it->second;
        ASSERT_EQ(slots.Find(hash, [&](uint64_t got) { return got == v; }), v);
      }
      ASSERT_EQ(slots.Find(hash, [](uint64_t got) { return got == 0; }), 0u);
    }
  }
  EXPECT_EQ(slots.size(), want.size());
  std::multiset<uint64_t> listed;
  for (uint64_t value : slots.values()) listed.insert(value);
  std::multiset<uint64_t> wanted;
  for (const auto& [hash, value] : want) wanted.insert(value);
  EXPECT_EQ(listed, wanted);
  slots.Clear();
  EXPECT_EQ(slots.Find(want.begin()->first, [](uint64_t) { return true; }), 0u);
}

// Growing doubles the slots: between 3/8 and 3/4 of them hold values (the store's index
// of a million series once held 4 M slots, 64 MB, at a load under 1/4).
TEST(HashSlots, GrowsByDoublingAndStaysAtLeastThreeEighthsFull) {
  HashSlots slots;
  auto hash_of = [](uint64_t v) { return v * 0x9e3779b97f4a7c15ULL; };
  for (uint64_t v = 1; v <= 1'000'000; ++v) {
    slots.Insert(hash_of(v), v, hash_of);
    if (v % 1000 == 0 || (v & (v - 1)) == 0) {
      ASSERT_LE(v * 4, slots.slot_count() * 3) << v;
      if (v >= 16) {
        ASSERT_GE(v * 8, slots.slot_count() * 3) << v;
      }
    }
  }
  EXPECT_EQ(slots.slot_count(), 2u << 20);
  slots.Reserve(3'000'000, hash_of);
  EXPECT_EQ(slots.slot_count(), 4u << 20);
}

TEST(HashSlots, EmptyFindsNothing) {
  HashSlots slots;
  EXPECT_EQ(slots.Find(42, [](uint64_t) { return true; }), 0u);
  slots.Erase(42, 1);
  slots.Reserve(1000, [](uint64_t) { return uint64_t{0}; });
  EXPECT_EQ(slots.Find(42, [](uint64_t) { return true; }), 0u);
}

TEST(HashSlots, KeepsValuesUpTo48Bits) {
  HashSlots slots;
  auto hash_of = [](uint64_t v) { return ~v; };
  for (uint64_t v : {uint64_t{1}, HashSlots::kMaxValue, uint64_t{0x7fff'ffff'fff0}}) {
    slots.Insert(hash_of(v), v, hash_of);
  }
  for (uint64_t v : {uint64_t{1}, HashSlots::kMaxValue, uint64_t{0x7fff'ffff'fff0}}) {
    EXPECT_EQ(slots.Find(hash_of(v), [&](uint64_t got) { return got == v; }), v);
  }
  slots.Erase(hash_of(HashSlots::kMaxValue), HashSlots::kMaxValue);
  EXPECT_EQ(slots.Find(hash_of(HashSlots::kMaxValue), [](uint64_t) { return true; }), 0u);
  EXPECT_EQ(slots.size(), 2u);
}

}  // namespace
}  // namespace vigil

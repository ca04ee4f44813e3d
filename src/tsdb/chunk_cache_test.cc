#include "tsdb/chunk_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil::tsdb {
namespace {

std::shared_ptr<const ChunkCache::Rows> RowsOf(uint64_t series_id, int64_t min_t,
                                               size_t data_bytes = 100) {
  ChunkRow row;
  row.series_id = series_id;
  row.min_t = min_t;
  row.max_t = min_t + 1000;
  row.count = 10;
  row.data.assign(data_bytes, 'x');
  return std::make_shared<const ChunkCache::Rows>(ChunkCache::Rows{row});
}

class ChunkCacheTest : public ::testing::Test {
 protected:
  metrics::Registry registry_;
};

TEST_F(ChunkCacheTest, KeepsWhatWasReadAndFindsIt) {
  ChunkCache cache(1 << 20, registry_);
  EXPECT_EQ(cache.Find(1, 7), nullptr);
  cache.Keep(1, 7, RowsOf(1, 5000), cache.Epoch());
  auto rows = cache.Find(1, 7);
  ASSERT_NE(rows, nullptr);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].min_t, 5000);
  EXPECT_EQ(cache.Find(1, 8), nullptr);
  EXPECT_EQ(cache.Find(2, 7), nullptr);
  // A block without rows of the series is kept too.
  cache.Keep(3, 7, std::make_shared<const ChunkCache::Rows>(), cache.Epoch());
  ASSERT_NE(cache.Find(3, 7), nullptr);
  EXPECT_TRUE(cache.Find(3, 7)->empty());
}

TEST_F(ChunkCacheTest, RowsReadBeforeOrDuringAWriteAreNotKept) {
  ChunkCache cache(1 << 20, registry_);
  const uint64_t before = cache.Epoch();
  const ChunkCache::Pair other[] = {{9, 9}};
  cache.WriteBegins(other, [](const ChunkCache::Pair& pair) {
    return pair;
  });  // whatever it writes, the reader's snapshot may be older
  const uint64_t during = cache.Epoch();
  cache.Keep(1, 7, RowsOf(1, 5000), before);
  cache.Keep(1, 7, RowsOf(1, 5000), during);
  EXPECT_EQ(cache.Find(1, 7), nullptr);
  cache.WriteEnds();
  cache.Keep(1, 7, RowsOf(1, 5000), before);
  cache.Keep(1, 7, RowsOf(1, 5000), during);
  EXPECT_EQ(cache.Find(1, 7), nullptr);
  cache.Keep(1, 7, RowsOf(1, 5000), cache.Epoch());
  EXPECT_NE(cache.Find(1, 7), nullptr);
}

TEST_F(ChunkCacheTest, AWriteDropsThePairsItChanges) {
  ChunkCache cache(1 << 20, registry_);
  for (uint64_t series = 1; series <= 3; ++series) {
    for (int64_t block = 1; block <= 3; ++block) {
      cache.Keep(series, block, RowsOf(series, block * 7'200'000), cache.Epoch());
    }
  }
  const ChunkCache::Pair written[] = {{2, 2}, {3, 1}};
  cache.WriteBegins(written, [](const ChunkCache::Pair& pair) { return pair; });
  cache.WriteEnds();
  EXPECT_EQ(cache.Find(2, 2), nullptr);
  EXPECT_EQ(cache.Find(3, 1), nullptr);
  EXPECT_NE(cache.Find(2, 1), nullptr);
  EXPECT_NE(cache.Find(3, 2), nullptr);

  cache.WriteBeginsUpTo(2);  // retention: every series' blocks up to 2
  cache.WriteEnds();
  for (uint64_t series = 1; series <= 3; ++series) {
    EXPECT_EQ(cache.Find(series, 1), nullptr);
    EXPECT_EQ(cache.Find(series, 2), nullptr);
    EXPECT_NE(cache.Find(series, 3), nullptr);
  }
  cache.WriteBeginsAll();
  cache.WriteEnds();
  EXPECT_EQ(cache.Find(1, 3), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST_F(ChunkCacheTest, StaysWithinItsBytesAndKeepsWhatIsRead) {
  constexpr size_t kCapacity = 64 << 10;
  ChunkCache cache(kCapacity, registry_);
  cache.Keep(0, 0, RowsOf(0, 0, 1000), cache.Epoch());
  for (uint64_t series = 1; series <= 1000; ++series) {
    cache.Keep(series, 0, RowsOf(series, 0, 1000), cache.Epoch());
    EXPECT_LE(cache.bytes(), kCapacity);
    ASSERT_NE(cache.Find(0, 0), nullptr) << series;  // read all along: never dropped
  }
  EXPECT_EQ(cache.Find(1, 0), nullptr);  // the oldest, not read since, are gone
  EXPECT_NE(cache.Find(1000, 0), nullptr);
  EXPECT_GT(cache.bytes(), kCapacity / 4);
}

// A read finds a series' kept blocks of its range at once, ascending, those of the older
// generation too (then renewed: kept on as the newer one fills), and nothing dropped.
TEST_F(ChunkCacheTest, FindsASeriesBlocksOfARangeAtOnce) {
  constexpr size_t kCapacity = 64 << 10;
  ChunkCache cache(kCapacity, registry_);
  for (int64_t block : {3, 5, 6, 9}) cache.Keep(1, block, RowsOf(1, block, 1000), cache.Epoch());
  cache.Keep(2, 4, RowsOf(2, 4, 1000), cache.Epoch());
  // Other series, about one generation's worth (~28 entries of ~1.1 kB in 32 kB): the
  // blocks above are then in the older generation, not yet gone.
  for (uint64_t series = 10; series < 40; ++series) {
    cache.Keep(series, 0, RowsOf(series, 0, 1000), cache.Epoch());
  }
  cache.Keep(1, 7, RowsOf(1, 7, 1000), cache.Epoch());  // in the newer one
  const ChunkCache::Pair dropped[] = {{1, 6}};
  cache.WriteBegins(dropped, [](const ChunkCache::Pair& pair) { return pair; });
  cache.WriteEnds();
  ChunkCache::Found found = {{99, nullptr}};  // replaced
  cache.FindBlocks(1, 4, 9, &found);
  std::vector<int64_t> blocks;
  for (const auto& [block, rows] : found) {
    ASSERT_NE(rows, nullptr);
    EXPECT_EQ(rows->front().min_t, block);
    blocks.push_back(block);
  }
  EXPECT_EQ(blocks, (std::vector<int64_t>{5, 7, 9}));
  // Renewed: as many other series again as filled a generation, and they stay.
  for (uint64_t series = 100; series < 160; ++series) {
    cache.Keep(series, 0, RowsOf(series, 0, 1000), cache.Epoch());
    if (series % 8 == 0) cache.FindBlocks(1, 4, 9, &found);
    EXPECT_LE(cache.bytes(), kCapacity);
  }
  cache.FindBlocks(1, 4, 9, &found);
  EXPECT_EQ(found.size(), 3u);
  cache.FindBlocks(2, 0, 3, &found);
  EXPECT_TRUE(found.empty());
}

TEST_F(ChunkCacheTest, ZeroBytesKeepsNothing) {
  ChunkCache cache(0, registry_);
  cache.Keep(1, 7, RowsOf(1, 5000), cache.Epoch());
  EXPECT_EQ(cache.Find(1, 7), nullptr);
}

}  // namespace
}  // namespace vigil::tsdb

#include "store/memory_store.h"

#include <gtest/gtest.h>

namespace vigil::store {
namespace {

using model::Labels;

model::Batch One(const Labels& labels, std::vector<model::Sample> samples) {
  model::Batch b;
  b.series.push_back({labels, std::move(samples)});
  return b;
}

TEST(MemoryStore, DropsDuplicatesAndSamplesOlderThanTheWindow) {
  MemoryStore store({.out_of_order_window_ms = 100, .max_points = 1000});
  const Labels a = Labels::Of({{"__name__", "x"}});
  ASSERT_TRUE(store.Append(One(a, {{1000, 1}, {1000, 2}, {950, 3}, {800, 4}})).ok());
  auto r = store.Select({}, 0, 2000);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].samples, (std::vector<model::Sample>{{950, 3}, {1000, 1}}));
  EXPECT_EQ(store.duplicates(), 1u);
  EXPECT_EQ(store.rejected(), 1u);
}

TEST(MemoryStore, PointLimitIsAClearError) {
  MemoryStore store({.out_of_order_window_ms = 0, .max_points = 2});
  ASSERT_TRUE(store.Append(One(Labels::Of({{"__name__", "x"}}), {{1, 1}, {2, 2}, {3, 3}})).ok());
  auto r = store.Select({}, 0, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("more than 2 points"), std::string::npos);
}

}  // namespace
}  // namespace vigil::store

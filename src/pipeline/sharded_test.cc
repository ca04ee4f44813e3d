#include "pipeline/sharded.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

namespace vigil::pipeline {
namespace {

// Records, per series, the thread that handled it and the timestamps in the order seen.
class Recorder final : public Stage {
 public:
  struct Seen {
    std::set<std::thread::id> threads;
    std::vector<int64_t> timestamps;
  };
  explicit Recorder(std::mutex& mu, std::map<std::string, Seen>& seen) : mu_(mu), seen_(seen) {}
  const std::string& name() const override { return name_; }
  Status Apply(model::Batch& batch) override {
    std::lock_guard lock(mu_);
    for (const auto& s : batch.series) {
      auto& seen = seen_[s.labels.ToString()];
      seen.threads.insert(std::this_thread::get_id());
      for (const auto& sample : s.samples) seen.timestamps.push_back(sample.timestamp_ms);
    }
    return OkStatus();
  }

 private:
  std::string name_ = "recorder";
  std::mutex& mu_;
  std::map<std::string, Seen>& seen_;
};

model::Batch Batch(int series, int64_t timestamp) {
  model::Batch batch;
  for (int i = 0; i < series; ++i)
    batch.series.push_back(
        {model::Labels::Of({{"__name__", "m"}, {"i", std::to_string(i)}}), {{timestamp, 1.0 * i}}});
  return batch;
}

TEST(ShardedPipeline, EverySeriesStaysOnOneWorkerInOrder) {
  metrics::Registry registry;
  std::mutex mu;
  std::map<std::string, Recorder::Seen> seen;
  std::atomic<size_t> observed{0};
  auto factory = [&]() -> Result<std::vector<std::unique_ptr<Stage>>> {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<Recorder>(mu, seen));
    return stages;
  };
  auto p = ShardedPipeline::Create(
      3, factory, [&](size_t, const model::Batch& part) { observed += part.SampleCount(); },
      registry);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  for (int64_t t = 1; t <= 50; ++t) {
    model::Batch batch = Batch(40, t);
    ASSERT_TRUE((*p)->Process(batch).ok());
    ASSERT_EQ(batch.SampleCount(), 40u);  // merged back whole
  }
  EXPECT_EQ(observed.load(), 2000u);
  ASSERT_EQ(seen.size(), 40u);
  std::set<std::thread::id> all;
  for (const auto& [series, s] : seen) {
    EXPECT_EQ(s.threads.size(), 1u) << series;
    all.insert(s.threads.begin(), s.threads.end());
    std::vector<int64_t> expected;
    for (int64_t t = 1; t <= 50; ++t) expected.push_back(t);
    EXPECT_EQ(s.timestamps, expected) << series;
  }
  EXPECT_EQ(all.size(), 3u);  // 40 series over 3 workers use all of them
  EXPECT_EQ(all.count(std::this_thread::get_id()), 0u);
}

TEST(ShardedPipeline, OneWorkerRunsOnTheCallersThread) {
  metrics::Registry registry;
  std::mutex mu;
  std::map<std::string, Recorder::Seen> seen;
  auto factory = [&]() -> Result<std::vector<std::unique_ptr<Stage>>> {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<Recorder>(mu, seen));
    return stages;
  };
  auto p = ShardedPipeline::Create(1, factory, nullptr, registry);
  ASSERT_TRUE(p.ok());
  model::Batch batch = Batch(5, 1);
  ASSERT_TRUE((*p)->Process(batch).ok());
  EXPECT_EQ(batch, Batch(5, 1));
  for (const auto& [series, s] : seen) EXPECT_EQ(*s.threads.begin(), std::this_thread::get_id());
}

class FailsOn final : public Stage {
 public:
  const std::string& name() const override { return name_; }
  Status Apply(model::Batch& batch) override {
    for (const auto& s : batch.series)
      if (s.labels.Get("i") == "3") return InvalidArgumentError("series 3");
    return OkStatus();
  }

 private:
  std::string name_ = "fails_on";
};

TEST(ShardedPipeline, AWorkersErrorIsReturned) {
  metrics::Registry registry;
  auto factory = []() -> Result<std::vector<std::unique_ptr<Stage>>> {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<FailsOn>());
    return stages;
  };
  auto p = ShardedPipeline::Create(2, factory, nullptr, registry);
  ASSERT_TRUE(p.ok());
  model::Batch batch = Batch(10, 1);
  EXPECT_EQ((*p)->Process(batch).message(), "stage fails_on: series 3");
  EXPECT_FALSE(ShardedPipeline::Create(0, factory, nullptr, registry).ok());
}

}  // namespace
}  // namespace vigil::pipeline

#include "pipeline/sharded.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

namespace vigil::pipeline {
namespace {

// Records, per series, the shard that handled it and the timestamps in the order seen.
class Recorder final : public Stage {
 public:
  struct Seen {
    std::set<size_t> shards;
    std::vector<int64_t> timestamps;
  };
  Recorder(size_t shard, std::mutex& mu, std::map<std::string, Seen>& seen)
      : shard_(shard), mu_(mu), seen_(seen) {}
  const std::string& name() const override { return name_; }
  Status Apply(model::Batch& batch) override {
    std::lock_guard lock(mu_);
    for (const auto& s : batch.series) {
      auto& seen = seen_[s.labels.ToString()];
      seen.shards.insert(shard_);
      for (const auto& sample : s.samples) seen.timestamps.push_back(sample.timestamp_ms);
    }
    return OkStatus();
  }

 private:
  std::string name_ = "recorder";
  size_t shard_;
  std::mutex& mu_;
  std::map<std::string, Seen>& seen_;
};

model::Batch Batch(const std::string& agent, int series, int64_t timestamp) {
  model::Batch batch;
  for (int i = 0; i < series; ++i)
    batch.series.push_back(
        {model::Labels::Of({{"__name__", "m"}, {"agent", agent}, {"i", std::to_string(i)}}),
         {{timestamp, 1.0 * i}}});
  return batch;
}

// Eight agents, each on its own thread (as the bus's consumers are), over three shards.
TEST(ShardedPipeline, EveryAgentsSeriesStayOnOneShardInOrder) {
  metrics::Registry registry;
  std::mutex mu;
  std::map<std::string, Recorder::Seen> seen;
  size_t built = 0;
  auto factory = [&]() -> Result<std::vector<std::unique_ptr<Stage>>> {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<Recorder>(built++, mu, seen));
    return stages;
  };
  auto p = ShardedPipeline::Create(3, factory, registry);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::vector<std::thread> agents;
  for (int a = 0; a < 8; ++a) {
    agents.emplace_back([&, agent = "agent-" + std::to_string(a)] {
      for (int64_t t = 1; t <= 50; ++t) {
        std::shared_ptr<const model::Batch> batch =
            std::make_shared<model::Batch>(Batch(agent, 10, t));
        EXPECT_TRUE((*p)->Process(agent, batch).ok());
        EXPECT_EQ(batch->SampleCount(), 10u);
      }
    });
  }
  for (auto& t : agents) t.join();
  ASSERT_EQ(seen.size(), 80u);
  std::set<size_t> all;
  std::vector<int64_t> expected;
  for (int64_t t = 1; t <= 50; ++t) expected.push_back(t);
  for (const auto& [series, s] : seen) {
    ASSERT_EQ(s.shards.size(), 1u) << series;
    const std::string agent = series.substr(series.find("agent=\"") + 7, 7);
    EXPECT_EQ(*s.shards.begin(), (*p)->ShardOf(agent)) << series;
    all.insert(*s.shards.begin());
    EXPECT_EQ(s.timestamps, expected) << series;
  }
  EXPECT_EQ(all.size(), 3u);  // 8 agents over 3 shards use all of them
}

// Blocks in Apply until `parties` batches are inside a stage at once.
class Rendezvous final : public Stage {
 public:
  Rendezvous(std::atomic<int>& inside, int parties) : inside_(inside), parties_(parties) {}
  const std::string& name() const override { return name_; }
  Status Apply(model::Batch&) override {
    ++inside_;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (inside_.load() < parties_) {
      if (std::chrono::steady_clock::now() > deadline) return DeadlineExceededError("alone");
      std::this_thread::yield();
    }
    return OkStatus();
  }

 private:
  std::string name_ = "rendezvous";
  std::atomic<int>& inside_;
  int parties_;
};

TEST(ShardedPipeline, AgentsOnDifferentShardsRunAtTheSameTime) {
  metrics::Registry registry;
  std::atomic<int> inside{0};
  auto factory = [&]() -> Result<std::vector<std::unique_ptr<Stage>>> {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<Rendezvous>(inside, 2));
    return stages;
  };
  auto p = ShardedPipeline::Create(2, factory, registry);
  ASSERT_TRUE(p.ok());
  std::string first = "a", second = "b";
  while ((*p)->ShardOf(second) == (*p)->ShardOf(first)) second += "b";
  Status a, b;
  std::thread other([&] {
    std::shared_ptr<const model::Batch> batch = std::make_shared<model::Batch>(Batch(second, 1, 1));
    b = (*p)->Process(second, batch);
  });
  std::shared_ptr<const model::Batch> batch = std::make_shared<model::Batch>(Batch(first, 1, 1));
  a = (*p)->Process(first, batch);
  other.join();
  EXPECT_TRUE(a.ok()) << a.ToString();
  EXPECT_TRUE(b.ok()) << b.ToString();
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

TEST(ShardedPipeline, AStagesErrorIsReturned) {
  metrics::Registry registry;
  auto factory = []() -> Result<std::vector<std::unique_ptr<Stage>>> {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<FailsOn>());
    return stages;
  };
  auto p = ShardedPipeline::Create(2, factory, registry);
  ASSERT_TRUE(p.ok());
  std::shared_ptr<const model::Batch> batch = std::make_shared<model::Batch>(Batch("a", 10, 1));
  EXPECT_EQ((*p)->Process("a", batch).message(), "stage fails_on: series 3");
  EXPECT_FALSE(ShardedPipeline::Create(0, factory, registry).ok());
}

}  // namespace
}  // namespace vigil::pipeline

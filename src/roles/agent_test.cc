#include "roles/agent.h"

#include <gtest/gtest.h>

#include "bus/in_process_bus.h"
#include "model/batch_codec.h"
#include "model/messages.h"
#include "sensors/registry.h"
#include "testing/fake_clock.h"

namespace vigil::roles {
namespace {

sensors::SensorSpec Simulated(std::string name, double freq) {
  const auto* d = sensors::FindSensorType("simulated");
  sensors::SensorSpec spec{std::move(name), "simulated", {}, config::Defaults(d->options)};
  spec.options.Set("min", 0.0);
  spec.options.Set("max", 1.0);
  spec.options.Set("freq", freq);
  spec.options.Set("seed", int64_t{1});
  return spec;
}

// Reads every batch waiting in a queue (the agent under test is the only publisher).
std::vector<model::Batch> Drain(bus::InProcessBus& bus, const std::string& queue) {
  std::vector<model::Batch> batches;
  std::mutex mu;
  std::condition_variable cv;
  size_t expected = bus.Depth(queue);
  auto s = *bus.Consume(queue, {}, [&](const bus::Delivery& d) {
    auto batch = model::DecodeBatch(d.message().body);
    EXPECT_TRUE(batch.ok());
    d.Ack();
    std::lock_guard lock(mu);
    batches.push_back(*batch);
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  cv.wait_for(lock, std::chrono::seconds(5), [&] { return batches.size() >= expected; });
  return batches;
}

class AgentTest : public ::testing::Test {
 protected:
  Agent::Options Options(size_t max_batch = 10'000) {
    Agent::Options o;
    o.id = "plant-1";
    o.flush_interval_ms = 1000;
    o.max_batch_samples = max_batch;
    o.registry = &registry_;
    return o;
  }
  metrics::Registry registry_;
  bus::InProcessBus bus_{bus::InProcessBus::Options{.registry = &registry_}};
  testing::FakeClock clock_{1'700'000'000'500};
};

TEST_F(AgentTest, CollectsOnTheSchedulerAndFlushesJustAfterEachSecond) {
  auto agent =
      *Agent::Create(bus_, clock_, Options(), {Simulated("fast", 4), Simulated("slow", 1)});
  ASSERT_TRUE(bus::DeclareTopology(bus_, {}).ok());
  ASSERT_TRUE(bus::DeclareDataQueue(bus_, "plant-1", {}).ok());
  int64_t now = clock_.NowMillis();
  // Drive the schedule by hand for 3 seconds, jumping to each due time.
  while (now < 1'700'000'003'500) {
    now = agent->RunOnce(now);
    agent->WaitIdle();
  }
  auto batches = Drain(bus_, agent->queue());
  ASSERT_EQ(batches.size(), 3u);  // flushes at ...001.200, 002.200, 003.200
  std::map<std::string, std::vector<int64_t>> times;
  int64_t last_in_batch = 0;
  for (const auto& batch : batches) {
    int64_t newest = 0;
    for (const auto& series : batch.series) {
      EXPECT_EQ(series.labels.Get("agent"), "plant-1");
      for (const auto& s : series.samples) {
        times[std::string(series.labels.MetricName())].push_back(s.timestamp_ms);
        newest = std::max(newest, s.timestamp_ms);
      }
    }
    EXPECT_GT(newest, last_in_batch);
    last_in_batch = newest;
  }
  int64_t slow_offset = sensors::ScheduleOffset("plant-1/slow", 1000);
  // First reading at start, then on multiples of 1000 ms plus the sensor's offset; the
  // flush at x.200 carries the reading of x.000 + offset.
  EXPECT_EQ(times["slow"], (std::vector<int64_t>{1'700'000'000'500, 1'700'000'001'000 + slow_offset,
                                                 1'700'000'002'000 + slow_offset,
                                                 1'700'000'003'000 + slow_offset}));
  int64_t fast_offset = sensors::ScheduleOffset("plant-1/fast", 250);
  ASSERT_GE(times["fast"].size(), 10u);
  for (size_t i = 1; i < times["fast"].size(); ++i)
    EXPECT_EQ((times["fast"][i] - fast_offset) % 250, 0);
}

TEST_F(AgentTest, FullBatchIsSentEarly) {
  auto agent = *Agent::Create(bus_, clock_, Options(/*max_batch=*/2), {Simulated("a", 10)});
  ASSERT_TRUE(bus::DeclareDataQueue(bus_, "plant-1", {}).ok());
  int64_t now = clock_.NowMillis();
  now = agent->RunOnce(now);
  agent->WaitIdle();
  EXPECT_EQ(bus_.Depth(agent->queue()), 0u);
  now = agent->RunOnce(now);
  agent->WaitIdle();
  agent->RunOnce(now);  // two readings pending: full, sent before the flush is due
  EXPECT_EQ(bus_.Depth(agent->queue()), 1u);
}

TEST_F(AgentTest, AnnouncesOnStartAndOnEveryDiscoveryRequest) {
  auto agent = *Agent::Create(bus_, clock_, Options(), {Simulated("a", 1)});
  ASSERT_TRUE(bus::DeclareTopology(bus_, {}).ok());
  ASSERT_TRUE(bus_.DeclareQueue("listener", {}).ok());
  ASSERT_TRUE(bus_.BindQueue("listener", std::string(bus::kDiscoveryExchange), "").ok());
  ASSERT_TRUE(agent->Start().ok());
  ASSERT_TRUE(bus_.Publish(std::string(bus::kDiscoveryRequestsExchange), "",
                           {model::EncodeDiscoveryRequest({1, "c", 0}), "application/x-protobuf"})
                  .ok());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<model::RouteAnnouncement> seen;
  auto s = *bus_.Consume("listener", {}, [&](const bus::Delivery& d) {
    d.Ack();
    std::lock_guard lock(mu);
    seen.push_back(*model::DecodeAnnouncement(d.message().body));
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return seen.size() >= 2; }));
  EXPECT_EQ(seen[0].agent, "plant-1");
  EXPECT_EQ(seen[0].queue, "vigil.data.plant-1");
  ASSERT_EQ(seen[0].sensors.size(), 1u);
  EXPECT_EQ(seen[0].sensors[0].name, "a");
  EXPECT_EQ(seen[0].sensors[0].interval_ms, 1000);
  lock.unlock();
  agent->Stop();
}

}  // namespace
}  // namespace vigil::roles

#include "roles/agent.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "bus/in_process_bus.h"
#include "bus/topic.h"
#include "model/batch_codec.h"
#include "model/messages.h"
#include "sensors/registry.h"
#include "testing/fake_clock.h"
#include "testing/mem_env.h"

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
    auto batch = bus::Batches::Read(d.message());
    EXPECT_TRUE(batch.ok());
    d.Ack();
    std::lock_guard lock(mu);
    batches.push_back(**batch);
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

TEST_F(AgentTest, CollectsOnTheSchedulerAndFlushesOncePerSecond) {
  auto agent =
      *Agent::Create(bus_, clock_, Options(), {Simulated("fast", 4), Simulated("slow", 1)});
  ASSERT_TRUE(bus::DeclareTopology(bus_, {}).ok());
  ASSERT_TRUE(bus::DeclareDataQueue(bus_, "plant-1", {}).ok());
  int64_t now = clock_.NowMillis();
  // Drive the schedule by hand for 3 seconds, jumping to each due time.
  while (now < 1'700'000'003'500) {
    now = agent->TEST_RunOnce(now);
    agent->TEST_WaitIdle();
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
  int64_t slow_offset = sensors::ScheduleOffset("plant-1", "slow", 1000);
  // First reading at start, then on multiples of 1000 ms plus the sensor's offset; the
  // flush at x.200 carries the reading of x.000 + offset.
  EXPECT_EQ(times["slow"], (std::vector<int64_t>{1'700'000'000'500, 1'700'000'001'000 + slow_offset,
                                                 1'700'000'002'000 + slow_offset,
                                                 1'700'000'003'000 + slow_offset}));
  int64_t fast_offset = sensors::ScheduleOffset("plant-1", "fast", 250);
  ASSERT_GE(times["fast"].size(), 10u);
  for (size_t i = 1; i < times["fast"].size(); ++i)
    EXPECT_EQ((times["fast"][i] - fast_offset) % 250, 0);
}

TEST_F(AgentTest, BatchGoesAsSoonAsTheReadingsOfItsSecondAreIn) {
  auto agent = *Agent::Create(bus_, clock_, Options(), {Simulated("a", 1), Simulated("b", 1)});
  ASSERT_TRUE(bus::DeclareDataQueue(bus_, "plant-1", {}).ok());
  // Flushes are due at ...001.200 and 002.200; both sensors read at each second plus
  // their offsets, so each batch can go once the later of the two has read.
  const int64_t last_offset = std::max(sensors::ScheduleOffset("plant-1", "a", 1000),
                                       sensors::ScheduleOffset("plant-1", "b", 1000));
  std::vector<int64_t> sent_at;
  size_t published = 0;
  int64_t now = clock_.NowMillis();
  while (now < 1'700'000'002'500) {
    const int64_t next = agent->TEST_RunOnce(now);
    agent->TEST_WaitIdle();
    agent->TEST_RunOnce(now);  // the readings of this pass are in
    if (bus_.Depth(agent->queue()) > published) {
      sent_at.push_back(now);
      published = bus_.Depth(agent->queue());
    }
    now = next;
  }
  EXPECT_EQ(sent_at, (std::vector<int64_t>{1'700'000'001'000 + last_offset,
                                           1'700'000'002'000 + last_offset}));
  auto batches = Drain(bus_, agent->queue());
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].SampleCount(), 4u);  // the start's readings and the first second's
  EXPECT_EQ(batches[1].SampleCount(), 2u);
}

TEST_F(AgentTest, FullBatchIsSentEarly) {
  auto agent = *Agent::Create(bus_, clock_, Options(/*max_batch=*/2), {Simulated("a", 10)});
  ASSERT_TRUE(bus::DeclareDataQueue(bus_, "plant-1", {}).ok());
  int64_t now = agent->TEST_RunOnce(clock_.NowMillis());
  agent->TEST_WaitIdle();
  EXPECT_EQ(bus_.Depth(agent->queue()), 0u);
  // The 10 Hz sensor is always due before the flush time (...001.200): only a full batch
  // goes early.
  while (bus_.Depth(agent->queue()) == 0 && now < 1'700'000'001'200) {
    now = agent->TEST_RunOnce(now);
    agent->TEST_WaitIdle();
  }
  EXPECT_EQ(bus_.Depth(agent->queue()), 1u);
  EXPECT_LT(now, 1'700'000'000'900);  // sent with the second reading, not at the flush time
}

// The in-process bus, with an outage switch: while down, Publish fails as a lost broker's.
class FlakyBus final : public bus::Bus {
 public:
  explicit FlakyBus(bus::Bus& inner) : inner_(inner) {}
  Status DeclareExchange(const std::string& name, bus::ExchangeType type) override {
    return inner_.DeclareExchange(name, type);
  }
  Status DeclareQueue(const std::string& name, const bus::QueueOptions& options) override {
    return inner_.DeclareQueue(name, options);
  }
  Status BindQueue(const std::string& queue, const std::string& exchange,
                   const std::string& key) override {
    return inner_.BindQueue(queue, exchange, key);
  }
  Status Publish(const std::string& exchange, const std::string& key, bus::Message m) override {
    if (down) return UnavailableError("amqp: connection lost");
    return inner_.Publish(exchange, key, std::move(m));
  }
  Result<std::unique_ptr<bus::Subscription>> Consume(const std::string& queue,
                                                     const bus::ConsumeOptions& options,
                                                     bus::Handler handler) override {
    return inner_.Consume(queue, options, std::move(handler));
  }
  std::atomic<bool> down{false};

 private:
  bus::Bus& inner_;
};

class AgentOutageTest : public AgentTest {
 protected:
  std::unique_ptr<Agent> Make(bool ordered) {
    Agent::Options o = Options();
    o.flush_interval_ms = 500;
    o.spool_dir = "/data/spool";
    o.env = &env_;
    o.drain_rate = 20;
    o.ordered_replay = ordered;
    o.breaker = {.failure_threshold = 2, .cooldown_ms = 1000, .max_cooldown_ms = 4000};
    auto agent =
        Agent::Create(flaky_, clock_, o, {Simulated("boiler", 4), Simulated("turbine", 2)});
    EXPECT_TRUE(agent.ok()) << agent.status().ToString();
    EXPECT_TRUE(bus::DeclareDataQueue(bus_, "plant-1", {}).ok());
    return std::move(agent).value();
  }
  // Drives the agent by hand until `until_ms`, as its thread would.
  void RunUntil(Agent& agent, int64_t until_ms) {
    while (now_ < until_ms) {
      clock_.Set(now_);
      int64_t next = agent.TEST_RunOnce(now_);
      agent.TEST_WaitIdle();
      now_ = std::max(next, now_ + 1);
    }
  }
  double Metric(const std::string& name) {
    return registry_.AddGauge(name, "", {}).WithLabels({}).Value();
  }
  testing::MemEnv env_;
  FlakyBus flaky_{bus_};
  int64_t now_ = 1'700'000'000'500;
};

TEST_F(AgentOutageTest, OutageIsSpooledAndReplayedInOrderLosingNothing) {
  auto agent = Make(/*ordered=*/true);
  RunUntil(*agent, now_ + 3'000);
  size_t before = bus_.Depth(agent->queue());
  EXPECT_GT(before, 0u);

  flaky_.down = true;  // 10 s without a broker
  RunUntil(*agent, now_ + 10'000);
  EXPECT_EQ(bus_.Depth(agent->queue()), before);
  EXPECT_EQ(agent->breaker_state(), CircuitBreaker::State::kOpen);
  EXPECT_GE(agent->spooled_batches(), 18u);  // a batch every 500 ms
  EXPECT_EQ(Metric("vigil_agent_breaker_state"), 1);
  EXPECT_GT(Metric("vigil_agent_spool_oldest_age_seconds"), 9);

  flaky_.down = false;
  RunUntil(*agent, now_ + 10'000);  // 20 batches a second drain it in about one
  EXPECT_EQ(agent->spooled_batches(), 0u);
  EXPECT_EQ(agent->breaker_state(), CircuitBreaker::State::kClosed);
  EXPECT_EQ(Metric("vigil_agent_spool_batches"), 0);
  EXPECT_EQ(registry_.AddCounter("vigil_agent_breaker_trips_total", "", {}).WithLabels({}).Value(),
            1);
  agent->Stop();

  // Every reading arrived once, and each series' readings in time order: ordered replay.
  std::map<std::string, std::vector<int64_t>> times;
  size_t samples = 0;
  for (const auto& batch : Drain(bus_, agent->queue())) {
    for (const auto& series : batch.series) {
      for (const auto& s : series.samples) {
        times[series.labels.ToString()].push_back(s.timestamp_ms);
        ++samples;
      }
    }
  }
  auto& counted = registry_.AddCounter("vigil_agent_samples_total", "", {"outcome"});
  EXPECT_EQ(static_cast<double>(samples), counted.WithLabels({"published"}).Value());
  EXPECT_EQ(counted.WithLabels({"dropped"}).Value(), 0);
  ASSERT_EQ(times.size(), 2u);
  for (const auto& [series, t] : times) {
    for (size_t i = 1; i < t.size(); ++i) EXPECT_LT(t[i - 1], t[i]) << series << " at " << i;
  }
  // 23 s of readings at 4 Hz and 2 Hz, every one of them.
  EXPECT_GE(times.begin()->second.size(), 2u * 23);
}

TEST_F(AgentOutageTest, SpoolOutlivesTheAgentAndBackfillReplaysBesideNewBatches) {
  {
    auto agent = Make(/*ordered=*/false);
    flaky_.down = true;
    RunUntil(*agent, now_ + 5'000);
    agent->Stop();  // the last batch goes to the spool too
    EXPECT_GT(agent->spooled_batches(), 5u);
  }
  flaky_.down = false;
  auto agent = Make(/*ordered=*/false);
  EXPECT_GT(agent->spooled_batches(), 5u);  // what the first run left
  RunUntil(*agent, now_ + 5'000);
  EXPECT_EQ(agent->spooled_batches(), 0u);
  agent->Stop();
  std::set<std::pair<std::string, int64_t>> seen;
  size_t samples = 0;
  for (const auto& batch : Drain(bus_, agent->queue())) {
    for (const auto& series : batch.series) {
      for (const auto& s : series.samples) {
        seen.insert({series.labels.ToString(), s.timestamp_ms});
        ++samples;
      }
    }
  }
  EXPECT_EQ(seen.size(), samples);  // none twice
  EXPECT_GE(samples, 6u * 10);      // 10 s at 6 readings a second
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

// The web servers' /api/v1/targets and /api/v1/metadata: what the sensors say is announced
// again once it changes, here a probe of a closed port found down; new scrape times alone,
// once a minute.
TEST_F(AgentTest, AnnouncesAgainWhenWhatItsSensorsSayChanges) {
  const auto* d = sensors::FindSensorType("http");
  sensors::SensorSpec probe{"site", "http", {}, config::Defaults(d->options)};
  probe.options.Set("targets", config::StringList{"http://127.0.0.1:1/"});
  probe.options.Set("interval", std::chrono::milliseconds(1000));
  probe.options.Set("timeout", std::chrono::milliseconds(1000));
  auto agent = *Agent::Create(bus_, clock_, Options(), {probe});
  ASSERT_TRUE(bus::DeclareTopology(bus_, {}).ok());
  ASSERT_TRUE(bus_.DeclareQueue("listener", {}).ok());
  ASSERT_TRUE(bus_.BindQueue("listener", std::string(bus::kDiscoveryExchange), "").ok());
  int64_t now = clock_.NowMillis();
  agent->TEST_RunOnce(now);  // sets up (announces) and probes
  agent->TEST_WaitIdle();
  EXPECT_EQ(bus_.Depth("listener"), 1u);
  now += 1000;
  clock_.Advance(1000);
  agent->TEST_RunOnce(now);  // changed, but the last look was less than 5 s ago
  agent->TEST_WaitIdle();
  EXPECT_EQ(bus_.Depth("listener"), 1u);
  now += 5000;
  clock_.Advance(5000);
  agent->TEST_RunOnce(now);
  agent->TEST_WaitIdle();
  ASSERT_EQ(bus_.Depth("listener"), 2u);
  std::vector<model::RouteAnnouncement> seen;
  auto s = *bus_.Consume("listener", {}, [&](const bus::Delivery& delivery) {
    delivery.Ack();
    seen.push_back(*model::DecodeAnnouncement(delivery.message().body));
  });
  for (int i = 0; i < 100 && seen.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(seen.size(), 2u);
  ASSERT_EQ(seen[1].sensors.size(), 1u);
  ASSERT_EQ(seen[1].sensors[0].targets.size(), 1u);
  EXPECT_EQ(seen[1].sensors[0].targets[0].health, "down");
  EXPECT_NE(seen[1].sensors[0].targets[0].last_error, "");
  EXPECT_FALSE(seen[1].sensors[0].metadata.empty());

  // The target stays down; only its scrape time moves: no announcement for a minute, then
  // one with the new time.
  for (int i = 0; i < 10; ++i) {
    now += 5000;
    clock_.Advance(5000);
    agent->TEST_RunOnce(now);
    agent->TEST_WaitIdle();
  }
  EXPECT_EQ(seen.size(), 2u);
  now += 15'000;
  clock_.Advance(15'000);
  agent->TEST_RunOnce(now);
  agent->TEST_WaitIdle();
  for (int i = 0; i < 100 && seen.size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].sensors[0].targets[0].health, "down");
  EXPECT_GT(seen[2].sensors[0].targets[0].last_scrape_ms,
            seen[1].sensors[0].targets[0].last_scrape_ms);
  agent->Stop();
}

}  // namespace
}  // namespace vigil::roles

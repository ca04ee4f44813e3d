#include "sensors/scheduler.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace vigil::sensors {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

// A sensor whose Collect is whatever the test says.
class FuncSensor final : public Sensor {
 public:
  using Fn = std::function<Status(int64_t, model::BatchBuilder&)>;
  FuncSensor(int64_t interval_ms, int64_t timeout_ms, Fn fn)
      : interval_ms_(interval_ms), timeout_ms_(timeout_ms), fn_(std::move(fn)) {}
  int64_t interval_ms() const override { return interval_ms_; }
  int64_t timeout_ms() const override { return timeout_ms_; }
  Status Collect(int64_t now_ms, model::BatchBuilder& out) override { return fn_(now_ms, out); }

 private:
  int64_t interval_ms_, timeout_ms_;
  Fn fn_;
};

model::Labels Metric(const std::string& name) {
  return *model::Labels::FromPairs({{"__name__", name}});
}

Status OneReading(const std::string& name, int64_t now_ms, model::BatchBuilder& out) {
  out.Add(Metric(name), {now_ms, 1});
  return OkStatus();
}

// Collects what the scheduler hands over, by sensor.
struct Received {
  void Add(const std::string& sensor, model::Batch&& batch) {
    std::lock_guard lock(mu);
    for (const auto& s : batch.series) {
      for (const auto& sample : s.samples) times[sensor].push_back(sample.timestamp_ms);
    }
  }
  std::vector<int64_t> Times(const std::string& sensor) {
    std::lock_guard lock(mu);
    return times[sensor];
  }
  std::mutex mu;
  std::map<std::string, std::vector<int64_t>> times;
};

double ErrorCount(metrics::Registry& registry, const std::string& sensor,
                  const std::string& reason) {
  return registry.AddCounter("vigil_sensor_errors_total", "", {"sensor", "reason"})
      .WithLabels({sensor, reason})
      .Value();
}

TEST(NextDue, IsTheNextMultipleOfTheIntervalPlusTheOffset) {
  EXPECT_EQ(NextDue(1500, 1000, 0), 2000);
  EXPECT_EQ(NextDue(2000, 1000, 0), 3000);
  EXPECT_EQ(NextDue(2000, 1000, 30), 2030);
  EXPECT_EQ(NextDue(2030, 1000, 30), 3030);
  EXPECT_EQ(NextDue(10, 1000, 30), 30);
  EXPECT_EQ(NextDue(0, 250, 0), 250);
}

TEST(ScheduleOffset, IsStableSmallAndSpreadsAgentsAndTheirSensors) {
  EXPECT_EQ(ScheduleOffset("plant-1", "boiler", 1000), ScheduleOffset("plant-1", "boiler", 1000));
  std::set<int64_t> agents;
  for (int i = 0; i < 50; ++i) {
    const std::string agent = "agent-" + std::to_string(i);
    std::set<int64_t> sensors;
    for (int j = 0; j < 20; ++j) {
      const std::string sensor = "sensor" + std::to_string(j);
      const int64_t offset = ScheduleOffset(agent, sensor, 1000);
      EXPECT_GE(offset, 0);
      EXPECT_LT(offset, 100);
      EXPECT_LT(ScheduleOffset(agent, sensor, 200), 20);
      sensors.insert(offset);
      agents.insert(offset);
    }
    // An agent's sensors do not all fire together, but all within 10 ms.
    EXPECT_GT(sensors.size(), 3u);
    EXPECT_LT(*sensors.rbegin() - *sensors.begin(), 10);
  }
  EXPECT_GT(agents.size(), 40u);  // 50 agents do not all fire together
  EXPECT_EQ(ScheduleOffset("x", "y", 5), 0);
}

TEST(Scheduler, EachSensorRunsOnItsOwnAlignedSchedule) {
  metrics::Registry registry;
  Received received;
  std::vector<Scheduler::Entry> entries;
  entries.push_back({"fast", std::make_unique<FuncSensor>(250, 250, [](int64_t t, auto& out) {
                       return OneReading("fast", t, out);
                     })});
  entries.push_back({"slow", std::make_unique<FuncSensor>(1000, 1000, [](int64_t t, auto& out) {
                       return OneReading("slow", t, out);
                     })});
  Scheduler scheduler(
      std::move(entries), "agent",
      [&](const std::string& s, model::Batch&& b) { received.Add(s, std::move(b)); }, registry);
  int64_t now = kT0 + 500;
  while (now < kT0 + 10'000) {
    now = scheduler.RunOnce(now);
    scheduler.WaitIdle();
  }
  int64_t fast_offset = ScheduleOffset("agent", "fast", 250);
  int64_t slow_offset = ScheduleOffset("agent", "slow", 1000);
  auto slow = received.Times("slow");
  ASSERT_EQ(slow.size(), 10u);
  EXPECT_EQ(slow[0], kT0 + 500);  // the first reading right at start
  for (size_t i = 1; i < slow.size(); ++i) EXPECT_EQ(slow[i], kT0 + 1000 * i + slow_offset);
  auto fast = received.Times("fast");
  ASSERT_EQ(fast.size(), 1u + 37u);  // at start, then 750 ms + offset ... 9750 ms + offset
  for (size_t i = 1; i < fast.size(); ++i) EXPECT_EQ((fast[i] - fast_offset) % 250, 0);
}

TEST(Scheduler, SettledOnceNoCollectionRunsOrIsDueBeforeTheGivenTime) {
  metrics::Registry registry;
  Received received;
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  std::vector<Scheduler::Entry> entries;
  entries.push_back({"quick", std::make_unique<FuncSensor>(1000, 1000, [](int64_t t, auto& out) {
                       return OneReading("quick", t, out);
                     })});
  entries.push_back(
      {"waits", std::make_unique<FuncSensor>(1000, 1000, [released](int64_t t, auto& out) {
         released.wait();
         return OneReading("waits", t, out);
       })});
  Scheduler scheduler(
      std::move(entries), "agent",
      [&](const std::string& s, model::Batch&& b) { received.Add(s, std::move(b)); }, registry);
  EXPECT_FALSE(scheduler.Settled(kT0));  // nothing has run yet: both are due
  scheduler.RunOnce(kT0);
  while (received.Times("quick").empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_FALSE(scheduler.Settled(kT0 + 200));  // "waits" still collects
  release->set_value();
  scheduler.WaitIdle();
  EXPECT_EQ(received.Times("waits").size(), 1u);
  EXPECT_TRUE(scheduler.Settled(kT0 + 200));
  EXPECT_FALSE(scheduler.Settled(kT0 + 1100));  // both are due again at kT0 + 1000 + offset
}

TEST(Scheduler, HungSensorTimesOutWithoutDelayingOthers) {
  metrics::Registry registry;
  Received received;
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  std::vector<Scheduler::Entry> entries;
  entries.push_back(
      {"hung", std::make_unique<FuncSensor>(1000, 500, [released](int64_t t, auto& out) {
         released.wait();
         return OneReading("hung", t, out);
       })});
  entries.push_back({"ok", std::make_unique<FuncSensor>(1000, 1000, [](int64_t t, auto& out) {
                       return OneReading("ok", t, out);
                     })});
  Scheduler scheduler(
      std::move(entries), "agent",
      [&](const std::string& s, model::Batch&& b) { received.Add(s, std::move(b)); }, registry);

  EXPECT_EQ(scheduler.RunOnce(kT0), kT0 + 500);  // next: the hung sensor's timeout
  scheduler.RunOnce(kT0 + 500);
  scheduler.WaitIdle();  // returns although "hung" still runs: it is abandoned
  EXPECT_EQ(ErrorCount(registry, "hung", "timeout"), 1);
  EXPECT_EQ(received.Times("ok").size(), 1u);

  scheduler.RunOnce(kT0 + 1100);  // both due again: "hung" is still busy
  scheduler.WaitIdle();
  EXPECT_EQ(ErrorCount(registry, "hung", "skipped"), 1);
  EXPECT_EQ(received.Times("ok").size(), 2u);

  // Released, the abandoned collection returns (its readings dropped) and the next due
  // one runs normally: the first reading of "hung" is a later one.
  release->set_value();
  int64_t t = kT0 + 2100;
  for (; received.Times("hung").empty() && t < kT0 + 1'000'000; t += 1000) {
    scheduler.RunOnce(t);
    scheduler.WaitIdle();
    if (received.Times("hung").empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(received.Times("hung").size(), 1u);
  EXPECT_GE(received.Times("hung")[0], kT0 + 2100);
  EXPECT_EQ(ErrorCount(registry, "hung", "timeout"), 1);
  EXPECT_EQ(ErrorCount(registry, "ok", "timeout"), 0);
}

TEST(Scheduler, FailuresAreCountedAndPartialReadingsKept) {
  metrics::Registry registry;
  Received received;
  std::vector<Scheduler::Entry> entries;
  entries.push_back({"partial", std::make_unique<FuncSensor>(1000, 1000, [](int64_t t, auto& out) {
                       out.Add(Metric("partial"), {t, 1});
                       return UnavailableError("/proc/diskstats: missing");
                     })});
  entries.push_back(
      {"throws", std::make_unique<FuncSensor>(1000, 1000, [](int64_t, auto&) -> Status {
         throw std::runtime_error("boom");
       })});
  Scheduler scheduler(
      std::move(entries), "agent",
      [&](const std::string& s, model::Batch&& b) { received.Add(s, std::move(b)); }, registry);
  scheduler.RunOnce(kT0);
  scheduler.WaitIdle();
  scheduler.RunOnce(kT0 + 1200);
  scheduler.WaitIdle();
  EXPECT_EQ(received.Times("partial").size(), 2u);
  EXPECT_EQ(ErrorCount(registry, "partial", "collect"), 2);
  EXPECT_EQ(ErrorCount(registry, "throws", "exception"), 2);
  EXPECT_EQ(registry.AddHistogram("vigil_sensor_collect_duration_seconds", "", {"sensor"})
                .WithLabels({"throws"})
                .Count(),
            2u);
}

TEST(Scheduler, StopLeavesAHungCollectionBehindAndDropsItsReadings) {
  metrics::Registry registry;
  std::atomic<int> delivered{0};
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  auto finished = std::make_shared<std::promise<void>>();
  {
    std::vector<Scheduler::Entry> entries;
    entries.push_back(
        {"hung", std::make_unique<FuncSensor>(1000, 50, [released, finished](int64_t t, auto& out) {
           released.wait();
           out.Add(Metric("hung"), {t, 1});
           finished->set_value();
           return OkStatus();
         })});
    Scheduler scheduler(
        std::move(entries), "agent", [&](const std::string&, model::Batch&&) { ++delivered; },
        registry);
    scheduler.RunOnce(kT0);
    scheduler.Stop();  // waits 50 ms, then leaves it
  }
  release->set_value();
  finished->get_future().wait();
  EXPECT_EQ(delivered.load(), 0);
}

}  // namespace
}  // namespace vigil::sensors

#include "roles/standalone.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "sensors/registry.h"
#include "testing/fake_clock.h"
#include "testing/mem_env.h"
#include "testing/temp_dir.h"

namespace vigil::roles {
namespace {

double CounterValue(const std::string& name, const std::vector<std::string>& labels,
                    std::vector<std::string> values) {
  return metrics::Registry::Default().AddCounter(name, "", labels).WithLabels(values).Value();
}

TEST(Standalone, EverySampleCollectedReachesTheStoreAndTheFileAfterAGracefulStop) {
  testing::TempDir dir;
  VigilConfig config;
  config.agent.id = "test-plant";
  config.agent.flush_interval = std::chrono::milliseconds(50);
  config.storage.data_dir = dir.path();
  config.web.listen = "127.0.0.1:0";
  for (std::string name : {"boiler_pressure_out", "turbine_speed"}) {
    const auto* d = sensors::FindSensorType("simulated");
    sensors::SensorSpec spec{name, "simulated", {}, config::Defaults(d->options)};
    spec.options.Set("min", 0.0);
    spec.options.Set("max", 1.0);
    spec.options.Set("freq", 200.0);
    config.sensors.push_back(spec);
  }
  double published_before = CounterValue("vigil_agent_samples_total", {"outcome"}, {"published"});
  testing::MemEnv env;
  auto standalone = Standalone::Create(config, SystemClock::Get(), env);
  ASSERT_TRUE(standalone.ok()) << standalone.status().ToString();
  ASSERT_TRUE((*standalone)->Start().ok());
  // Let it run until the coordinator has found the agent and data flows.
  for (int i = 0; i < 200 && (*standalone)->coordinator().KnownAgents().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*standalone)->coordinator().KnownAgents(), std::vector<std::string>{"test-plant"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE((*standalone)->Stop().ok());

  double published =
      CounterValue("vigil_agent_samples_total", {"outcome"}, {"published"}) - published_before;
  // The sensors' readings; the coordinator's heartbeat series about the agent go along.
  std::string text = *env.ReadFile(dir.Sub("events.jsonl"));
  size_t lines = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find("\"__name__\":\"vigil_agent_") == std::string::npos) ++lines;
  EXPECT_GT(lines, 50u);
  EXPECT_EQ(static_cast<double>(lines), published);
  EXPECT_NE(text.find("\"__name__\":\"turbine_speed\""), std::string::npos);
  EXPECT_NE(text.find("\"agent\":\"test-plant\""), std::string::npos);

  // The embedded store holds the same samples, and still does after a reopen.
  standalone->reset();
  testing::FakeClock clock;
  metrics::Registry registry;
  tsdb::TsdbOptions options = TsdbOptionsFrom(config.storage);
  options.registry = &registry;
  options.retention_ms = 0;
  auto store = tsdb::TsdbStore::Open(env, clock, options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto all = (*store)->Select({}, 0, INT64_MAX / 2);
  ASSERT_TRUE(all.ok());
  size_t stored = 0, readings = 0;
  for (const auto& series : all->series) {
    if (series.labels.MetricName().starts_with("vigil_agent_")) continue;
    stored += series.samples.size();
    ++readings;
  }
  EXPECT_EQ(static_cast<double>(stored), published);
  EXPECT_EQ(readings, 2u);
}

// The [[pipeline]] of the config runs in the coordinator: what reaches the store is what
// the stages made of the readings.
TEST(Standalone, ThePipelineOfTheConfigShapesWhatIsStored) {
  testing::TempDir dir;
  auto config = ParseVigilConfig(R"toml(
[agent]
id = "pipe"
flush_interval = "50ms"

[[sensors]]
name = "boiler_pressure_out"
min = 0.0
max = 1.0
freq = 100.0

[[sensors]]
name = "coolant_flow"
min = 0.0
max = 1.0
freq = 100.0

[[pipeline]]
stage = "filter"
drop = ['coolant_flow']

[[pipeline]]
stage = "relabel"
source_labels = ["__name__"]
regex = "boiler_(.*)"
target_label = "quantity"
replacement = "$1"

[[pipeline]]
stage = "match"
selector = '{quantity="pressure_out"}'
add_labels = { alarm_zone = "steam" }
)toml",
                                 "pipe.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  config->storage.data_dir = dir.path();
  config->web.listen = "127.0.0.1:0";
  testing::MemEnv env;
  auto standalone = Standalone::Create(*config, SystemClock::Get(), env);
  ASSERT_TRUE(standalone.ok()) << standalone.status().ToString();
  ASSERT_TRUE((*standalone)->Start().ok());
  for (int i = 0; i < 200 && (*standalone)->coordinator().KnownAgents().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE((*standalone)->Stop().ok());
  std::string text = *env.ReadFile(dir.Sub("events.jsonl"));
  EXPECT_EQ(text.find("coolant_flow"), std::string::npos);
  EXPECT_NE(text.find(R"("alarm_zone":"steam")"), std::string::npos);
  EXPECT_NE(text.find(R"("quantity":"pressure_out")"), std::string::npos);
  EXPECT_GT(
      CounterValue("vigil_pipeline_samples_total", {"stage", "outcome"}, {"filter_1", "in"}),
      CounterValue("vigil_pipeline_samples_total", {"stage", "outcome"}, {"filter_1", "out"}));
}

}  // namespace
}  // namespace vigil::roles

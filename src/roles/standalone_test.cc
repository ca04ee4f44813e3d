#include "roles/standalone.h"

#include <gtest/gtest.h>

#include <thread>

#include "sensors/registry.h"
#include "testing/mem_env.h"

namespace vigil::roles {
namespace {

double CounterValue(const std::string& name, const std::vector<std::string>& labels,
                    std::vector<std::string> values) {
  return metrics::Registry::Default().AddCounter(name, "", labels).WithLabels(values).Value();
}

TEST(Standalone, EverySampleCollectedReachesTheFileAfterAGracefulStop) {
  VigilConfig config;
  config.agent.id = "test-plant";
  config.agent.flush_interval = std::chrono::milliseconds(50);
  config.storage.data_dir = "data";
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
  std::string text = *env.ReadFile("data/events.jsonl");
  size_t lines = std::count(text.begin(), text.end(), '\n');
  EXPECT_GT(lines, 50u);
  EXPECT_EQ(static_cast<double>(lines), published);
  EXPECT_NE(text.find("\"__name__\":\"turbine_speed\""), std::string::npos);
  EXPECT_NE(text.find("\"agent\":\"test-plant\""), std::string::npos);
}

}  // namespace
}  // namespace vigil::roles

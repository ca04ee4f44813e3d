#include "sensors/simulated/simulated_sensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "sensors/registry.h"

namespace vigil::sensors::simulated {
namespace {

SensorSpec Spec(double min, double max, double step, double freq, int64_t seed) {
  SensorSpec spec{"boiler_pressure_out",
                  "simulated",
                  {{"unit", "bar"}},
                  config::Defaults(Descriptor().options)};
  spec.options.Set("min", min);
  spec.options.Set("max", max);
  spec.options.Set("step", step);
  spec.options.Set("freq", freq);
  spec.options.Set("seed", seed);
  return spec;
}

std::vector<double> Walk(const SensorSpec& spec, int readings) {
  auto sensor = CreateSensor(spec);
  EXPECT_TRUE(sensor.ok()) << sensor.status().ToString();
  model::BatchBuilder builder;
  for (int i = 0; i < readings; ++i) EXPECT_TRUE((*sensor)->Collect(i * 1000, builder).ok());
  model::Batch batch = builder.Take();
  EXPECT_EQ(batch.series.size(), 1u);
  std::vector<double> values;
  for (const auto& s : batch.series[0].samples) values.push_back(s.value);
  return values;
}

TEST(SimulatedSensor, StaysWithinBoundsAndMovesAtMostAStep) {
  std::vector<double> values = Walk(Spec(15, 15.5, 0.05, 1, 1), 10000);
  ASSERT_EQ(values.size(), 10000u);
  double lowest = 1e9, highest = -1e9;
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_GE(values[i], 15.0);
    EXPECT_LE(values[i], 15.5);
    if (i > 0) {
      EXPECT_LE(std::abs(values[i] - values[i - 1]), 0.05 + 1e-12);
    }
    lowest = std::min(lowest, values[i]);
    highest = std::max(highest, values[i]);
  }
  // A walk of 10,000 steps of up to 0.05 explores most of a 0.5 wide band.
  EXPECT_LT(lowest, 15.1);
  EXPECT_GT(highest, 15.4);
}

TEST(SimulatedSensor, SameSeedSameWalk) {
  EXPECT_EQ(Walk(Spec(0, 10, 1, 1, 99), 100), Walk(Spec(0, 10, 1, 1, 99), 100));
  EXPECT_NE(Walk(Spec(0, 10, 1, 1, 99), 100), Walk(Spec(0, 10, 1, 1, 100), 100));
}

TEST(SimulatedSensor, SeriesIsNamedAfterTheSensorWithItsLabels) {
  auto sensor = *CreateSensor(Spec(0, 1, 0.1, 4, 1));
  EXPECT_EQ(sensor->interval_ms(), 250);
  model::BatchBuilder builder;
  ASSERT_TRUE(sensor->Collect(123, builder).ok());
  model::Batch batch = builder.Take();
  EXPECT_EQ(batch.series[0].labels.ToString(), "boiler_pressure_out{unit=\"bar\"}");
  EXPECT_EQ(batch.series[0].samples[0].timestamp_ms, 123);
}

TEST(SimulatedSensor, ServersAreIndependentWalksLabelledByServer) {
  SensorSpec spec = Spec(0, 100, 5, 1, 7);
  spec.options.Set("servers", int64_t{3});
  auto sensor = *CreateSensor(spec);
  model::BatchBuilder builder;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sensor->Collect(i * 1000, builder).ok());
  model::Batch batch = builder.Take();
  ASSERT_EQ(batch.series.size(), 3u);
  std::set<std::string> servers;
  for (const auto& series : batch.series) {
    servers.insert(std::string(series.labels.Get("server")));
    EXPECT_EQ(series.labels.Get("unit"), "bar");
    EXPECT_EQ(series.samples.size(), 20u);
    for (const auto& s : series.samples) EXPECT_TRUE(s.value >= 0 && s.value <= 100);
  }
  EXPECT_EQ(servers, (std::set<std::string>{"server-1", "server-2", "server-3"}));
  EXPECT_NE(batch.series[0].samples, batch.series[1].samples);
}

TEST(SimulatedSensor, OptionsThatDoNotFitAreRejected) {
  EXPECT_EQ(CreateSensor(Spec(2, 1, 0.1, 1, 0)).status().message(), "max: must be above min (2)");
  EXPECT_EQ(CreateSensor(Spec(0, 1, 0, 1, 0)).status().message(),
            "step: must be above 0 and at most max - min (1)");
  EXPECT_EQ(CreateSensor(Spec(0, 1, 5, 1, 0)).status().message(),
            "step: must be above 0 and at most max - min (1)");
  SensorSpec bad_name = Spec(0, 1, 0.1, 1, 0);
  bad_name.name = "9bad";
  EXPECT_EQ(CreateSensor(bad_name).status().message(), "invalid metric name \"9bad\"");
}

}  // namespace
}  // namespace vigil::sensors::simulated

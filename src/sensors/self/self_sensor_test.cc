#include "sensors/self/self_sensor.h"

#include <gtest/gtest.h>

#include "sensors/registry.h"

namespace vigil::sensors::self {
namespace {

TEST(SelfSensor, ReadsTheRegistrysMetricsWithThePrefix) {
  metrics::Registry registry;
  registry.AddGauge("vigil_agent_spool_batches", "Batches in the spool.").WithLabels({}).Set(7);
  registry.AddCounter("vigil_sensor_errors_total", "Errors.", {"sensor", "reason"})
      .WithLabels({"host", "timeout"})
      .Inc(2);
  registry.AddGauge("process_open_fds", "Not ours.").WithLabels({}).Set(9);
  SelfSensor sensor({{"role", "agent"}}, 15'000, "vigil_", registry);
  model::BatchBuilder out;
  ASSERT_TRUE(sensor.Collect(1000, out).ok());
  model::Batch batch = out.Take();
  ASSERT_EQ(batch.series.size(), 2u);
  std::map<std::string, model::Series> by_name;
  for (auto& s : batch.series) by_name[std::string(s.labels.MetricName())] = s;
  EXPECT_EQ(by_name["vigil_agent_spool_batches"].labels,
            model::Labels::Of({{"__name__", "vigil_agent_spool_batches"}, {"role", "agent"}}));
  EXPECT_EQ(by_name["vigil_agent_spool_batches"].samples, (std::vector<model::Sample>{{1000, 7}}));
  EXPECT_EQ(by_name["vigil_sensor_errors_total"].labels.Get("reason"), "timeout");
  EXPECT_EQ(by_name["vigil_sensor_errors_total"].samples[0].value, 2);
}

// A histogram is read as the text format lists it, and every family's metadata goes with it.
TEST(SelfSensor, ReadsHistogramsAsBucketsSumAndCountWithTheirMetadata) {
  metrics::Registry registry;
  auto& h = registry.AddHistogram("vigil_x_seconds", "How long x takes.", {"op"}, {0.1, 1})
                .WithLabels({"read"});
  h.Observe(0.05);
  h.Observe(0.5);
  SelfSensor sensor({}, 15'000, "vigil_", registry);
  model::BatchBuilder out;
  ASSERT_TRUE(sensor.Collect(1000, out).ok());
  std::map<std::string, double> values;
  for (const auto& s : out.Take().series) values[s.labels.ToString()] = s.samples[0].value;
  EXPECT_EQ(values,
            (std::map<std::string, double>{{R"(vigil_x_seconds_bucket{le="+Inf",op="read"})", 2},
                                           {R"(vigil_x_seconds_bucket{le="0.1",op="read"})", 1},
                                           {R"(vigil_x_seconds_bucket{le="1",op="read"})", 2},
                                           {R"(vigil_x_seconds_count{op="read"})", 2},
                                           {R"(vigil_x_seconds_sum{op="read"})", 0.55}}));
  ASSERT_EQ(sensor.Metadata().size(), 1u);
  EXPECT_EQ(sensor.Metadata()[0],
            (model::MetricMetadata{"vigil_x_seconds", "histogram", "How long x takes.", ""}));
}

TEST(SelfSensor, IsAConfigurableType) {
  SensorSpec spec{"vigil", "self", {{"bad-name", "x"}}, {}};
  const SensorDescriptor* d = FindSensorType("self");
  ASSERT_NE(d, nullptr);
  spec.options.Set("interval", std::chrono::milliseconds(5000));
  spec.options.Set("prefix", std::string("vigil_"));
  EXPECT_FALSE(CreateSensor(spec).ok());
  spec.labels = {{"role", "agent"}};
  auto sensor = CreateSensor(spec);
  ASSERT_TRUE(sensor.ok()) << sensor.status().ToString();
  EXPECT_EQ((*sensor)->interval_ms(), 5000);
}

}  // namespace
}  // namespace vigil::sensors::self

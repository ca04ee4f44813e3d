#include "roles/standalone.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "sensors/registry.h"
#include "testing/fake_clock.h"
#include "testing/http_client.h"
#include "testing/mem_env.h"
#include "testing/temp_dir.h"
#include "testing/websocket_client.h"

namespace vigil::roles {
namespace {

double CounterValue(const std::string& name, const std::vector<std::string>& labels,
                    std::vector<std::string> values) {
  return metrics::Registry::Default().AddCounter(name, "", labels).WithLabels(values).Value();
}

// A standalone from config text, its data in `dir` and on `env`, its web server on a free
// port, started.
std::unique_ptr<Standalone> StartFromText(const std::string& text, const testing::TempDir& dir,
                                          testing::MemEnv& env) {
  auto config = ParseVigilConfig(text, "test.toml");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  if (!config.ok()) return nullptr;
  config->storage.data_dir = dir.path();
  config->web.listen = "127.0.0.1:0";
  auto standalone = Standalone::Create(*config, SystemClock::Get(), env);
  EXPECT_TRUE(standalone.ok()) << standalone.status().ToString();
  if (!standalone.ok()) return nullptr;
  EXPECT_TRUE((*standalone)->Start().ok());
  return std::move(standalone).value();
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
  // Until well over 50 readings are out (about 0.2 s; up to 10 s on a loaded machine).
  auto published_now = [&] {
    return CounterValue("vigil_agent_samples_total", {"outcome"}, {"published"}) - published_before;
  };
  for (int i = 0; i < 1000 && published_now() < 80; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
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
  testing::MemEnv env;
  auto standalone = StartFromText(R"toml(
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
                                  dir, env);
  ASSERT_NE(standalone, nullptr);
  for (int i = 0; i < 200 && standalone->coordinator().KnownAgents().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(standalone->Stop().ok());
  std::string text = *env.ReadFile(dir.Sub("events.jsonl"));
  EXPECT_EQ(text.find("coolant_flow"), std::string::npos);
  EXPECT_NE(text.find(R"("alarm_zone":"steam")"), std::string::npos);
  EXPECT_NE(text.find(R"("quantity":"pressure_out")"), std::string::npos);
  EXPECT_GT(
      CounterValue("vigil_pipeline_samples_total", {"stage", "outcome"}, {"filter_1", "in"}),
      CounterValue("vigil_pipeline_samples_total", {"stage", "outcome"}, {"filter_1", "out"}));
}

// A sample written over HTTP takes the agents' way: the push queue, the pipeline, the
// live stream and the store. The 204 comes once it is stored (the query right after sees
// it), and a sample the store cannot take is still refused with 400, nothing stored.
TEST(Standalone, AWrittenSamplePassesThePipelineToTheLiveStreamAndTheStore) {
  testing::TempDir dir;
  testing::MemEnv env;
  auto standalone = StartFromText(R"toml(
[agent]
id = "pushing"

[storage]
out_of_order_window = "1h"

[[pipeline]]
stage = "match"
selector = '{__name__="pushed_level"}'
add_labels = { via = "pipeline" }
)toml",
                                  dir, env);
  ASSERT_NE(standalone, nullptr);
  const uint16_t port = standalone->web().port();

  auto ws = testing::WebSocketClient::Connect(port);
  ASSERT_TRUE(ws.ok()) << ws.status().ToString();
  ASSERT_TRUE((*ws)->SendText(R"({"type":"subscribe","id":"p","selector":"pushed_level"})").ok());
  auto subscribed = (*ws)->ReceiveText(5000);
  ASSERT_TRUE(subscribed.ok()) << subscribed.status().ToString();

  const int64_t now_ms = SystemClock::Get().NowMillis();
  const std::string line = "pushed level=42.5 " + std::to_string(now_ms * 1'000'000);
  auto written = testing::HttpPost(port, "/write", line, "text/plain");
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->status, 204) << written->body;

  // Stored, with the pipeline's label, when the 204 came.
  auto stored = standalone->store().Select(
      {*model::Matcher::Create(model::MatchType::kEqual, "__name__", "pushed_level")}, 0,
      INT64_MAX / 2);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->series.size(), 1u);
  EXPECT_EQ(stored->series[0].labels.Get("via"), "pipeline");
  EXPECT_EQ(stored->series[0].samples, (std::vector<model::Sample>{{now_ms, 42.5}}));

  // On the live stream, as the pipeline made it.
  std::string samples;
  for (int i = 0; i < 20 && samples.find("\"samples\"") == std::string::npos; ++i) {
    auto message = (*ws)->ReceiveText(5000);
    ASSERT_TRUE(message.ok()) << message.status().ToString();
    samples = *message;
  }
  EXPECT_NE(samples.find(R"("via":"pipeline")"), std::string::npos) << samples;
  EXPECT_NE(samples.find("42.5"), std::string::npos) << samples;

  // Older than the out-of-order window: refused through the same path, nothing stored.
  const std::string old = "pushed level=1 " + std::to_string((now_ms - 2 * 3'600'000) * 1'000'000) +
                          "\npushed level=2 " + std::to_string((now_ms + 1000) * 1'000'000);
  auto refused = testing::HttpPost(port, "/write", old, "text/plain");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 400) << refused->body;
  EXPECT_NE(refused->body.find("nothing stored"), std::string::npos) << refused->body;
  stored = standalone->store().Select(
      {*model::Matcher::Create(model::MatchType::kEqual, "__name__", "pushed_level")}, 0,
      INT64_MAX / 2);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->series.size(), 1u);
  EXPECT_EQ(stored->series[0].samples.size(), 1u);
  ASSERT_TRUE(standalone->Stop().ok());
}

}  // namespace
}  // namespace vigil::roles

// The distributed roles over the real RabbitMQ of scripts/test-services.
//  - The vigil binary as a user runs it: `vigil datamanager`, `vigil coordinator` and
//    `vigil sensor` as three processes; every sample the sensor says it published is in
//    the datamanager's store exactly once.
//  - In-process roles over AmqpBus: a coordinator started after the agents learns them
//    through a discovery request; a garbage message in a data queue goes to vigil.dead and
//    the stream goes on.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "bus/amqp/amqp_bus.h"
#include "bus/topology.h"
#include "roles/agent.h"
#include "roles/coordinator.h"
#include "sensors/registry.h"
#include "testing/child_process.h"
#include "testing/services.h"

namespace vigil {
namespace {

std::string TempDir(const std::string& name) {
  std::string dir =
      ::testing::TempDir() + "/vigil_distributed_" + name + "_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Samples of `agent` in a JSON-lines file: (series, timestamp) -> how many times.
std::map<std::pair<std::string, int64_t>, int> SamplesOf(const std::string& path,
                                                         const std::string& agent) {
  std::map<std::pair<std::string, int64_t>, int> samples;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("kind", "") != "sample") continue;
    if (j["labels"].value("agent", "") != agent) continue;
    ++samples[{j["labels"].dump(), j["timestamp_ms"].get<int64_t>()}];
  }
  return samples;
}

size_t Total(const std::map<std::pair<std::string, int64_t>, int>& samples) {
  size_t n = 0;
  for (const auto& [key, count] : samples) n += static_cast<size_t>(count);
  return n;
}

TEST(Distributed, SensorCoordinatorDatamanagerProcessesStoreEverySampleOnce) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  std::string dir = TempDir("processes");
  std::string agent = "e2e-" + std::to_string(getpid());
  std::ofstream(dir + "/vigil.toml") << "[agent]\nid = \"" << agent
                                     << "\"\nflush_interval = \"200ms\"\n\n"
                                        "[[sensors]]\nname = \"e2e_fast\"\nmin = 0\nmax = 1\n"
                                        "freq = 20\nseed = 1\n\n"
                                        "[[sensors]]\nname = \"e2e_slow\"\nmin = 0\nmax = 1\n"
                                        "freq = 4\nseed = 2\n";
  std::string config = dir + "/vigil.toml";
  auto vigil = [&](const std::string& role, std::vector<std::string> extra) {
    std::vector<std::string> argv = {VIGIL_BINARY, role, "--config", config, "--broker", *url};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = testing::ChildProcess::Start(argv, dir + "/" + role + ".log");
    EXPECT_TRUE(child.ok());
    return std::move(child).value();
  };
  auto datamanager = vigil("datamanager", {"--data-dir", dir + "/data", "--listen", "127.0.0.1:0"});
  auto coordinator = vigil("coordinator", {});
  // Both consumers must be up before the sensor; they log "running" once they are.
  auto wait_log = [&](const std::string& role, const std::string& text) {
    for (int i = 0; i < 200; ++i) {
      if (ReadFile(dir + "/" + role + ".log").find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  ASSERT_TRUE(wait_log("datamanager", "running")) << ReadFile(dir + "/datamanager.log");
  ASSERT_TRUE(wait_log("coordinator", "running")) << ReadFile(dir + "/coordinator.log");
  auto sensor = vigil("sensor", {});
  ASSERT_TRUE(wait_log("sensor", "running")) << ReadFile(dir + "/sensor.log");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(sensor->Stop(10'000), 0) << ReadFile(dir + "/sensor.log");

  // The sensor says how many it published; the store must end with exactly those.
  std::smatch m;
  std::string sensor_log = ReadFile(dir + "/sensor.log");
  ASSERT_TRUE(std::regex_search(
      sensor_log, m,
      std::regex(
          R"((\d+) samples published in (\d+) batches \((\d+) replayed from the spool\), 0 dropped)")))
      << sensor_log;
  size_t published = std::stoul(m[1]);
  EXPECT_GT(published, 50u);  // 24 readings a second for 3 s and more
  std::string events = dir + "/data/events.jsonl";
  for (int i = 0; i < 200 && Total(SamplesOf(events, agent)) < published; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto samples = SamplesOf(events, agent);
  EXPECT_EQ(Total(samples), published);
  for (const auto& [key, count] : samples) EXPECT_EQ(count, 1) << key.first << " @" << key.second;
  EXPECT_EQ(coordinator->Stop(), 0) << ReadFile(dir + "/coordinator.log");
  EXPECT_EQ(datamanager->Stop(), 0) << ReadFile(dir + "/datamanager.log");
  for (const char* role : {"sensor", "coordinator", "datamanager"}) {
    std::string log = ReadFile(dir + "/" + role + ".log");
    EXPECT_EQ(log.find("[error]"), std::string::npos) << role << ":\n" << log;
    EXPECT_EQ(log.find("guest:guest"), std::string::npos) << role << " logged the password";
  }
}

class DistributedRoles : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::RabbitMqUrl();
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
  }
  std::unique_ptr<bus::AmqpBus> Connect() {
    bus::AmqpBus::Options options;
    options.url = url_;
    options.registry = &registry_;
    auto bus = bus::AmqpBus::Connect(options);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return std::move(bus).value();
  }
  sensors::SensorSpec Simulated(const std::string& name) {
    const auto* d = sensors::FindSensorType("simulated");
    sensors::SensorSpec spec{name, "simulated", {}, config::Defaults(d->options)};
    spec.options.Set("min", 0.0);
    spec.options.Set("max", 1.0);
    return spec;
  }
  std::string url_;
  metrics::Registry registry_;
};

TEST_F(DistributedRoles, LateCoordinatorLearnsEveryAgentWithinFiveSeconds) {
  auto agent_bus = Connect();
  std::vector<std::unique_ptr<roles::Agent>> agents;
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    roles::Agent::Options options;
    options.id = "late-" + std::to_string(getpid()) + "-" + std::to_string(i);
    options.registry = &registry_;
    ids.insert(options.id);
    agents.push_back(
        *roles::Agent::Create(*agent_bus, SystemClock::Get(), options, {Simulated("late_sensor")}));
    ASSERT_TRUE(agents.back()->Start().ok());
  }
  // The announcements at start went nowhere: no coordinator listened yet.
  auto coordinator_bus = Connect();
  roles::Coordinator::Options options;
  options.id = "late-coordinator-" + std::to_string(getpid());
  options.registry = &registry_;
  roles::Coordinator coordinator(
      *coordinator_bus, SystemClock::Get(), options,
      std::make_unique<pipeline::Pipeline>(std::vector<std::unique_ptr<pipeline::Stage>>{}));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(coordinator.Start().ok());
  std::set<std::string> known;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    auto list = coordinator.KnownAgents();
    known = std::set<std::string>(list.begin(), list.end());
    if (std::includes(known.begin(), known.end(), ids.begin(), ids.end())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(std::includes(known.begin(), known.end(), ids.begin(), ids.end()));
  coordinator.Stop();
  for (auto& a : agents) a->Stop();
}

TEST_F(DistributedRoles, GarbageInADataQueueIsDeadLetteredAndTheStreamGoesOn) {
  auto bus = Connect();
  std::string agent = "garbage-" + std::to_string(getpid());
  ASSERT_TRUE(bus::DeclareTopology(*bus, {}).ok());
  ASSERT_TRUE(bus::DeclareDataQueue(*bus, agent, {}).ok());
  // Whatever waits in vigil.dead from earlier runs is not ours; look for our body.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bus::Message> dead;
  auto dead_consumer = *bus->Consume(std::string(bus::kDeadQueue), {}, [&](const bus::Delivery& d) {
    d.Ack();
    std::lock_guard lock(mu);
    dead.push_back(d.message());
    cv.notify_all();
  });
  roles::Coordinator::Options options;
  options.id = "garbage-coordinator-" + std::to_string(getpid());
  options.registry = &registry_;
  roles::Coordinator coordinator(
      *bus, SystemClock::Get(), options,
      std::make_unique<pipeline::Pipeline>(std::vector<std::unique_ptr<pipeline::Stage>>{}));
  ASSERT_TRUE(coordinator.Start().ok());
  roles::Agent::Options agent_options;
  agent_options.id = agent;
  agent_options.registry = &registry_;
  agent_options.flush_interval_ms = 100;
  auto real = *roles::Agent::Create(*bus, SystemClock::Get(), agent_options,
                                    {Simulated("garbage_neighbour")});
  ASSERT_TRUE(real->Start().ok());
  std::string body = "not a batch " + agent;
  ASSERT_TRUE(
      bus->Publish("", bus::DataQueueName(agent), {body, "application/x-protobuf", "", {}}).ok());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const auto& m : dead)
        if (m.body == body) return true;
      return false;
    }));
    for (const auto& m : dead) {
      if (m.body != body) continue;
      EXPECT_EQ(m.headers.at("x-death-queue"), bus::DataQueueName(agent));
      // Why, in the words of the decoder, not only RabbitMQ's "rejected".
      EXPECT_NE(m.headers.at("x-death-reason"), "rejected");
      EXPECT_FALSE(m.headers.at("x-death-reason").empty());
    }
  }
  // The good batches after it still flow: the coordinator keeps consuming.
  auto& batches = registry_.AddCounter("vigil_coordinator_batches_total", "", {"outcome"});
  double before = batches.WithLabels({"processed"}).Value();
  for (int i = 0; i < 100 && batches.WithLabels({"processed"}).Value() < before + 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(batches.WithLabels({"processed"}).Value(), before + 2);
  EXPECT_GE(batches.WithLabels({"invalid"}).Value(), 1);
  real->Stop();
  coordinator.Stop();
}

}  // namespace
}  // namespace vigil

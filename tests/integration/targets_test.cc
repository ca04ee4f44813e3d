// Prometheus 2.42 and `vigil standalone` scrape the same node_exporter on loopback; their
// /api/v1/metadata and /api/v1/targets answers are compared (issue #22, item 3). The
// metadata must be equal metric for metric; the target the same URL, pool, job and
// instance, up while the exporter runs and down, with a reason, once it is stopped.
// vigil's target labels carry its agent label besides (docs/http-api.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "testing/child_process.h"
#include "testing/http_client.h"
#include "testing/temp_dir.h"

namespace vigil {
namespace {

using nlohmann::json;

json GetData(uint16_t port, const std::string& path) {
  auto response = testing::HttpGet(port, path);
  if (!response.ok() || response->status != 200) return json();
  json body = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || body.value("status", "") != "success") return json();
  return body["data"];
}

// The one active target of pool "node", or null.
json NodeTarget(uint16_t port) {
  json data = GetData(port, "/api/v1/targets");
  if (!data.is_object()) return json();
  for (const json& t : data["activeTargets"]) {
    if (t.value("scrapePool", "") == "node") return t;
  }
  return json();
}

bool WaitFor(const std::function<bool()>& done, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

TEST(Targets, MetadataAndTargetsAnswerAsPrometheus) {
  testing::TempDir folder;
  const std::string dir = folder.path();
  const uint16_t exporter_port = testing::FreeLoopbackPort();
  const std::string address = "127.0.0.1:" + std::to_string(exporter_port);
  auto exporter =
      testing::ChildProcess::Start({"prometheus-node-exporter", "--web.listen-address=" + address,
                                    "--collector.disable-defaults", "--collector.loadavg",
                                    "--collector.meminfo", "--collector.cpu"},
                                   dir + "/node_exporter.log");
  ASSERT_TRUE(exporter.ok()) << exporter.status().ToString();
  ASSERT_TRUE(testing::WaitForPort(exporter_port)) << "node_exporter did not start; see " << dir;

  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
         "  - job_name: node\n    static_configs:\n      - targets: ['"
      << address << "']\n";
  const uint16_t prometheus_port = testing::FreeLoopbackPort();
  auto prometheus = testing::ChildProcess::Start(
      {"prometheus", "--config.file=" + dir + "/prometheus.yml",
       "--storage.tsdb.path=" + dir + "/prometheus",
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port), "--log.level=warn"},
      dir + "/prometheus.log");
  ASSERT_TRUE(prometheus.ok()) << prometheus.status().ToString();

  std::ofstream(dir + "/vigil.toml")
      << "[log]\nlevel = \"warn\"\n\n[sink]\nenabled = false\n\n[agent]\nid = \"t\"\n\n"
         "[[sensors]]\nname = \"node\"\ntype = \"scrape\"\ntargets = [\"http://"
      << address << "/metrics\"]\ninterval = \"1s\"\ntimeout = \"1s\"\n";
  const uint16_t vigil_port = testing::FreeLoopbackPort();
  auto vigil = testing::ChildProcess::Start(
      {VIGIL_BINARY, "standalone", "--config", dir + "/vigil.toml", "--data-dir", dir + "/vigil",
       "--listen", "127.0.0.1:" + std::to_string(vigil_port)},
      dir + "/vigil.log");
  ASSERT_TRUE(vigil.ok()) << vigil.status().ToString();

  auto up = [](uint16_t port) {
    json t = NodeTarget(port);
    return t.is_object() && t.value("health", "") == "up";
  };
  ASSERT_TRUE(WaitFor([&] { return up(prometheus_port) && up(vigil_port); }, 30))
      << "Prometheus: " << NodeTarget(prometheus_port).dump()
      << "\nvigil: " << NodeTarget(vigil_port).dump() << "\nsee " << dir;

  // Metadata: the same families with the same type, help and unit.
  const json reference = GetData(prometheus_port, "/api/v1/metadata");
  const json ours = GetData(vigil_port, "/api/v1/metadata");
  ASSERT_TRUE(reference.is_object() && ours.is_object());
  EXPECT_GT(reference.size(), 20u);
  EXPECT_EQ(ours, reference);
  EXPECT_EQ(GetData(vigil_port, "/api/v1/metadata?metric=node_load1"),
            GetData(prometheus_port, "/api/v1/metadata?metric=node_load1"));
  EXPECT_EQ(GetData(vigil_port, "/api/v1/metadata?limit=2").size(),
            GetData(prometheus_port, "/api/v1/metadata?limit=2").size());
  auto bad = testing::HttpGet(vigil_port, "/api/v1/metadata?limit=many");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);

  // The target: same URL, pool, job and instance, interval, address.
  const json theirs = NodeTarget(prometheus_port);
  const json mine = NodeTarget(vigil_port);
  for (const char* key : {"scrapeUrl", "scrapePool", "health", "lastError", "scrapeInterval"}) {
    EXPECT_EQ(mine[key], theirs[key]) << key;
  }
  for (const char* label : {"job", "instance"}) {
    EXPECT_EQ(mine["labels"][label], theirs["labels"][label]) << label;
  }
  EXPECT_EQ(mine["labels"]["agent"], "t");
  EXPECT_EQ(mine["discoveredLabels"]["__address__"], theirs["discoveredLabels"]["__address__"]);
  EXPECT_GT(mine["lastScrapeDuration"].get<double>(), 0);
  EXPECT_EQ(mine["lastScrape"].get<std::string>().substr(0, 10),
            theirs["lastScrape"].get<std::string>().substr(0, 10));  // the same day
  EXPECT_EQ(GetData(vigil_port, "/api/v1/targets?state=dropped")["activeTargets"].size(), 0u);

  // The exporter stops: both say down, with why.
  (*exporter)->Stop();
  auto down = [](uint16_t port) {
    json t = NodeTarget(port);
    return t.is_object() && t.value("health", "") == "down" && !t.value("lastError", "").empty();
  };
  EXPECT_TRUE(WaitFor([&] { return down(prometheus_port) && down(vigil_port); }, 20))
      << "Prometheus: " << NodeTarget(prometheus_port).dump()
      << "\nvigil: " << NodeTarget(vigil_port).dump();
  (*vigil)->Stop();
  (*prometheus)->Stop();
}

}  // namespace
}  // namespace vigil

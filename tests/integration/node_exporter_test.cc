// The proc sensor against Debian's node_exporter on this host at the same moment: the same
// series (names and labels) for every family both yield, constants equal, counters within
// 1 % (node_exporter is scraped just before and just after our collection). This is the
// check docs/sensors.md#proc describes.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sensors/proc/proc_sensor.h"
#include "sensors/scrape/exposition.h"
#include "testing/child_process.h"
#include "testing/http_client.h"
#include "testing/temp_dir.h"

namespace vigil {
namespace {

using Values = std::map<std::string, double>;  // series text without __name__ order issues

std::string Key(const model::Labels& labels) { return labels.ToString(); }

Values Scrape(uint16_t port, std::map<std::string, sensors::scrape::Metadata>* metadata = nullptr) {
  auto response = testing::HttpGet(port, "/metrics");
  EXPECT_TRUE(response.ok() && response->status == 200);
  Values values;
  if (!response.ok()) return values;
  Status status = sensors::scrape::ParseExposition(
      response->body, sensors::scrape::Format::kPrometheusText, {},
      [&](sensors::scrape::ScrapedSample&& s) { values[Key(s.labels)] = s.value; }, metadata);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return values;
}

bool IsConstant(std::string_view metric) {
  static const std::set<std::string_view> kConstants = {"node_boot_time_seconds",
                                                        "node_memory_MemTotal_bytes",
                                                        "node_memory_SwapTotal_bytes",
                                                        "node_memory_Hugepagesize_bytes",
                                                        "node_memory_HugePages_Total",
                                                        "node_filesystem_size_bytes",
                                                        "node_filesystem_files",
                                                        "node_filesystem_readonly",
                                                        "node_filesystem_device_error",
                                                        "node_memory_CommitLimit_bytes",
                                                        "node_memory_VmallocTotal_bytes",
                                                        "node_timex_tick_seconds",
                                                        "node_timex_status",
                                                        "node_timex_loop_time_constant",
                                                        "node_timex_sync_status",
                                                        "node_timex_tai_offset_seconds"};
  return kConstants.count(metric) > 0;
}

TEST(NodeExporter, ProcSensorAgreesOnThisHost) {
  testing::TempDir folder;
  const std::string dir = folder.path();
  uint16_t port = testing::FreeLoopbackPort();
  auto exporter =
      testing::ChildProcess::Start({"prometheus-node-exporter",
                                    "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                    "--collector.disable-defaults",
                                    "--collector.cpu",
                                    "--collector.stat",
                                    "--collector.meminfo",
                                    "--collector.loadavg",
                                    "--collector.diskstats",
                                    "--collector.netdev",
                                    "--collector.filesystem",
                                    "--collector.pressure",
                                    "--collector.vmstat",
                                    "--collector.filefd",
                                    "--collector.entropy",
                                    "--collector.sockstat",
                                    "--collector.netstat",
                                    "--collector.conntrack",
                                    "--collector.softnet",
                                    "--collector.arp",
                                    "--collector.udp_queues",
                                    "--collector.netclass",
                                    "--collector.timex",
                                    "--collector.hwmon",
                                    "--collector.thermal_zone"},
                                   dir + "/node_exporter.log");
  ASSERT_TRUE(exporter.ok()) << exporter.status().ToString();
  ASSERT_TRUE(testing::WaitForPort(port)) << "node_exporter did not start; see " << dir;

  auto sensor = *sensors::proc::ProcSensor::Create({}, {});
  Values before = Scrape(port);
  model::BatchBuilder out;
  Status status = sensor->Collect(1'700'000'000'000, out);
  std::map<std::string, sensors::scrape::Metadata> metadata;
  Values after = Scrape(port, &metadata);
  EXPECT_TRUE(status.ok()) << status.ToString();

  Values ours;
  std::set<std::string> families;
  for (const auto& series : out.Take().series) {
    std::string metric(series.labels.MetricName());
    if (metric == "node_scrape_collector_success" || metric == "node_uptime_seconds" ||
        metric == "node_time_seconds")
      continue;  // ours alone, or another node_exporter collector
    ours[Key(series.labels)] = series.samples[0].value;
    families.insert(metric);
  }
  ASSERT_GT(ours.size(), 100u);

  // Every series of node_exporter's in the families we yield is ours too, and back.
  size_t compared = 0;
  for (const auto& [key, value] : after) {
    std::string metric = key.substr(0, key.find('{'));
    if (families.count(metric) == 0) continue;
    EXPECT_EQ(ours.count(key), 1u) << "node_exporter has " << key << ", we do not";
  }
  for (const auto& [key, value] : ours) {
    std::string metric = key.substr(0, key.find('{'));
    auto b = before.find(key);
    auto a = after.find(key);
    if (a == after.end() || b == before.end()) {
      ADD_FAILURE() << "we have " << key << ", node_exporter does not";
      continue;
    }
    ++compared;
    if (metric.starts_with("process_")) {
      EXPECT_GE(value, 0) << key;  // each describes its own process: same series, own values
    } else if (IsConstant(metric)) {
      EXPECT_EQ(value, a->second) << key;
    } else if (metric.ends_with("_total")) {
      double low = std::min(b->second, a->second), high = std::max(b->second, a->second);
      EXPECT_GE(value, low * 0.99 - 1e-9) << key;
      EXPECT_LE(value, high * 1.01 + 1e-9) << key;
    }
  }
  EXPECT_GT(compared, 100u);
  // Among them a family of every collector (those this host has).
  for (const char* family :
       {"node_vmstat_pgfault", "node_filefd_allocated", "node_entropy_available_bits",
        "node_sockstat_sockets_used", "node_netstat_Tcp_CurrEstab", "node_softnet_processed_total",
        "node_udp_queues", "node_network_up", "node_network_info", "node_network_mtu_bytes",
        "node_timex_tick_seconds", "node_timex_pps_jitter_total", "process_cpu_seconds_total",
        "process_resident_memory_bytes", "process_open_fds", "process_max_fds",
        "process_start_time_seconds", "process_virtual_memory_max_bytes"}) {
    EXPECT_EQ(families.count(family), 1u) << family;
  }

  // /api/v1/metadata: every family both yield has node_exporter's type.
  size_t typed = 0;
  for (const model::MetricMetadata& m : sensor->Metadata()) {
    auto theirs = metadata.find(m.metric);
    if (theirs == metadata.end()) continue;
    EXPECT_EQ(m.type, theirs->second.type) << m.metric;
    EXPECT_FALSE(m.help.empty()) << m.metric;
    ++typed;
  }
  EXPECT_GT(typed, 40u);
}

// Runs node_exporter with `collectors` on the captured tree `tree` (testdata/, as its
// procfs and sysfs) and the proc sensor on the same tree, and checks that the series of
// the families starting with one of `prefixes` are the same, with the same values and
// types, and that each of `collectors` that succeeded for node_exporter succeeded for us.
void ExpectAgreementOnTree(const std::string& tree_name, const std::vector<std::string>& collectors,
                           const std::vector<std::string>& prefixes, size_t at_least) {
  const std::string tree =
      std::string(VIGIL_SOURCE_DIR) + "/src/sensors/proc/testdata/" + tree_name;
  testing::TempDir folder;
  const std::string dir = folder.path();
  uint16_t port = testing::FreeLoopbackPort();
  std::vector<std::string> argv = {"prometheus-node-exporter",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                   "--path.procfs=" + tree + "/proc",
                                   "--path.sysfs=" + tree + "/sys", "--collector.disable-defaults"};
  for (const auto& c : collectors) argv.push_back("--collector." + c);
  auto exporter = testing::ChildProcess::Start(argv, dir + "/node_exporter.log");
  ASSERT_TRUE(exporter.ok()) << exporter.status().ToString();
  ASSERT_TRUE(testing::WaitForPort(port)) << "node_exporter did not start; see " << dir;
  auto wanted = [&](const std::string& key) {
    for (const auto& prefix : prefixes)
      if (key.starts_with(prefix)) return true;
    return false;
  };
  std::map<std::string, sensors::scrape::Metadata> metadata;
  Values theirs, scraped = Scrape(port, &metadata);
  for (const auto& [key, value] : scraped) {
    if (wanted(key)) theirs[key] = value;
  }
  ASSERT_GE(theirs.size(), at_least);

  sensors::proc::ProcSensor::Options options;
  options.root = tree;
  auto sensor = *sensors::proc::ProcSensor::Create({}, options);
  model::BatchBuilder out;
  (void)sensor->Collect(1'700'000'000'000, out);  // the parts the tree lacks fail; not these
  Values ours;
  std::map<std::string, double> success;
  for (const auto& series : out.Take().series) {
    std::string key = Key(series.labels);
    if (wanted(key)) ours[key] = series.samples[0].value;
    if (series.labels.MetricName() == "node_scrape_collector_success")
      success[std::string(series.labels.Get("collector"))] = series.samples[0].value;
  }
  for (const auto& c : collectors) {
    const std::string key = "node_scrape_collector_success{collector=\"" + c + "\"}";
    EXPECT_EQ(scraped.count(key), 1u) << key;
    if (scraped[key] == 1) {
      EXPECT_EQ(success[c], 1) << c;
    }
  }
  for (const auto& [key, value] : theirs) {
    auto it = ours.find(key);
    if (it == ours.end()) {
      ADD_FAILURE() << "node_exporter has " << key << ", we do not";
    } else {
      EXPECT_DOUBLE_EQ(it->second, value) << key;
    }
  }
  for (const auto& [key, value] : ours) {
    EXPECT_EQ(theirs.count(key), 1u) << "we have " << key << ", node_exporter does not";
  }
  for (const model::MetricMetadata& m : sensor->Metadata()) {
    auto it = metadata.find(m.metric);
    if (it != metadata.end() && wanted(m.metric)) {
      EXPECT_EQ(m.type, it->second.type) << m.metric;
    }
  }
}

// The hardware sensors this host (a VM) lacks, from a captured sysfs tree (two hwmon chips —
// one behind a device link, one with every sensor type and odd files: a non-number, a value
// without _input, fault/alarm/beep — two thermal zones, one below zero, and two cooling
// devices, one at -1).
TEST(NodeExporter, HwmonAndThermalZonesAgreeOnACapturedTree) {
  ExpectAgreementOnTree("sysfs-sensors", {"hwmon", "thermal_zone"},
                        {"node_hwmon_", "node_thermal_zone_", "node_cooling_device_"}, 40);
}

// The network and kernel families in an older kernel's shapes (4.15): fewer vmstat,
// netstat and snmp fields, no snmp6, no sockstat6, no udp6, no nf_conntrack statistics,
// ten softnet columns, an incomplete ARP entry.
TEST(NodeExporter, NetworkAndKernelFamiliesAgreeOnAnOlderKernelsFiles) {
  ExpectAgreementOnTree(
      "kernel-4.15",
      {"vmstat", "filefd", "entropy", "sockstat", "netstat", "conntrack", "softnet", "arp",
       "udp_queues"},
      {"node_vmstat_", "node_filefd_", "node_entropy_", "node_sockstat_", "node_netstat_",
       "node_nf_conntrack_", "node_softnet_", "node_arp_", "node_udp_queues"},
      60);
}

}  // namespace
}  // namespace vigil

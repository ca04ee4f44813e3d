#include "sensors/proc/proc_sensor.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

namespace vigil::sensors::proc {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

std::string Tree(const std::string& name) {
  return std::string(VIGIL_SOURCE_DIR) + "/src/sensors/proc/testdata/" + name;
}

// A statvfs answering the same figures for every mount point of the fixture trees.
Result<FsStats> FakeStatFs(const std::string&) {
  FsStats stats;
  stats.block_size = 4096;
  stats.blocks = 1000;
  stats.blocks_free = 600;
  stats.blocks_avail = 500;
  stats.files = 64;
  stats.files_free = 60;
  return stats;
}

// The readings of one collection, by the series' text ({__name__="…", …}).
struct Reading {
  Status status;
  std::map<std::string, double> values;
  bool Has(const std::string& series) const { return values.count(series) > 0; }
  double Get(const std::string& series) const {
    auto it = values.find(series);
    EXPECT_NE(it, values.end()) << series;
    return it == values.end() ? -1 : it->second;
  }
  size_t CountOf(const std::string& metric) const {
    size_t n = 0;
    for (const auto& [series, value] : values) n += series.starts_with(metric + "{");
    return n;
  }
  size_t CountPrefix(const std::string& prefix) const {
    size_t n = 0;
    for (const auto& [series, value] : values) n += series.starts_with(prefix);
    return n;
  }
};

Reading Collect(const std::string& tree, ProcSensor::Options options = {}) {
  options.root = Tree(tree);
  options.stat_fs = FakeStatFs;
  auto sensor = ProcSensor::Create({{"agent", "a"}}, options);
  EXPECT_TRUE(sensor.ok()) << sensor.status().ToString();
  model::BatchBuilder out;
  Reading reading;
  reading.status = (*sensor)->Collect(kNow, out);
  for (const auto& series : out.Take().series) {
    EXPECT_EQ(series.samples.size(), 1u) << series.labels.ToString();
    EXPECT_EQ(series.labels.Get("agent"), "a");
    auto labels = series.labels;
    std::string text(labels.MetricName());
    std::string rest;
    for (const auto& [name, value] : labels) {
      if (name == "__name__" || name == "agent") continue;
      rest += fmt::format("{}{}=\"{}\"", rest.empty() ? "" : ",", name, value);
    }
    text += "{" + rest + "}";
    reading.values[text] = series.samples[0].value;
    EXPECT_EQ(series.samples[0].timestamp_ms, kNow);
  }
  return reading;
}

TEST(ProcSensor, ReadsACapturedDebianHostUnderNodeExporterNames) {
  Reading r = Collect("debian12-vm");
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  // /proc/stat: cpu1 425864 205 82928 495513 6112 0 3873 547 0 0, in USER_HZ.
  EXPECT_DOUBLE_EQ(r.Get(R"(node_cpu_seconds_total{cpu="1",mode="user"})"), 4258.64);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_cpu_seconds_total{cpu="1",mode="steal"})"), 5.47);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_cpu_guest_seconds_total{cpu="0",mode="nice"})"), 0);
  EXPECT_EQ(r.CountOf("node_cpu_seconds_total"), 16u);  // 2 cpus x 8 modes
  EXPECT_GT(r.Get("node_context_switches_total{}"), 0);
  EXPECT_GT(r.Get("node_boot_time_seconds{}"), 1.7e9);
  EXPECT_GT(r.Get("node_forks_total{}"), 0);
  EXPECT_TRUE(r.Has("node_intr_total{}"));
  EXPECT_TRUE(r.Has("node_procs_running{}"));
  EXPECT_TRUE(r.Has("node_procs_blocked{}"));
  // Every line of meminfo, in bytes where the kernel says kB.
  EXPECT_EQ(r.CountPrefix("node_memory_"), 54u);
  EXPECT_GT(r.Get("node_memory_MemAvailable_bytes{}"), 1e9);
  EXPECT_TRUE(r.Has("node_memory_Active_anon_bytes{}"));
  EXPECT_TRUE(r.Has("node_memory_HugePages_Total{}"));
  EXPECT_DOUBLE_EQ(r.Get("node_memory_Hugepagesize_bytes{}"), 2048 * 1024);
  EXPECT_TRUE(r.Has("node_load1{}") && r.Has("node_load5{}") && r.Has("node_load15{}"));
  // diskstats: vda and zram0; loop devices skipped.
  EXPECT_DOUBLE_EQ(r.Get(R"(node_disk_read_bytes_total{device="vda"})"), 60822322.0 * 512);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_disk_read_time_seconds_total{device="vda"})"), 920.239);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_disk_flush_requests_total{device="vda"})"), 211596);
  EXPECT_FALSE(r.Has(R"(node_disk_reads_completed_total{device="loop0"})"));
  EXPECT_EQ(r.CountOf("node_disk_reads_completed_total"), 2u);
  // net/dev: lo skipped.
  EXPECT_EQ(r.CountOf("node_network_receive_bytes_total"), 3u);
  EXPECT_TRUE(r.Has(R"(node_network_transmit_colls_total{device="eth0"})"));
  // File systems: / only (the others are pseudo, or under /dev, /sys, /mnt).
  EXPECT_EQ(r.CountOf("node_filesystem_size_bytes"), 1u);
  EXPECT_DOUBLE_EQ(
      r.Get(R"(node_filesystem_avail_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"})"),
      500.0 * 4096);
  EXPECT_DOUBLE_EQ(
      r.Get(R"(node_filesystem_readonly{device="/dev/vda",fstype="ext4",mountpoint="/"})"), 0);
  EXPECT_DOUBLE_EQ(r.Get("node_time_seconds{}"), kNow / 1000.0);
  EXPECT_GT(r.Get("node_uptime_seconds{}"), 0);
  EXPECT_TRUE(r.Has("node_pressure_cpu_waiting_seconds_total{}"));
  EXPECT_TRUE(r.Has("node_pressure_io_stalled_seconds_total{}"));
  EXPECT_TRUE(r.Has("node_pressure_memory_waiting_seconds_total{}"));
  // vmstat: node_exporter's default fields only.
  EXPECT_DOUBLE_EQ(r.Get("node_vmstat_pgfault{}"), 658671360);
  EXPECT_DOUBLE_EQ(r.Get("node_vmstat_oom_kill{}"), 0);
  EXPECT_FALSE(r.Has("node_vmstat_nr_free_pages{}"));
  EXPECT_DOUBLE_EQ(r.Get("node_filefd_allocated{}"), 758);
  EXPECT_DOUBLE_EQ(r.Get("node_filefd_maximum{}"), 2466286);
  EXPECT_DOUBLE_EQ(r.Get("node_entropy_available_bits{}"), 256);
  EXPECT_DOUBLE_EQ(r.Get("node_entropy_pool_size_bits{}"), 256);
  // sockstat: every pair, mem also in bytes.
  EXPECT_DOUBLE_EQ(r.Get("node_sockstat_sockets_used{}"), 31);
  EXPECT_DOUBLE_EQ(r.Get("node_sockstat_TCP_tw{}"), 127);
  EXPECT_DOUBLE_EQ(r.Get("node_sockstat_TCP_mem_bytes{}"), 353.0 * ::sysconf(_SC_PAGESIZE));
  EXPECT_TRUE(r.Has("node_sockstat_TCP6_inuse{}"));
  EXPECT_TRUE(r.Has("node_sockstat_FRAG_memory{}"));
  // netstat, snmp and snmp6, through node_exporter's default field filter.
  EXPECT_DOUBLE_EQ(r.Get("node_netstat_Tcp_ActiveOpens{}"), 88164);
  EXPECT_DOUBLE_EQ(r.Get("node_netstat_Ip6_InOctets{}"), 384);
  EXPECT_TRUE(r.Has("node_netstat_TcpExt_ListenDrops{}"));
  EXPECT_TRUE(r.Has("node_netstat_Udp_NoPorts{}"));
  EXPECT_FALSE(r.Has("node_netstat_Tcp_RtoMin{}"));
  EXPECT_DOUBLE_EQ(r.Get("node_nf_conntrack_entries{}"), 0);
  EXPECT_DOUBLE_EQ(r.Get("node_nf_conntrack_entries_limit{}"), 262144);
  EXPECT_TRUE(r.Has("node_nf_conntrack_stat_search_restart{}"));
  // softnet_stat: hexadecimal, one line per cpu.
  EXPECT_DOUBLE_EQ(r.Get(R"(node_softnet_processed_total{cpu="0"})"), 0xe7cf3);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_softnet_times_squeezed_total{cpu="0"})"), 1);
  EXPECT_EQ(r.CountOf("node_softnet_dropped_total"), 2u);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_arp_entries{device="eth0"})"), 1);
  // udp: one socket with 0x200 bytes waiting to be read (a line added to the capture).
  EXPECT_DOUBLE_EQ(r.Get(R"(node_udp_queues{ip="v4",queue="rx"})"), 512);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_udp_queues{ip="v6",queue="tx"})"), 0);
  // /sys/class/net: what each device has (lo has no speed; its operstate is "unknown").
  EXPECT_DOUBLE_EQ(r.Get(R"(node_network_mtu_bytes{device="eth0"})"), 1400);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_network_flags{device="eth0"})"), 0x1003);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_network_speed_bytes{device="eth0"})"), -125000);
  EXPECT_FALSE(r.Has(R"(node_network_speed_bytes{device="lo"})"));
  EXPECT_DOUBLE_EQ(r.Get(R"(node_network_up{device="eth0"})"), 1);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_network_up{device="lo"})"), 0);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_network_protocol_type{device="lo"})"), 772);
  EXPECT_EQ(r.CountOf("node_network_info"), 2u);
  // adjtimex(2): this host's clock, whatever the root.
  EXPECT_GT(r.Get("node_timex_tick_seconds{}"), 0);
  // The agent's own process, whatever the root.
  EXPECT_GT(r.Get("process_resident_memory_bytes{}"), 0);
  EXPECT_GT(r.Get("process_open_fds{}"), 2);
  EXPECT_EQ(r.CountOf("node_scrape_collector_success"), 22u);
  EXPECT_EQ(r.Get(R"(node_scrape_collector_success{collector="diskstats"})"), 1);
}

TEST(ProcSensor, ReadsAnOlderKernelWithoutPressureAndWithPartitions) {
  Reading r = Collect("kernel-4.15");
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_DOUBLE_EQ(r.Get(R"(node_cpu_seconds_total{cpu="0",mode="idle"})"), 113117.18);
  EXPECT_DOUBLE_EQ(r.Get("node_boot_time_seconds{}"), 1062191376);
  EXPECT_DOUBLE_EQ(r.Get("node_intr_total{}"), 114930548);
  EXPECT_DOUBLE_EQ(r.Get("node_memory_MemTotal_bytes{}"), 8167848.0 * 1024);
  EXPECT_DOUBLE_EQ(r.Get("node_memory_Inactive_anon_bytes{}"), 188476.0 * 1024);
  EXPECT_DOUBLE_EQ(r.Get("node_load15{}"), 0.05);
  // Eleven figures only: no discard or flush series; sda1 and nvme0n1p1 skipped.
  EXPECT_DOUBLE_EQ(r.Get(R"(node_disk_io_time_weighted_seconds_total{device="sda"})"), 82621.804);
  EXPECT_TRUE(r.Has(R"(node_disk_writes_completed_total{device="nvme0n1"})"));
  EXPECT_EQ(r.CountOf("node_disk_discards_completed_total"), 0u);
  EXPECT_EQ(r.CountOf("node_disk_reads_completed_total"), 2u);
  // "eth0:1215645" has no space after the colon.
  EXPECT_DOUBLE_EQ(r.Get(R"(node_network_receive_bytes_total{device="eth0"})"), 1215645);
  EXPECT_DOUBLE_EQ(r.Get(R"(node_network_transmit_colls_total{device="eth0"})"), 427);
  // /proc/mounts, with \040 unescaped and "ro" seen; /run is excluded.
  EXPECT_EQ(r.CountOf("node_filesystem_size_bytes"), 2u);
  EXPECT_DOUBLE_EQ(
      r.Get(
          R"(node_filesystem_readonly{device="/dev/nvme0n1p1",fstype="xfs",mountpoint="/srv/plant data"})"),
      1);
  EXPECT_EQ(r.CountPrefix("node_pressure_"), 0u);
  EXPECT_EQ(r.Get(R"(node_scrape_collector_success{collector="pressure"})"), 1);
}

TEST(ProcSensor, BrokenTreeGivesPartialReadingsAndNamesEveryFault) {
  Reading r = Collect("broken");
  ASSERT_FALSE(r.status.ok());
  const std::string& message = r.status.message();
  for (const char* expected :
       {"/proc/stat: line 2: truncated cpu line", "line 8: no number after processes", "meminfo",
        "/proc/diskstats: line 2: not a number: x", "line 3: truncated: 5 fields",
        "/proc/loadavg: line 1", "net/dev", "mounts: line 2: truncated",
        "/proc/pressure/io: line 1", "pressure/memory"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << " in " << message;
  }
  // What could be read was read.
  EXPECT_EQ(r.CountOf("node_cpu_seconds_total"), 8u);  // cpu1 only
  EXPECT_DOUBLE_EQ(r.Get("node_context_switches_total{}"), 1990473);
  EXPECT_DOUBLE_EQ(r.Get("node_procs_running{}"), 1);
  EXPECT_EQ(r.CountOf("node_disk_reads_completed_total"), 2u);  // sda, and sdb's first figure
  EXPECT_DOUBLE_EQ(r.Get(R"(node_disk_written_bytes_total{device="sdb"})"), 505.0 * 512);
  EXPECT_DOUBLE_EQ(r.Get("node_uptime_seconds{}"), 12.5);
  EXPECT_DOUBLE_EQ(r.Get("node_pressure_cpu_waiting_seconds_total{}"), 931.170689);
  EXPECT_DOUBLE_EQ(r.Get("node_pressure_io_stalled_seconds_total{}"), 1);
  EXPECT_EQ(r.CountOf("node_filesystem_size_bytes"), 1u);
  EXPECT_EQ(r.Get(R"(node_scrape_collector_success{collector="meminfo"})"), 0);
  EXPECT_EQ(r.Get(R"(node_scrape_collector_success{collector="uptime"})"), 1);
  EXPECT_EQ(r.CountPrefix("node_memory_"), 0u);
}

TEST(ProcSensor, UnreadableMountPointSetsDeviceErrorOnly) {
  ProcSensor::Options options;
  options.root = Tree("kernel-4.15");
  options.stat_fs = [](const std::string& path) -> Result<FsStats> {
    if (path.ends_with("plant data")) return UnavailableError("stale");
    return FakeStatFs(path);
  };
  auto sensor = *ProcSensor::Create({}, options);
  model::BatchBuilder out;
  EXPECT_TRUE(sensor->Collect(kNow, out).ok());
  int errors = 0, sizes = 0;
  for (const auto& s : out.Take().series) {
    if (s.labels.MetricName() == "node_filesystem_device_error") errors += s.samples[0].value;
    if (s.labels.MetricName() == "node_filesystem_size_bytes") ++sizes;
  }
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(sizes, 1);
}

TEST(ProcSensor, MissingRootFailsEveryPartWithoutCrashing) {
  Reading r = Collect("no-such-tree");
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.Get(R"(node_scrape_collector_success{collector="stat"})"), 0);
  EXPECT_TRUE(r.Has("node_time_seconds{}"));
}

TEST(ProcSensor, BadRegularExpressionIsRejected) {
  ProcSensor::Options options;
  options.disk_exclude = "(";
  auto sensor = ProcSensor::Create({}, options);
  ASSERT_FALSE(sensor.ok());
  EXPECT_NE(sensor.status().message().find("disk_exclude"), std::string::npos);
}

TEST(ProcSensor, ReadsThisHost) {
  auto sensor = *ProcSensor::Create({}, {});
  model::BatchBuilder out;
  Status status = sensor->Collect(kNow, out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_GT(out.sample_count(), 100u);
}

}  // namespace
}  // namespace vigil::sensors::proc

#include "sensors/proc/proc_sensor.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/timex.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "sensors/proc/numbers.h"

namespace vigil::sensors::proc {

using config::OptionSpec;
using config::OptionType;

namespace {

// USER_HZ: the unit of the times in /proc/stat on every Linux architecture vigil builds for.
constexpr double kUserHz = 100;
constexpr double kSectorBytes = 512;

// Splits `line` at runs of spaces and tabs; at most N fields, the count in *n.
template <size_t N>
size_t Fields(std::string_view line, std::array<std::string_view, N>& fields) {
  size_t n = 0;
  size_t i = 0;
  while (n < N) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    fields[n++] = line.substr(start, i - start);
  }
  return n;
}

// Splits a line at spaces and tabs into as many fields as it has.
std::vector<std::string_view> AllFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) return fields;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    fields.push_back(line.substr(start, i - start));
  }
}

// Calls fn(line_number, line) for each line of `text`.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  size_t line_number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (!line.empty()) fn(line_number, line);
  }
}

// Mount points in /proc/mounts escape space, tab, newline and backslash as \ooo.
std::string UnescapeMount(std::string_view text) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && octal(text[i + 1]) && octal(text[i + 2]) &&
        octal(text[i + 3])) {
      out += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 +
                               (text[i + 3] - '0'));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Gathers what went wrong in one source, for the collection's status.
class Problems {
 public:
  explicit Problems(std::string source) : source_(std::move(source)) {}
  void Line(size_t line_number, std::string_view what) {
    if (++count_ <= 3) {
      text_ += (text_.empty() ? "" : "; ") + std::string("line ") + std::to_string(line_number) +
               ": " + std::string(what);
    }
  }
  Status ToStatus() const {
    if (count_ == 0) return OkStatus();
    std::string more = count_ > 3 ? " (and " + std::to_string(count_ - 3) + " more)" : "";
    return UnavailableError(source_ + ": " + text_ + more);
  }

 private:
  std::string source_;
  std::string text_;
  size_t count_ = 0;
};

Result<std::unique_ptr<RE2>> Compile(const std::string& name, const std::string& pattern) {
  auto re = std::make_unique<RE2>(pattern, RE2::Quiet);
  if (!re->ok()) return InvalidArgumentError(name + ": invalid regular expression: " + re->error());
  return re;
}

// A family as node_exporter types it (its counters end in _total, the rest are gauges)
// and what it measures.
model::MetricMetadata Describe(std::string_view family) {
  static const std::map<std::string_view, std::string_view> kHelp = {
      {"node_boot_time_seconds", "Node boot time, in unixtime."},
      {"node_context_switches_total", "Total number of context switches."},
      {"node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode."},
      {"node_cpu_seconds_total", "Seconds the CPUs spent in each mode."},
      {"node_forks_total", "Total number of forks."},
      {"node_intr_total", "Total number of interrupts serviced."},
      {"node_procs_blocked", "Number of processes blocked waiting for I/O to complete."},
      {"node_procs_running", "Number of processes in runnable state."},
      {"node_load1", "1m load average."},
      {"node_load5", "5m load average."},
      {"node_load15", "15m load average."},
      {"node_time_seconds", "System time in seconds since epoch (1970)."},
      {"node_uptime_seconds", "Seconds since the system booted (vigil)."},
      {"node_scrape_collector_success", "Whether a collector succeeded."},
      {"node_disk_io_now", "The number of I/Os currently in progress."},
      {"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os."},
      {"node_disk_io_time_weighted_seconds_total",
       "The weighted number of seconds spent doing I/Os."},
      {"node_disk_read_bytes_total", "The total number of bytes read successfully."},
      {"node_disk_written_bytes_total", "The total number of bytes written successfully."},
      {"node_disk_reads_completed_total", "The total number of reads completed successfully."},
      {"node_disk_writes_completed_total", "The total number of writes completed successfully."},
      {"node_disk_reads_merged_total", "The total number of reads merged."},
      {"node_disk_writes_merged_total", "The number of writes merged."},
      {"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads."},
      {"node_disk_write_time_seconds_total",
       "This is the total number of seconds spent by all writes."},
      {"node_disk_discards_completed_total",
       "The total number of discards completed successfully."},
      {"node_disk_discards_merged_total", "The total number of discards merged."},
      {"node_disk_discarded_sectors_total", "The total number of sectors discarded successfully."},
      {"node_disk_discard_time_seconds_total",
       "This is the total number of seconds spent by all discards."},
      {"node_disk_flush_requests_total",
       "The total number of flush requests completed successfully"},
      {"node_disk_flush_requests_time_seconds_total",
       "This is the total number of seconds spent by all flush requests."},
      {"node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes."},
      {"node_filesystem_device_error",
       "Whether an error occurred while getting statistics for the given device."},
      {"node_filesystem_files", "Filesystem total file nodes."},
      {"node_filesystem_files_free", "Filesystem total free file nodes."},
      {"node_filesystem_free_bytes", "Filesystem free space in bytes."},
      {"node_filesystem_readonly", "Filesystem read-only status."},
      {"node_filesystem_size_bytes", "Filesystem size in bytes."},
      {"node_filefd_allocated", "File descriptor statistics: allocated."},
      {"node_filefd_maximum", "File descriptor statistics: maximum."},
      {"node_entropy_available_bits", "Bits of available entropy."},
      {"node_entropy_pool_size_bits", "Bits of entropy pool."},
      {"node_nf_conntrack_entries",
       "Number of currently allocated flow entries for connection tracking."},
      {"node_nf_conntrack_entries_limit", "Maximum size of connection tracking table."},
      {"node_softnet_processed_total", "Number of processed packets."},
      {"node_softnet_dropped_total", "Number of dropped packets."},
      {"node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota."},
      {"node_arp_entries", "ARP entries by device."},
      {"node_udp_queues", "Number of allocated memory in the kernel for UDP datagrams in bytes."},
      {"node_hwmon_chip_names", "Annotation metric for human-readable chip names"},
      {"node_hwmon_sensor_label", "Label for given chip and sensor"},
      {"node_thermal_zone_temp", "Zone temperature in Celsius"},
      {"node_cooling_device_cur_state", "Current throttle state of the cooling device"},
      {"node_cooling_device_max_state", "Maximum throttle state of the cooling device"},
  };
  model::MetricMetadata m;
  m.metric = std::string(family);
  m.type = family.ends_with("_total") ? "counter" : "gauge";
  // node_exporter leaves the figures it copies from netstat, snmp and vmstat untyped.
  if (family.starts_with("node_netstat_") || family.starts_with("node_vmstat_")) {
    m.type = "unknown";
  }
  if (auto it = kHelp.find(family); it != kHelp.end()) {
    m.help = std::string(it->second);
  } else if (family.starts_with("node_memory_")) {
    m.help = "Memory information field " + std::string(family.substr(12)) + ".";
  } else if (family.starts_with("node_network_")) {
    // node_network_receive_bytes_total -> "Network device statistic receive_bytes."
    std::string_view field = family.substr(13);
    if (field.ends_with("_total")) field.remove_suffix(6);
    m.help = "Network device statistic " + std::string(field) + ".";
  } else if (family.starts_with("node_netstat_")) {
    m.help = "Statistic " + std::string(family.substr(13)) + ".";
  } else if (family.starts_with("process_")) {
    m.help = "The agent's own process: " + std::string(family.substr(8)) + ".";
  } else if (family.starts_with("node_timex_")) {
    m.help = "The kernel clock's discipline (adjtimex): " + std::string(family.substr(11)) + ".";
  } else if (family.starts_with("node_vmstat_")) {
    m.help = "/proc/vmstat information field " + std::string(family.substr(12)) + ".";
  } else if (family.starts_with("node_sockstat_")) {
    m.help = "Number of " + std::string(family.substr(14)) + " (/proc/net/sockstat).";
  } else if (family.starts_with("node_nf_conntrack_stat_")) {
    m.help = "Connection tracking statistic " + std::string(family.substr(23)) + ", all cpus.";
  } else if (family.starts_with("node_hwmon_")) {
    m.help = "Hardware monitor (/sys/class/hwmon): " + std::string(family.substr(11)) + ".";
  } else if (family.starts_with("node_pressure_")) {
    m.help = "Pressure stall information: total seconds " + std::string(family.substr(14)) + ".";
  }
  return m;
}

}  // namespace

Result<FsStats> SystemStatFs(const std::string& path) {
  struct statvfs st;
  if (statvfs(path.c_str(), &st) != 0) {
    return UnavailableError("statvfs " + path + ": " + std::strerror(errno));
  }
  FsStats stats;
  stats.block_size = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
  stats.blocks = st.f_blocks;
  stats.blocks_free = st.f_bfree;
  stats.blocks_avail = st.f_bavail;
  stats.files = st.f_files;
  stats.files_free = st.f_ffree;
  stats.read_only = (st.f_flag & ST_RDONLY) != 0;
  return stats;
}

SensorDescriptor Descriptor() {
  ProcSensor::Options defaults;
  auto regex = [](const config::OptionValue& value) -> std::optional<std::string> {
    RE2 re(std::get<std::string>(value), RE2::Quiet);
    if (!re.ok()) return "invalid regular expression: " + re.error();
    return std::nullopt;
  };
  SensorDescriptor d;
  d.type = "proc";
  d.description =
      "Host metrics from /proc and statvfs under node_exporter's names (CPU, memory, load, "
      "disks, network, file systems, uptime, pressure).";
  d.options = {
      OptionSpec{"interval", OptionType::kDuration, "How often to read.",
                 std::chrono::milliseconds(1000), 0.01, 86400.0},
      OptionSpec{"root", OptionType::kString,
                 "Where the host's file system is: /proc is read at <root>/proc, /sys at "
                 "<root>/sys (a container "
                 "that mounts the host at /host sets \"/host\").",
                 std::string("/")},
      OptionSpec{"disk_exclude",
                 OptionType::kString,
                 "Block devices of /proc/diskstats to skip (regular expression).",
                 defaults.disk_exclude,
                 std::nullopt,
                 std::nullopt,
                 {},
                 regex},
      OptionSpec{"netdev_exclude",
                 OptionType::kString,
                 "Network interfaces of /proc/net/dev to skip (regular expression).",
                 defaults.netdev_exclude,
                 std::nullopt,
                 std::nullopt,
                 {},
                 regex},
      OptionSpec{"mount_points_exclude",
                 OptionType::kString,
                 "Mount points to skip (regular expression).",
                 defaults.mount_points_exclude,
                 std::nullopt,
                 std::nullopt,
                 {},
                 regex},
      OptionSpec{"fs_types_exclude",
                 OptionType::kString,
                 "File system types to skip, pseudo file systems by default (regular "
                 "expression).",
                 defaults.fs_types_exclude,
                 std::nullopt,
                 std::nullopt,
                 {},
                 regex},
  };
  d.create = [](const SensorSpec& spec) -> Result<std::unique_ptr<Sensor>> {
    ProcSensor::Options options;
    options.interval_ms = spec.options.Duration("interval").count();
    options.root = spec.options.String("root");
    options.disk_exclude = spec.options.String("disk_exclude");
    options.netdev_exclude = spec.options.String("netdev_exclude");
    options.mount_points_exclude = spec.options.String("mount_points_exclude");
    options.fs_types_exclude = spec.options.String("fs_types_exclude");
    VIGIL_ASSIGN_OR_RETURN(auto sensor, ProcSensor::Create(spec.labels, std::move(options)));
    return std::unique_ptr<Sensor>(std::move(sensor));
  };
  return d;
}

Result<std::unique_ptr<ProcSensor>> ProcSensor::Create(const config::LabelMap& labels,
                                                       Options options) {
  if (options.interval_ms <= 0) return InvalidArgumentError("interval: must be positive");
  std::unique_ptr<ProcSensor> sensor(new ProcSensor(labels, std::move(options)));
  const Options& o = sensor->options_;
  VIGIL_ASSIGN_OR_RETURN(sensor->disk_exclude_, Compile("disk_exclude", o.disk_exclude));
  VIGIL_ASSIGN_OR_RETURN(sensor->netdev_exclude_, Compile("netdev_exclude", o.netdev_exclude));
  VIGIL_ASSIGN_OR_RETURN(sensor->mount_points_exclude_,
                         Compile("mount_points_exclude", o.mount_points_exclude));
  VIGIL_ASSIGN_OR_RETURN(sensor->fs_types_exclude_,
                         Compile("fs_types_exclude", o.fs_types_exclude));
  return sensor;
}

ProcSensor::ProcSensor(const config::LabelMap& labels, Options options)
    : options_(std::move(options)), series_(labels) {
  std::string root = options_.root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  proc_dir_ = (root == "/" ? "" : root) + "/proc/";
  options_.root = root == "/" ? "" : root;
}

void ProcSensor::Add(model::BatchBuilder& out, int64_t now_ms, double value,
                     std::string_view metric, SeriesCache::Extra extra) {
  if (const model::Labels* labels = series_.Get(metric, extra)) out.Add(*labels, {now_ms, value});
  if (families_.find(metric) == families_.end()) families_.emplace(metric);
}

Status ProcSensor::ReadProc(std::string_view name) {
  return ReadFile(proc_dir_ + std::string(name));
}

Status ProcSensor::ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return UnavailableError("open " + path + ": " + std::strerror(errno));
  buffer_.clear();
  char chunk[16384];
  while (true) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      return UnavailableError("read " + path + ": " + std::strerror(error));
    }
    if (n == 0) break;
    buffer_.append(chunk, static_cast<size_t>(n));
    if (buffer_.size() > (16u << 20)) {
      ::close(fd);
      return UnavailableError("read " + path + ": larger than 16 MiB");
    }
  }
  ::close(fd);
  return OkStatus();
}

Status ProcSensor::Collect(int64_t now_ms, model::BatchBuilder& out) {
  struct Part {
    const char* name;
    Status (ProcSensor::*collect)(int64_t, model::BatchBuilder&);
  };
  static constexpr Part kParts[] = {
      {"stat", &ProcSensor::CollectStat},
      {"meminfo", &ProcSensor::CollectMeminfo},
      {"loadavg", &ProcSensor::CollectLoadavg},
      {"diskstats", &ProcSensor::CollectDiskstats},
      {"netdev", &ProcSensor::CollectNetdev},
      {"filesystem", &ProcSensor::CollectFilesystems},
      {"uptime", &ProcSensor::CollectUptime},
      {"pressure", &ProcSensor::CollectPressure},
      {"vmstat", &ProcSensor::CollectVmstat},
      {"filefd", &ProcSensor::CollectFilefd},
      {"entropy", &ProcSensor::CollectEntropy},
      {"sockstat", &ProcSensor::CollectSockstat},
      {"netstat", &ProcSensor::CollectNetstat},
      {"conntrack", &ProcSensor::CollectConntrack},
      {"softnet", &ProcSensor::CollectSoftnet},
      {"arp", &ProcSensor::CollectArp},
      {"udp_queues", &ProcSensor::CollectUdpQueues},
      {"netclass", &ProcSensor::CollectNetclass},
      {"timex", &ProcSensor::CollectTimex},
      {"hwmon", &ProcSensor::CollectHwmon},
      {"thermal_zone", &ProcSensor::CollectThermalZone},
      {"process", &ProcSensor::CollectProcess},
  };
  std::string failures;
  for (const Part& part : kParts) {
    Status status = (this->*part.collect)(now_ms, out);
    Add(out, now_ms, status.ok() ? 1 : 0, "node_scrape_collector_success",
        {{"collector", part.name}});
    if (!status.ok()) failures += (failures.empty() ? "" : "; ") + status.message();
  }
  series_.EndCollection();
  if (families_.size() != described_) {
    std::vector<model::MetricMetadata> metadata;
    for (const std::string& family : families_) metadata.push_back(Describe(family));
    described_ = families_.size();
    MutexLock lock(metadata_mu_);
    metadata_ = std::move(metadata);
  }
  if (!failures.empty()) return UnavailableError(failures);
  return OkStatus();
}

std::vector<model::MetricMetadata> ProcSensor::Metadata() const {
  MutexLock lock(metadata_mu_);
  return metadata_;
}

Status ProcSensor::CollectStat(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_RETURN_IF_ERROR(ReadProc("stat"));
  static constexpr std::string_view kModes[] = {"user",   "nice", "system",  "idle",
                                                "iowait", "irq",  "softirq", "steal"};
  static constexpr std::pair<std::string_view, std::string_view> kSingles[] = {
      {"ctxt", "node_context_switches_total"}, {"btime", "node_boot_time_seconds"},
      {"processes", "node_forks_total"},       {"procs_running", "node_procs_running"},
      {"procs_blocked", "node_procs_blocked"}, {"intr", "node_intr_total"},
  };
  Problems problems("/proc/stat");
  std::array<std::string_view, 12> f;
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    size_t n = Fields(line, f);
    if (n == 0) return;
    if (f[0].starts_with("cpu")) {
      std::string_view cpu = f[0].substr(3);
      if (cpu.empty()) return;  // the sum over all cpus
      if (n < 1 + std::size(kModes)) {
        problems.Line(line_number, "truncated cpu line");
        return;
      }
      for (size_t i = 0; i < std::size(kModes); ++i) {
        auto value = Number(f[1 + i]);
        if (!value) {
          problems.Line(line_number, "not a number: " + std::string(f[1 + i]));
          continue;
        }
        Add(out, now_ms, *value / kUserHz, "node_cpu_seconds_total",
            {{"cpu", cpu}, {"mode", kModes[i]}});
      }
      static constexpr std::string_view kGuestModes[] = {"user", "nice"};
      for (size_t i = 0; i < 2 && 9 + i < n; ++i) {
        if (auto value = Number(f[9 + i])) {
          Add(out, now_ms, *value / kUserHz, "node_cpu_guest_seconds_total",
              {{"cpu", cpu}, {"mode", kGuestModes[i]}});
        }
      }
      return;
    }
    for (const auto& [key, metric] : kSingles) {
      if (f[0] != key) continue;
      auto value = n >= 2 ? Number(f[1]) : std::nullopt;
      if (!value) {
        problems.Line(line_number, "no number after " + std::string(key));
      } else {
        Add(out, now_ms, *value, metric);
      }
      return;
    }
    // Other lines (softirq, newer fields) are not ours.
  });
  return problems.ToStatus();
}

Status ProcSensor::CollectMeminfo(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_RETURN_IF_ERROR(ReadProc("meminfo"));
  Problems problems("/proc/meminfo");
  std::array<std::string_view, 4> f;
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    size_t n = Fields(line, f);
    if (n < 2 || !f[0].ends_with(':')) {
      problems.Line(line_number, "expected \"Name: value [kB]\"");
      return;
    }
    auto value = Number(f[1]);
    if (!value) {
      problems.Line(line_number, "not a number: " + std::string(f[1]));
      return;
    }
    // node_exporter's names: "Active(anon):" -> node_memory_Active_anon_bytes.
    std::string_view key = f[0].substr(0, f[0].size() - 1);
    metric_ = "node_memory_";
    for (char c : key) {
      if (c == '(') {
        metric_ += '_';
      } else if (c != ')') {
        metric_ += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      }
    }
    if (n >= 3 && f[2] == "kB") {
      *value *= 1024;
      metric_ += "_bytes";
    }
    Add(out, now_ms, *value, metric_);
  });
  return problems.ToStatus();
}

Status ProcSensor::CollectLoadavg(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_RETURN_IF_ERROR(ReadProc("loadavg"));
  std::array<std::string_view, 3> f;
  size_t n = Fields(std::string_view(buffer_).substr(0, buffer_.find('\n')), f);
  static constexpr std::string_view kNames[] = {"node_load1", "node_load5", "node_load15"};
  Problems problems("/proc/loadavg");
  for (size_t i = 0; i < 3; ++i) {
    auto value = i < n ? Number(f[i]) : std::nullopt;
    if (!value) {
      problems.Line(1, "expected three load averages");
      break;
    }
    Add(out, now_ms, *value, kNames[i]);
  }
  return problems.ToStatus();
}

Status ProcSensor::CollectDiskstats(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_RETURN_IF_ERROR(ReadProc("diskstats"));
  // Field i (after major, minor and name): metric and the factor to its unit.
  struct Figure {
    std::string_view metric;
    double scale;
  };
  static constexpr Figure kFigures[] = {
      {"node_disk_reads_completed_total", 1},
      {"node_disk_reads_merged_total", 1},
      {"node_disk_read_bytes_total", kSectorBytes},
      {"node_disk_read_time_seconds_total", 0.001},
      {"node_disk_writes_completed_total", 1},
      {"node_disk_writes_merged_total", 1},
      {"node_disk_written_bytes_total", kSectorBytes},
      {"node_disk_write_time_seconds_total", 0.001},
      {"node_disk_io_now", 1},
      {"node_disk_io_time_seconds_total", 0.001},
      {"node_disk_io_time_weighted_seconds_total", 0.001},
      {"node_disk_discards_completed_total", 1},
      {"node_disk_discards_merged_total", 1},
      {"node_disk_discarded_sectors_total", 1},
      {"node_disk_discard_time_seconds_total", 0.001},
      {"node_disk_flush_requests_total", 1},
      {"node_disk_flush_requests_time_seconds_total", 0.001},
  };
  Problems problems("/proc/diskstats");
  std::array<std::string_view, 3 + std::size(kFigures)> f;
  std::string device;
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    size_t n = Fields(line, f);
    if (n < 3 + 11) {  // every kernel since 2.6 has the first eleven
      problems.Line(line_number, "truncated: " + std::to_string(n) + " fields");
      return;
    }
    device.assign(f[2]);
    if (RE2::PartialMatch(device, *disk_exclude_)) return;
    for (size_t i = 0; i + 3 < n; ++i) {
      auto value = Number(f[3 + i]);
      if (!value) {
        problems.Line(line_number, "not a number: " + std::string(f[3 + i]));
        continue;
      }
      Add(out, now_ms, *value * kFigures[i].scale, kFigures[i].metric, {{"device", device}});
    }
  });
  return problems.ToStatus();
}

Status ProcSensor::CollectNetdev(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_RETURN_IF_ERROR(ReadProc("net/dev"));
  static constexpr std::string_view kMetrics[] = {
      "node_network_receive_bytes_total",      "node_network_receive_packets_total",
      "node_network_receive_errs_total",       "node_network_receive_drop_total",
      "node_network_receive_fifo_total",       "node_network_receive_frame_total",
      "node_network_receive_compressed_total", "node_network_receive_multicast_total",
      "node_network_transmit_bytes_total",     "node_network_transmit_packets_total",
      "node_network_transmit_errs_total",      "node_network_transmit_drop_total",
      "node_network_transmit_fifo_total",      "node_network_transmit_colls_total",
      "node_network_transmit_carrier_total",   "node_network_transmit_compressed_total",
  };
  Problems problems("/proc/net/dev");
  std::array<std::string_view, std::size(kMetrics)> f;
  std::string device;
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      if (line_number > 2) problems.Line(line_number, "no \"device:\"");
      return;  // the two header lines
    }
    std::array<std::string_view, 1> name;
    if (Fields(line.substr(0, colon), name) != 1) {
      problems.Line(line_number, "no device name");
      return;
    }
    device.assign(name[0]);
    if (RE2::PartialMatch(device, *netdev_exclude_)) return;
    size_t n = Fields(line.substr(colon + 1), f);
    if (n < std::size(kMetrics)) problems.Line(line_number, "truncated");
    for (size_t i = 0; i < n; ++i) {
      auto value = Number(f[i]);
      if (!value) {
        problems.Line(line_number, "not a number: " + std::string(f[i]));
        continue;
      }
      Add(out, now_ms, *value, kMetrics[i], {{"device", device}});
    }
  });
  return problems.ToStatus();
}

Status ProcSensor::CollectFilesystems(int64_t now_ms, model::BatchBuilder& out) {
  // The mounts of init, as node_exporter reads them: the host's view from a container too.
  if (Status status = ReadProc("1/mounts"); !status.ok()) VIGIL_RETURN_IF_ERROR(ReadProc("mounts"));
  Problems problems("mounts");
  std::array<std::string_view, 4> f;
  std::set<std::string> seen;
  std::vector<std::array<std::string, 4>> mounts;  // device, mount point, fs type, options
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    if (Fields(line, f) < 4) {
      problems.Line(line_number, "truncated");
      return;
    }
    std::string mount_point = UnescapeMount(f[1]);
    if (RE2::PartialMatch(mount_point, *mount_points_exclude_)) return;
    std::string fs_type(f[2]);
    if (RE2::PartialMatch(fs_type, *fs_types_exclude_)) return;
    std::string device = UnescapeMount(f[0]);
    if (!seen.insert(device + '\0' + mount_point + '\0' + fs_type).second) return;
    mounts.push_back({device, mount_point, fs_type, std::string(f[3])});
  });
  for (const auto& [device, mount_point, fs_type, mount_options] : mounts) {
    SeriesCache::Extra labels = {
        {"device", device}, {"fstype", fs_type}, {"mountpoint", mount_point}};
    auto stats = options_.stat_fs(options_.root + mount_point);
    Add(out, now_ms, stats.ok() ? 0 : 1, "node_filesystem_device_error", labels);
    if (!stats.ok()) continue;  // node_exporter's way: the error flag, no figures
    double block = static_cast<double>(stats->block_size);
    bool read_only = ("," + mount_options + ",").find(",ro,") != std::string::npos;
    Add(out, now_ms, static_cast<double>(stats->blocks) * block, "node_filesystem_size_bytes",
        labels);
    Add(out, now_ms, static_cast<double>(stats->blocks_free) * block, "node_filesystem_free_bytes",
        labels);
    Add(out, now_ms, static_cast<double>(stats->blocks_avail) * block,
        "node_filesystem_avail_bytes", labels);
    Add(out, now_ms, static_cast<double>(stats->files), "node_filesystem_files", labels);
    Add(out, now_ms, static_cast<double>(stats->files_free), "node_filesystem_files_free", labels);
    Add(out, now_ms, read_only ? 1 : 0, "node_filesystem_readonly", labels);
  }
  return problems.ToStatus();
}

Status ProcSensor::CollectUptime(int64_t now_ms, model::BatchBuilder& out) {
  Add(out, now_ms, static_cast<double>(now_ms) / 1000, "node_time_seconds");
  VIGIL_RETURN_IF_ERROR(ReadProc("uptime"));
  std::array<std::string_view, 1> f;
  auto value = Fields(std::string_view(buffer_).substr(0, buffer_.find('\n')), f) == 1
                   ? Number(f[0])
                   : std::nullopt;
  if (!value) return UnavailableError("/proc/uptime: line 1: expected seconds since boot");
  Add(out, now_ms, *value, "node_uptime_seconds");
  return OkStatus();
}

Status ProcSensor::CollectPressure(int64_t now_ms, model::BatchBuilder& out) {
  // Absent before Linux 4.20 and when the kernel runs without psi: nothing to report.
  if (::access((proc_dir_ + "pressure").c_str(), F_OK) != 0) return OkStatus();
  struct Resource {
    std::string_view file;
    std::string_view some_metric;
    std::string_view full_metric;  // empty: not reported (cpu, as node_exporter 1.5)
  };
  static constexpr Resource kResources[] = {
      {"cpu", "node_pressure_cpu_waiting_seconds_total", ""},
      {"io", "node_pressure_io_waiting_seconds_total", "node_pressure_io_stalled_seconds_total"},
      {"memory", "node_pressure_memory_waiting_seconds_total",
       "node_pressure_memory_stalled_seconds_total"},
  };
  std::string failures;
  for (const Resource& resource : kResources) {
    std::string name = "pressure/" + std::string(resource.file);
    if (Status status = ReadProc(name); !status.ok()) {
      failures += (failures.empty() ? "" : "; ") + status.message();
      continue;
    }
    Problems problems("/proc/" + name);
    std::array<std::string_view, 5> f;
    ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
      size_t n = Fields(line, f);
      std::string_view metric = n > 0 && f[0] == "some"   ? resource.some_metric
                                : n > 0 && f[0] == "full" ? resource.full_metric
                                                          : std::string_view("?");
      if (metric.empty()) return;
      if (metric == "?" || n < 5 || !f[4].starts_with("total=")) {
        problems.Line(line_number, "expected \"some|full avg10=… avg60=… avg300=… total=…\"");
        return;
      }
      auto micros = Number(f[4].substr(6));
      if (!micros) {
        problems.Line(line_number, "not a number: " + std::string(f[4]));
        return;
      }
      Add(out, now_ms, *micros / 1e6, metric);
    });
    if (Status status = problems.ToStatus(); !status.ok())
      failures += (failures.empty() ? "" : "; ") + status.message();
  }
  if (!failures.empty()) return UnavailableError(failures);
  return OkStatus();
}

Result<bool> ProcSensor::ReadProcIfPresent(std::string_view name) {
  if (::access((proc_dir_ + std::string(name)).c_str(), F_OK) != 0 && errno == ENOENT) {
    return false;
  }
  VIGIL_RETURN_IF_ERROR(ReadProc(name));
  return true;
}

Status ProcSensor::CollectVmstat(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent("vmstat"));
  if (!present) return OkStatus();
  // node_exporter's default --collector.vmstat.fields.
  static const RE2 kFields("^(oom_kill|pgpg|pswp|pg.*fault).*");
  Problems problems("/proc/vmstat");
  std::array<std::string_view, 2> f;
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    if (Fields(line, f) != 2) return problems.Line(line_number, "expected \"name value\"");
    if (!RE2::FullMatch(f[0], kFields)) return;
    auto value = Number(f[1]);
    if (!value) return problems.Line(line_number, "not a number: " + std::string(f[1]));
    metric_ = "node_vmstat_";
    metric_ += f[0];
    Add(out, now_ms, *value, metric_);
  });
  return problems.ToStatus();
}

Status ProcSensor::CollectFilefd(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent("sys/fs/file-nr"));
  if (!present) return OkStatus();
  std::array<std::string_view, 3> f;
  const size_t n = Fields(std::string_view(buffer_).substr(0, buffer_.find('\n')), f);
  auto allocated = n == 3 ? Number(f[0]) : std::nullopt;
  auto maximum = n == 3 ? Number(f[2]) : std::nullopt;
  if (!allocated || !maximum) {
    return UnavailableError("/proc/sys/fs/file-nr: line 1: expected three numbers");
  }
  Add(out, now_ms, *allocated, "node_filefd_allocated");
  Add(out, now_ms, *maximum, "node_filefd_maximum");
  return OkStatus();
}

Result<bool> ProcSensor::AddFileNumber(std::string_view file, std::string_view metric,
                                       int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent(file));
  if (!present) return false;
  std::array<std::string_view, 1> f;
  auto value = Fields(std::string_view(buffer_).substr(0, buffer_.find('\n')), f) == 1
                   ? Number(f[0])
                   : std::nullopt;
  if (!value) return UnavailableError("/proc/" + std::string(file) + ": expected a number");
  Add(out, now_ms, *value, metric);
  return true;
}

Status ProcSensor::CollectEntropy(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_RETURN_IF_ERROR(
      AddFileNumber("sys/kernel/random/entropy_avail", "node_entropy_available_bits", now_ms, out)
          .status());
  return AddFileNumber("sys/kernel/random/poolsize", "node_entropy_pool_size_bits", now_ms, out)
      .status();
}

Status ProcSensor::CollectSockstat(int64_t now_ms, model::BatchBuilder& out) {
  // "TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1" -> node_sockstat_TCP_inuse …, and mem also
  // in bytes (pages); "sockets: used 300" -> node_sockstat_sockets_used.
  const double page_bytes = static_cast<double>(::sysconf(_SC_PAGESIZE));
  for (std::string_view file : {"net/sockstat", "net/sockstat6"}) {
    VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent(file));
    if (!present) continue;
    Problems problems("/proc/" + std::string(file));
    ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
      std::vector<std::string_view> f = AllFields(line);
      if (f.size() < 3 || f.size() % 2 == 0 || !f[0].ends_with(':')) {
        return problems.Line(line_number, "expected \"PROTO: key value …\"");
      }
      const std::string_view protocol = f[0].substr(0, f[0].size() - 1);
      for (size_t i = 1; i + 1 < f.size(); i += 2) {
        auto value = Number(f[i + 1]);
        if (!value) return problems.Line(line_number, "not a number: " + std::string(f[i + 1]));
        metric_ = "node_sockstat_";
        metric_ += protocol;
        metric_ += '_';
        metric_ += f[i];
        Add(out, now_ms, *value, metric_);
        if (f[i] == "mem") Add(out, now_ms, *value * page_bytes, metric_ + "_bytes");
      }
    });
    VIGIL_RETURN_IF_ERROR(problems.ToStatus());
  }
  return OkStatus();
}

Status ProcSensor::CollectNetstat(int64_t now_ms, model::BatchBuilder& out) {
  // node_exporter's default --collector.netstat.fields.
  static const RE2 kFields(
      "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|"
      "OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|"
      "InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|"
      "OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$");
  auto add = [&](std::string_view protocol, std::string_view name, std::string_view text,
                 Problems& problems, size_t line_number) {
    std::string key = std::string(protocol) + "_" + std::string(name);
    if (!RE2::FullMatch(key, kFields)) return;
    auto value = Number(text);
    if (!value) return problems.Line(line_number, "not a number: " + std::string(text));
    Add(out, now_ms, *value, "node_netstat_" + key);
  };
  // netstat and snmp: a line of names, then a line of values, both after "Proto:".
  for (std::string_view file : {"net/netstat", "net/snmp"}) {
    VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent(file));
    if (!present) continue;
    Problems problems("/proc/" + std::string(file));
    std::vector<std::string_view> names;
    ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
      std::vector<std::string_view> f = AllFields(line);
      if (f.empty() || !f[0].ends_with(':')) {
        return problems.Line(line_number, "expected \"Proto: …\"");
      }
      if (names.empty() || names[0] != f[0]) {
        names = std::move(f);
        return;
      }
      if (f.size() != names.size()) {
        names.clear();
        return problems.Line(line_number, "as many values as names expected");
      }
      const std::string_view protocol = f[0].substr(0, f[0].size() - 1);
      for (size_t i = 1; i < f.size(); ++i) add(protocol, names[i], f[i], problems, line_number);
      names.clear();
    });
    VIGIL_RETURN_IF_ERROR(problems.ToStatus());
  }
  // snmp6: "Ip6InReceives 123" is protocol Ip6, name InReceives.
  VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent("net/snmp6"));
  if (!present) return OkStatus();
  Problems problems("/proc/net/snmp6");
  std::array<std::string_view, 2> f;
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    if (Fields(line, f) != 2) return problems.Line(line_number, "expected \"name value\"");
    const size_t six = f[0].find('6');
    if (six == std::string_view::npos) return;
    add(f[0].substr(0, six + 1), f[0].substr(six + 1), f[1], problems, line_number);
  });
  return problems.ToStatus();
}

Status ProcSensor::CollectConntrack(int64_t now_ms, model::BatchBuilder& out) {
  // Only while the kernel tracks connections (nf_conntrack loaded).
  VIGIL_ASSIGN_OR_RETURN(bool tracking, AddFileNumber("sys/net/netfilter/nf_conntrack_count",
                                                      "node_nf_conntrack_entries", now_ms, out));
  if (!tracking) return OkStatus();
  VIGIL_RETURN_IF_ERROR(AddFileNumber("sys/net/netfilter/nf_conntrack_max",
                                      "node_nf_conntrack_entries_limit", now_ms, out)
                            .status());
  // Per-cpu statistics in hexadecimal, summed as node_exporter does.
  VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent("net/stat/nf_conntrack"));
  if (!present) return OkStatus();
  static constexpr std::string_view kStats[] = {"found",      "invalid",       "ignore",
                                                "insert",     "insert_failed", "drop",
                                                "early_drop", "search_restart"};
  Problems problems("/proc/net/stat/nf_conntrack");
  std::vector<std::string_view> header;
  std::vector<double> sums(std::size(kStats), 0);
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    std::vector<std::string_view> f = AllFields(line);
    if (header.empty()) {
      header = std::move(f);
      return;
    }
    if (f.size() != header.size()) return problems.Line(line_number, "short line");
    for (size_t s = 0; s < std::size(kStats); ++s) {
      auto column = std::find(header.begin(), header.end(), kStats[s]);
      if (column == header.end()) continue;
      auto value = HexNumber(f[static_cast<size_t>(column - header.begin())]);
      if (!value) return problems.Line(line_number, "not a hexadecimal number");
      sums[s] += *value;
    }
  });
  for (size_t s = 0; s < std::size(kStats); ++s) {
    if (std::find(header.begin(), header.end(), kStats[s]) == header.end()) continue;
    Add(out, now_ms, sums[s], "node_nf_conntrack_stat_" + std::string(kStats[s]));
  }
  return problems.ToStatus();
}

Status ProcSensor::CollectSoftnet(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent("net/softnet_stat"));
  if (!present) return OkStatus();
  // One line per cpu, hexadecimal: processed, dropped, time_squeeze, …
  static constexpr std::string_view kColumns[] = {"node_softnet_processed_total",
                                                  "node_softnet_dropped_total",
                                                  "node_softnet_times_squeezed_total"};
  Problems problems("/proc/net/softnet_stat");
  size_t cpu = 0;
  std::array<std::string_view, 3> f;
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    const std::string cpu_label = std::to_string(cpu++);
    if (Fields(line, f) < 3) return problems.Line(line_number, "expected 3 columns or more");
    for (size_t i = 0; i < std::size(kColumns); ++i) {
      auto value = HexNumber(f[i]);
      if (!value) return problems.Line(line_number, "not a hexadecimal number");
      Add(out, now_ms, *value, kColumns[i], {{"cpu", cpu_label}});
    }
  });
  return problems.ToStatus();
}

Status ProcSensor::CollectArp(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent("net/arp"));
  if (!present) return OkStatus();
  // "IP address  HW type  Flags  HW address  Mask  Device", after a header line.
  std::map<std::string, double, std::less<>> per_device;
  Problems problems("/proc/net/arp");
  std::array<std::string_view, 6> f;
  ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
    if (line_number == 1) return;
    if (Fields(line, f) != 6) return problems.Line(line_number, "expected 6 columns");
    per_device[std::string(f[5])] += 1;
  });
  for (const auto& [device, count] : per_device) {
    Add(out, now_ms, count, "node_arp_entries", {{"device", device}});
  }
  return problems.ToStatus();
}

Status ProcSensor::CollectUdpQueues(int64_t now_ms, model::BatchBuilder& out) {
  static constexpr std::pair<std::string_view, std::string_view> kFiles[] = {{"net/udp", "v4"},
                                                                             {"net/udp6", "v6"}};
  for (const auto& [file, ip] : kFiles) {
    VIGIL_ASSIGN_OR_RETURN(bool present, ReadProcIfPresent(file));
    if (!present) continue;
    // "sl local_address rem_address st tx_queue:rx_queue …", after a header line.
    double tx = 0, rx = 0;
    Problems problems("/proc/" + std::string(file));
    std::array<std::string_view, 5> f;
    ForEachLine(buffer_, [&](size_t line_number, std::string_view line) {
      if (line_number == 1) return;
      const size_t colon = Fields(line, f) == 5 ? f[4].find(':') : std::string_view::npos;
      auto t = colon != std::string_view::npos ? HexNumber(f[4].substr(0, colon)) : std::nullopt;
      auto r = colon != std::string_view::npos ? HexNumber(f[4].substr(colon + 1)) : std::nullopt;
      if (!t || !r) return problems.Line(line_number, "expected tx_queue:rx_queue");
      tx += *t;
      rx += *r;
    });
    VIGIL_RETURN_IF_ERROR(problems.ToStatus());
    Add(out, now_ms, rx, "node_udp_queues", {{"ip", ip}, {"queue", "rx"}});
    Add(out, now_ms, tx, "node_udp_queues", {{"ip", ip}, {"queue", "tx"}});
  }
  return OkStatus();
}

Status ProcSensor::CollectNetclass(int64_t now_ms, model::BatchBuilder& out) {
  // /sys/class/net/<device>/<attribute>, as node_exporter's netclass collector reads it:
  // an attribute the device does not have (the kernel answers EINVAL) is left out.
  const std::string dir = options_.root + "/sys/class/net/";
  std::error_code error;
  std::vector<std::string> devices;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    devices.push_back(entry.path().filename().string());
  }
  if (error) return OkStatus();  // no sysfs here (a container, a captured tree)
  std::sort(devices.begin(), devices.end());
  auto attribute = [&](const std::string& device, const char* name) -> std::optional<std::string> {
    if (!ReadFile(dir + device + "/" + name).ok()) return std::nullopt;
    std::string value = buffer_;
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
    return value;
  };
  // Numeric attributes: file, metric, scale; hexadecimal ones start with 0x.
  struct Figure {
    const char* file;
    std::string_view metric;
    double scale;
  };
  static constexpr Figure kFigures[] = {
      {"addr_assign_type", "node_network_address_assign_type", 1},
      {"carrier", "node_network_carrier", 1},
      {"carrier_changes", "node_network_carrier_changes_total", 1},
      {"carrier_up_count", "node_network_carrier_up_changes_total", 1},
      {"carrier_down_count", "node_network_carrier_down_changes_total", 1},
      {"dev_id", "node_network_device_id", 1},
      {"dormant", "node_network_dormant", 1},
      {"flags", "node_network_flags", 1},
      {"ifindex", "node_network_iface_id", 1},
      {"iflink", "node_network_iface_link", 1},
      {"link_mode", "node_network_iface_link_mode", 1},
      {"mtu", "node_network_mtu_bytes", 1},
      {"name_assign_type", "node_network_name_assign_type", 1},
      {"netdev_group", "node_network_net_dev_group", 1},
      {"type", "node_network_protocol_type", 1},
      {"speed", "node_network_speed_bytes", 1000.0 * 1000.0 / 8},  // Mbit/s
      {"tx_queue_len", "node_network_transmit_queue_length", 1},
  };
  for (const std::string& device : devices) {
    for (const Figure& figure : kFigures) {
      std::optional<std::string> text = attribute(device, figure.file);
      if (!text) continue;
      std::optional<double> value =
          text->starts_with("0x") ? HexNumber(text->substr(2)) : Number(*text);
      if (value) Add(out, now_ms, *value * figure.scale, figure.metric, {{"device", device}});
    }
    const std::string operstate = attribute(device, "operstate").value_or("");
    Add(out, now_ms, operstate == "up" ? 1 : 0, "node_network_up", {{"device", device}});
    const std::string address = attribute(device, "address").value_or("");
    const std::string broadcast = attribute(device, "broadcast").value_or("");
    const std::string duplex = attribute(device, "duplex").value_or("");
    const std::string ifalias = attribute(device, "ifalias").value_or("");
    Add(out, now_ms, 1, "node_network_info",
        {{"address", address},
         {"broadcast", broadcast},
         {"device", device},
         {"duplex", duplex},
         {"ifalias", ifalias},
         {"operstate", operstate}});
  }
  return OkStatus();
}

Status ProcSensor::CollectTimex(int64_t now_ms, model::BatchBuilder& out) {
  // The kernel clock's discipline, from adjtimex(2) (a system call: the host's own clock
  // whatever the root), converted as node_exporter's timex collector does.
  struct timex t {};
  const int state = ::adjtimex(&t);
  if (state < 0) return UnavailableError(std::string("adjtimex: ") + std::strerror(errno));
  constexpr double kMicro = 1e6;
  constexpr double kPpm16 = 1e6 * 65536.0;  // frequencies are ppm with a 16-bit fraction
  const double divisor = (t.status & STA_NANO) != 0 ? 1e9 : kMicro;
  const std::pair<std::string_view, double> figures[] = {
      {"node_timex_sync_status", state == TIME_ERROR ? 0 : 1},
      {"node_timex_offset_seconds", static_cast<double>(t.offset) / divisor},
      {"node_timex_frequency_adjustment_ratio", 1 + static_cast<double>(t.freq) / kPpm16},
      {"node_timex_maxerror_seconds", static_cast<double>(t.maxerror) / kMicro},
      {"node_timex_estimated_error_seconds", static_cast<double>(t.esterror) / kMicro},
      {"node_timex_status", static_cast<double>(t.status)},
      {"node_timex_loop_time_constant", static_cast<double>(t.constant)},
      {"node_timex_tick_seconds", static_cast<double>(t.tick) / kMicro},
      {"node_timex_pps_frequency_hertz", static_cast<double>(t.ppsfreq) / kPpm16},
      {"node_timex_pps_jitter_seconds", static_cast<double>(t.jitter) / divisor},
      {"node_timex_pps_shift_seconds", static_cast<double>(t.shift)},
      {"node_timex_pps_stability_hertz", static_cast<double>(t.stabil) / kPpm16},
      {"node_timex_pps_jitter_total", static_cast<double>(t.jitcnt)},
      {"node_timex_pps_calibration_total", static_cast<double>(t.calcnt)},
      {"node_timex_pps_error_total", static_cast<double>(t.errcnt)},
      {"node_timex_pps_stability_exceeded_total", static_cast<double>(t.stbcnt)},
      {"node_timex_tai_offset_seconds", static_cast<double>(t.tai)},
  };
  for (const auto& [metric, value] : figures) Add(out, now_ms, value, metric);
  return OkStatus();
}

Status ProcSensor::CollectProcess(int64_t now_ms, model::BatchBuilder& out) {
  // The agent's own process, as every Prometheus client (node_exporter's too) describes
  // itself: always /proc/self, whatever the root.
  VIGIL_RETURN_IF_ERROR(ReadFile("/proc/self/stat"));
  const size_t name_end = buffer_.rfind(')');
  std::vector<std::string_view> f =
      AllFields(std::string_view(buffer_).substr(name_end == std::string::npos ? 0 : name_end + 1));
  // After "pid (comm)": state is field 0, utime 11, stime 12, starttime 19, vsize 20, rss 21.
  if (f.size() < 22) return UnavailableError("/proc/self/stat: line 1: too few fields");
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page_bytes = static_cast<double>(::sysconf(_SC_PAGESIZE));
  const std::optional<double> utime = Number(f[11]), stime = Number(f[12]), start = Number(f[19]),
                              vsize = Number(f[20]), rss = Number(f[21]);
  if (!utime || !stime || !start || !vsize || !rss) {
    return UnavailableError("/proc/self/stat: line 1: not a number");
  }
  Add(out, now_ms, (*utime + *stime) / ticks, "process_cpu_seconds_total");
  Add(out, now_ms, *vsize, "process_virtual_memory_bytes");
  Add(out, now_ms, *rss * page_bytes, "process_resident_memory_bytes");
  VIGIL_RETURN_IF_ERROR(ReadFile("/proc/stat"));
  for (size_t at = buffer_.find("\nbtime "); at != std::string::npos;) {
    std::array<std::string_view, 2> b;
    if (Fields(std::string_view(buffer_).substr(at + 1, buffer_.find('\n', at + 1) - at - 1), b) ==
        2) {
      if (auto boot = Number(b[1])) {
        Add(out, now_ms, *boot + *start / ticks, "process_start_time_seconds");
      }
    }
    break;
  }
  size_t open_fds = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    (void)entry;
    ++open_fds;
  }
  if (!error) Add(out, now_ms, static_cast<double>(open_fds), "process_open_fds");
  // Soft limits; "unlimited" is the largest 64-bit value, as the Go client reports it.
  VIGIL_RETURN_IF_ERROR(ReadFile("/proc/self/limits"));
  static constexpr std::pair<std::string_view, std::string_view> kLimits[] = {
      {"Max open files", "process_max_fds"},
      {"Max address space", "process_virtual_memory_max_bytes"}};
  ForEachLine(buffer_, [&](size_t, std::string_view line) {
    for (const auto& [limit, metric] : kLimits) {
      if (!line.starts_with(limit)) continue;
      std::array<std::string_view, 1> soft;
      if (Fields(line.substr(limit.size()), soft) != 1) continue;
      const std::optional<double> value =
          soft[0] == "unlimited" ? std::optional<double>(18446744073709551615.0) : Number(soft[0]);
      if (value) Add(out, now_ms, *value, metric);
    }
  });
  return OkStatus();
}

}  // namespace vigil::sensors::proc

// The `proc` sensor: the host's own figures read from /proc and statvfs, under
// node_exporter's metric names and labels so dashboards and habits carry over — CPU
// seconds per cpu and mode, context switches, interrupts, forks, procs running/blocked,
// boot time (/proc/stat); all of /proc/meminfo in bytes; load averages; /proc/diskstats;
// /proc/net/dev; size/free/avail/files per mounted file system; uptime; pressure stall
// information where the kernel has it; and, where present, vmstat, file descriptors,
// entropy, sockstat, netstat/snmp, nf_conntrack, softnet, arp, udp queues and the network
// devices of /sys/class/net, the hwmon chips of /sys/class/hwmon and the thermal zones and
// cooling devices of /sys/class/thermal; the clock's discipline (adjtimex); the agent's own
// process_*.
// Every file is read under a
// configurable root, so tests run against captured trees (testdata/). A missing file or a malformed
// line loses only its own figures: the rest is still yielded, the collection reports an error, and
// node_scrape_collector_success{collector} says which part failed. docs/sensors.md#proc.
//
// Thread safety: one thread at a time (as every Sensor); Metadata from any thread.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "core/mutex.h"
#include "sensors/sensor.h"
#include "sensors/series_cache.h"

namespace vigil::sensors::proc {

SensorDescriptor Descriptor();

// What statvfs says about one mount point.
struct FsStats {
  uint64_t block_size = 0;  // f_frsize
  uint64_t blocks = 0;
  uint64_t blocks_free = 0;
  uint64_t blocks_avail = 0;
  uint64_t files = 0;
  uint64_t files_free = 0;
  bool read_only = false;
};
// Unavailable when the mount point cannot be examined.
using StatFs = std::function<Result<FsStats>(const std::string& path)>;
// statvfs(2).
Result<FsStats> SystemStatFs(const std::string& path);

class ProcSensor final : public Sensor {
 public:
  struct Options {
    std::string root = "/";  // /proc is read at <root>/proc, mount points at <root><mount>
    int64_t interval_ms = 1000;
    // node_exporter's defaults (Debian's package, 1.5).
    std::string disk_exclude = R"(^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$)";
    std::string netdev_exclude = "^lo$";
    std::string mount_points_exclude =
        "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
    std::string fs_types_exclude =
        "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
        "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
        "sysfs|tracefs)$";
    StatFs stat_fs = SystemStatFs;
  };
  // InvalidArgument for a regular expression that does not compile.
  static Result<std::unique_ptr<ProcSensor>> Create(const config::LabelMap& labels,
                                                    Options options);

  int64_t interval_ms() const override { return options_.interval_ms; }
  // Unavailable naming every part that failed; the readings of the others are in `out`.
  Status Collect(int64_t now_ms, model::BatchBuilder& out) override;
  // node_exporter's type for each family yielded so far, and what it measures.
  std::vector<model::MetricMetadata> Metadata() const override;

 private:
  ProcSensor(const config::LabelMap& labels, Options options);

  // Each reads one source and adds its readings; an error loses only that source's.
  Status CollectStat(int64_t now_ms, model::BatchBuilder& out);
  Status CollectMeminfo(int64_t now_ms, model::BatchBuilder& out);
  Status CollectLoadavg(int64_t now_ms, model::BatchBuilder& out);
  Status CollectDiskstats(int64_t now_ms, model::BatchBuilder& out);
  Status CollectNetdev(int64_t now_ms, model::BatchBuilder& out);
  Status CollectFilesystems(int64_t now_ms, model::BatchBuilder& out);
  Status CollectUptime(int64_t now_ms, model::BatchBuilder& out);
  Status CollectPressure(int64_t now_ms, model::BatchBuilder& out);
  Status CollectVmstat(int64_t now_ms, model::BatchBuilder& out);
  Status CollectFilefd(int64_t now_ms, model::BatchBuilder& out);
  Status CollectEntropy(int64_t now_ms, model::BatchBuilder& out);
  Status CollectSockstat(int64_t now_ms, model::BatchBuilder& out);
  Status CollectNetstat(int64_t now_ms, model::BatchBuilder& out);
  Status CollectConntrack(int64_t now_ms, model::BatchBuilder& out);
  Status CollectSoftnet(int64_t now_ms, model::BatchBuilder& out);
  Status CollectArp(int64_t now_ms, model::BatchBuilder& out);
  Status CollectUdpQueues(int64_t now_ms, model::BatchBuilder& out);
  Status CollectNetclass(int64_t now_ms, model::BatchBuilder& out);
  Status CollectTimex(int64_t now_ms, model::BatchBuilder& out);
  // sysfs_sensors.cc: node_exporter's hwmon and thermal_zone collectors.
  Status CollectHwmon(int64_t now_ms, model::BatchBuilder& out);
  Status CollectThermalZone(int64_t now_ms, model::BatchBuilder& out);
  Status CollectProcess(int64_t now_ms, model::BatchBuilder& out);
  // Reads the whole file into buffer_.
  Status ReadFile(const std::string& path);
  // ReadProc when <root>/proc/<name> exists; false (nothing read) when it does not, as for
  // the sources a kernel or a container may lack.
  Result<bool> ReadProcIfPresent(std::string_view name);
  // Adds the one number <root>/proc/<file> holds as `metric`; false when there is no file.
  Result<bool> AddFileNumber(std::string_view file, std::string_view metric, int64_t now_ms,
                             model::BatchBuilder& out);

  void Add(model::BatchBuilder& out, int64_t now_ms, double value, std::string_view metric,
           SeriesCache::Extra extra = {});
  // Reads <root>/proc/<name> into buffer_.
  Status ReadProc(std::string_view name);

  Options options_;
  std::string proc_dir_;
  std::unique_ptr<RE2> disk_exclude_, netdev_exclude_, mount_points_exclude_, fs_types_exclude_;
  SeriesCache series_;
  std::set<std::string, std::less<>> families_;  // every metric name Add has seen
  size_t described_ = 0;                         // families_ in metadata_
  mutable Mutex metadata_mu_;
  std::vector<model::MetricMetadata> metadata_ VIGIL_GUARDED_BY(metadata_mu_);  // of families_
  std::string buffer_;
  std::string metric_;  // scratch for metric names built from input
};

}  // namespace vigil::sensors::proc

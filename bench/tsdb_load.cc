// Bench program for the embedded store (issue #4), the figures Google Benchmark is not
// made for: bytes per sample on disk after flushing (TSBS-like integers and the plant's
// floats), time to reopen with ~10 million samples in the log after a crash, and RSS per
// active series. Also writes the data set as OpenMetrics text for the peers
// (bench/tsdb-peers). Usage:
//   tsdb_load disk | replay | rss | openmetrics|prometheus FILE [--floats]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/clock.h"
#include "core/env.h"
#include "tsbs_data.h"
#include "tsdb/tsdb_store.h"

namespace vigil::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string FreshDir(const std::string& name) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("vigil-load-" + name)).string();
  std::filesystem::remove_all(dir);
  return dir;
}

tsdb::TsdbOptions Options(const std::string& dir) {
  tsdb::TsdbOptions options;
  options.dir = dir;
  options.retention_ms = 0;
  options.out_of_order_window_ms = 0;
  return options;
}

std::unique_ptr<tsdb::TsdbStore> Open(const tsdb::TsdbOptions& options) {
  auto store = tsdb::TsdbStore::Open(Env::Default(), SystemClock::Get(), options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(store);
}

void Check(const Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::exit(1);
  }
}

int64_t FolderBytes(const std::string& dir) {
  int64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += static_cast<int64_t>(e.file_size());
  }
  return total;
}

void Disk(bool floats) {
  TsbsOptions data_options;
  data_options.floats = floats;
  const TsbsData data(data_options);
  const std::string dir = FreshDir(floats ? "disk-floats" : "disk");
  auto store = Open(Options(dir));
  const auto started = Clock::now();
  for (int step = 0; step < data.steps(); step += 10) Check(store->Append(data.Batch(step, 10)));
  const double ingest = Seconds(started);
  Check(store->PersistAll());
  const int64_t retained = *store->RetainedBytes();
  const int64_t database = *store->DiskBytes();
  store.reset();  // closes; SQLite checkpoints its own log into the file
  const int64_t files = FolderBytes(dir);
  const double n = static_cast<double>(data.samples());
  std::printf(
      "%s: %lld samples, ingest %.2f s (%.2f M samples/s, fsync=always)\n"
      "  chunk data + row overhead: %.3f bytes/sample\n"
      "  database pages + log:      %.3f bytes/sample\n"
      "  files on disk after close: %.3f bytes/sample (%lld bytes)\n",
      floats ? "plant floats" : "TSBS integers", static_cast<long long>(data.samples()), ingest,
      n / ingest / 1e6, static_cast<double>(retained) / n, static_cast<double>(database) / n,
      static_cast<double>(files) / n, static_cast<long long>(files));
  std::filesystem::remove_all(dir);
}

void Replay() {
  TsbsOptions data_options;
  data_options.hosts = 116;  // 1,160 series x 8,640 steps = 10.0 M samples
  const TsbsData data(data_options);
  const std::string dir = FreshDir("replay");
  tsdb::TsdbOptions options = Options(dir);
  const pid_t child = ::fork();
  if (child == 0) {
    // Hold everything in the head and the log, then die without closing: a crash.
    options.persist_chunks = SIZE_MAX;
    options.persist_interval_ms = INT64_MAX / 2;
    options.maintenance_interval_ms = INT64_MAX / 2;
    options.wal_max_bytes = UINT64_MAX;
    options.wal.fsync = wal::FsyncPolicy::kInterval;
    auto store = Open(options);
    for (int step = 0; step < data.steps(); step += 10) Check(store->Append(data.Batch(step, 10)));
    Check(store->Flush());
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  const int64_t log_bytes = FolderBytes(dir + "/wal");
  const auto started = Clock::now();
  auto store = Open(options);
  const double open = Seconds(started);
  const tsdb::TsdbStats stats = store->stats();
  std::printf(
      "replay: %lld samples in %lld log bytes (%llu records); Open took %.2f s "
      "(replay and persisting the %llu closed chunks it rebuilt)\n",
      static_cast<long long>(data.samples()), static_cast<long long>(log_bytes),
      static_cast<unsigned long long>(stats.replayed_records), open,
      static_cast<unsigned long long>(stats.persisted_chunks));
  store.reset();
  std::filesystem::remove_all(dir);
}

int64_t RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

void Rss() {
  constexpr int kHosts = 10'000;  // 100,000 series
  TsbsOptions data_options;
  data_options.hosts = kHosts;
  data_options.steps = 60;  // half a chunk each: open head chunks
  const TsbsData data(data_options);
  const std::string dir = FreshDir("rss");
  const int64_t before = RssBytes();
  auto store = Open(Options(dir));
  for (int step = 0; step < data.steps(); step += 10) Check(store->Append(data.Batch(step, 10)));
  const int64_t after = RssBytes();
  const double per_series = static_cast<double>(after - before) / (kHosts * 10.0);
  std::printf("rss: %d active series with %d samples each: %.0f bytes of RSS per series\n",
              kHosts * 10, data_options.steps, per_series);
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::bench

int main(int argc, char** argv) {
  using namespace vigil::bench;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "disk") {
    Disk(false);
    Disk(true);
  } else if (mode == "replay") {
    Replay();
  } else if (mode == "rss") {
    Rss();
  } else if ((mode == "openmetrics" || mode == "prometheus") && argc > 2) {
    TsbsOptions options;
    options.floats = argc > 3 && std::string(argv[3]) == "--floats";
    std::ofstream(argv[2]) << TsbsData(options).Exposition(mode == "openmetrics");
  } else {
    std::fprintf(stderr,
                 "usage: tsdb_load disk | replay | rss | openmetrics|prometheus FILE [--floats]\n");
    return 2;
  }
  return 0;
}

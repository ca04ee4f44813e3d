// PromQL side by side with Prometheus (bench/promql-peers, docs/benchmarks.md). Modes:
//
//   promql_load data demo|fleet DIR START_S SPAN_S [HOSTS]
//       writes DIR/data.om (OpenMetrics, for promtool) and DIR/write-NNNN.pb (remote-write
//       bodies of ~20,000 samples, for vigil) of the same samples; `demo` is the compliance
//       tester's demo service (testing/demo_data.h), `fleet` HOSTS node_exporters and APIs.
//   promql_load queries FILE
//       prints the queries of a file in the shape of tests/promql/queries.txt, expanded,
//       without those that must fail.
//   promql_load time PORT QUERIES START_S END_S STEP_S RUNS
//       runs each query of the file (one a line) RUNS times as a range query over HTTP and
//       prints its median latency in ms, then the sum of the medians; a query that fails
//       is reported and counts as failed.
//   promql_load peak PID PORT QUERY START_S END_S STEP_S
//       resets the server's peak RSS (/proc/PID/clear_refs), runs the query once and
//       prints how far the peak rose above the resident size before it, in MiB.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "model/batch_codec.h"
#include "testing/demo_data.h"
#include "testing/http_client.h"

namespace {

using namespace vigil;

int Data(const std::string& kind, const std::string& dir, int64_t start_s, int64_t span_s,
         int hosts) {
  const int64_t start_ms = start_s * 1000, span_ms = span_s * 1000;
  std::vector<model::Series> data = kind == "demo"
                                        ? testing::DemoServiceData(start_ms, span_ms)
                                        : testing::HostFleetData(start_ms, span_ms, hosts);
  if (!testing::WriteOpenMetrics(data, dir + "/data.om")) {
    std::cerr << "cannot write " << dir << "/data.om\n";
    return 1;
  }
  // Remote-write bodies in time order, as a sender would push them: every series' samples
  // of one time slice together.
  size_t samples = 0, files = 0;
  std::vector<size_t> next(data.size(), 0);
  const int64_t slice_ms = 300'000;
  for (int64_t until = start_ms + slice_ms;; until += slice_ms) {
    model::Batch batch;
    size_t in_batch = 0;
    bool more = false;
    auto flush = [&] {
      if (batch.series.empty()) return;
      char name[32];
      std::snprintf(name, sizeof name, "/write-%05zu.pb", files++);
      std::ofstream(dir + name, std::ios::binary) << model::EncodeBatch(batch);
      batch.series.clear();
      in_batch = 0;
    };
    for (size_t i = 0; i < data.size(); ++i) {
      model::Series slice{data[i].labels, {}};
      while (next[i] < data[i].samples.size() && data[i].samples[next[i]].timestamp_ms < until) {
        slice.samples.push_back(data[i].samples[next[i]++]);
      }
      if (next[i] < data[i].samples.size()) more = true;
      if (slice.samples.empty()) continue;
      in_batch += slice.samples.size();
      samples += slice.samples.size();
      batch.series.push_back(std::move(slice));
      if (in_batch >= 20'000) flush();
    }
    flush();
    if (!more) break;
  }
  std::printf("%zu series, %zu samples, %zu remote-write bodies\n", data.size(), samples, files);
  return 0;
}

// One range query over HTTP; its time in ms, or -1 when it failed.
double TimeQuery(uint16_t port, const std::string& query, const std::string& range) {
  const auto started = std::chrono::steady_clock::now();
  auto r =
      testing::HttpPost(port, "/api/v1/query_range", "query=" + testing::UrlEncode(query) + range,
                        "application/x-www-form-urlencoded", "", 120'000);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (!r.ok() || r->status != 200 || r->body.find("\"status\":\"success\"") == std::string::npos) {
    std::cerr << "failed: " << query << ": "
              << (r.ok() ? r->body.substr(0, 200) : r.status().ToString()) << "\n";
    return -1;
  }
  return ms;
}

std::string Range(const char* start, const char* end, const char* step) {
  return std::string("&start=") + start + "&end=" + end + "&step=" + step;
}

int Time(uint16_t port, const std::string& file, const std::string& range, int runs) {
  std::ifstream in(file);
  double total = 0;
  int queries = 0, failed = 0;
  for (std::string query; std::getline(in, query);) {
    if (query.empty()) continue;
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
      const double ms = TimeQuery(port, query, range);
      if (ms < 0) break;
      times.push_back(ms);
    }
    ++queries;
    if (times.size() != static_cast<size_t>(runs)) {
      ++failed;
      continue;
    }
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    total += median;
    std::printf("%8.2f ms  %s\n", median, query.c_str());
  }
  std::printf("total of medians: %.1f ms over %d queries (%d failed)\n", total, queries, failed);
  return failed == 0 ? 0 : 1;
}

long StatusKb(int pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  }
  return -1;
}

int Peak(int pid, uint16_t port, const std::string& query, const std::string& range) {
  std::ofstream(("/proc/" + std::to_string(pid) + "/clear_refs").c_str()) << "5";
  const long before = StatusKb(pid, "VmRSS:");
  const double ms = TimeQuery(port, query, range);
  const long peak = StatusKb(pid, "VmHWM:");
  if (ms < 0) return 1;
  std::printf("peak rise %.1f MiB (resident before %.1f MiB, peak %.1f MiB), %.0f ms\n",
              (peak - before) / 1024.0, before / 1024.0, peak / 1024.0, ms);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 5 && args[0] == "data") {
    return Data(args[1], args[2], std::stoll(args[3]), std::stoll(args[4]),
                args.size() > 5 ? std::stoi(args[5]) : 100);
  }
  if (args.size() == 2 && args[0] == "queries") {
    for (const testing::QueryCase& q : testing::ReadQueryFile(args[1])) {
      if (!q.fail) std::printf("%s\n", q.text.c_str());
    }
    return 0;
  }
  if (args.size() == 7 && args[0] == "time") {
    return Time(static_cast<uint16_t>(std::stoi(args[1])), args[2],
                Range(argv[4], argv[5], argv[6]), std::stoi(args[6]));
  }
  if (args.size() == 7 && args[0] == "peak") {
    return Peak(std::stoi(args[1]), static_cast<uint16_t>(std::stoi(args[2])), args[3],
                Range(argv[5], argv[6], argv[7]));
  }
  std::cerr << "usage: see the top of bench/promql_load.cc\n";
  return 2;
}

// Deterministic data sets for PromQL comparisons with Prometheus (tests/promql, bench/):
// the same samples go to Prometheus as an OpenMetrics file (promtool tsdb
// create-blocks-from openmetrics) and to vigil as batches.
//
// Thread safety: functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/batch.h"

namespace vigil::testing {

// Shaped like the demo service of Prometheus's compliance tester: three instances
// (demo.promlabs.com:10000…10002, job "demo") scraped every 5 s for `span_ms` from
// `start_ms`: demo_memory_usage_bytes (gauges by type), demo_num_cpus,
// demo_cpu_usage_seconds_total (counters by mode, reset once), demo_disk_usage_bytes,
// demo_batch_last_success_timestamp_seconds, demo_api_request_duration_seconds_{bucket,
// sum,count} (classic histograms by method, path and status) and demo_intermittent_metric
// (two minutes out of five). Scrape times fall 0.087–0.387 s past a second, never on one.
std::vector<model::Series> DemoServiceData(int64_t start_ms, int64_t span_ms);

// What a Grafana host dashboard reads from `hosts` node_exporters and an HTTP service
// every 15 s for `span_ms`: node_cpu_seconds_total (8 cpus × 8 modes), node_memory_
// MemTotal/MemAvailable_bytes, node_filesystem_size/avail_bytes (3 mount points),
// http_requests_total (10 handlers × 2 codes) and http_request_duration_seconds_bucket
// (10 handlers × 10 buckets) per host.
std::vector<model::Series> HostFleetData(int64_t start_ms, int64_t span_ms, int hosts);

// Writes `data` as OpenMetrics text (series grouped by metric name, times in seconds with
// milliseconds, `# EOF` at the end) to `path`; false when the file cannot be written.
bool WriteOpenMetrics(const std::vector<model::Series>& data, const std::string& path);

// A query of a file in the shape of tests/promql/queries.txt, variants expanded.
struct QueryCase {
  std::string text;
  bool fail = false;     // `fail:` — Prometheus and vigil must both refuse it
  bool differs = false;  // `differs:` — a documented difference between Prometheus 3 and 2
};
// Reads such a file: `@name v1 v2 …` declares a variant, `{{name}}` in a query line is
// replaced by each of its values in turn; `#` lines are comments. Empty when unreadable.
std::vector<QueryCase> ReadQueryFile(const std::string& path);

}  // namespace vigil::testing

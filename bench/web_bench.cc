// The line-protocol write path in process (issue #5), in its two halves: parsing a POST
// body of 10,000 lines (100 hosts x 10 integer fields x 100 times, the shape
// bench/web-load sends) and appending the parsed batch of 100,000 values to the
// embedded store with the log at fsync=always. bench/web-load measures the whole path
// over HTTP beside VictoriaMetrics; docs/benchmarks.md records both.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>
#include <string>

#include "core/clock.h"
#include "core/env.h"
#include "tsdb/tsdb_store.h"
#include "web/line_protocol.h"

namespace vigil::bench {
namespace {

constexpr int kHosts = 100;
constexpr int kTimesPerBody = 100;
constexpr int64_t kValuesPerBody = kHosts * 10 * kTimesPerBody;

// Body number `part`: its 100 times follow the previous body's.
std::string Body(int part) {
  static const char* const kFields[] = {
      "usage_user", "usage_system",  "usage_idle",  "usage_nice",  "usage_iowait",
      "usage_irq",  "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};
  std::mt19937 random(static_cast<unsigned>(part));
  std::string body;
  for (int t = part * kTimesPerBody; t < (part + 1) * kTimesPerBody; ++t) {
    for (int h = 0; h < kHosts; ++h) {
      body += "lp,hostname=host_" + std::to_string(h) +
              ",region=eu-west-1,rack=" + std::to_string(h % 50) + " ";
      for (int f = 0; f < 10; ++f) {
        body += std::string(f == 0 ? "" : ",") + kFields[f] + "=" + std::to_string(random() % 101) +
                "i";
      }
      body += " " + std::to_string((1'767'225'600LL + t * 10LL) * 1'000'000'000LL) + "\n";
    }
  }
  return body;
}

void BM_ParseLineProtocol(benchmark::State& state) {
  const std::string body = Body(0);
  for (auto _ : state) {
    auto parsed = web::ParseLineProtocol(body, "ns", 0);
    if (!parsed.ok()) state.SkipWithError(parsed.status().ToString().c_str());
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations() * kValuesPerBody);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ParseLineProtocol)->Unit(benchmark::kMillisecond);

// The shape bench/series-memory posts: 10,000 hosts x 10 fields at one time, each key
// once in the body, so every one of the 100,000 values is a series of its own.
void BM_ParseLineProtocolEachSeriesOnce(benchmark::State& state) {
  std::string body;
  for (int h = 0; h < 10'000; ++h) {
    body += "mem,host=host_" + std::to_string(h) + ",zone=z" + std::to_string(h % 16) + " ";
    for (int f = 0; f < 10; ++f) {
      body += (f == 0 ? "f" : ",f") + std::to_string(f) + "=" + std::to_string(h * 7 + f) + "i";
    }
    body += " 1767225600000000000\n";
  }
  for (auto _ : state) {
    auto parsed = web::ParseLineProtocol(body, "ns", 0);
    if (!parsed.ok()) state.SkipWithError(parsed.status().ToString().c_str());
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(state.iterations() * 100'000);
}
BENCHMARK(BM_ParseLineProtocolEachSeriesOnce)->Unit(benchmark::kMillisecond);

// One iteration appends one parsed body; bodies are parsed before timing starts.
void BM_AppendParsedBody(benchmark::State& state) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / "vigil-bench-web-append").string();
  std::filesystem::remove_all(dir);
  tsdb::TsdbOptions options;
  options.dir = dir;
  options.retention_ms = 0;
  auto store = tsdb::TsdbStore::Open(Env::Default(), SystemClock::Get(), options);
  if (!store.ok()) std::abort();
  constexpr int kBodies = 200;
  std::vector<model::Batch> batches;
  for (int part = 0; part < kBodies; ++part) {
    batches.push_back(web::ParseLineProtocol(Body(part), "ns", 0)->batch);
  }
  size_t next = 0;
  for (auto _ : state) {
    if (next == batches.size()) {  // again, a little later than the last body
      state.PauseTiming();
      for (auto& batch : batches) {
        for (auto& series : batch.series) {
          for (auto& sample : series.samples)
            sample.timestamp_ms += kBodies * kTimesPerBody * 10'000LL;
        }
      }
      next = 0;
      state.ResumeTiming();
    }
    Status status = (*store)->Append(batches[next++]);
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * kValuesPerBody);
  store->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_AppendParsedBody)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace vigil::bench

BENCHMARK_MAIN();

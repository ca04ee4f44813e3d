// The embedded store's speed and size (issues #4 and #27): ingest of 10,000-sample
// batches into existing series with the log at fsync=always, one series raw over a day,
// max per hour over all 100 hosts' usage_user over the day, and block decoding, on the
// TSBS-like data set (bench/tsbs_data.h); and the store's heap per series at 100,000 and
// 1,000,000 series. docs/benchmarks.md records the figures.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <filesystem>
#include <memory>
#include <random>

#include "core/clock.h"
#include "core/env.h"
#include "tsbs_data.h"
#include "tsdb/chunk/block_chunk.h"
#include "tsdb/tsdb_store.h"

namespace vigil::bench {
namespace {

const TsbsData& Data() {
  static const TsbsData data{TsbsOptions{}};
  return data;
}

std::string FreshDir(const std::string& name) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("vigil-bench-" + name)).string();
  std::filesystem::remove_all(dir);
  return dir;
}

std::unique_ptr<tsdb::TsdbStore> OpenStore(const std::string& dir) {
  tsdb::TsdbOptions options;
  options.dir = dir;
  options.retention_ms = 0;
  options.out_of_order_window_ms = 0;
  auto store = tsdb::TsdbStore::Open(Env::Default(), SystemClock::Get(), options);
  if (!store.ok()) std::abort();
  return *std::move(store);
}

// One iteration appends one batch: 10 steps of all 1,000 series = 10,000 samples.
void BM_IngestFsyncAlways(benchmark::State& state) {
  const TsbsData& data = Data();
  const std::string dir = FreshDir("ingest");
  auto store = OpenStore(dir);
  (void)store->Append(data.Batch(0, 1));  // the series exist before timing starts
  constexpr int kSteps = 10;
  std::vector<model::Batch> batches;
  for (int s = 1; s + kSteps <= data.steps(); s += kSteps) batches.push_back(data.Batch(s, kSteps));
  size_t next = 0;
  int64_t offset = 0;
  for (auto _ : state) {
    if (next == batches.size()) {  // next day: same values, later timestamps
      next = 0;
      offset += 86'400'000;
      state.PauseTiming();
      for (auto& b : batches) {
        for (auto& s : b.series) {
          for (auto& sample : s.samples) sample.timestamp_ms += 86'400'000;
        }
      }
      state.ResumeTiming();
    }
    Status status = store->Append(batches[next++]);
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * kSteps * static_cast<int64_t>(data.series().size()));
  store.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_IngestFsyncAlways)->Unit(benchmark::kMillisecond)->UseRealTime();

// A store holding the whole day, persisted to SQLite, shared by the query benchmarks.
tsdb::TsdbStore& LoadedStore() {
  static std::unique_ptr<tsdb::TsdbStore> store = [] {
    const TsbsData& data = Data();
    auto s = OpenStore(FreshDir("query"));
    for (int step = 0; step < data.steps(); step += 10) (void)s->Append(data.Batch(step, 10));
    (void)s->PersistAll();
    return s;
  }();
  return *store;
}

void BM_QueryOneSeriesRawDay(benchmark::State& state) {
  tsdb::TsdbStore& store = LoadedStore();
  const TsbsData& data = Data();
  std::vector<model::Matcher> matchers = {
      *model::Matcher::Create(model::MatchType::kEqual, "__name__", "cpu_usage_user"),
      *model::Matcher::Create(model::MatchType::kEqual, "hostname", "host_42")};
  size_t points = 0;
  for (auto _ : state) {
    auto r = store.Select(matchers, data.TimeOf(0), data.TimeOf(data.steps() - 1));
    if (!r.ok() || r->series.size() != 1) state.SkipWithError("query failed");
    points = r->series[0].samples.size();
  }
  state.counters["points"] = static_cast<double>(points);
}
BENCHMARK(BM_QueryOneSeriesRawDay)->Unit(benchmark::kMicrosecond);

void BM_QueryMaxPerHourAllHosts(benchmark::State& state) {
  tsdb::TsdbStore& store = LoadedStore();
  const TsbsData& data = Data();
  store::AggregateQuery q;
  q.matchers = {*model::Matcher::Create(model::MatchType::kEqual, "__name__", "cpu_usage_user")};
  q.start_ms = data.TimeOf(0) + 3'600'000;
  q.end_ms = data.TimeOf(0) + 86'400'000;
  q.step_ms = 3'600'000;
  q.function = store::Aggregation::kMax;
  size_t series = 0;
  for (auto _ : state) {
    auto r = store.Aggregate(q);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    series = r->series.size();
  }
  state.counters["series"] = static_cast<double>(series);
}
BENCHMARK(BM_QueryMaxPerHourAllHosts)->Unit(benchmark::kMillisecond);

// Decoding compacted blocks, the bulk of a long query's time: all 1,000 series' 2-hour
// blocks of the day (range = 0: the integer walk; 1: the same walk as 2-decimal floats).
void BM_DecodeBlocks(benchmark::State& state) {
  const TsbsData& data = Data();
  constexpr int kBlockSteps = 720;  // 2 h at 10 s
  std::vector<std::string> blocks;
  for (size_t s = 0; s < data.series().size(); ++s) {
    for (int first = 0; first + kBlockSteps <= data.steps(); first += kBlockSteps) {
      std::vector<model::Sample> samples;
      for (int step = first; step < first + kBlockSteps; ++step) {
        const double v = data.Value(s, step);
        samples.push_back({data.TimeOf(step), state.range(0) == 1 ? 15 + v / 200 : v});
      }
      blocks.push_back(tsdb::chunk::EncodeBlock(samples));
    }
  }
  size_t bytes = 0;
  for (const std::string& block : blocks) bytes += block.size();
  std::vector<model::Sample> out;
  for (auto _ : state) {
    for (const std::string& block : blocks) {
      out.clear();
      if (!tsdb::chunk::DecodeBlock(block, &out).ok()) state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(blocks.size()) * kBlockSteps);
  state.counters["bytes_per_sample"] =
      static_cast<double>(bytes) / static_cast<double>(blocks.size() * kBlockSteps);
}
BENCHMARK(BM_DecodeBlocks)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The store's heap per series with every series live, as bench/series-memory loads it
// (mem_f0..f9{host, zone}, 11 rounds of one sample per series 10 s apart, batches of
// 100,000 values) but in process, without the HTTP server and the parser: heap in use
// (mallinfo2, mmapped blocks included) after the rounds, minus before, per series.
// range(0): the series count.
void BM_HeadBytesPerSeries(benchmark::State& state) {
  const int64_t series = state.range(0);
  const int64_t hosts = series / 10;
  constexpr int kRounds = 11;
  constexpr int64_t kBatchValues = 100'000;
  std::vector<model::Labels> labels;
  for (int64_t h = 0; h < hosts; ++h) {
    for (int f = 0; f < 10; ++f) {
      labels.push_back(model::Labels::Of({{"__name__", "mem_f" + std::to_string(f)},
                                          {"host", "host_" + std::to_string(h)},
                                          {"zone", "z" + std::to_string(h % 16)}}));
    }
  }
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = FreshDir("head-bytes");
    tsdb::TsdbOptions options;
    options.dir = dir;
    options.wal.fsync = wal::FsyncPolicy::kInterval;
    auto opened = tsdb::TsdbStore::Open(Env::Default(), SystemClock::Get(), options);
    if (!opened.ok()) std::abort();
    std::unique_ptr<tsdb::TsdbStore> store = *std::move(opened);
    std::mt19937 rng(3);
    const int64_t start = SystemClock::Get().NowMillis() - 600'000;
    malloc_trim(0);
    const auto heap_in_use = [] {
      const struct mallinfo2 info = mallinfo2();
      return info.uordblks + info.hblkhd;
    };
    const size_t before = heap_in_use();
    state.ResumeTiming();
    for (int r = 0; r < kRounds; ++r) {
      for (int64_t first = 0; first < series; first += kBatchValues) {
        model::Batch batch;
        for (int64_t i = first; i < std::min(series, first + kBatchValues); ++i) {
          batch.series.push_back(
              {labels[i], {{start + r * 10'000, static_cast<double>(rng() % 1001)}}});
        }
        if (Status s = store->Append(batch); !s.ok()) state.SkipWithError(s.ToString().c_str());
      }
    }
    state.PauseTiming();
    const size_t after = heap_in_use();
    state.counters["heap_bytes_per_series"] =
        static_cast<double>(after - before) / static_cast<double>(series);
    state.counters["series"] = static_cast<double>(store->stats().series);
    store.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * series * kRounds);
}
BENCHMARK(BM_HeadBytesPerSeries)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace vigil::bench

BENCHMARK_MAIN();

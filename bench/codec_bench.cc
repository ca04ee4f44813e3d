// Binary (protobuf + snappy) and JSON batch codecs, on a 1,000-series x 10-sample batch.
// Target (issue #2): 10 million samples/s per core each way for the binary codec.
#include <benchmark/benchmark.h>

#include "bench_data.h"
#include "model/batch_codec.h"
#include "remote.pb.h"

namespace vigil {
namespace {

constexpr int kSeries = 1000, kSamples = 10;

void BM_EncodeBatch(benchmark::State& state) {
  model::Batch batch = bench::MakeBatch(kSeries, kSamples);
  std::string out;
  for (auto _ : state) {
    model::EncodeBatch(batch, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kSeries * kSamples);
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_EncodeBatch);

void BM_DecodeBatch(benchmark::State& state) {
  std::string bytes = model::EncodeBatch(bench::MakeBatch(kSeries, kSamples));
  for (auto _ : state) {
    auto batch = model::DecodeBatch(bytes);
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * kSeries * kSamples);
}
BENCHMARK(BM_DecodeBatch);

// The same message through libprotobuf's generated code (parse only, then into our
// model), to show what hand decoding buys (docs/adr/0002-batch-wire-format.md).
void BM_DecodeWithLibprotobuf(benchmark::State& state) {
  std::string bytes = model::EncodeWriteRequest(bench::MakeBatch(kSeries, kSamples));
  for (auto _ : state) {
    prometheus::WriteRequest request;
    request.ParseFromString(bytes);
    model::Batch batch;
    for (const auto& ts : request.timeseries()) {
      std::vector<model::Label> pairs;
      for (const auto& l : ts.labels()) pairs.push_back({l.name(), l.value()});
      model::Series series{*model::Labels::FromPairs(std::move(pairs)), {}};
      for (const auto& s : ts.samples()) series.samples.push_back({s.timestamp(), s.value()});
      batch.series.push_back(std::move(series));
    }
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(state.iterations() * kSeries * kSamples);
}
BENCHMARK(BM_DecodeWithLibprotobuf);

void BM_EncodeBatchJson(benchmark::State& state) {
  model::Batch batch = bench::MakeBatch(kSeries, kSamples);
  for (auto _ : state) benchmark::DoNotOptimize(model::EncodeBatchJson(batch));
  state.SetItemsProcessed(state.iterations() * kSeries * kSamples);
}
BENCHMARK(BM_EncodeBatchJson);

void BM_DecodeBatchJson(benchmark::State& state) {
  std::string json = model::EncodeBatchJson(bench::MakeBatch(kSeries, kSamples));
  for (auto _ : state) benchmark::DoNotOptimize(model::DecodeBatchJson(json));
  state.SetItemsProcessed(state.iterations() * kSeries * kSamples);
}
BENCHMARK(BM_DecodeBatchJson);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();

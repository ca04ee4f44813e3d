// In-process bus: one publisher, two competing consumers, batches of 1,000 samples.
// Target (issue #2): 5 million samples/s.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "bench_data.h"
#include "bus/in_process_bus.h"
#include "model/batch_codec.h"

namespace vigil {
namespace {

constexpr int kSamplesPerBatch = 1000;  // 100 series x 10 samples

// Moves already-encoded batches: the bus alone.
// With decode=1 the consumers decode every batch too (what a coordinator does first).
void BM_PublishToTwoCompetingConsumers(benchmark::State& state) {
  const bool decode = state.range(0) != 0;
  metrics::Registry registry;
  bus::InProcessBus bus({.registry = &registry});
  (void)bus.DeclareQueue("work", {.max_length = 1024});
  std::string body = model::EncodeBatch(bench::MakeBatch(100, 10));
  std::atomic<int64_t> consumed{0};
  auto handler = [&](const bus::Delivery& d) {
    if (decode) benchmark::DoNotOptimize(model::DecodeBatch(d.message().body));
    d.Ack();
    consumed.fetch_add(1, std::memory_order_relaxed);
  };
  auto a = *bus.Consume("work", {.prefetch = 64}, handler);
  auto b = *bus.Consume("work", {.prefetch = 64}, handler);
  int64_t published = 0;
  for (auto _ : state) {
    (void)bus.Publish("", "work", bus::Message{body, "application/x-protobuf"});
    ++published;
  }
  (void)bus.WaitUntilDrained("work", std::chrono::seconds(60));
  if (consumed.load() != published) state.SkipWithError("messages lost");
  state.SetItemsProcessed(published * kSamplesPerBatch);
}
BENCHMARK(BM_PublishToTwoCompetingConsumers)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();

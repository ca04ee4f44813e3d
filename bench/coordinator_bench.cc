// The coordinator's work per batch: the bundled config's pipeline (a filter, two relabel
// rules, a match and a one-minute downsample of the boiler's series) and 100 alert rules,
// on 1 and 2 worker threads, with one rule evaluation per second of data.
// Target (issue #8): 2 million samples/s on one worker, near-linear gain with a second.
//
// Data: 10,000 series (5 instruments x 2,000 servers, labels agent/area/server/unit), one
// sample each per batch — an agent's second — with timestamps a second apart, so the
// downsample windows close every 60 batches. Rules: 96 thresholds on one instrument and
// server each (20 rules share a metric name, so each series is checked against 20) and 4
// absent rules.
#include <benchmark/benchmark.h>

#include "pipeline/alerts.h"
#include "pipeline/sharded.h"
#include "roles/config.h"

namespace vigil {
namespace {

constexpr int kServers = 2000;
const char* kInstruments[][2] = {{"boiler_pressure_out", "boiler"},
                                 {"boiler_temperature_out", "boiler"},
                                 {"turbine_speed", "turbine"},
                                 {"generator_output", "generator"},
                                 {"coolant_flow", "cooling"}};

model::Batch Second(int64_t t) {
  model::Batch batch;
  for (int server = 0; server < kServers; ++server) {
    for (const auto& [name, area] : kInstruments) {
      batch.series.push_back({model::Labels::Of({{"__name__", name},
                                                 {"agent", "plant-1"},
                                                 {"area", area},
                                                 {"server", "server-" + std::to_string(server)},
                                                 {"unit", "bar"}}),
                              {{t, 15.0 + (server % 100) * 0.01}}});
    }
  }
  return batch;
}

std::vector<pipeline::AlertRuleSpec> HundredRules() {
  std::vector<pipeline::AlertRuleSpec> rules;
  for (int i = 0; i < 96; ++i) {
    pipeline::AlertRuleSpec r;
    r.name = "Rule" + std::to_string(i);
    r.expr = std::string(kInstruments[i % 5][0]) + "{server=\"server-" + std::to_string(i * 7) +
             "\"} > 15.5";
    r.for_ms = 30'000;
    r.annotations = {{"summary", "{{ $labels.server }} at {{ $value }}"}};
    rules.push_back(r);
  }
  for (int i = 0; i < 4; ++i) {
    pipeline::AlertRuleSpec r;
    r.name = "Absent" + std::to_string(i);
    r.expr = std::string("absent_over_time(") + kInstruments[i][0] + "[1m])";
    rules.push_back(r);
  }
  return rules;
}

void BM_CoordinatorPipelineAndRules(benchmark::State& state) {
  const auto workers = static_cast<size_t>(state.range(0));
  auto config = roles::LoadVigilConfig(VIGIL_SOURCE_DIR "/config/vigil.toml");
  if (!config.ok()) return state.SkipWithError(config.status().ToString().c_str());
  metrics::Registry registry;
  pipeline::AlertEvaluator::Options options;
  options.shards = workers;
  options.registry = &registry;
  auto alerts = pipeline::AlertEvaluator::Create(HundredRules(), options);
  if (!alerts.ok()) return state.SkipWithError(alerts.status().ToString().c_str());
  auto* evaluator = alerts->get();
  auto sharded = pipeline::ShardedPipeline::Create(
      workers, [&] { return roles::BuildPipelineStages(*config); },
      [evaluator](size_t worker, const model::Batch& part) { evaluator->Observe(worker, part); },
      registry);
  if (!sharded.ok()) return state.SkipWithError(sharded.status().ToString().c_str());

  const model::Batch first = Second(0);
  int64_t t = 1'700'000'000'000;
  int64_t samples = 0;
  for (auto _ : state) {
    state.PauseTiming();
    model::Batch batch = first;
    for (auto& s : batch.series) s.samples[0].timestamp_ms = t;
    state.ResumeTiming();
    if (!(*sharded)->Process(batch).ok()) return state.SkipWithError("pipeline failed");
    benchmark::DoNotOptimize((*alerts)->Evaluate(t));
    samples += static_cast<int64_t>(first.series.size());
    t += 1000;
  }
  state.SetItemsProcessed(samples);
  state.counters["stages"] = static_cast<double>((*sharded)->stage_count());
  state.counters["rules"] = static_cast<double>((*alerts)->rule_count());
}
BENCHMARK(BM_CoordinatorPipelineAndRules)
    ->ArgName("workers")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5);

// The workers' own cost: no stages, no rules; split, hand over, merge.
void BM_ShardingAlone(benchmark::State& state) {
  metrics::Registry registry;
  auto none = [] { return std::vector<std::unique_ptr<pipeline::Stage>>{}; };
  auto sharded = pipeline::ShardedPipeline::Create(static_cast<size_t>(state.range(0)), none,
                                                   nullptr, registry);
  const model::Batch first = Second(0);
  for (auto _ : state) {
    state.PauseTiming();
    model::Batch batch = first;
    state.ResumeTiming();
    if (!(*sharded)->Process(batch).ok()) return state.SkipWithError("pipeline failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * first.series.size()));
}
BENCHMARK(BM_ShardingAlone)
    ->ArgName("workers")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();

// The coordinator's work per batch: the bundled config's pipeline (a filter, two relabel
// rules, a match and a one-minute downsample of the boiler's series) and 100 alert rules,
// with one rule evaluation per second of data, on 1 and 2 shards with one thread per
// agent (as the bus's consumers run), each agent on its own shard.
// Target (issue #8): 2 million samples/s on one worker, near-linear gain with a second.
//
// Data: per agent, 10,000 series (5 instruments x 2,000 servers, labels
// agent/area/server/unit), one sample each per batch — an agent's second — with
// timestamps a second apart, so the downsample windows close every 60 batches. Rules: 96 thresholds
// on one instrument and server each (20 rules share a metric name, so each series is checked
// against 20) and 4 absent rules.
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

model::Batch Second(const std::string& agent, int64_t t) {
  model::Batch batch;
  for (int server = 0; server < kServers; ++server) {
    for (const auto& [name, area] : kInstruments) {
      batch.series.push_back({model::Labels::Of({{"__name__", name},
                                                 {"agent", agent},
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

struct Coordinator {
  metrics::Registry registry;
  std::unique_ptr<pipeline::AlertEvaluator> alerts;
  std::unique_ptr<pipeline::ShardedPipeline> sharded;
};
std::unique_ptr<Coordinator> shared;  // made by thread 0 before the timed loop

Status MakeCoordinator(size_t workers) {
  auto config = roles::LoadVigilConfig(VIGIL_SOURCE_DIR "/config/vigil.toml");
  if (!config.ok()) return config.status();
  auto c = std::make_unique<Coordinator>();
  pipeline::AlertEvaluator::Options options;
  options.shards = workers;
  options.registry = &c->registry;
  VIGIL_ASSIGN_OR_RETURN(c->alerts, pipeline::AlertEvaluator::Create(HundredRules(), options));
  auto* evaluator = c->alerts.get();
  VIGIL_ASSIGN_OR_RETURN(
      c->sharded,
      pipeline::ShardedPipeline::Create(
          workers, [&] { return roles::BuildPipelineStages(*config); },
          [evaluator](size_t shard, const model::Batch& b) { evaluator->Observe(shard, b); },
          c->registry));
  shared = std::move(c);
  return OkStatus();
}

// One thread per agent; state.threads() shards.
void BM_CoordinatorPipelineAndRules(benchmark::State& state) {
  const auto workers = static_cast<size_t>(state.threads());
  if (state.thread_index() == 0) {
    if (Status made = MakeCoordinator(workers); !made.ok())
      return state.SkipWithError(made.ToString().c_str());
  }
  std::string agent;
  model::Batch first;
  int64_t t = 1'700'000'000'000;
  int64_t samples = 0;
  for (auto _ : state) {  // the loop starts once every thread is here, so `shared` is made
    state.PauseTiming();
    if (agent.empty()) {  // an agent whose shard is this thread's own
      for (int k = 0; agent.empty(); ++k) {
        const std::string name = "plant-" + std::to_string(k);
        if (shared->sharded->ShardOf(name) == static_cast<size_t>(state.thread_index()))
          agent = name;
      }
      first = Second(agent, 0);
    }
    model::Batch batch = first;
    for (auto& s : batch.series) s.samples[0].timestamp_ms = t;
    state.ResumeTiming();
    if (!shared->sharded->Process(agent, batch).ok()) return state.SkipWithError("pipeline failed");
    if (state.thread_index() == 0) benchmark::DoNotOptimize(shared->alerts->Evaluate(t));
    samples += static_cast<int64_t>(first.series.size());
    t += 1000;
  }
  state.SetItemsProcessed(samples);
  if (state.thread_index() == 0) {
    state.counters["stages"] = static_cast<double>(shared->sharded->stage_count());
    state.counters["rules"] = static_cast<double>(shared->alerts->rule_count());
  }
}
BENCHMARK(BM_CoordinatorPipelineAndRules)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();

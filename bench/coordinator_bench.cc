// The coordinator's work per batch: the bundled config's pipeline (a filter, two relabel
// rules, a match and a one-minute downsample of the boiler's series) on 1 and 2 shards
// with one thread per agent (as the bus's consumers run), each agent on its own shard.
// Target (issue #8): 2 million samples/s on one worker, near-linear gain with a second.
// (Alert rules were part of it until they moved to the ruler, which bench/rules-peers
// measures.)
//
// Data: per agent, 10,000 series (5 instruments x 2,000 servers, labels
// agent/area/server/unit), one sample each per batch — an agent's second — with
// timestamps a second apart, so the downsample windows close every 60 batches. The
// batch is shared as the bus delivers it, so the pipeline's copy (made because the match
// and downsample stages change the boiler's series) is timed. BM_UntouchedBatch: 10,000
// series of line protocol (mem_f0..f9{host,zone}) that no stage changes: no copy.
#include <benchmark/benchmark.h>

#include <functional>

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

model::Batch LineProtocolHosts(int64_t t) {
  model::Batch batch;
  for (int host = 0; host < 1000; ++host) {
    for (int field = 0; field < 10; ++field) {
      batch.series.push_back({model::Labels::Of({{"__name__", "mem_f" + std::to_string(field)},
                                                 {"host", "host_" + std::to_string(host)},
                                                 {"zone", "z" + std::to_string(host % 16)}}),
                              {{t, static_cast<double>(host)}}});
    }
  }
  return batch;
}

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

struct Coordinator {
  metrics::Registry registry;
  std::unique_ptr<pipeline::ShardedPipeline> sharded;
};
std::unique_ptr<Coordinator> shared;  // made by thread 0 before the timed loop

Status MakeCoordinator(size_t workers) {
  auto config = roles::LoadVigilConfig(VIGIL_SOURCE_DIR "/config/vigil.toml");
  if (!config.ok()) return config.status();
  auto c = std::make_unique<Coordinator>();
  VIGIL_ASSIGN_OR_RETURN(
      c->sharded, pipeline::ShardedPipeline::Create(
                      workers, [&] { return roles::BuildPipelineStages(*config); }, c->registry));
  shared = std::move(c);
  return OkStatus();
}

// One thread per agent; state.threads() shards. `make` gives an agent's batch at time t.
void RunCoordinator(benchmark::State& state,
                    const std::function<model::Batch(const std::string&, int64_t)>& make) {
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
      first = make(agent, 0);
    }
    auto delivered = std::make_shared<model::Batch>(first);
    for (auto& s : delivered->series) s.samples[0].timestamp_ms = t;
    std::shared_ptr<const model::Batch> batch = delivered;
    state.ResumeTiming();
    if (!shared->sharded->Process(agent, batch).ok()) return state.SkipWithError("pipeline failed");
    samples += static_cast<int64_t>(first.series.size());
    t += 1000;
  }
  state.SetItemsProcessed(samples);
  if (state.thread_index() == 0) {
    state.counters["stages"] = static_cast<double>(shared->sharded->stage_count());
  }
}

void BM_CoordinatorPipeline(benchmark::State& state) { RunCoordinator(state, Second); }
BENCHMARK(BM_CoordinatorPipeline)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5);

void BM_UntouchedBatch(benchmark::State& state) {
  RunCoordinator(state, [](const std::string&, int64_t t) { return LineProtocolHosts(t); });
}
BENCHMARK(BM_UntouchedBatch)->Threads(1)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(5);

}  // namespace
}  // namespace vigil

BENCHMARK_MAIN();

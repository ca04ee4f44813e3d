#include "pipeline/sharded.h"

#include <xxhash.h>

namespace vigil::pipeline {

Result<std::unique_ptr<ShardedPipeline>> ShardedPipeline::Create(size_t shards,
                                                                 const StageFactory& factory,
                                                                 Observer observer,
                                                                 metrics::Registry& registry) {
  if (shards == 0) return InvalidArgumentError("workers: at least 1");
  std::unique_ptr<ShardedPipeline> p(new ShardedPipeline(std::move(observer)));
  for (size_t i = 0; i < shards; ++i) {
    VIGIL_ASSIGN_OR_RETURN(auto stages, factory());
    p->shards_.push_back(std::make_unique<Shard>(Pipeline(std::move(stages), registry)));
  }
  return p;
}

std::unique_ptr<ShardedPipeline> ShardedPipeline::PassThrough(metrics::Registry& registry) {
  auto none = [] { return std::vector<std::unique_ptr<Stage>>{}; };
  return Create(1, none, nullptr, registry).value();
}

size_t ShardedPipeline::ShardOf(std::string_view agent) const {
  return XXH3_64bits(agent.data(), agent.size()) % shards_.size();
}

Status ShardedPipeline::Process(std::string_view agent, model::Batch& batch) {
  const size_t index = ShardOf(agent);
  Shard& shard = *shards_[index];
  MutexLock lock(shard.mu);
  Status status = shard.pipeline.Process(batch);
  if (status.ok() && observer_) observer_(index, batch);
  return status;
}

}  // namespace vigil::pipeline

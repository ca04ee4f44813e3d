#include "pipeline/sharded.h"

#include <xxhash.h>

namespace vigil::pipeline {

Result<std::unique_ptr<ShardedPipeline>> ShardedPipeline::Create(size_t shards,
                                                                 const StageFactory& factory,
                                                                 metrics::Registry& registry) {
  if (shards == 0) return InvalidArgumentError("workers: at least 1");
  std::unique_ptr<ShardedPipeline> p(new ShardedPipeline());
  for (size_t i = 0; i < shards; ++i) {
    VIGIL_ASSIGN_OR_RETURN(auto stages, factory());
    p->shards_.push_back(std::make_unique<Shard>(Pipeline(std::move(stages), registry)));
  }
  return p;
}

std::unique_ptr<ShardedPipeline> ShardedPipeline::PassThrough(metrics::Registry& registry) {
  auto none = [] { return std::vector<std::unique_ptr<Stage>>{}; };
  return Create(1, none, registry).value();
}

size_t ShardedPipeline::ShardOf(std::string_view agent) const {
  return XXH3_64bits(agent.data(), agent.size()) % shards_.size();
}

Status ShardedPipeline::Process(std::string_view agent,
                                std::shared_ptr<const model::Batch>& batch) {
  Shard& shard = *shards_[ShardOf(agent)];
  MutexLock lock(shard.mu);
  return shard.pipeline.Process(batch);
}

}  // namespace vigil::pipeline

// ShardedPipeline runs the coordinator's pipeline as N shards, each with stages of its
// own (built by the factory) and a lock. A batch goes whole to the shard of its agent
// (the hash of the agent id) and runs on the caller's thread — the bus's consumer thread
// that decoded it, one per data queue — so batches of agents on different shards run in
// parallel, on data already in that core's cache. Every series carries its agent's id, so
// a series is always handled by the same shard, in the order its batches arrived, and
// stateful stages (downsample) need no sharing between shards. docs/pipeline.md
// ("Workers") says why batches are not split by series.
//
// Thread safety: Process may be called from any thread; calls for one shard take turns.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "pipeline/pipeline.h"

namespace vigil::pipeline {

class ShardedPipeline {
 public:
  using StageFactory = std::function<Result<std::vector<std::unique_ptr<Stage>>>()>;

  // The factory's error, or InvalidArgument for 0 shards.
  static Result<std::unique_ptr<ShardedPipeline>> Create(
      size_t shards, const StageFactory& factory,
      metrics::Registry& registry = metrics::Registry::Default());
  // No stages, one shard: batches pass through unchanged.
  static std::unique_ptr<ShardedPipeline> PassThrough(
      metrics::Registry& registry = metrics::Registry::Default());

  // Runs the batch of `agent` through its shard's stages (Pipeline::Process); the stages'
  // first error (the batch then is left partly processed).
  Status Process(std::string_view agent, std::shared_ptr<const model::Batch>& batch);

  size_t workers() const { return shards_.size(); }
  size_t stage_count() const {
    MutexLock lock(shards_.front()->mu);
    return shards_.front()->pipeline.stage_count();
  }
  // The shard that handles the batches of `agent`.
  size_t ShardOf(std::string_view agent) const;

 private:
  struct Shard {
    explicit Shard(Pipeline p) : pipeline(std::move(p)) {}
    Mutex mu;
    Pipeline pipeline VIGIL_GUARDED_BY(mu);
  };

  ShardedPipeline() = default;

  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace vigil::pipeline

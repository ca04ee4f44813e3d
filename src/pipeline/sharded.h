// ShardedPipeline runs the coordinator's pipeline on N worker threads: each batch is split
// by the hash of each series' labels (as it arrives), every part goes to its worker, and
// the parts are merged back into one batch. The split itself runs on the workers (each
// hashes a slice of the batch, then takes its own series), so the caller's thread does
// little more than the merge. A series is therefore always handled by the
// same worker, in the order its batches arrived, and stateful stages (downsample) and the
// alert rules' per-series state need no sharing between workers. Each worker has its own
// stages, built by the factory; after the stages, the observer (the alert rules) sees
// each worker's part. With one worker, Process runs on the caller's thread.
//
// Thread safety: Process may be called from several threads; parts queue per worker.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "pipeline/pipeline.h"

namespace vigil::pipeline {

class ShardedPipeline {
 public:
  using StageFactory = std::function<Result<std::vector<std::unique_ptr<Stage>>>()>;
  // Sees each worker's part after its stages, on that worker's thread.
  using Observer = std::function<void(size_t worker, const model::Batch& part)>;

  // The factory's error, or InvalidArgument for 0 workers.
  static Result<std::unique_ptr<ShardedPipeline>> Create(
      size_t workers, const StageFactory& factory, Observer observer = nullptr,
      metrics::Registry& registry = metrics::Registry::Default());
  // No stages, one worker: batches pass through unchanged.
  static std::unique_ptr<ShardedPipeline> PassThrough(
      metrics::Registry& registry = metrics::Registry::Default());
  ~ShardedPipeline();

  // Runs the batch through the stages, every series on its worker; the first error of
  // any worker (the batch then is left partly processed).
  Status Process(model::Batch& batch);

  size_t workers() const { return shards_.size(); }
  size_t stage_count() const { return shards_.front()->pipeline.stage_count(); }
  // The worker that handles a series.
  size_t WorkerOf(const model::Labels& labels) const { return labels.Hash() % shards_.size(); }

 private:
  struct Shard {
    explicit Shard(Pipeline p) : pipeline(std::move(p)) {}
    Pipeline pipeline;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> queue;  // guarded by mu
    bool stop = false;                        // guarded by mu
    std::thread thread;
  };

  explicit ShardedPipeline(Observer observer) : observer_(std::move(observer)) {}
  Status RunPart(size_t worker, model::Batch& part);
  // Runs task(worker) on every worker and waits for all; the first error.
  Status RunOnAll(const std::function<Status(size_t worker)>& task);
  void Work(size_t worker);

  Observer observer_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace vigil::pipeline

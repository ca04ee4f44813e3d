#include "pipeline/sharded.h"

namespace vigil::pipeline {

Result<std::unique_ptr<ShardedPipeline>> ShardedPipeline::Create(size_t workers,
                                                                 const StageFactory& factory,
                                                                 Observer observer,
                                                                 metrics::Registry& registry) {
  if (workers == 0) return InvalidArgumentError("workers: at least 1");
  std::unique_ptr<ShardedPipeline> p(new ShardedPipeline(std::move(observer)));
  for (size_t i = 0; i < workers; ++i) {
    VIGIL_ASSIGN_OR_RETURN(auto stages, factory());
    p->shards_.push_back(std::make_unique<Shard>(Pipeline(std::move(stages), registry)));
  }
  if (workers > 1) {
    for (size_t i = 0; i < workers; ++i)
      p->shards_[i]->thread = std::thread([raw = p.get(), i] { raw->Work(i); });
  }
  return p;
}

std::unique_ptr<ShardedPipeline> ShardedPipeline::PassThrough(metrics::Registry& registry) {
  auto none = [] { return std::vector<std::unique_ptr<Stage>>{}; };
  return Create(1, none, nullptr, registry).value();
}

ShardedPipeline::~ShardedPipeline() {
  for (auto& shard : shards_) {
    {
      std::lock_guard lock(shard->mu);
      shard->stop = true;
    }
    shard->cv.notify_one();
    if (shard->thread.joinable()) shard->thread.join();
  }
}

Status ShardedPipeline::RunPart(size_t worker, model::Batch& part) {
  Status status = shards_[worker]->pipeline.Process(part);
  if (status.ok() && observer_) observer_(worker, part);
  return status;
}

Status ShardedPipeline::RunOnAll(const std::function<Status(size_t worker)>& task) {
  std::mutex mu;
  std::condition_variable done;
  size_t pending = shards_.size();  // guarded by mu
  Status first;                     // guarded by mu
  auto run = [&](size_t i) {
    Status status = task(i);
    std::lock_guard lock(mu);
    if (!status.ok() && first.ok()) first = status;
    if (--pending == 0) done.notify_one();
  };
  for (size_t i = 0; i < shards_.size(); ++i) {
    Shard& shard = *shards_[i];
    {
      std::lock_guard lock(shard.mu);
      shard.queue.push_back([&run, i] { run(i); });
    }
    shard.cv.notify_one();
  }
  std::unique_lock lock(mu);
  done.wait(lock, [&] { return pending == 0; });
  return first;
}

Status ShardedPipeline::Process(model::Batch& batch) {
  const size_t n = shards_.size();
  if (n == 1) return RunPart(0, batch);

  // Each worker hashes a slice, then takes its own series: no series is read by one
  // worker while another moves it.
  const size_t count = batch.series.size();
  std::vector<uint32_t> owner(count);
  (void)RunOnAll([&](size_t w) {
    for (size_t j = w * count / n; j < (w + 1) * count / n; ++j)
      owner[j] = static_cast<uint32_t>(WorkerOf(batch.series[j].labels));
    return OkStatus();
  });
  std::vector<model::Batch> parts(n);
  Status status = RunOnAll([&](size_t w) {
    model::Batch& part = parts[w];
    part.series.reserve(count / n + count / (4 * n) + 8);
    for (size_t j = 0; j < count; ++j) {
      if (owner[j] == w) part.series.push_back(std::move(batch.series[j]));
    }
    return RunPart(w, part);
  });
  size_t total = 0;
  for (const auto& part : parts) total += part.series.size();
  batch.series.clear();
  batch.series.reserve(total);
  for (auto& part : parts) {
    for (auto& series : part.series) batch.series.push_back(std::move(series));
  }
  return status;
}

void ShardedPipeline::Work(size_t worker) {
  Shard& shard = *shards_[worker];
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(shard.mu);
      shard.cv.wait(lock, [&] { return shard.stop || !shard.queue.empty(); });
      if (shard.queue.empty()) return;  // stopping, nothing left
      task = std::move(shard.queue.front());
      shard.queue.pop_front();
    }
    task();
  }
}

}  // namespace vigil::pipeline

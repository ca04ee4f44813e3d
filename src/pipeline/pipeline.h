// The coordinator's pipeline: an ordered list of stages applied to every batch (filter,
// relabel, regex match, downsample: the pipeline issue adds them). A stage is pure, with
// no I/O, and may change or drop series. With no stages the pipeline passes batches
// through unchanged. Batches are shared (the queue keeps the original until it is acked):
// the stages work on a copy, made at the first stage that would change a series of the
// batch, so a batch no stage touches is never copied. That is found series by series
// (each series' labels are read once, while in the cache, for all stages). Samples in and out are
// counted per stage in vigil_pipeline_samples_total{stage,outcome}.
//
// Thread safety: Process may be called from several threads at once if every stage
// allows it; stages added after construction are not supported.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "model/batch.h"

namespace vigil::pipeline {

class Stage {
 public:
  virtual ~Stage() = default;
  virtual const std::string& name() const = 0;
  // Whether Apply would leave this series exactly as it is (and change no state of the
  // stage for it); false when unsure. It only reads the stage's configuration.
  virtual bool LeavesAsIs(const model::Series&) const { return false; }
  // Transforms the batch in place.
  virtual Status Apply(model::Batch& batch) = 0;
};

class Pipeline {
 public:
  explicit Pipeline(std::vector<std::unique_ptr<Stage>> stages,
                    metrics::Registry& registry = metrics::Registry::Default());

  // Runs every stage in order; `batch` then points to the result: the same batch when no
  // stage changed it, else a copy. Stops at the first error, with `batch` as that stage
  // left it; the batch it pointed to at first is never changed.
  Status Process(std::shared_ptr<const model::Batch>& batch);
  size_t stage_count() const { return stages_.size(); }

 private:
  struct CountedStage {
    std::unique_ptr<Stage> stage;
    metrics::Counter& in;
    metrics::Counter& out;
  };
  std::vector<CountedStage> stages_;
};

}  // namespace vigil::pipeline

// The coordinator's pipeline: an ordered list of stages applied to every batch (filter,
// relabel, regex match, downsample: the pipeline issue adds them). A stage is pure, with
// no I/O, and may change or drop series. With no stages the pipeline passes batches
// through unchanged. Samples in and out are counted per stage in
// vigil_pipeline_samples_total{stage,outcome}.
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
  // Transforms the batch in place.
  virtual Status Apply(model::Batch& batch) = 0;
};

class Pipeline {
 public:
  explicit Pipeline(std::vector<std::unique_ptr<Stage>> stages,
                    metrics::Registry& registry = metrics::Registry::Default());

  // Runs every stage in order; stops at the first error, leaving the batch as that stage left it.
  Status Process(model::Batch& batch);
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

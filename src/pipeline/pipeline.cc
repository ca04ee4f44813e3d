#include "pipeline/pipeline.h"

namespace vigil::pipeline {

Pipeline::Pipeline(std::vector<std::unique_ptr<Stage>> stages, metrics::Registry& registry) {
  auto& samples =
      registry.AddCounter("vigil_pipeline_samples_total",
                          "Samples into and out of each pipeline stage.", {"stage", "outcome"});
  for (auto& stage : stages) {
    std::string name = stage->name();
    stages_.push_back(
        {std::move(stage), samples.WithLabels({name, "in"}), samples.WithLabels({name, "out"})});
  }
}

Status Pipeline::Process(model::Batch& batch) {
  for (auto& s : stages_) {
    s.in.Inc(static_cast<double>(batch.SampleCount()));
    VIGIL_RETURN_IF_ERROR(s.stage->Apply(batch).Annotate("stage " + s.stage->name()));
    s.out.Inc(static_cast<double>(batch.SampleCount()));
  }
  return OkStatus();
}

}  // namespace vigil::pipeline

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

Status Pipeline::Process(std::shared_ptr<const model::Batch>& batch) {
  if (stages_.empty()) return OkStatus();
  std::shared_ptr<model::Batch> copy;  // the batch once a stage changed it
  auto samples = static_cast<double>(batch->SampleCount());
  for (auto& s : stages_) {
    s.in.Inc(samples);
    if (!copy) {
      if (s.stage->LeavesAsIs(*batch)) {
        s.out.Inc(samples);
        continue;
      }
      copy = std::make_shared<model::Batch>(*batch);
      batch = copy;
    }
    VIGIL_RETURN_IF_ERROR(s.stage->Apply(*copy).Annotate("stage " + s.stage->name()));
    samples = static_cast<double>(copy->SampleCount());
    s.out.Inc(samples);
  }
  return OkStatus();
}

}  // namespace vigil::pipeline

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
  // The stages before the first that would change some series leave the batch as it is.
  size_t first_change = stages_.size();
  for (const model::Series& series : batch->series) {
    for (size_t k = 0; k < first_change; ++k) {
      if (!stages_[k].stage->LeavesAsIs(series)) {
        first_change = k;
        break;
      }
    }
    if (first_change == 0) break;
  }
  auto samples = static_cast<double>(batch->SampleCount());
  for (size_t k = 0; k < first_change; ++k) {
    stages_[k].in.Inc(samples);
    stages_[k].out.Inc(samples);
  }
  if (first_change == stages_.size()) return OkStatus();
  auto copy = std::make_shared<model::Batch>(*batch);
  batch = copy;
  for (size_t k = first_change; k < stages_.size(); ++k) {
    CountedStage& s = stages_[k];
    s.in.Inc(samples);
    VIGIL_RETURN_IF_ERROR(s.stage->Apply(*copy).Annotate("stage " + s.stage->name()));
    samples = static_cast<double>(copy->SampleCount());
    s.out.Inc(samples);
  }
  return OkStatus();
}

}  // namespace vigil::pipeline

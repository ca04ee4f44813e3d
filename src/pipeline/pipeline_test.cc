#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

namespace vigil::pipeline {
namespace {

// Drops every series whose metric name is "noise".
class DropNoise final : public Stage {
 public:
  const std::string& name() const override { return name_; }
  Status Apply(model::Batch& batch) override {
    std::erase_if(batch.series,
                  [](const model::Series& s) { return s.labels.MetricName() == "noise"; });
    return OkStatus();
  }

 private:
  std::string name_ = "drop_noise";
};

class Fails final : public Stage {
 public:
  const std::string& name() const override { return name_; }
  Status Apply(model::Batch&) override { return InvalidArgumentError("bad"); }

 private:
  std::string name_ = "fails";
};

model::Batch TwoSeries() {
  model::Batch batch;
  batch.series.push_back({model::Labels::Of({{"__name__", "signal"}}), {{1, 1}, {2, 2}}});
  batch.series.push_back({model::Labels::Of({{"__name__", "noise"}}), {{1, 9}}});
  return batch;
}

TEST(Pipeline, WithoutStagesPassesBatchesThrough) {
  metrics::Registry registry;
  Pipeline pipeline({}, registry);
  model::Batch batch = TwoSeries();
  ASSERT_TRUE(pipeline.Process(batch).ok());
  EXPECT_EQ(batch, TwoSeries());
}

TEST(Pipeline, StagesRunInOrderAndAreCounted) {
  metrics::Registry registry;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<DropNoise>());
  Pipeline pipeline(std::move(stages), registry);
  model::Batch batch = TwoSeries();
  ASSERT_TRUE(pipeline.Process(batch).ok());
  ASSERT_EQ(batch.series.size(), 1u);
  auto& samples = registry.AddCounter("vigil_pipeline_samples_total", "", {"stage", "outcome"});
  EXPECT_EQ(samples.WithLabels({"drop_noise", "in"}).Value(), 3);
  EXPECT_EQ(samples.WithLabels({"drop_noise", "out"}).Value(), 2);
}

TEST(Pipeline, AStageErrorNamesTheStage) {
  metrics::Registry registry;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<Fails>());
  Pipeline pipeline(std::move(stages), registry);
  model::Batch batch = TwoSeries();
  EXPECT_EQ(pipeline.Process(batch).message(), "stage fails: bad");
}

}  // namespace
}  // namespace vigil::pipeline

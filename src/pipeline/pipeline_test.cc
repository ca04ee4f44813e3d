#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace vigil::pipeline {
namespace {

// Drops every series whose metric name is "noise".
class DropNoise final : public Stage {
 public:
  const std::string& name() const override { return name_; }
  bool LeavesAsIs(const model::Series& series) const override {
    return series.labels.MetricName() != "noise";
  }
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

std::shared_ptr<const model::Batch> TwoSeries() {
  auto batch = std::make_shared<model::Batch>();
  batch->series.push_back({model::Labels::Of({{"__name__", "signal"}}), {{1, 1}, {2, 2}}});
  batch->series.push_back({model::Labels::Of({{"__name__", "noise"}}), {{1, 9}}});
  return batch;
}

TEST(Pipeline, WithoutStagesPassesBatchesThrough) {
  metrics::Registry registry;
  Pipeline pipeline({}, registry);
  auto batch = TwoSeries();
  const auto original = batch;
  ASSERT_TRUE(pipeline.Process(batch).ok());
  EXPECT_EQ(batch, original);
}

TEST(Pipeline, StagesRunInOrderAndAreCounted) {
  metrics::Registry registry;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<DropNoise>());
  Pipeline pipeline(std::move(stages), registry);
  auto batch = TwoSeries();
  ASSERT_TRUE(pipeline.Process(batch).ok());
  ASSERT_EQ(batch->series.size(), 1u);
  auto& samples = registry.AddCounter("vigil_pipeline_samples_total", "", {"stage", "outcome"});
  EXPECT_EQ(samples.WithLabels({"drop_noise", "in"}).Value(), 3);
  EXPECT_EQ(samples.WithLabels({"drop_noise", "out"}).Value(), 2);
}

// The queue keeps the batch it delivered until it is acked: the stages change a copy, and
// a batch no stage would change is passed on as it is, uncopied (yet counted).
TEST(Pipeline, StagesChangeACopyMadeOnlyWhenOneWouldChangeTheBatch) {
  metrics::Registry registry;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<DropNoise>());
  stages.push_back(std::make_unique<DropNoise>());
  Pipeline pipeline(std::move(stages), registry);
  auto batch = TwoSeries();
  const auto original = batch;
  ASSERT_TRUE(pipeline.Process(batch).ok());
  EXPECT_NE(batch, original);
  EXPECT_EQ(*original, *TwoSeries());
  EXPECT_EQ(batch->series.size(), 1u);

  auto quiet = std::make_shared<model::Batch>(*batch);
  std::shared_ptr<const model::Batch> passed = quiet;
  ASSERT_TRUE(pipeline.Process(passed).ok());
  EXPECT_EQ(passed, quiet);
  auto& samples = registry.AddCounter("vigil_pipeline_samples_total", "", {"stage", "outcome"});
  EXPECT_EQ(samples.WithLabels({"drop_noise", "in"}).Value(), 3 + 2 + 2 + 2);
  EXPECT_EQ(samples.WithLabels({"drop_noise", "out"}).Value(), 2 + 2 + 2 + 2);
}

TEST(Pipeline, AStageErrorNamesTheStage) {
  metrics::Registry registry;
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<Fails>());
  Pipeline pipeline(std::move(stages), registry);
  auto batch = TwoSeries();
  EXPECT_EQ(pipeline.Process(batch).message(), "stage fails: bad");
}

}  // namespace
}  // namespace vigil::pipeline

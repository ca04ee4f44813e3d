#include "model/batch.h"

namespace vigil::model {

void BatchBuilder::Add(const Labels& labels, Sample sample) {
  auto [it, inserted] = index_.try_emplace(labels, batch_.series.size());
  if (inserted) batch_.series.push_back({labels, {}});
  batch_.series[it->second].samples.push_back(sample);
  ++samples_;
}

Batch BatchBuilder::Take() {
  Batch out = std::move(batch_);
  batch_ = Batch();
  index_.clear();
  samples_ = 0;
  return out;
}

}  // namespace vigil::model

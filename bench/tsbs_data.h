// The embedded store's benchmark data set, shaped like TSBS's cpu-only use case: `hosts`
// hosts × 10 cpu metrics (usage_user … usage_guest_nice), one reading every 10 s for a
// day, values an integer random walk in [0, 100] as TSBS writes them; deterministic per
// seed. A float variant (the simulated plant's bounded random walks with full-precision
// values) shows how a less friendly workload compresses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/batch.h"

namespace vigil::bench {

struct TsbsOptions {
  int hosts = 100;
  int steps = 8640;                      // one day at 10 s
  int64_t start_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  int64_t interval_ms = 10'000;
  uint64_t seed = 1;
  bool floats = false;  // the plant's float random walks instead of TSBS integers
};

class TsbsData {
 public:
  explicit TsbsData(TsbsOptions options);

  const std::vector<model::Labels>& series() const { return series_; }
  int steps() const { return options_.steps; }
  int64_t samples() const { return static_cast<int64_t>(series_.size()) * options_.steps; }
  int64_t TimeOf(int step) const { return options_.start_ms + step * options_.interval_ms; }
  double Value(size_t series, int step) const {
    return values_[static_cast<size_t>(step) * series_.size() + series];
  }

  // Every series' readings for steps [first, first + count), shifted by `offset_ms`.
  model::Batch Batch(int first, int count, int64_t offset_ms = 0) const;
  // The text exposition of the whole set with timestamps: OpenMetrics (seconds, ending
  // in `# EOF`) for `promtool tsdb create-blocks-from openmetrics`, or Prometheus text
  // 0.0.4 (milliseconds) for VictoriaMetrics's /api/v1/import/prometheus.
  std::string Exposition(bool openmetrics) const;

 private:
  TsbsOptions options_;
  std::vector<model::Labels> series_;
  std::vector<double> values_;  // step-major
};

}  // namespace vigil::bench

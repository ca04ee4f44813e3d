// The `self` sensor: vigil's own metrics (the process's registry, what /metrics shows) as
// readings, so that they travel, are stored and can be alerted on like any other — the
// agent's spool depth and breaker state, sensor errors, the pipeline's counters. Only
// series whose metric name starts with `prefix` are taken. docs/sensors.md#self.
//
// Thread safety: one thread at a time (as every Sensor); Metadata from any thread.
#pragma once

#include <map>

#include "core/metrics.h"
#include "core/mutex.h"
#include "sensors/sensor.h"

namespace vigil::sensors::self {

SensorDescriptor Descriptor();

class SelfSensor final : public Sensor {
 public:
  SelfSensor(config::LabelMap labels, int64_t interval_ms, std::string prefix,
             metrics::Registry& registry = metrics::Registry::Default())
      : labels_(std::move(labels)),
        interval_ms_(interval_ms),
        prefix_(std::move(prefix)),
        registry_(registry) {}

  int64_t interval_ms() const override { return interval_ms_; }
  Status Collect(int64_t now_ms, model::BatchBuilder& out) override;
  // The registry's # TYPE and # HELP of the families taken, as of the last Collect.
  std::vector<model::MetricMetadata> Metadata() const override;

 private:
  config::LabelMap labels_;
  int64_t interval_ms_;
  std::string prefix_;
  metrics::Registry& registry_;
  mutable Mutex metadata_mu_;
  std::vector<model::MetricMetadata> metadata_ VIGIL_GUARDED_BY(metadata_mu_);
};

}  // namespace vigil::sensors::self

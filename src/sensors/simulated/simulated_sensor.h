// The `simulated` sensor: a plant instrument (boiler_pressure_out, turbine_speed ...)
// as a bounded random walk. Each reading moves the value by a uniform step in
// [-step, +step]; a step that would leave [min, max] is reflected back inside. `freq`
// readings per second. A fixed `seed` makes the walk reproducible. One gauge series
// named after the sensor — or, with `servers` = N, N independent walks labelled
// server="server-1" … "server-N" (a fleet of the same instrument). docs/sensors.md#simulated.
//
// Thread safety: one thread at a time (as every Sensor).
#pragma once

#include <random>

#include "sensors/sensor.h"

namespace vigil::sensors::simulated {

SensorDescriptor Descriptor();

class SimulatedSensor final : public Sensor {
 public:
  struct Options {
    double min = 0;
    double max = 1;
    double step = 0.1;
    double freq_hz = 1;
    uint64_t seed = 0;    // 0: seeded from the system's entropy
    int64_t servers = 0;  // 0: one series without a server label
  };
  // InvalidArgument unless min < max, 0 < step <= max - min, freq_hz > 0 and servers >= 0.
  static Result<std::unique_ptr<SimulatedSensor>> Create(model::Labels labels, Options options);

  int64_t interval_ms() const override;
  Status Collect(int64_t now_ms, model::BatchBuilder& out) override;
  // A gauge; its unit is the series' `unit` label when it has one.
  std::vector<model::MetricMetadata> Metadata() const override;
  // The current value of the first (or only) walk.
  double value() const { return walks_[0].value; }

 private:
  struct Walk {
    model::Labels labels;
    double value;
  };
  SimulatedSensor(const model::Labels& labels, Options options);
  Options options_;
  std::mt19937_64 rng_;
  std::vector<Walk> walks_;
};

}  // namespace vigil::sensors::simulated

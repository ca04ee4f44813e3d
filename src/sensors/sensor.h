// A Sensor takes readings: each Collect appends samples for its series at `now_ms`.
// Sensor types describe themselves (fluent-bit's way): a SensorDescriptor names the type,
// says what it does in one line, lists its options (which drive config validation,
// docs/sensors.md and `vigil sensor --list`) and builds instances. The agent
// (roles/agent.h) schedules them; docs/sensors.md has every type.
//
// Thread safety: a Sensor is called from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "core/status.h"
#include "model/batch.h"
#include "model/messages.h"

namespace vigil::sensors {

class Sensor {
 public:
  virtual ~Sensor() = default;
  // How often Collect should run.
  virtual int64_t interval_ms() const = 0;
  // How long one Collect may take before the scheduler abandons it (sensors/scheduler.h).
  // Sensors that wait on the network bound their own waits by it.
  virtual int64_t timeout_ms() const { return interval_ms(); }
  // Appends this reading's samples. An error is counted and logged by the caller; the
  // sensor is called again at its next time.
  virtual Status Collect(int64_t now_ms, model::BatchBuilder& out) = 0;

  // What the sensor knows of the metrics it yields (type, help, unit) and of the targets it
  // reads (scrape and probe sensors), as of its last Collect. The agent announces them;
  // web servers answer /api/v1/metadata and /api/v1/targets from them. Unlike Collect,
  // these may be called from any thread.
  virtual std::vector<model::MetricMetadata> Metadata() const { return {}; }
  virtual std::vector<model::TargetState> Targets() const { return {}; }
};

// What a configured sensor is built from.
struct SensorSpec {
  std::string name;  // unique per agent; the metric name for single-series types
  std::string type;
  config::LabelMap labels;       // added to every series it yields
  config::OptionValues options;  // the type's options, validated, defaults filled in
};

struct SensorDescriptor {
  std::string type;
  std::string description;
  std::vector<config::OptionSpec> options;
  // InvalidArgument when options do not fit together (say min above max).
  std::function<Result<std::unique_ptr<Sensor>>(const SensorSpec&)> create;
};

}  // namespace vigil::sensors

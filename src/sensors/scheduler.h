// The Scheduler runs an agent's sensors, each on its own interval and its own worker
// thread, so a slow, hung or failing collector never delays another. A sensor is due on
// multiples of its interval plus a small offset derived from the agent's id and its name
// (readings stay evenly spaced and do not drift; no two sensors need fire in the same
// millisecond, yet an agent's read within a few, so its batch can go soon after). A
// collection that outlives the sensor's timeout is abandoned: its readings are dropped
// when it returns, and due times that pass meanwhile are skipped. Failures are counted in
// vigil_sensor_errors_total{sensor,reason} (reason: collect, timeout, skipped, exception)
// and durations in vigil_sensor_collect_duration_seconds. Readings go to a sink the agent
// provides (roles/agent.h). docs/sensors.md.
//
// Thread safety: RunOnce, WaitIdle and Stop from one thread (the agent's); the sink is
// called from the worker threads, one call at a time per sensor, never after Stop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "model/batch.h"
#include "sensors/sensor.h"

namespace vigil::sensors {

// The offset of a sensor within its interval, below span = min(interval / 10, 100 ms):
// the agent's share (a hash of its id, spreading agents over 9/10 of the span) plus the
// sensor's (a hash of agent and sensor name, spreading an agent's sensors over the last
// tenth: at most 10 ms).
int64_t ScheduleOffset(std::string_view agent, std::string_view sensor, int64_t interval_ms);
// The first time strictly after `now_ms` that is a multiple of `interval_ms` plus `offset_ms`.
int64_t NextDue(int64_t now_ms, int64_t interval_ms, int64_t offset_ms);

class Scheduler {
 public:
  struct Entry {
    std::string name;
    std::unique_ptr<Sensor> sensor;
  };
  // Receives the readings of one collection (also the partial readings of a failed one).
  using ReadingSink = std::function<void(const std::string& sensor, model::Batch&& readings)>;

  // `agent_id` and each entry's name give the sensor's offset (ScheduleOffset).
  Scheduler(std::vector<Entry> entries, std::string_view agent_id, ReadingSink sink,
            metrics::Registry& registry);
  // Stops; see Stop.
  ~Scheduler();

  // Starts the collections due at `now_ms` (each sensor's first one right away) on their
  // workers, and marks collections past their timeout. Returns when the next is due.
  int64_t RunOnce(int64_t now_ms);
  // True when no collection runs (abandoned ones aside) and none is due at or before
  // `until_ms`: no reading can arrive before then.
  bool Settled(int64_t until_ms);
  // Waits until no collection runs, except abandoned ones. For tests.
  void WaitIdle();
  // Waits up to each sensor's timeout for running collections, then leaves any still
  // hung to finish on their own (their readings are dropped). Idempotent.
  void Stop();

  size_t size() const { return runners_.size(); }
  // Each sensor in entry order, for what any thread may ask of it (Sensor::Metadata,
  // Sensor::Targets) while it collects.
  void ForEachSensor(const std::function<void(const std::string& name, const Sensor&)>& fn) const;

 private:
  struct Runner;
  std::vector<std::shared_ptr<Runner>> runners_;
  metrics::Family<metrics::Counter>& errors_;
  bool stopped_ = false;
};

}  // namespace vigil::sensors

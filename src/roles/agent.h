// The sensor agent role: runs its sensors (each series labelled agent="<id>") on their intervals
// (aligned to multiples of the interval, so readings of one sensor are evenly spaced and do not
// drift), gathers the readings into batches, and publishes each batch to its data queue
// vigil.data.<id> every flush interval or when the batch is full. It announces that queue on
// vigil.discovery at start and whenever a coordinator asks (vigil.discovery.requests).
// DESIGN.md (Roles), docs/architecture.md.
//
// Thread safety: Start and Stop from one thread; the agent runs on a thread of its own.
// RunOnce is for tests that drive time by hand, and must not be mixed with Start.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "bus/topology.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "model/batch.h"
#include "sensors/sensor.h"

namespace vigil::roles {

class Agent {
 public:
  struct Options {
    std::string id;
    int64_t flush_interval_ms = 1000;
    size_t max_batch_samples = 10'000;
    bus::TopologyOptions topology;
    metrics::Registry* registry = &metrics::Registry::Default();
  };

  // InvalidArgument if a sensor cannot be built.
  static Result<std::unique_ptr<Agent>> Create(bus::Bus& bus, Clock& clock, Options options,
                                               const std::vector<sensors::SensorSpec>& specs);
  ~Agent();

  // Declares the data queue, listens for discovery requests, announces itself and starts
  // the schedule on a thread of its own.
  Status Start();
  // Stops the schedule and publishes what was collected so far. Idempotent.
  void Stop();

  // One pass at `now_ms`: collects every sensor that is due, publishes the batch if the
  // flush is due or the batch is full. Returns when the next pass is due.
  int64_t RunOnce(int64_t now_ms);
  // Publishes the collected readings now. Unavailable/ResourceExhausted from the bus.
  Status Flush();
  Status Announce();

  const std::string& id() const { return options_.id; }
  const std::string& queue() const { return queue_; }

 private:
  struct Scheduled {
    sensors::SensorSpec spec;
    std::unique_ptr<sensors::Sensor> sensor;
    int64_t next_due_ms = 0;
    metrics::Histogram& duration;
  };

  Agent(bus::Bus& bus, Clock& clock, Options options);
  void Run();

  bus::Bus& bus_;
  Clock& clock_;
  Options options_;
  std::string queue_;
  std::vector<Scheduled> sensors_;
  model::BatchBuilder pending_;
  int64_t next_flush_ms_ = 0;
  std::unique_ptr<bus::Subscription> requests_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;

  metrics::Family<metrics::Counter>& sensor_errors_;
  metrics::Family<metrics::Counter>& batches_;
  metrics::Family<metrics::Counter>& samples_;
  metrics::Counter& batches_published_;
  metrics::Counter& batches_failed_;
  metrics::Counter& samples_published_;
  metrics::Counter& samples_dropped_;
};

// Aligned schedule: the first multiple of `interval_ms` strictly after `now_ms`.
int64_t NextAligned(int64_t now_ms, int64_t interval_ms);

}  // namespace vigil::roles

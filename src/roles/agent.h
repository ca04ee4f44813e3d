// The sensor agent role: runs its sensors (each series labelled agent="<id>") through a
// sensors::Scheduler (each on its own interval and worker, aligned to wall-clock multiples),
// gathers the readings into batches, and publishes each batch to its data queue
// vigil.data.<id> every flush interval (a little after each multiple, so the readings of
// that moment are in it) or as soon as the batch is full. It announces that queue on
// vigil.discovery at start and whenever a coordinator asks (vigil.discovery.requests).
// DESIGN.md (Roles), docs/architecture.md, docs/sensors.md.
//
// Thread safety: Start and Stop from one thread; the agent runs on a thread of its own.
// RunOnce and WaitIdle are for tests that drive time by hand, not to be mixed with Start.
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
#include "model/messages.h"
#include "sensors/scheduler.h"

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

  // One pass at `now_ms`: starts the collections that are due, publishes the batch if the
  // flush is due or the batch is full. Returns when the next pass is due.
  int64_t RunOnce(int64_t now_ms);
  // Waits for the collections RunOnce started (tests).
  void WaitIdle() { scheduler_->WaitIdle(); }
  // Publishes the collected readings now. Unavailable/ResourceExhausted from the bus.
  Status Flush();
  Status Announce();

  const std::string& id() const { return options_.id; }
  const std::string& queue() const { return queue_; }

 private:
  Agent(bus::Bus& bus, Clock& clock, Options options);
  void Run();
  // The scheduler's sink: adds one collection's readings to the pending batch.
  void AddReadings(const model::Batch& readings);
  bool BatchFull();

  bus::Bus& bus_;
  Clock& clock_;
  Options options_;
  std::string queue_;
  std::vector<model::SensorInfo> announced_;  // what Announce tells coordinators
  std::unique_ptr<sensors::Scheduler> scheduler_;
  int64_t next_flush_ms_ = 0;
  std::unique_ptr<bus::Subscription> requests_;

  std::mutex pending_mu_;
  model::BatchBuilder pending_;  // guarded by pending_mu_

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;       // guarded by mu_
  bool flush_now_ = false;  // guarded by mu_: the batch filled up
  std::thread thread_;

  metrics::Family<metrics::Counter>& batches_;
  metrics::Family<metrics::Counter>& samples_;
  metrics::Counter& batches_published_;
  metrics::Counter& batches_failed_;
  metrics::Counter& samples_published_;
  metrics::Counter& samples_dropped_;
};

}  // namespace vigil::roles

// The sensor agent role: runs its sensors (each series labelled agent="<id>") through a
// sensors::Scheduler (each on its own interval and worker, aligned to wall-clock multiples),
// gathers the readings into batches, and publishes each batch to its data queue
// vigil.data.<id> once per flush interval — as soon as every collection due before the
// flush time has delivered, at the latest a little after each multiple of the interval —
// or as soon as the batch is full. It announces that queue on vigil.discovery at start,
// whenever a coordinator asks (vigil.discovery.requests), and again when what its sensors
// say of their metrics and targets has changed (looked at every 5 s; new scrape times alone
// every minute): web servers answer
// /api/v1/metadata and /api/v1/targets from the announcements.
// When the bus refuses batches, a circuit breaker trips after a few failures and the
// batches go to an on-disk Spool (roles/spool.h); once the bus takes them again they are
// replayed at the drain rate — before new batches (ordered) or beside them (backfill).
// An agent whose broker cannot be reached at start starts anyway when it has a spool:
// it collects into the spool, and declares its queues, announces itself and replays once
// the bus is connected. Stopped cleanly, it says goodbye (PublishGoodbye) after its last
// batch, so its offline alert resolves instead of firing.
// docs/architecture.md, docs/sensors.md.
//
// Thread safety: Start and Stop from one thread; the agent runs on a thread of its own.
// TEST_RunOnce and TEST_WaitIdle are for tests that drive time by hand, not to be mixed
// with Start.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "bus/topology.h"
#include "core/circuit_breaker.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "model/batch.h"
#include "model/messages.h"
#include "roles/spool.h"
#include "sensors/scheduler.h"

namespace vigil::roles {

// Publishes a goodbye for `agent` on vigil.discovery (docs/protocol/amqp.md): coordinators
// resolve its offline alert; web servers list it as stopped, or forget it when `retired`
// (gone for good), until it announces again. Sent by an agent that stops cleanly, and with
// `retired` for one that is retired.
Status PublishGoodbye(bus::Bus& bus, const std::string& agent, int64_t now_ms, bool retired);

class Agent {
 public:
  struct Options {
    std::string id;
    int64_t flush_interval_ms = 1000;
    size_t max_batch_samples = 10'000;
    bus::TopologyOptions topology;
    metrics::Registry* registry = &metrics::Registry::Default();
    // Where batches wait while the bus refuses them; empty: no spool, such a batch is
    // dropped and counted.
    std::string spool_dir;
    std::string legacy_spool_dir;  // Spool::Options::legacy_dir
    uint64_t spool_max_bytes = 256ull << 20;
    double drain_rate = 100;     // spooled batches replayed per second, at most
    bool ordered_replay = true;  // false: backfill (new batches do not wait for the spool)
    CircuitBreaker::Options breaker;
    Env* env = &Env::Default();
  };

  // InvalidArgument if a sensor cannot be built; the error of a spool that cannot be opened.
  static Result<std::unique_ptr<Agent>> Create(bus::Bus& bus, Clock& clock, Options options,
                                               const std::vector<sensors::SensorSpec>& specs);
  ~Agent();

  // Declares the data queue, listens for discovery requests, announces itself and starts
  // the schedule on a thread of its own.
  Status Start();
  // Stops the schedule and publishes what was collected so far. Idempotent.
  void Stop();

  // Tests: one pass of the agent's thread at `now_ms` (RunOnce), and a wait for the
  // collections it started.
  int64_t TEST_RunOnce(int64_t now_ms) { return RunOnce(now_ms); }
  void TEST_WaitIdle() { scheduler_->WaitIdle(); }
  // Publishes the collected readings now, or spools them when the bus refuses them (or
  // must not be tried: the breaker is open, or older batches wait in ordered mode). An
  // error only when the batch is lost (no spool, or the spool failed).
  Status Flush();
  // Replays spooled batches, as many as the drain rate allows by `now_ms`.
  void Drain(int64_t now_ms);
  size_t spooled_batches() const { return spool_ ? spool_->batches() : 0; }
  CircuitBreaker::State breaker_state() const { return breaker_.state(); }
  Status Announce();

  const std::string& id() const { return options_.id; }
  const std::string& queue() const { return queue_; }

 private:
  // One pass at `now_ms`: starts the collections that are due, publishes the batch if the
  // flush is due, if no reading can arrive before it is due, or if the batch is full.
  // Returns when the next pass is due.
  int64_t RunOnce(int64_t now_ms);
  Agent(bus::Bus& bus, Clock& clock, Options options);
  void Run();
  // Declares the topology and the data queue, consumes discovery requests, announces.
  // Again until it succeeded once (set_up_).
  Status SetUp();
  // The scheduler's sink: adds one collection's readings to the pending batch.
  void AddReadings(const model::Batch& readings);
  size_t PendingSamples();
  // Puts a batch that was not published into the spool (or counts it lost).
  Status SpoolOrDrop(const bus::Message& message, size_t samples, const Status& why);
  void UpdateSpoolGauges();

  bus::Bus& bus_;
  Clock& clock_;
  Options options_;
  std::string queue_;
  std::vector<model::SensorInfo> announced_;  // the sensors as configured
  // announced_ with what each sensor now says of its metrics and targets.
  std::vector<model::SensorInfo> DescribeSensors() const;
  // How often the agent thread looks whether that changed, to announce again, and how long
  // after any announcement it waits before the next (set-up's included). A change of
  // the last scrape times alone (every scrape makes one) is sent at most every
  // kScrapeTimesRefreshMs: an announcement carries the metadata too, tens of kB.
  static constexpr int64_t kReportIntervalMs = 5'000;
  static constexpr int64_t kScrapeTimesRefreshMs = 60'000;
  int64_t next_report_ms_ = 0;  // the agent thread's
  Mutex announce_mu_;           // Announce runs on the agent and on the bus's threads
  std::vector<model::SensorInfo> last_announced_ VIGIL_GUARDED_BY(announce_mu_);
  int64_t last_announced_ms_ VIGIL_GUARDED_BY(announce_mu_) = 0;
  std::unique_ptr<sensors::Scheduler> scheduler_;
  int64_t next_flush_ms_ = 0;
  std::unique_ptr<bus::Subscription> requests_;
  std::atomic<bool> set_up_{false};  // SetUp succeeded; until then batches go to the spool
  int64_t next_set_up_ms_ = 0;       // the agent thread's

  Mutex pending_mu_;
  model::BatchBuilder pending_ VIGIL_GUARDED_BY(pending_mu_);

  Mutex mu_;
  CondVar wake_;
  bool stop_ VIGIL_GUARDED_BY(mu_) = false;
  bool readings_in_ VIGIL_GUARDED_BY(mu_) = false;  // a collection delivered since the last pass
  std::thread thread_;

  // Spool and breaker: the agent thread's (and Stop's, once that thread has ended).
  std::unique_ptr<Spool> spool_;
  CircuitBreaker breaker_;
  double drain_tokens_ = 0;
  int64_t last_drain_ms_ = 0;
  uint64_t spool_dropped_seen_ = 0;
  std::string last_publish_error_;

  metrics::Family<metrics::Counter>& batches_;
  metrics::Family<metrics::Counter>& samples_;
  metrics::Counter& batches_published_;
  metrics::Counter& batches_spooled_;
  metrics::Counter& batches_replayed_;
  metrics::Counter& batches_failed_;
  metrics::Counter& samples_published_;
  metrics::Counter& samples_spooled_;
  metrics::Counter& samples_dropped_;
  metrics::Gauge& spool_batches_;
  metrics::Gauge& spool_bytes_;
  metrics::Gauge& spool_age_;
  metrics::Counter& spool_dropped_;
  metrics::Gauge& breaker_gauge_;
  metrics::Counter& breaker_trips_;
  uint64_t trips_seen_ = 0;
};

}  // namespace vigil::roles

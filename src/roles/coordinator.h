// The coordinator role: learns agents' data queues from their announcements (and asks
// for them at start, so a coordinator that starts late finds every live agent), consumes
// each data queue as a competing consumer, runs the pipeline on every batch and
// publishes the result to vigil.events as samples.<agent>. Batches written to a web
// server come the same way, from the push queue (vigil.push), as samples.push. A batch is acked
// only after the publish was confirmed; one that cannot be decoded is dead-lettered and counted.
// The pipeline runs on the handler's thread, in the shard of the batch's agent
// (pipeline/sharded.h). docs/architecture.md. Alert rules are the ruler's (ruler.h).
//
// Every heartbeat_interval a thread of the coordinator publishes, as samples, when it last
// heard of each agent (an announcement or a batch) and the agent's shortest sensor interval:
//   vigil_agent_last_seen_timestamp_seconds{agent, coordinator}
//   vigil_agent_interval_seconds{agent, coordinator}
// The ruler's VigilAgentOffline is a rule over them (ruler.h): with several coordinators
// each sees a share of the batches, and the newest across them counts. A goodbye ends the
// agent's series (stale markers), so its alert resolves.
//
// Thread safety: Start and Stop from one thread; handlers run on the bus's threads.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "bus/topology.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "pipeline/sharded.h"

namespace vigil::roles {

class Coordinator {
 public:
  struct Options {
    std::string id;
    size_t prefetch = 64;
    bus::TopologyOptions topology;
    std::chrono::milliseconds heartbeat_interval{1000};
    metrics::Registry* registry = &metrics::Registry::Default();
  };

  Coordinator(bus::Bus& bus, Clock& clock, Options options,
              std::unique_ptr<pipeline::ShardedPipeline> pipeline);
  ~Coordinator();

  // Listens for announcements and sends a discovery request.
  Status Start();
  // Stops consuming; unacked batches go back to their queues; ends the heartbeat series
  // (a coordinator stopped cleanly says nothing of its agents any more). Idempotent.
  void Stop();

  // The agents learnt so far, by id.
  std::vector<std::string> KnownAgents();

  // Publishes the agents' heartbeat series at the clock's time; the coordinator's thread
  // does it every heartbeat_interval.
  void PublishHeartbeats();

 private:
  void OnAnnouncement(const bus::Delivery& delivery);
  // A batch of `source` (an agent, or "push") from its `queue`.
  void OnBatch(const std::string& source, const std::string& queue, const bus::Delivery& delivery);
  // Stale markers for the agent's heartbeat series, after its goodbye.
  void EndHeartbeats(const std::string& agent);
  // Publishes `batch` (if not empty) as samples.<coordinator id>; logs a failure.
  void PublishSamples(model::Batch batch, const std::string& what);

  bus::Bus& bus_;
  Clock& clock_;
  Options options_;
  std::unique_ptr<pipeline::ShardedPipeline> pipeline_;
  std::unique_ptr<bus::Subscription> announcements_;
  std::unique_ptr<bus::Subscription> push_;

  Mutex mu_;
  std::map<std::string, std::unique_ptr<bus::Subscription>> data_
      VIGIL_GUARDED_BY(mu_);  // by agent
  struct Seen {
    int64_t last_ms = 0;      // the agent's last announcement or batch
    int64_t interval_ms = 0;  // its shortest sensor interval, at least a second
  };
  std::map<std::string, Seen> seen_ VIGIL_GUARDED_BY(mu_);  // by agent, until its goodbye
  // Held while heartbeats or their end are built and published, so that they reach the
  // bus in the order of their timestamps, which never repeat.
  Mutex heartbeats_mu_;  // taken before mu_
  int64_t last_heartbeat_ms_ VIGIL_GUARDED_BY(heartbeats_mu_) = 0;
  // Agents that said goodbye: their queued batches are processed, not taken for a sign
  // of life, until they announce themselves again.
  std::set<std::string> departed_ VIGIL_GUARDED_BY(mu_);
  bool stopped_ VIGIL_GUARDED_BY(mu_) = false;
  CondVar stop_cv_;
  std::thread heartbeat_;

  metrics::Family<metrics::Counter>& batches_;
  metrics::Counter& samples_;
};

}  // namespace vigil::roles

// The coordinator role: learns agents' data queues from their announcements (and asks
// for them at start, so a coordinator that starts late finds every live agent), consumes
// each data queue as a competing consumer, runs the pipeline on every batch and
// publishes the result to vigil.events as samples.<agent>. A batch is acked only after
// the publish was confirmed; one that cannot be decoded is dead-lettered and counted.
// DESIGN.md (Roles), docs/architecture.md.
//
// Thread safety: Start and Stop from one thread; handlers run on the bus's threads.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bus/bus.h"
#include "bus/topology.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "pipeline/pipeline.h"

namespace vigil::roles {

class Coordinator {
 public:
  struct Options {
    std::string id;
    size_t prefetch = 64;
    bus::TopologyOptions topology;
    metrics::Registry* registry = &metrics::Registry::Default();
  };

  Coordinator(bus::Bus& bus, Clock& clock, Options options,
              std::unique_ptr<pipeline::Pipeline> pipeline);
  ~Coordinator();

  // Listens for announcements and sends a discovery request.
  Status Start();
  // Stops consuming; unacked batches go back to their queues. Idempotent.
  void Stop();

  // The agents learnt so far, by id.
  std::vector<std::string> KnownAgents();

 private:
  void OnAnnouncement(const bus::Delivery& delivery);
  void OnBatch(const std::string& agent, const bus::Delivery& delivery);

  bus::Bus& bus_;
  Clock& clock_;
  Options options_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<bus::Subscription> announcements_;

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<bus::Subscription>> data_;  // by agent; guarded by mu_
  bool stopped_ = false;                                            // guarded by mu_

  metrics::Family<metrics::Counter>& batches_;
  metrics::Counter& samples_;
};

}  // namespace vigil::roles

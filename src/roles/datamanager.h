// The datamanager role: consumes vigil.store (competing with other datamanagers) and
// hands each batch to its writers (the JSON-lines sink; the stores as they land). A
// message is acked only after every writer appended and flushed it; one that cannot be
// decoded is dead-lettered and counted; a writer failure requeues it and backs off.
// DESIGN.md (Roles), docs/architecture.md.
//
// Thread safety: Start and Stop from one thread; the handler runs on the bus's thread.
#pragma once

#include <memory>
#include <vector>

#include "bus/bus.h"
#include "bus/topology.h"
#include "core/metrics.h"
#include "store/batch_writer.h"

namespace vigil::roles {

class DataManager {
 public:
  struct Options {
    size_t prefetch = 64;
    std::chrono::milliseconds retry_backoff{200};
    bus::TopologyOptions topology;
    metrics::Registry* registry = &metrics::Registry::Default();
  };

  // The writers must outlive the DataManager.
  DataManager(bus::Bus& bus, Options options, std::vector<store::BatchWriter*> writers);
  ~DataManager();

  Status Start();
  // Stops consuming; unacked messages go back to the queue. Idempotent.
  void Stop();

 private:
  void OnMessage(const bus::Delivery& delivery);

  bus::Bus& bus_;
  Options options_;
  std::vector<store::BatchWriter*> writers_;
  std::unique_ptr<bus::Subscription> subscription_;
  metrics::Family<metrics::Counter>& messages_;
  metrics::Counter& samples_;
};

}  // namespace vigil::roles

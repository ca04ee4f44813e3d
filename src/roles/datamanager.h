// The datamanager role: consumes vigil.store (competing with other datamanagers) and
// hands each batch to its writers (the store, the JSON-lines sink). A message is acked
// only after every writer appended and flushed it; one that cannot be decoded is
// dead-lettered and counted. Series whose label sets break the label limits are taken out
// of the batch and counted. A transient writer failure (the disk, PostgreSQL down:
// Unavailable, DeadlineExceeded, ResourceExhausted) requeues the batch and backs off,
// doubling from retry_backoff up to max_retry_backoff while failures last, so batches
// wait in the queue and consumption resumes by itself; any other failure would fail again
// on every redelivery, so the batch is dead-lettered with the reason and the queue goes on.
// A batch someone waits for (an HTTP write, bus/replies.h) is appended all or nothing
// (BatchWriter::AppendAll), and the writer is told once it is stored, or why not.
// docs/architecture.md (Data flow).
//
// Thread safety: Start and Stop from one thread; the handler runs on the bus's thread.
#pragma once

#include <memory>
#include <vector>

#include "bus/bus.h"
#include "bus/topology.h"
#include "core/metrics.h"
#include "model/labels.h"
#include "store/batch_writer.h"

namespace vigil::roles {

class DataManager {
 public:
  struct Options {
    size_t prefetch = 64;
    std::chrono::milliseconds retry_backoff{200};
    std::chrono::milliseconds max_retry_backoff{5'000};
    bus::TopologyOptions topology;
    model::LabelLimits label_limits;
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
  metrics::Family<metrics::Counter>& refused_;
  int failures_ = 0;  // in a row; touched by the bus's thread only
};

}  // namespace vigil::roles

// InProcessBus implements the Bus in memory for `vigil standalone` and for tests, with
// RabbitMQ's semantics: fanout, topic and direct exchanges, bounded queues with
// backpressure (block or reject), competing consumers with prefetch, redelivery of
// unacked messages when a consumer goes, dead-lettering of nacked ones. Nothing
// survives the process: durability is the stores' job in standalone mode.
//
// Thread safety: every method may be called from any thread. Each subscription runs
// its handler on a thread of its own.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bus/bus.h"
#include "core/metrics.h"
#include "core/mutex.h"

namespace vigil::bus {

namespace internal {
struct Queue;
}

class InProcessBus final : public Bus {
 public:
  struct Options {
    // How long Publish waits for room in a full kBlock queue.
    std::chrono::milliseconds publish_timeout{30'000};
    metrics::Registry* registry = &metrics::Registry::Default();
  };

  InProcessBus() : InProcessBus(Options()) {}
  explicit InProcessBus(Options options);
  ~InProcessBus() override;

  Status DeclareExchange(const std::string& name, ExchangeType type) override;
  Status DeclareQueue(const std::string& name, const QueueOptions& options) override;
  Status BindQueue(const std::string& queue, const std::string& exchange,
                   const std::string& binding_key) override;
  Status Publish(const std::string& exchange, const std::string& routing_key,
                 Message message) override;
  Result<std::unique_ptr<Subscription>> Consume(const std::string& queue,
                                                const ConsumeOptions& options,
                                                Handler handler) override;

  // Waits until `queue` has no ready and no unacked message. DeadlineExceeded after
  // `timeout`; NotFound for an unknown queue. For graceful shutdown and tests.
  Status WaitUntilDrained(const std::string& queue, std::chrono::milliseconds timeout);
  // Ready plus unacked messages of a queue (0 if unknown).
  size_t Depth(const std::string& queue);

  // True when an AMQP topic binding key matches a routing key.
  static bool TopicMatches(std::string_view binding_key, std::string_view routing_key);

 private:
  struct Binding {
    std::string queue;
    std::string key;
  };
  struct Exchange {
    ExchangeType type;
    std::vector<Binding> bindings;
  };

  std::shared_ptr<internal::Queue> FindQueue(const std::string& name);
  // Puts a message on one queue, honouring its overflow policy.
  Status Enqueue(internal::Queue& queue, std::shared_ptr<const Message> message);
  void DeleteQueue(const std::string& name);
  void DeadLetter(internal::Queue& queue, std::shared_ptr<const Message> message);

  friend struct internal::Queue;
  friend class InProcessSubscription;

  Options options_;
  Mutex mu_;  // guards exchanges_ and queues_ (not the queues' contents)
  std::unordered_map<std::string, Exchange> exchanges_ VIGIL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::shared_ptr<internal::Queue>> queues_ VIGIL_GUARDED_BY(mu_);
  metrics::Family<metrics::Counter>& messages_;
  metrics::Family<metrics::Gauge>& depth_;
  metrics::Counter& unroutable_;
};

}  // namespace vigil::bus

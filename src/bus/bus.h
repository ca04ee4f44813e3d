// The Bus is how roles talk: exchanges (fanout, topic, direct) route published messages
// to queues; consumers of a queue compete (each message goes to one of them), ack a
// message once its work is durable, or nack it to have it redelivered or dead-lettered.
// The semantics are RabbitMQ's (AMQP 0-9-1), so InProcessBus (standalone) and AmqpBus
// (distributed) are interchangeable behind this interface. Topology names are in
// bus/topology.h; docs/protocol/amqp.md has the whole picture.
//
// Thread safety: a Bus may be used from any thread. Handlers run on the bus's threads;
// Delivery::Ack/Nack may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vigil::bus {

enum class ExchangeType { kFanout, kTopic, kDirect };

// A message's content as the object itself (bus/topic.h): the in-process bus hands it to
// consumers as it is, with no encoding; a bus that crosses processes, or a spool, encodes
// it first.
class Payload {
 public:
  virtual ~Payload() = default;
  // The object in `content_type`'s encoding.
  virtual std::string Encode(std::string_view content_type) const = 0;
};

struct Message {
  std::string body;  // the encoded content; empty while only `payload` holds it
  std::string content_type;
  std::string routing_key;                     // set by Publish
  std::map<std::string, std::string> headers;  // e.g. x-death-reason on dead letters
  std::shared_ptr<const Payload> payload;      // in process: the content, not yet encoded

  // Fills `body` from `payload` when only the payload holds the content.
  void Encode() {
    if (body.empty() && payload) body = payload->Encode(content_type);
  }
};

// What a full queue does to a publisher.
enum class Overflow {
  kBlock,   // the publisher waits for room (backpressure), up to the bus's publish timeout
  kReject,  // Publish returns ResourceExhausted at once
  // The oldest ready message is dropped (and counted) to make room; Publish succeeds.
  // For best-effort consumers such as a web server's live stream (AMQP: drop-head).
  kDropOldest,
};

struct QueueOptions {
  bool durable = true;       // survives a broker restart (AMQP)
  bool exclusive = false;    // belongs to one consumer, deleted when it stops
  size_t max_length = 1024;  // ready messages; never unbounded
  Overflow overflow = Overflow::kBlock;
  // Where nacked (requeue=false) messages go; empty: they are dropped and counted.
  std::string dead_letter_exchange;
  std::string queue_type = "classic";  // or "quorum" (AMQP only)
  // Only one consumer gets messages at a time; when it goes, the next in line takes over
  // with what it held (RabbitMQ's x-single-active-consumer).
  bool single_active_consumer = false;
};

struct ConsumeOptions {
  // Unacknowledged messages a consumer may hold at once (AMQP basic.qos).
  size_t prefetch = 16;
};

namespace internal {
// What a Delivery needs from its queue to settle; implemented by each Bus.
class Settler {
 public:
  virtual ~Settler() = default;
  virtual void Settle(uint64_t tag, bool ack, bool requeue) = 0;
};
}  // namespace internal

// One message handed to a consumer. Settle it exactly once with Ack or Nack; one left
// unsettled is redelivered when its consumer is cancelled. Copyable; copies share state.
class Delivery {
 public:
  Delivery(std::shared_ptr<const Message> message, bool redelivered, uint64_t tag,
           std::shared_ptr<internal::Settler> settler)
      : message_(std::move(message)),
        redelivered_(redelivered),
        tag_(tag),
        settler_(std::move(settler)) {}

  const Message& message() const { return *message_; }
  // True when an earlier consumer got this message and did not ack it.
  bool redelivered() const { return redelivered_; }

  void Ack() const { settler_->Settle(tag_, true, false); }
  // requeue=true: back to the queue for another try; false: dead-lettered.
  void Nack(bool requeue) const { settler_->Settle(tag_, false, requeue); }

 private:
  std::shared_ptr<const Message> message_;
  bool redelivered_;
  uint64_t tag_;
  std::shared_ptr<internal::Settler> settler_;
};

using Handler = std::function<void(const Delivery&)>;

// A running consumer. Destroying it cancels it.
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Stops deliveries, waits for a running handler to return, and requeues this
  // consumer's unsettled messages. Must not be called from its own handler.
  virtual void Cancel() = 0;
};

class Bus {
 public:
  virtual ~Bus() = default;

  // Declarations are idempotent: declaring what exists with the same kind is fine.
  virtual Status DeclareExchange(const std::string& name, ExchangeType type) = 0;
  virtual Status DeclareQueue(const std::string& name, const QueueOptions& options) = 0;
  // Topic binding keys use AMQP patterns: words split by '.', '*' one word, '#' any.
  virtual Status BindQueue(const std::string& queue, const std::string& exchange,
                           const std::string& binding_key) = 0;

  // Routes the message; returns once every queue it routes to holds it (as a publisher
  // confirm). The exchange "" routes to the queue named `routing_key`. NotFound for an
  // unknown exchange; ResourceExhausted or DeadlineExceeded when a queue is full;
  // Unavailable when the bus is down (retry). A message no queue is bound for is dropped
  // and counted, as AMQP does.
  virtual Status Publish(const std::string& exchange, const std::string& routing_key,
                         Message message) = 0;

  // Starts a consumer on `queue`; the handler is called for each message, one at a time.
  virtual Result<std::unique_ptr<Subscription>> Consume(const std::string& queue,
                                                        const ConsumeOptions& options,
                                                        Handler handler) = 0;

  // False while the bus cannot carry messages (a broker connection being re-established);
  // what /readyz reports. An in-process bus is always connected.
  virtual bool connected() const { return true; }
};

}  // namespace vigil::bus

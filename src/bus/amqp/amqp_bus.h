// AmqpBus is the Bus over a real RabbitMQ broker (AMQP 0-9-1, rabbitmq-c), for the
// distributed roles: the same semantics as InProcessBus (bus/bus.h), so roles cannot tell
// them apart. One connection per bus, owned by one I/O thread — rabbitmq-c is not
// thread-safe and services heartbeats only inside its own calls, so that thread keeps
// calling into it even when idle. Every other thread hands it requests (declare, publish,
// ack …) through a queue and waits for the answer. Publishes use publisher confirms on a
// channel of their own; each consumer gets its own channel with its prefetch, so
// cancelling it (closing the channel) hands its unacked messages back to the broker.
// When the connection drops, the I/O thread reconnects with backoff and jitter, declares
// again what was declared and restarts the consumers; publishes waiting for a confirm fail
// Unavailable. Credentials come from the URL and are never logged. docs/protocol/amqp.md.
//
// This is the only code that includes rabbitmq-c.
//
// Thread safety: every method may be called from any thread. Handlers run on one thread
// per consumer, one message at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "bus/bus.h"
#include "core/metrics.h"

namespace vigil::bus {

class AmqpBus final : public Bus {
 public:
  struct Options {
    // amqp://user:password@host:5672/vhost, or amqps://; the nodes of a cluster separated by
    // commas, tried in turn (a lost connection goes on with the next node).
    std::string url;
    // amqps:// only: the PEM certificates that verify the broker's (empty: the system's,
    // /etc/ssl/certs/ca-certificates.crt), and a client certificate and key for brokers
    // that ask for one. The broker's certificate and host name are always verified.
    std::string tls_ca_file, tls_cert_file, tls_key_file;
    std::chrono::seconds heartbeat{10};
    // How long Publish waits for a confirm, and for room when a kBlock queue is full.
    std::chrono::milliseconds publish_timeout{30'000};
    // A publish the broker has not confirmed (nor refused) in this long fails Unavailable
    // and the connection is made again; the broker may still hold it (at least once).
    // Refusals that last this long make the connection again too, on the next node.
    std::chrono::milliseconds confirm_timeout{10'000};
    std::chrono::milliseconds connect_timeout{5'000};
    // How long a call waits for the connection to come (back) before Unavailable.
    std::chrono::milliseconds unavailable_after{10'000};
    metrics::Registry* registry = &metrics::Registry::Default();
    // When the first attempt fails, Connect returns the bus anyway and the I/O thread goes
    // on trying as after a lost connection; calls fail Unavailable until it is up. For
    // agents, which spool meanwhile.
    bool connect_in_background = false;
  };

  // Connects (InvalidArgument for a URL that is not amqp:// or amqps://; Unavailable when the
  // broker cannot be reached or refuses the login, unless connect_in_background).
  static Result<std::unique_ptr<AmqpBus>> Connect(Options options);
  ~AmqpBus() override;

  Status DeclareExchange(const std::string& name, ExchangeType type) override;
  Status DeclareQueue(const std::string& name, const QueueOptions& options) override;
  Status BindQueue(const std::string& queue, const std::string& exchange,
                   const std::string& binding_key) override;
  Status Publish(const std::string& exchange, const std::string& routing_key,
                 Message message) override;
  Result<std::unique_ptr<Subscription>> Consume(const std::string& queue,
                                                const ConsumeOptions& options,
                                                Handler handler) override;

  // True while connected (false while reconnecting).
  bool connected() const override;

  struct Core;  // the I/O thread and everything it owns; amqp_bus.cc

 private:
  explicit AmqpBus(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  std::shared_ptr<Core> core_;
};

}  // namespace vigil::bus

// The names and shapes of vigil's broker topology (docs/protocol/amqp.md, docs/architecture.md),
// and the one function that declares it on any Bus. Whoever needs a piece declares it;
// declarations are idempotent, so every role may call DeclareTopology at start.
//
// Thread safety: constants and a function over a thread-safe Bus.
#pragma once

#include <string>
#include <string_view>

#include "bus/bus.h"

namespace vigil::bus {

inline constexpr std::string_view kDiscoveryExchange = "vigil.discovery";
inline constexpr std::string_view kDiscoveryRequestsExchange = "vigil.discovery.requests";
inline constexpr std::string_view kEventsExchange = "vigil.events";
inline constexpr std::string_view kStoreQueue = "vigil.store";
// Batches written to a web server (remote write, line protocol): the coordinators consume
// them as they consume an agent's data queue, and publish them as samples.push.
inline constexpr std::string_view kPushQueue = "vigil.push";
inline constexpr std::string_view kPushSource = "push";
inline constexpr std::string_view kDeadExchange = "vigil.dead";
inline constexpr std::string_view kDeadQueue = "vigil.dead";

// Routing keys on vigil.events.
inline constexpr std::string_view kSamplesTopicPrefix = "samples.";  // samples.<agent>
inline constexpr std::string_view kAlertsTopicPrefix = "alerts.";    // alerts.<severity>
// A rule group's state after each evaluation (JSON; web/rule_board.h), for the web servers.
inline constexpr std::string_view kRuleStateTopic = "rules.state";

// The rulers' lease: a single-active-consumer queue holding one token; the ruler holding
// it unacknowledged is the one that evaluates (docs/alerts.md, "Where rules run").
inline constexpr std::string_view kRulerLeaseQueue = "vigil.ruler.lease";

// The durable queue an agent publishes its batches to.
std::string DataQueueName(std::string_view agent);
// A per-process exclusive queue, e.g. "vigil.web.<id>" or "vigil.discovery.<id>".
std::string PrivateQueueName(std::string_view purpose, std::string_view id);

struct TopologyOptions {
  size_t store_queue_length = 1024;
  size_t data_queue_length = 1024;
  // What a full data or store queue does to its publisher (kBlock or kReject; on RabbitMQ
  // both declare x-overflow reject-publish, kReject also gives up at once).
  Overflow overflow = Overflow::kBlock;
  std::string queue_type = "classic";
};

// Declares the exchanges, the store queue bound to samples.# and alerts.#, the push queue,
// and the dead-letter exchange and queue.
Status DeclareTopology(Bus& bus, const TopologyOptions& options);
// How a data queue (an agent's, the push queue) is declared: bounded, dead-lettering to
// vigil.dead.
QueueOptions DataQueueOptions(const TopologyOptions& options);
// Declares one agent's data queue.
Status DeclareDataQueue(Bus& bus, std::string_view agent, const TopologyOptions& options);

// Settles a message that cannot be processed (undecodable, wrong version, oversized): a
// copy goes to vigil.dead with why in x-death-reason and where it came from in
// x-death-queue, then the original is acked. Should that publish fail, the original is
// nacked without requeue, so the queue's dead-letter exchange still takes it (reason
// "rejected"). Either way the consumer goes on with the next message, and whoever waits
// for the message (bus/replies.h) is told `reason`.
void DeadLetter(Bus& bus, const Delivery& delivery, std::string_view queue,
                std::string_view reason);

}  // namespace vigil::bus

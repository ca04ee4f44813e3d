#include "bus/topology.h"

#include "bus/replies.h"

namespace vigil::bus {

std::string DataQueueName(std::string_view agent) { return "vigil.data." + std::string(agent); }

std::string PrivateQueueName(std::string_view purpose, std::string_view id) {
  return "vigil." + std::string(purpose) + "." + std::string(id);
}

Status DeclareTopology(Bus& bus, const TopologyOptions& options) {
  VIGIL_RETURN_IF_ERROR(
      bus.DeclareExchange(std::string(kDiscoveryExchange), ExchangeType::kFanout));
  VIGIL_RETURN_IF_ERROR(
      bus.DeclareExchange(std::string(kDiscoveryRequestsExchange), ExchangeType::kFanout));
  VIGIL_RETURN_IF_ERROR(bus.DeclareExchange(std::string(kEventsExchange), ExchangeType::kTopic));
  VIGIL_RETURN_IF_ERROR(bus.DeclareExchange(std::string(kDeadExchange), ExchangeType::kFanout));

  QueueOptions dead;
  dead.max_length = 100'000;
  dead.overflow = Overflow::kReject;     // a flood of bad messages must not stall the good ones
  dead.queue_type = options.queue_type;  // in a cluster, it must outlive a node too
  VIGIL_RETURN_IF_ERROR(bus.DeclareQueue(std::string(kDeadQueue), dead));
  VIGIL_RETURN_IF_ERROR(bus.BindQueue(std::string(kDeadQueue), std::string(kDeadExchange), ""));

  QueueOptions store;
  store.max_length = options.store_queue_length;
  store.overflow = options.overflow;
  store.dead_letter_exchange = std::string(kDeadExchange);
  store.queue_type = options.queue_type;
  VIGIL_RETURN_IF_ERROR(bus.DeclareQueue(std::string(kStoreQueue), store));
  VIGIL_RETURN_IF_ERROR(
      bus.BindQueue(std::string(kStoreQueue), std::string(kEventsExchange), "samples.#"));
  VIGIL_RETURN_IF_ERROR(
      bus.BindQueue(std::string(kStoreQueue), std::string(kEventsExchange), "alerts.#"));
  return bus.DeclareQueue(std::string(kPushQueue), DataQueueOptions(options));
}

QueueOptions DataQueueOptions(const TopologyOptions& options) {
  QueueOptions data;
  data.max_length = options.data_queue_length;
  data.overflow = options.overflow;
  data.dead_letter_exchange = std::string(kDeadExchange);
  data.queue_type = options.queue_type;
  return data;
}

Status DeclareDataQueue(Bus& bus, std::string_view agent, const TopologyOptions& options) {
  return bus.DeclareQueue(DataQueueName(agent), DataQueueOptions(options));
}

void DeadLetter(Bus& bus, const Delivery& delivery, std::string_view queue,
                std::string_view reason) {
  Message dead = delivery.message();
  dead.headers["x-death-reason"] = std::string(reason);
  dead.headers["x-death-queue"] = std::string(queue);
  if (bus.Publish(std::string(kDeadExchange), "", std::move(dead)).ok()) {
    delivery.Ack();
  } else {
    delivery.Nack(/*requeue=*/false);
  }
  // Told once the message is where it stays.
  Reply(bus, delivery.message(), InvalidArgumentError(std::string(reason)));
}

}  // namespace vigil::bus

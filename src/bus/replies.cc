#include "bus/replies.h"

#include <spdlog/spdlog.h>

#include "bus/topology.h"

namespace vigil::bus {
namespace {

// A reply's header with the outcome's code, as a number; its body is the message.
constexpr std::string_view kStatusHeader = "x-vigil-status";

}  // namespace

bool WantsReply(const Message& message) {
  return message.headers.count(std::string(kReplyToHeader)) > 0 &&
         message.headers.count(std::string(kCorrelationIdHeader)) > 0;
}

void CopyReplyHeaders(const Message& from, Message& to) {
  if (!WantsReply(from)) return;
  for (std::string_view name : {kReplyToHeader, kCorrelationIdHeader}) {
    to.headers[std::string(name)] = from.headers.at(std::string(name));
  }
}

void Reply(Bus& bus, const Message& request, const Status& outcome) {
  if (!WantsReply(request)) return;
  Message reply;
  reply.body = outcome.message();
  reply.content_type = "text/plain";
  reply.headers[std::string(kCorrelationIdHeader)] =
      request.headers.at(std::string(kCorrelationIdHeader));
  reply.headers[std::string(kStatusHeader)] = std::to_string(static_cast<int>(outcome.code()));
  const std::string& queue = request.headers.at(std::string(kReplyToHeader));
  if (Status status = bus.Publish("", queue, std::move(reply)); !status.ok()) {
    spdlog::warn("bus: the reply to {} was not sent (the writer times out): {}", queue,
                 status.ToString());
  }
}

Result<std::unique_ptr<ReplyWaiter>> ReplyWaiter::Start(Bus& bus, const std::string& id) {
  std::unique_ptr<ReplyWaiter> waiter(new ReplyWaiter(bus, PrivateQueueName("replies", id)));
  QueueOptions options;
  options.durable = false;
  options.exclusive = true;
  options.max_length = 65'536;  // replies are small, and only to requests that wait
  options.overflow = Overflow::kDropOldest;
  VIGIL_RETURN_IF_ERROR(bus.DeclareQueue(waiter->queue_, options));
  VIGIL_ASSIGN_OR_RETURN(waiter->subscription_,
                         bus.Consume(waiter->queue_, {.prefetch = 256},
                                     [w = waiter.get()](const Delivery& d) { w->OnReply(d); }));
  return waiter;
}

ReplyWaiter::~ReplyWaiter() {
  if (subscription_) subscription_->Cancel();
}

Status ReplyWaiter::PublishAndWait(const std::string& exchange, const std::string& routing_key,
                                   Message message, std::chrono::milliseconds timeout) {
  std::string id;
  {
    MutexLock lock(mu_);
    id = std::to_string(++next_id_);
    pending_[id];
  }
  message.headers[std::string(kReplyToHeader)] = queue_;
  message.headers[std::string(kCorrelationIdHeader)] = id;
  Status published = bus_.Publish(exchange, routing_key, std::move(message));
  MutexLock lock(mu_);
  if (!published.ok()) {
    pending_.erase(id);
    return published;
  }
  const bool done =
      replied_.wait_for(lock, timeout, [&]() VIGIL_REQUIRES(mu_) { return pending_.at(id).done; });
  Status outcome =
      done ? pending_.at(id).status
           : DeadlineExceededError("not stored within " + std::to_string(timeout.count()) + " ms");
  pending_.erase(id);
  return outcome;
}

void ReplyWaiter::OnReply(const Delivery& delivery) {
  const Message& reply = delivery.message();
  auto id = reply.headers.find(std::string(kCorrelationIdHeader));
  auto code = reply.headers.find(std::string(kStatusHeader));
  if (id != reply.headers.end() && code != reply.headers.end()) {
    int number = 0;
    for (char c : code->second) number = c >= '0' && c <= '9' ? number * 10 + (c - '0') : -1;
    const auto status_code = number >= 0 && number <= static_cast<int>(StatusCode::kInternal)
                                 ? static_cast<StatusCode>(number)
                                 : StatusCode::kInternal;
    MutexLock lock(mu_);
    // A reply for a request given up on (timed out) finds nobody waiting.
    if (auto it = pending_.find(id->second); it != pending_.end() && !it->second.done) {
      it->second.done = true;
      it->second.status = Status(status_code, reply.body);
      replied_.notify_all();
    }
  }
  delivery.Ack();
}

}  // namespace vigil::bus

// Answers to whoever waits for a message to be stored: an HTTP write is answered once the
// datamanager stored its batch (or refused it), in one process as across machines. The
// web server publishes the batch with two headers, the name of its own reply queue and a
// correlation id; the coordinator copies them onto the batch it makes of it; the
// datamanager, once the batch is durable or refused, publishes the outcome to the reply
// queue (RabbitMQ's request/reply pattern). A reply that never comes (no datamanager, a
// crash between storing and answering) is a timeout: the writer answers 503 and the
// client's retry is safe, as stores drop duplicates.
//
// Thread safety: ReplyWaiter may be used from any thread; its handler runs on the bus's.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "bus/bus.h"
#include "core/mutex.h"

namespace vigil::bus {

inline constexpr std::string_view kReplyToHeader = "x-vigil-reply-to";
inline constexpr std::string_view kCorrelationIdHeader = "x-vigil-correlation-id";

// Whether someone waits for `message`'s outcome.
bool WantsReply(const Message& message);
// Copies the reply headers of `from` onto `to` (a message made from it).
void CopyReplyHeaders(const Message& from, Message& to);
// Tells whoever waits for `request` its outcome; nothing when nobody does. A reply that
// cannot be published is logged: the waiter times out.
void Reply(Bus& bus, const Message& request, const Status& outcome);

// The waiting side: an exclusive reply queue of one process and the requests it waits for.
class ReplyWaiter {
 public:
  // Declares and consumes vigil.replies.<id>.
  static Result<std::unique_ptr<ReplyWaiter>> Start(Bus& bus, const std::string& id);
  ~ReplyWaiter();

  // Publishes `message` to `exchange`/`routing_key` with the reply headers, then waits for
  // the outcome: the replied status, the publish's failure, or DeadlineExceeded after
  // `timeout`.
  Status PublishAndWait(const std::string& exchange, const std::string& routing_key,
                        Message message, std::chrono::milliseconds timeout);

 private:
  struct Pending {
    bool done = false;
    Status status;
  };
  ReplyWaiter(Bus& bus, std::string queue) : bus_(bus), queue_(std::move(queue)) {}
  void OnReply(const Delivery& delivery);

  Bus& bus_;
  const std::string queue_;
  std::unique_ptr<Subscription> subscription_;
  Mutex mu_;
  CondVar replied_;
  uint64_t next_id_ VIGIL_GUARDED_BY(mu_) = 0;
  std::map<std::string, Pending> pending_ VIGIL_GUARDED_BY(mu_);  // by correlation id
};

}  // namespace vigil::bus

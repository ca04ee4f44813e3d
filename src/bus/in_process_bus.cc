#include "bus/in_process_bus.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <thread>

#include "core/mutex.h"

namespace vigil::bus {

namespace internal {

// A queue's contents. Its mutex guards everything below it.
struct Queue : Settler, std::enable_shared_from_this<Queue> {
  struct Ready {
    std::shared_ptr<const Message> message;
    bool redelivered;
  };
  struct Unacked {
    std::shared_ptr<const Message> message;
    uint64_t consumer;
  };

  Queue(InProcessBus* bus, std::string name, QueueOptions options,
        metrics::Family<metrics::Counter>& messages, metrics::Gauge& depth)
      : bus(bus),
        name(std::move(name)),
        options(std::move(options)),
        enqueued(messages.WithLabels({this->name, "enqueued"})),
        acked(messages.WithLabels({this->name, "acked"})),
        requeued(messages.WithLabels({this->name, "requeued"})),
        rejected(messages.WithLabels({this->name, "rejected"})),
        dead_lettered(messages.WithLabels({this->name, "dead_lettered"})),
        dropped(messages.WithLabels({this->name, "dropped"})),
        depth(depth) {}

  void Settle(uint64_t tag, bool ack, bool requeue) override {
    std::shared_ptr<const Message> dead;
    {
      MutexLock lock(mu);
      auto it = unacked.find(tag);
      // Unknown: settled twice, or requeued already because its consumer was cancelled.
      if (it == unacked.end()) return;
      Unacked entry = std::move(it->second);
      unacked.erase(it);
      consumer_unacked[entry.consumer]--;
      if (ack) {
        acked.Inc();
      } else if (requeue) {
        requeued.Inc();
        ready.push_front({std::move(entry.message), true});
      } else {
        dead = std::move(entry.message);
      }
      UpdateDepth();
    }
    consumers_cv.notify_all();
    drained_cv.notify_all();
    if (dead) bus->DeadLetter(*this, std::move(dead));
  }

  void UpdateDepth() { depth.Set(static_cast<double>(ready.size() + unacked.size())); }

  InProcessBus* bus;
  const std::string name;
  const QueueOptions options;
  metrics::Counter& enqueued;
  metrics::Counter& acked;
  metrics::Counter& requeued;
  metrics::Counter& rejected;
  metrics::Counter& dead_lettered;
  metrics::Counter& dropped;
  metrics::Gauge& depth;

  Mutex mu;
  CondVar consumers_cv;   // a message is ready, room under prefetch, or stop
  CondVar publishers_cv;  // room in the queue, or deleted
  CondVar drained_cv;     // a message was settled
  std::deque<Ready> ready;
  std::unordered_map<uint64_t, Unacked> unacked;
  std::unordered_map<uint64_t, size_t> consumer_unacked;
  uint64_t next_tag = 1;
  uint64_t next_consumer = 1;
  bool deleted = false;
};

}  // namespace internal

using internal::Queue;

class InProcessSubscription final : public Subscription {
 public:
  InProcessSubscription(std::shared_ptr<Queue> queue, ConsumeOptions options, Handler handler)
      : queue_(std::move(queue)), options_(options), handler_(std::move(handler)) {
    MutexLock lock(queue_->mu);
    id_ = queue_->next_consumer++;
    queue_->consumer_unacked[id_] = 0;
    thread_ = std::thread([this] { Run(); });
  }

  ~InProcessSubscription() override { Cancel(); }

  void Cancel() override {
    if (!thread_.joinable()) return;
    VIGIL_CHECK(std::this_thread::get_id() != thread_.get_id(),
                "a subscription cancelled from its own handler");
    {
      MutexLock lock(queue_->mu);
      stop_ = true;
    }
    queue_->consumers_cv.notify_all();
    thread_.join();
    {
      // Unsettled messages go back to the front, in their order, marked redelivered.
      MutexLock lock(queue_->mu);
      std::vector<std::pair<uint64_t, std::shared_ptr<const Message>>> mine;
      for (auto it = queue_->unacked.begin(); it != queue_->unacked.end();) {
        if (it->second.consumer == id_) {
          mine.emplace_back(it->first, std::move(it->second.message));
          it = queue_->unacked.erase(it);
        } else {
          ++it;
        }
      }
      std::sort(mine.begin(), mine.end(),
                [](const auto& a, const auto& b) { return a.first > b.first; });
      for (auto& [tag, message] : mine) {
        queue_->ready.push_front({std::move(message), true});
        queue_->requeued.Inc();
      }
      queue_->consumer_unacked.erase(id_);
      queue_->UpdateDepth();
    }
    queue_->consumers_cv.notify_all();
    if (queue_->options.exclusive) queue_->bus->DeleteQueue(queue_->name);
  }

 private:
  void Run() {
    while (true) {
      Queue::Ready next;
      uint64_t tag;
      {
        MutexLock lock(queue_->mu);
        queue_->consumers_cv.wait(lock, [&]() VIGIL_REQUIRES(queue_->mu) {
          return stop_ || queue_->deleted ||
                 (!queue_->ready.empty() && queue_->consumer_unacked[id_] < options_.prefetch &&
                  Active());
        });
        if (stop_ || queue_->deleted) return;
        next = std::move(queue_->ready.front());
        queue_->ready.pop_front();
        tag = queue_->next_tag++;
        queue_->unacked[tag] = {next.message, id_};
        queue_->consumer_unacked[id_]++;
      }
      queue_->publishers_cv.notify_one();
      handler_(Delivery(std::move(next.message), next.redelivered, tag, queue_));
    }
  }

  // With a single active consumer, the oldest consumer still there is the one.
  bool Active() const VIGIL_REQUIRES(queue_->mu) {
    if (!queue_->options.single_active_consumer) return true;
    for (const auto& [id, count] : queue_->consumer_unacked)
      if (id < id_) return false;
    return true;
  }

  std::shared_ptr<Queue> queue_;
  ConsumeOptions options_;
  Handler handler_;
  uint64_t id_ = 0;
  bool stop_ VIGIL_GUARDED_BY(queue_->mu) = false;
  std::thread thread_;
};

InProcessBus::InProcessBus(Options options)
    : options_(options),
      messages_(options.registry->AddCounter(
          "vigil_bus_messages_total", "Messages through the in-process bus, by queue and outcome.",
          {"queue", "outcome"})),
      depth_(options.registry->AddGauge(
          "vigil_bus_queue_depth", "Ready plus unacknowledged messages in a queue.", {"queue"})),
      unroutable_(options.registry
                      ->AddCounter("vigil_bus_unroutable_total",
                                   "Messages published where no queue was bound, dropped.")
                      .WithLabels({})) {
  // The default exchange exists in AMQP; here it is handled in Publish.
}

InProcessBus::~InProcessBus() {
  MutexLock lock(mu_);
  for (auto& [name, queue] : queues_) {
    MutexLock queue_lock(queue->mu);
    queue->deleted = true;
    queue->consumers_cv.notify_all();
    queue->publishers_cv.notify_all();
  }
}

Status InProcessBus::DeclareExchange(const std::string& name, ExchangeType type) {
  if (name.empty())
    return InvalidArgumentError("declare exchange: the default exchange is built in");
  MutexLock lock(mu_);
  auto [it, inserted] = exchanges_.try_emplace(name, Exchange{type, {}});
  if (!inserted && it->second.type != type) {
    return FailedPreconditionError("declare exchange " + name + ": exists with another type");
  }
  return OkStatus();
}

Status InProcessBus::DeclareQueue(const std::string& name, const QueueOptions& options) {
  if (name.empty()) return InvalidArgumentError("declare queue: empty name");
  if (options.max_length == 0)
    return InvalidArgumentError("declare queue " + name + ": max_length 0");
  MutexLock lock(mu_);
  if (queues_.count(name)) return OkStatus();
  queues_[name] =
      std::make_shared<Queue>(this, name, options, messages_, depth_.WithLabels({name}));
  return OkStatus();
}

Status InProcessBus::BindQueue(const std::string& queue, const std::string& exchange,
                               const std::string& binding_key) {
  MutexLock lock(mu_);
  auto it = exchanges_.find(exchange);
  if (it == exchanges_.end()) return NotFoundError("bind: no exchange " + exchange);
  if (!queues_.count(queue)) return NotFoundError("bind: no queue " + queue);
  for (const auto& b : it->second.bindings) {
    if (b.queue == queue && b.key == binding_key) return OkStatus();
  }
  it->second.bindings.push_back({queue, binding_key});
  return OkStatus();
}

namespace {

std::vector<std::string_view> SplitWords(std::string_view key) {
  std::vector<std::string_view> words;
  if (key.empty()) return words;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    words.push_back(key.substr(start, dot - start));
    if (dot == std::string_view::npos) return words;
    start = dot + 1;
  }
}

bool MatchWords(const std::vector<std::string_view>& binding, size_t i,
                const std::vector<std::string_view>& routing, size_t j) {
  if (i == binding.size()) return j == routing.size();
  if (binding[i] == "#") {
    for (size_t k = j; k <= routing.size(); ++k) {
      if (MatchWords(binding, i + 1, routing, k)) return true;
    }
    return false;
  }
  if (j == routing.size()) return false;
  if (binding[i] != "*" && binding[i] != routing[j]) return false;
  return MatchWords(binding, i + 1, routing, j + 1);
}

}  // namespace

bool InProcessBus::TopicMatches(std::string_view binding_key, std::string_view routing_key) {
  return MatchWords(SplitWords(binding_key), 0, SplitWords(routing_key), 0);
}

std::shared_ptr<Queue> InProcessBus::FindQueue(const std::string& name) {
  MutexLock lock(mu_);
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : it->second;
}

Status InProcessBus::Enqueue(Queue& queue, std::shared_ptr<const Message> message) {
  {
    MutexLock lock(queue.mu);
    if (queue.ready.size() >= queue.options.max_length &&
        queue.options.overflow == Overflow::kDropOldest && !queue.ready.empty()) {
      queue.ready.pop_front();
      queue.dropped.Inc();
    }
    if (queue.ready.size() >= queue.options.max_length) {
      if (queue.options.overflow == Overflow::kReject) {
        queue.rejected.Inc();
        return ResourceExhaustedError("queue " + queue.name + " is full");
      }
      bool room = queue.publishers_cv.wait_for(lock, options_.publish_timeout, [&] {
        return queue.deleted || queue.ready.size() < queue.options.max_length;
      });
      if (!room) {
        queue.rejected.Inc();
        return DeadlineExceededError("queue " + queue.name + " stayed full");
      }
    }
    if (queue.deleted) return UnavailableError("queue " + queue.name + " was deleted");
    queue.ready.push_back({std::move(message), false});
    queue.enqueued.Inc();
    queue.UpdateDepth();
  }
  queue.consumers_cv.notify_one();
  return OkStatus();
}

Status InProcessBus::Publish(const std::string& exchange, const std::string& routing_key,
                             Message message) {
  message.routing_key = routing_key;
  std::vector<std::shared_ptr<Queue>> targets;
  {
    MutexLock lock(mu_);
    if (exchange.empty()) {
      auto it = queues_.find(routing_key);
      if (it != queues_.end()) targets.push_back(it->second);
    } else {
      auto it = exchanges_.find(exchange);
      if (it == exchanges_.end()) return NotFoundError("publish: no exchange " + exchange);
      const Exchange& ex = it->second;
      for (const auto& binding : ex.bindings) {
        bool match = ex.type == ExchangeType::kFanout ||
                     (ex.type == ExchangeType::kDirect && binding.key == routing_key) ||
                     (ex.type == ExchangeType::kTopic && TopicMatches(binding.key, routing_key));
        auto queue = queues_.find(binding.queue);
        if (match && queue != queues_.end()) {
          bool seen = false;
          for (const auto& t : targets) seen = seen || t == queue->second;
          if (!seen) targets.push_back(queue->second);
        }
      }
    }
  }
  if (targets.empty()) {
    unroutable_.Inc();
    return OkStatus();
  }
  // Every queue shares the one immutable message.
  auto shared = std::make_shared<const Message>(std::move(message));
  Status result;
  for (const auto& queue : targets) {
    Status status = Enqueue(*queue, shared);
    if (!status.ok() && result.ok()) result = status;
  }
  return result;
}

void InProcessBus::DeadLetter(Queue& queue, std::shared_ptr<const Message> message) {
  if (queue.options.dead_letter_exchange.empty()) {
    queue.dropped.Inc();
    spdlog::warn("bus: dropped a rejected message from queue {} (no dead-letter exchange)",
                 queue.name);
    return;
  }
  Message dead = *message;
  dead.headers["x-death-reason"] = "rejected";
  dead.headers["x-death-queue"] = queue.name;
  std::string routing_key = dead.routing_key;
  Status status = Publish(queue.options.dead_letter_exchange, routing_key, std::move(dead));
  if (status.ok()) {
    queue.dead_lettered.Inc();
  } else {
    queue.dropped.Inc();
    spdlog::error("bus: could not dead-letter a message from queue {}: {}", queue.name,
                  status.ToString());
  }
}

void InProcessBus::DeleteQueue(const std::string& name) {
  std::shared_ptr<Queue> queue;
  {
    MutexLock lock(mu_);
    auto it = queues_.find(name);
    if (it == queues_.end()) return;
    queue = it->second;
    queues_.erase(it);
    for (auto& [exchange_name, exchange] : exchanges_) {
      std::erase_if(exchange.bindings, [&](const Binding& b) { return b.queue == name; });
    }
  }
  MutexLock lock(queue->mu);
  queue->deleted = true;
  queue->depth.Set(0);
  queue->consumers_cv.notify_all();
  queue->publishers_cv.notify_all();
}

Result<std::unique_ptr<Subscription>> InProcessBus::Consume(const std::string& queue_name,
                                                            const ConsumeOptions& options,
                                                            Handler handler) {
  if (options.prefetch == 0) return InvalidArgumentError("consume: prefetch must be at least 1");
  std::shared_ptr<Queue> queue = FindQueue(queue_name);
  if (!queue) return NotFoundError("consume: no queue " + queue_name);
  return std::unique_ptr<Subscription>(
      new InProcessSubscription(std::move(queue), options, std::move(handler)));
}

Status InProcessBus::WaitUntilDrained(const std::string& queue_name,
                                      std::chrono::milliseconds timeout) {
  std::shared_ptr<Queue> queue = FindQueue(queue_name);
  if (!queue) return NotFoundError("no queue " + queue_name);
  MutexLock lock(queue->mu);
  bool drained = queue->drained_cv.wait_for(
      lock, timeout, [&] { return queue->ready.empty() && queue->unacked.empty(); });
  if (!drained) return DeadlineExceededError("queue " + queue_name + " did not drain");
  return OkStatus();
}

size_t InProcessBus::Depth(const std::string& queue_name) {
  std::shared_ptr<Queue> queue = FindQueue(queue_name);
  if (!queue) return 0;
  MutexLock lock(queue->mu);
  return queue->ready.size() + queue->unacked.size();
}

}  // namespace vigil::bus

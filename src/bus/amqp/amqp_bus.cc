#include "bus/amqp/amqp_bus.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <variant>

#include "core/mutex.h"
#include "core/url.h"

namespace vigil::bus {

using Steady = std::chrono::steady_clock;

namespace {

constexpr amqp_channel_t kPublishChannel = 1;
constexpr amqp_channel_t kDeclareChannel = 2;
constexpr amqp_channel_t kFirstConsumerChannel = 3;
constexpr int kGenerationShift = 48;

amqp_bytes_t Bytes(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}
std::string String(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

const char* ExchangeTypeName(ExchangeType type) {
  switch (type) {
    case ExchangeType::kFanout:
      return "fanout";
    case ExchangeType::kTopic:
      return "topic";
    case ExchangeType::kDirect:
      return "direct";
  }
  return "direct";
}

// Why a synchronous call failed, in words.
std::string ReplyError(const amqp_rpc_reply_t& reply, const char* what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "";
    case AMQP_RESPONSE_NONE:
      return std::string(what) + ": no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return std::string(what) + ": " + amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        return std::string(what) + ": " + std::to_string(m->reply_code) + " " +
               String(m->reply_text);
      }
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        return std::string(what) + ": connection closed: " + std::to_string(m->reply_code) + " " +
               String(m->reply_text);
      }
      return std::string(what) + ": server error";
  }
  return std::string(what) + ": unknown reply";
}

// The message's headers: string values as they are; RabbitMQ's x-death table as the
// flat x-death-reason and x-death-queue that InProcessBus sets.
std::map<std::string, std::string> ReadHeaders(const amqp_table_t& table) {
  std::map<std::string, std::string> headers;
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& e = table.entries[i];
    std::string key = String(e.key);
    if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
      headers[key] = String(e.value.value.bytes);
    } else if (key == "x-death" && e.value.kind == AMQP_FIELD_KIND_ARRAY &&
               e.value.value.array.num_entries > 0 &&
               e.value.value.array.entries[0].kind == AMQP_FIELD_KIND_TABLE) {
      const amqp_table_t& death = e.value.value.array.entries[0].value.table;
      for (int j = 0; j < death.num_entries; ++j) {
        std::string field = String(death.entries[j].key);
        if ((field == "reason" || field == "queue") &&
            death.entries[j].value.kind == AMQP_FIELD_KIND_UTF8)
          headers["x-death-" + field] = String(death.entries[j].value.value.bytes);
      }
    }
  }
  return headers;
}

struct ParsedUrl {
  std::string host;
  int port = 5672;
  std::string vhost = "/";
  std::string user = "guest";
  std::string password = "guest";
  bool ssl = false;
};

Result<ParsedUrl> ParseUrl(const std::string& url) {
  std::string copy = url;  // amqp_parse_url writes into its argument
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(copy.data(), &info) != AMQP_STATUS_OK) {
    return InvalidArgumentError("broker URL " + RedactUrl(url) +
                                ": expected amqp://user:password@host:port/vhost");
  }
  ParsedUrl parsed;
  parsed.host = info.host;
  parsed.port = info.port;
  parsed.vhost = info.vhost != nullptr && *info.vhost ? info.vhost : "/";
  parsed.user = info.user;
  parsed.password = info.password;
  parsed.ssl = info.ssl != 0;
  return parsed;
}

}  // namespace

// One consumer: its channel (the I/O thread's), and the thread that runs its handler.
struct Consumer final : internal::Settler, std::enable_shared_from_this<Consumer> {
  void Settle(uint64_t tag, bool ack, bool requeue) override;
  void Push(Delivery delivery) {
    MutexLock lock(mu);
    if (cancelled) return;  // the broker takes it back when the channel closes
    pending.push_back(std::move(delivery));
    cv.notify_all();
  }
  void Dispatch() {
    MutexLock lock(mu);
    while (true) {
      cv.wait(lock, [&] { return cancelled || !pending.empty(); });
      if (cancelled) return;
      Delivery delivery = std::move(pending.front());
      pending.pop_front();
      running = true;
      lock.unlock();
      handler(delivery);
      lock.lock();
      running = false;
      cv.notify_all();
    }
  }

  std::weak_ptr<AmqpBus::Core> core;
  std::string queue;
  size_t prefetch = 16;
  Handler handler;
  // The I/O thread's: the channel of the current connection, 0 while none.
  amqp_channel_t channel = 0;
  std::atomic<uint64_t> generation{0};

  Mutex mu;
  CondVar cv;
  std::deque<Delivery> pending;  // bounded by the prefetch
  bool cancelled = false;
  bool running = false;
  std::thread thread;
};

struct AmqpBus::Core : std::enable_shared_from_this<AmqpBus::Core> {
  struct Declaration {
    enum Kind { kExchange, kQueue, kBinding } kind = kExchange;
    std::string a, b, c;
    ExchangeType exchange_type = ExchangeType::kDirect;
    QueueOptions queue;
  };
  struct Request {
    enum Kind { kDeclare, kPublish, kConsume, kSettle, kCancel, kReconnect, kStop } kind = kStop;
    Declaration declaration;
    std::string exchange, routing_key;
    Message message;
    std::shared_ptr<Consumer> consumer;
    uint64_t tag = 0;
    bool ack = false, requeue = false;
    std::string why;  // kReconnect: for the log
    std::shared_ptr<std::promise<Status>> done;
  };

  explicit Core(Options o)
      : options(std::move(o)),
        connected_gauge(
            options.registry
                ->AddGauge("vigil_amqp_connected", "1 while the connection to RabbitMQ is up.", {})
                .WithLabels({})),
        reconnects(options.registry
                       ->AddCounter("vigil_amqp_reconnects_total",
                                    "Connections to RabbitMQ made again after a loss.", {})
                       .WithLabels({})),
        published(options.registry->AddCounter(
            "vigil_amqp_published_total",
            "Messages published, by outcome (confirmed, nacked, unroutable, unconfirmed, failed).",
            {"outcome"})),
        deliveries(options.registry
                       ->AddCounter("vigil_amqp_deliveries_total",
                                    "Messages delivered to this process's consumers.", {})
                       .WithLabels({})) {
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  }
  ~Core() {
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // Callers' side.
  Status Call(Request request, std::chrono::milliseconds timeout) {
    auto done = std::make_shared<std::promise<Status>>();
    std::future<Status> answer = done->get_future();
    request.done = done;
    if (!Enqueue(std::move(request))) return UnavailableError("amqp: not connected to the broker");
    if (answer.wait_for(timeout) != std::future_status::ready)
      return DeadlineExceededError("amqp: no answer from the broker in " +
                                   std::to_string(timeout.count()) + " ms");
    return answer.get();
  }
  bool Enqueue(Request request) {
    {
      MutexLock lock(mu);
      if (!up && request.kind != Request::kStop && request.kind != Request::kCancel &&
          request.kind != Request::kSettle)
        return false;
      requests.push_back(std::move(request));
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof one);
    return true;
  }

  // The I/O thread.
  void Run();
  Status ConnectOnce();
  void Disconnect(const std::string& why);
  Status ApplyDeclaration(const Declaration& d);
  Status StartConsumer(Consumer& consumer);
  void Handle(Request& request);
  bool ReadFrames();  // false when the connection is lost
  void OnMethod(amqp_channel_t channel, const amqp_method_t& method);
  // Fails every publish waiting for its confirm; counted under `outcome`.
  void FailPendingConfirms(const Status& status, const char* outcome = "failed");

  Options options;
  std::vector<ParsedUrl> urls;  // the cluster's nodes; tried in turn
  size_t url_index = 0;         // the one to try next (the I/O thread's)
  ParsedUrl url;                // the one in use
  metrics::Gauge& connected_gauge;
  metrics::Counter& reconnects;
  metrics::Family<metrics::Counter>& published;
  metrics::Counter& deliveries;
  int wake_fd = -1;

  Mutex mu;
  CondVar state_cv;
  std::deque<Request> requests VIGIL_GUARDED_BY(mu);
  std::set<std::string> reject_queues VIGIL_GUARDED_BY(mu);     // declared with Overflow::kReject
  std::set<std::string> unbounded_queues VIGIL_GUARDED_BY(mu);  // quorum, declared without a limit
  bool up VIGIL_GUARDED_BY(mu) = false;
  bool stopping VIGIL_GUARDED_BY(mu) = false;
  std::string first_error VIGIL_GUARDED_BY(mu);  // why the first connection failed
  bool first_attempt_done = false;
  std::thread thread;

  // The I/O thread's own.
  amqp_connection_state_t conn = nullptr;
  uint64_t generation = 0;
  uint64_t next_publish_tag = 1;
  struct PendingConfirm {
    std::shared_ptr<std::promise<Status>> done;
    Steady::time_point sent;
    std::string queue;  // for a publish straight to a queue (the default exchange)
  };
  std::map<uint64_t, PendingConfirm> confirms;  // by publish tag, oldest first
  std::string reconnect_because;          // set: leave this connection (and node) for the next
  std::vector<Declaration> declarations;  // replayed after a reconnect
  std::map<amqp_channel_t, std::shared_ptr<Consumer>> consumers_by_channel;
  std::vector<std::shared_ptr<Consumer>> consumers;
  amqp_channel_t next_channel = kFirstConsumerChannel;
  struct Partial {
    bool is_return = false;
    uint64_t delivery_tag = 0;
    bool redelivered = false;
    std::string routing_key;
    size_t body_size = 0;
    bool have_header = false;
    Message message;
  };
  std::map<amqp_channel_t, Partial> partials;
};

void Consumer::Settle(uint64_t tag, bool ack, bool requeue) {
  auto c = core.lock();
  if (!c) return;
  AmqpBus::Core::Request r;
  r.kind = AmqpBus::Core::Request::kSettle;
  r.consumer = shared_from_this();
  r.tag = tag;
  r.ack = ack;
  r.requeue = requeue;
  c->Enqueue(std::move(r));
}

namespace {

class AmqpSubscription final : public Subscription {
 public:
  explicit AmqpSubscription(std::shared_ptr<Consumer> consumer) : consumer_(std::move(consumer)) {}
  ~AmqpSubscription() override { Cancel(); }
  void Cancel() override {
    if (!consumer_) return;
    {
      MutexLock lock(consumer_->mu);
      consumer_->cancelled = true;
      consumer_->pending.clear();
      consumer_->cv.notify_all();
      consumer_->cv.wait(lock, [&] { return !consumer_->running; });
    }
    if (consumer_->thread.joinable()) consumer_->thread.join();
    // Closing its channel hands its unacked messages back to the broker.
    if (auto core = consumer_->core.lock()) {
      AmqpBus::Core::Request r;
      r.kind = AmqpBus::Core::Request::kCancel;
      r.consumer = consumer_;
      auto done = std::make_shared<std::promise<Status>>();
      auto answer = done->get_future();
      r.done = done;
      if (core->Enqueue(std::move(r))) answer.wait_for(std::chrono::seconds(5));
    }
    consumer_.reset();
  }

 private:
  std::shared_ptr<Consumer> consumer_;
};

}  // namespace

Status AmqpBus::Core::ConnectOnce() {
  url = urls[url_index];
  conn = amqp_new_connection();
  amqp_socket_t* socket = url.ssl ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
  if (socket == nullptr) return UnavailableError("amqp: cannot create a socket");
  if (url.ssl) {
    amqp_ssl_socket_set_verify_peer(socket, 1);
    amqp_ssl_socket_set_verify_hostname(socket, 1);
    // rabbitmq-c trusts nothing by default: name the certificates that verify the broker.
    const std::string ca =
        options.tls_ca_file.empty() ? "/etc/ssl/certs/ca-certificates.crt" : options.tls_ca_file;
    if (amqp_ssl_socket_set_cacert(socket, ca.c_str()) != AMQP_STATUS_OK)
      return InvalidArgumentError("amqp: cannot read the CA certificates " + ca);
    if (!options.tls_cert_file.empty() &&
        amqp_ssl_socket_set_key(socket, options.tls_cert_file.c_str(),
                                options.tls_key_file.c_str()) != AMQP_STATUS_OK) {
      return InvalidArgumentError("amqp: cannot read the client certificate " +
                                  options.tls_cert_file + " or its key " + options.tls_key_file);
    }
  }
  timeval tv{};
  tv.tv_sec = options.connect_timeout.count() / 1000;
  tv.tv_usec = (options.connect_timeout.count() % 1000) * 1000;
  std::string where = url.host + ":" + std::to_string(url.port);
  if (int rc = amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &tv);
      rc != AMQP_STATUS_OK) {
    return UnavailableError("amqp: connect to " + where + ": " + amqp_error_string2(rc));
  }
  // Every synchronous call (declare, consume, channel close …) waits at most this long for
  // the broker's answer; then the connection counts as lost and is made again, instead of
  // the I/O thread — and every caller behind it — waiting forever.
  timeval rpc_timeout{10, 0};
  amqp_set_rpc_timeout(conn, &rpc_timeout);
  amqp_set_handshake_timeout(conn, &tv);
  amqp_rpc_reply_t login =
      amqp_login(conn, url.vhost.c_str(), 0, 131072, static_cast<int>(options.heartbeat.count()),
                 AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL)
    return UnavailableError(ReplyError(login, ("amqp: login to " + where).c_str()));
  for (amqp_channel_t ch : {kPublishChannel, kDeclareChannel}) {
    amqp_channel_open(conn, ch);
    if (auto e = ReplyError(amqp_get_rpc_reply(conn), "amqp: open channel"); !e.empty())
      return UnavailableError(e);
  }
  amqp_confirm_select(conn, kPublishChannel);
  if (auto e = ReplyError(amqp_get_rpc_reply(conn), "amqp: confirm.select"); !e.empty())
    return UnavailableError(e);
  ++generation;
  next_publish_tag = 1;
  next_channel = kFirstConsumerChannel;
  // Declared again; one the broker now refuses (a classic queue whose node is down) is
  // said and skipped, so the rest of the bus still comes back.
  for (const Declaration& d : declarations) {
    Status status = ApplyDeclaration(d);
    if (status.code() == StatusCode::kUnavailable) return status;
    if (!status.ok()) spdlog::warn("{} (declaring again after a reconnect)", status.message());
  }
  consumers_by_channel.clear();
  for (auto& consumer : consumers) VIGIL_RETURN_IF_ERROR(StartConsumer(*consumer));
  return OkStatus();
}

void AmqpBus::Core::Disconnect(const std::string& why) {
  {
    MutexLock lock(mu);
    if (up && !stopping) spdlog::warn("amqp: connection lost: {}", why);
    up = false;
    // Waiting callers learn at once; a consumer's settle or cancel needs no connection.
    for (auto& r : requests) {
      if (r.done && r.kind != Request::kCancel)
        r.done->set_value(UnavailableError("amqp: connection lost: " + why));
    }
    std::erase_if(requests, [](const Request& r) { return r.kind != Request::kCancel; });
  }
  connected_gauge.Set(0);
  FailPendingConfirms(UnavailableError("amqp: connection lost before the confirm: " + why));
  partials.clear();
  for (auto& consumer : consumers) consumer->channel = 0;
  consumers_by_channel.clear();
  if (conn != nullptr) {
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    conn = nullptr;
  }
}

void AmqpBus::Core::FailPendingConfirms(const Status& status, const char* outcome) {
  for (auto& [tag, pending] : confirms) pending.done->set_value(status);
  if (!confirms.empty()) published.WithLabels({outcome}).Inc(static_cast<double>(confirms.size()));
  confirms.clear();
}

Status AmqpBus::Core::ApplyDeclaration(const Declaration& d) {
  std::string error;
  if (d.kind == Declaration::kExchange) {
    amqp_exchange_declare(conn, kDeclareChannel, Bytes(d.a),
                          amqp_cstring_bytes(ExchangeTypeName(d.exchange_type)), 0, 1, 0, 0,
                          amqp_empty_table);
    error = ReplyError(amqp_get_rpc_reply(conn), ("declare exchange " + d.a).c_str());
  } else if (d.kind == Declaration::kQueue) {
    std::vector<amqp_table_entry_t> args;
    auto add_string = [&](const char* key, const std::string& value) {
      amqp_table_entry_t e;
      e.key = amqp_cstring_bytes(key);
      e.value.kind = AMQP_FIELD_KIND_UTF8;
      e.value.value.bytes = Bytes(value);
      args.push_back(e);
    };
    // Quorum queues get no length limit: on RabbitMQ 3.10 one with x-overflow reject-publish
    // refuses every publish after its leader's node died, although a new leader was elected
    // (docs/protocol/amqp.md); drop-head would lose data. They are bounded by the broker's
    // memory and disk alarms, which block publishers.
    bool quorum = !d.queue.exclusive && d.queue.queue_type == "quorum";
    amqp_table_entry_t max_length;
    if (!quorum) {
      max_length.key = amqp_cstring_bytes("x-max-length");
      max_length.value.kind = AMQP_FIELD_KIND_I64;
      max_length.value.value.i64 = static_cast<int64_t>(d.queue.max_length);
      args.push_back(max_length);
      static const std::string kRejectPublish = "reject-publish", kDropHead = "drop-head";
      add_string("x-overflow",
                 d.queue.overflow == Overflow::kDropOldest ? kDropHead : kRejectPublish);
    }
    if (!d.queue.dead_letter_exchange.empty())
      add_string("x-dead-letter-exchange", d.queue.dead_letter_exchange);
    amqp_table_entry_t single_active;
    if (d.queue.single_active_consumer) {
      single_active.key = amqp_cstring_bytes("x-single-active-consumer");
      single_active.value.kind = AMQP_FIELD_KIND_BOOLEAN;
      single_active.value.value.boolean = 1;
      args.push_back(single_active);
    }
    // Exclusive queues are the process's own: classic, whatever the durable ones are.
    if (!d.queue.exclusive) add_string("x-queue-type", d.queue.queue_type);
    amqp_table_t table{static_cast<int>(args.size()), args.data()};
    amqp_queue_declare(conn, kDeclareChannel, Bytes(d.a), 0, d.queue.durable ? 1 : 0,
                       d.queue.exclusive ? 1 : 0, d.queue.exclusive ? 1 : 0, table);
    error = ReplyError(amqp_get_rpc_reply(conn), ("declare queue " + d.a).c_str());
  } else {
    amqp_queue_bind(conn, kDeclareChannel, Bytes(d.a), Bytes(d.b), Bytes(d.c), amqp_empty_table);
    error = ReplyError(amqp_get_rpc_reply(conn), ("bind queue " + d.a + " to " + d.b).c_str());
  }
  if (error.empty()) return OkStatus();
  // A refused declaration closes the channel; open it again for the next one.
  amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn);
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ||
      reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
    return UnavailableError("amqp: " + error);
  amqp_channel_close_ok_t close_ok{};
  amqp_send_method(conn, kDeclareChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
  amqp_channel_open(conn, kDeclareChannel);
  if (auto e = ReplyError(amqp_get_rpc_reply(conn), "amqp: reopen channel"); !e.empty())
    return UnavailableError(e);
  return FailedPreconditionError("amqp: " + error);
}

Status AmqpBus::Core::StartConsumer(Consumer& consumer) {
  amqp_channel_t channel = next_channel++;
  amqp_channel_open(conn, channel);
  if (auto e = ReplyError(amqp_get_rpc_reply(conn), "amqp: open channel"); !e.empty())
    return UnavailableError(e);
  amqp_basic_qos(conn, channel, 0,
                 static_cast<uint16_t>(std::min<size_t>(consumer.prefetch, 65535)), 0);
  if (auto e = ReplyError(amqp_get_rpc_reply(conn), "amqp: basic.qos"); !e.empty())
    return UnavailableError(e);
  amqp_basic_consume(conn, channel, Bytes(consumer.queue), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  if (auto e = ReplyError(amqp_get_rpc_reply(conn), ("consume " + consumer.queue).c_str());
      !e.empty()) {
    amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn);
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ||
        reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
      return UnavailableError("amqp: " + e);
    amqp_channel_close_ok_t close_ok{};  // the broker closed the channel: a missing queue
    amqp_send_method(conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
    return NotFoundError("amqp: " + e);
  }
  consumer.channel = channel;
  consumer.generation = generation;
  consumers_by_channel[channel] = consumer.shared_from_this();
  return OkStatus();
}

void AmqpBus::Core::Handle(Request& r) {
  switch (r.kind) {
    case Request::kDeclare: {
      Status status = ApplyDeclaration(r.declaration);
      if (status.ok()) declarations.push_back(r.declaration);
      r.done->set_value(status);
      return;
    }
    case Request::kPublish: {
      amqp_basic_properties_t props{};
      props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
      props.delivery_mode = 2;  // persistent
      props.content_type = Bytes(r.message.content_type);
      std::vector<amqp_table_entry_t> headers;
      for (const auto& [name, value] : r.message.headers) {
        amqp_table_entry_t e;
        e.key = Bytes(name);
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = Bytes(value);
        headers.push_back(e);
      }
      if (!headers.empty()) {
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers = amqp_table_t{static_cast<int>(headers.size()), headers.data()};
      }
      int rc = amqp_basic_publish(conn, kPublishChannel, Bytes(r.exchange), Bytes(r.routing_key),
                                  /*mandatory=*/1, 0, &props, Bytes(r.message.body));
      if (rc != AMQP_STATUS_OK) {
        r.done->set_value(
            UnavailableError(std::string("amqp: publish: ") + amqp_error_string2(rc)));
        published.WithLabels({"failed"}).Inc();
        return;
      }
      confirms[next_publish_tag++] =
          PendingConfirm{r.done, Steady::now(), r.exchange.empty() ? r.routing_key : ""};
      return;
    }
    case Request::kConsume: {
      Status status = StartConsumer(*r.consumer);
      if (status.ok()) consumers.push_back(r.consumer);
      r.done->set_value(status);
      return;
    }
    case Request::kSettle: {
      Consumer& c = *r.consumer;
      // A tag of an earlier connection: the broker has given that message back already.
      if (c.channel == 0 || (r.tag >> kGenerationShift) != c.generation.load()) return;
      uint64_t tag = r.tag & ((uint64_t{1} << kGenerationShift) - 1);
      if (r.ack) {
        amqp_basic_ack(conn, c.channel, tag, 0);
      } else {
        amqp_basic_nack(conn, c.channel, tag, 0, r.requeue ? 1 : 0);
      }
      return;
    }
    case Request::kCancel: {
      Consumer& c = *r.consumer;
      if (c.channel != 0 && conn != nullptr) {
        consumers_by_channel.erase(c.channel);
        partials.erase(c.channel);
        amqp_channel_close(conn, c.channel, AMQP_REPLY_SUCCESS);
        c.channel = 0;
      }
      std::erase(consumers, r.consumer);
      if (r.done) r.done->set_value(OkStatus());
      return;
    }
    case Request::kReconnect:
      if (reconnect_because.empty()) reconnect_because = r.why;
      return;
    case Request::kStop:
      return;
  }
}

void AmqpBus::Core::OnMethod(amqp_channel_t channel, const amqp_method_t& method) {
  switch (method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
      auto* d = static_cast<amqp_basic_deliver_t*>(method.decoded);
      Partial& p = partials[channel];
      p = Partial{};
      p.delivery_tag = d->delivery_tag;
      p.redelivered = d->redelivered != 0;
      p.routing_key = String(d->routing_key);
      return;
    }
    case AMQP_BASIC_RETURN_METHOD: {
      Partial& p = partials[channel];
      p = Partial{};
      p.is_return = true;
      return;
    }
    case AMQP_BASIC_ACK_METHOD:
    case AMQP_BASIC_NACK_METHOD: {
      bool ack = method.id == AMQP_BASIC_ACK_METHOD;
      uint64_t tag;
      bool multiple;
      if (ack) {
        auto* m = static_cast<amqp_basic_ack_t*>(method.decoded);
        tag = m->delivery_tag;
        multiple = m->multiple != 0;
      } else {
        auto* m = static_cast<amqp_basic_nack_t*>(method.decoded);
        tag = m->delivery_tag;
        multiple = m->multiple != 0;
      }
      auto end = multiple ? confirms.upper_bound(tag) : confirms.find(tag);
      auto begin = multiple ? confirms.begin() : end;
      if (!multiple && end != confirms.end()) end = std::next(end);
      for (auto it = begin; it != end; ++it) {
        published.WithLabels({ack ? "confirmed" : "nacked"}).Inc();
        if (ack) {
          it->second.done->set_value(OkStatus());
          continue;
        }
        bool unbounded;
        {
          MutexLock lock(mu);
          unbounded = unbounded_queues.count(it->second.queue) > 0;
        }
        if (!unbounded) {
          it->second.done->set_value(
              ResourceExhaustedError("amqp: the broker refused the message (a queue is full)"));
          continue;
        }
        // A queue without a limit is never full. RabbitMQ 3.10's channel nacks every publish
        // to a quorum queue whose leader moved while the channel was new; another
        // connection, on another node, gets through.
        it->second.done->set_value(UnavailableError("amqp: publish to " + it->second.queue +
                                                    ": the broker refused the message"));
        reconnect_because =
            "the broker refused a publish to " + it->second.queue + ", a queue without a limit";
      }
      confirms.erase(begin, end);
      return;
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
      auto* m = static_cast<amqp_channel_close_t*>(method.decoded);
      std::string why = std::to_string(m->reply_code) + " " + String(m->reply_text);
      amqp_channel_close_ok_t ok{};
      amqp_send_method(conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
      spdlog::warn("amqp: the broker closed channel {}: {}", channel, why);
      if (channel == kPublishChannel) {
        FailPendingConfirms(UnavailableError("amqp: publish channel closed: " + why));
        amqp_channel_open(conn, kPublishChannel);
        amqp_get_rpc_reply(conn);
        amqp_confirm_select(conn, kPublishChannel);
        amqp_get_rpc_reply(conn);
        next_publish_tag = 1;
      } else if (auto it = consumers_by_channel.find(channel); it != consumers_by_channel.end()) {
        it->second->channel = 0;
        consumers_by_channel.erase(it);
      }
      return;
    }
    case AMQP_BASIC_CANCEL_METHOD:
      spdlog::warn("amqp: the broker cancelled the consumer on channel {} (queue deleted?)",
                   channel);
      return;
    default:
      return;
  }
}

bool AmqpBus::Core::ReadFrames() {
  while (true) {
    amqp_frame_t frame;
    timeval zero{0, 0};
    int rc = amqp_simple_wait_frame_noblock(conn, &frame, &zero);
    if (rc == AMQP_STATUS_TIMEOUT) return true;
    if (rc != AMQP_STATUS_OK) {
      Disconnect(amqp_error_string2(rc));
      return false;
    }
    if (frame.frame_type == AMQP_FRAME_METHOD) {
      if (frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
        std::string why = std::to_string(m->reply_code) + " " + String(m->reply_text);
        amqp_connection_close_ok_t ok{};
        amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        Disconnect("the broker closed the connection: " + why);
        return false;
      }
      OnMethod(frame.channel, frame.payload.method);
    } else if (frame.frame_type == AMQP_FRAME_HEADER) {
      auto it = partials.find(frame.channel);
      if (it != partials.end()) {
        Partial& p = it->second;
        p.have_header = true;
        p.body_size = frame.payload.properties.body_size;
        auto* props = static_cast<amqp_basic_properties_t*>(frame.payload.properties.decoded);
        if (props->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
          p.message.content_type = String(props->content_type);
        if (props->_flags & AMQP_BASIC_HEADERS_FLAG)
          p.message.headers = ReadHeaders(props->headers);
        p.message.body.reserve(p.body_size);
      }
    } else if (frame.frame_type == AMQP_FRAME_BODY) {
      auto it = partials.find(frame.channel);
      if (it != partials.end())
        it->second.message.body.append(static_cast<const char*>(frame.payload.body_fragment.bytes),
                                       frame.payload.body_fragment.len);
    }
    // A message is complete once its header and all of its body have come.
    auto it = partials.find(frame.channel);
    if (it != partials.end() && it->second.have_header &&
        it->second.message.body.size() >= it->second.body_size) {
      Partial p = std::move(it->second);
      partials.erase(it);
      if (p.is_return) {
        published.WithLabels({"unroutable"}).Inc();
      } else if (auto c = consumers_by_channel.find(frame.channel);
                 c != consumers_by_channel.end()) {
        deliveries.Inc();
        p.message.routing_key = p.routing_key;
        uint64_t tag = (c->second->generation.load() << kGenerationShift) | p.delivery_tag;
        c->second->Push(Delivery(std::make_shared<const Message>(std::move(p.message)),
                                 p.redelivered, tag, c->second));
      }
    }
    amqp_maybe_release_buffers(conn);
  }
}

void AmqpBus::Core::Run() {
  std::mt19937_64 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(100);
  bool ever_connected = false;
  int failed_attempts = 0;
  std::string last_failure;
  while (true) {
    {
      MutexLock lock(mu);
      if (stopping) break;
    }
    if (conn == nullptr) {
      Status status = ConnectOnce();
      if (!status.ok()) {
        if (conn != nullptr) {
          amqp_destroy_connection(conn);
          conn = nullptr;
        }
        // The next node of the cluster next time; at start, each node once before giving up.
        url_index = (url_index + 1) % urls.size();
        if (!ever_connected && url_index != 0) continue;
        {
          MutexLock lock(mu);
          if (!first_attempt_done) {
            first_error = status.message();
            first_attempt_done = true;
            state_cv.notify_all();
            // Connect reports it; no retries for a bus that never came up, unless asked.
            if (!options.connect_in_background) break;
          }
        }
        // Said at warning level when the reason is new; each retry at debug level.
        ++failed_attempts;
        if (status.message() != last_failure) {
          spdlog::warn("{}; trying again with backoff", status.message());
          last_failure = status.message();
        } else {
          spdlog::debug("{}; retrying in {} ms", status.message(), backoff.count());
        }
        // Exponential backoff with jitter, up to 5 s. Meanwhile cancels are served (they need
        // no connection), settles dropped (the broker gives those messages back anyway),
        // and a stop cuts the wait short.
        auto until =
            Steady::now() + backoff + std::chrono::milliseconds(rng() % (backoff.count() / 2 + 1));
        while (Steady::now() < until) {
          pollfd p{wake_fd, POLLIN, 0};
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Steady::now());
          if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) break;
          uint64_t drained;
          [[maybe_unused]] ssize_t n = ::read(wake_fd, &drained, sizeof drained);
          std::deque<Request> pending;
          {
            MutexLock lock(mu);
            if (stopping) break;
            pending.swap(requests);
          }
          for (auto& r : pending) {
            if (r.kind == Request::kCancel) {
              Handle(r);
            } else if (r.done) {
              r.done->set_value(UnavailableError("amqp: not connected to the broker"));
            }
          }
        }
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        continue;
      }
      backoff = std::chrono::milliseconds(100);
      if (ever_connected) {
        reconnects.Inc();
        spdlog::info("amqp: connected again to {}:{} after {} attempts", url.host, url.port,
                     failed_attempts + 1);
      }
      failed_attempts = 0;
      last_failure.clear();
      ever_connected = true;
      connected_gauge.Set(1);
      MutexLock lock(mu);
      up = true;
      first_attempt_done = true;
      state_cv.notify_all();
    }
    // Serve the callers' requests, then the broker's frames.
    std::deque<Request> batch;
    {
      MutexLock lock(mu);
      batch.swap(requests);
    }
    uint64_t drained;
    [[maybe_unused]] ssize_t n = ::read(wake_fd, &drained, sizeof drained);
    for (auto& r : batch) {
      if (conn == nullptr && r.kind != Request::kCancel && r.kind != Request::kSettle) {
        if (r.done) r.done->set_value(UnavailableError("amqp: connection lost"));
        continue;
      }
      Handle(r);
    }
    if (conn == nullptr) continue;
    if (!ReadFrames()) continue;
    // A confirm that never comes: RabbitMQ 3.10's channel can keep a quorum queue's publish
    // pending for good after the queue's leader moved. A new connection (new channels) finds
    // the new leader; the waiting publishes fail Unavailable and their callers spool or retry
    // them (the broker may hold them already: at least once).
    if (!confirms.empty() &&
        Steady::now() - confirms.begin()->second.sent > options.confirm_timeout) {
      FailPendingConfirms(UnavailableError("amqp: no confirm from the broker in " +
                                           std::to_string(options.confirm_timeout.count()) + " ms"),
                          "unconfirmed");
      reconnect_because =
          "no publisher confirm in " + std::to_string(options.confirm_timeout.count()) + " ms";
    }
    if (!reconnect_because.empty()) {
      Disconnect(reconnect_because);
      reconnect_because.clear();
      url_index = (url_index + 1) % urls.size();
      continue;
    }
    if (amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn)) continue;
    pollfd fds[2] = {{amqp_get_sockfd(conn), POLLIN, 0}, {wake_fd, POLLIN, 0}};
    ::poll(fds, 2, 1000);  // at least once a second, for the heartbeats
  }
  if (conn != nullptr) Disconnect("stopping");
}

Result<std::unique_ptr<AmqpBus>> AmqpBus::Connect(Options options) {
  if (!options.url.starts_with("amqp://") && !options.url.starts_with("amqps://"))
    return InvalidArgumentError("broker URL " + RedactUrl(options.url) +
                                ": expected amqp:// or amqps://");
  // Several nodes of one cluster: "amqp://…@a:5672/,amqp://…@b:5672/".
  std::vector<ParsedUrl> urls;
  size_t start = 0;
  while (start <= options.url.size()) {
    size_t end = options.url.find(',', start);
    std::string one = options.url.substr(start, end == std::string::npos ? end : end - start);
    if (!one.starts_with("amqp://") && !one.starts_with("amqps://"))
      return InvalidArgumentError("broker URL " + RedactUrl(one) +
                                  ": expected amqp:// or amqps://");
    VIGIL_ASSIGN_OR_RETURN(ParsedUrl url, ParseUrl(one));
    urls.push_back(std::move(url));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  for (const std::string* file :
       {&options.tls_ca_file, &options.tls_cert_file, &options.tls_key_file}) {
    if (!file->empty() && !std::ifstream(*file).good())
      return InvalidArgumentError("broker TLS: cannot read " + *file);
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty())
    return InvalidArgumentError("broker TLS: tls_cert_file and tls_key_file go together");
  auto core = std::make_shared<Core>(std::move(options));
  core->urls = std::move(urls);
  core->thread = std::thread([core] { core->Run(); });
  MutexLock lock(core->mu);
  core->state_cv.wait(lock, [&] { return core->first_attempt_done; });
  if (!core->up && !core->options.connect_in_background) {
    std::string error = core->first_error;
    lock.unlock();
    core->thread.join();
    return UnavailableError(error);
  }
  return std::unique_ptr<AmqpBus>(new AmqpBus(std::move(core)));
}

AmqpBus::~AmqpBus() {
  {
    MutexLock lock(core_->mu);
    core_->stopping = true;
  }
  Core::Request stop;
  stop.kind = Core::Request::kStop;
  core_->Enqueue(std::move(stop));
  core_->thread.join();
}

bool AmqpBus::connected() const {
  MutexLock lock(core_->mu);
  return core_->up;
}

Status AmqpBus::DeclareExchange(const std::string& name, ExchangeType type) {
  Core::Request r;
  r.kind = Core::Request::kDeclare;
  r.declaration.kind = Core::Declaration::kExchange;
  r.declaration.a = name;
  r.declaration.exchange_type = type;
  return core_->Call(std::move(r), core_->options.unavailable_after);
}

Status AmqpBus::DeclareQueue(const std::string& name, const QueueOptions& options) {
  Core::Request r;
  r.kind = Core::Request::kDeclare;
  r.declaration.kind = Core::Declaration::kQueue;
  r.declaration.a = name;
  r.declaration.queue = options;
  {
    MutexLock lock(core_->mu);
    if (options.overflow == Overflow::kReject) core_->reject_queues.insert(name);
    if (!options.exclusive && options.queue_type == "quorum") core_->unbounded_queues.insert(name);
  }
  return core_->Call(std::move(r), core_->options.unavailable_after);
}

Status AmqpBus::BindQueue(const std::string& queue, const std::string& exchange,
                          const std::string& binding_key) {
  Core::Request r;
  r.kind = Core::Request::kDeclare;
  r.declaration.kind = Core::Declaration::kBinding;
  r.declaration.a = queue;
  r.declaration.b = exchange;
  r.declaration.c = binding_key;
  return core_->Call(std::move(r), core_->options.unavailable_after);
}

Status AmqpBus::Publish(const std::string& exchange, const std::string& routing_key,
                        Message message) {
  message.Encode();
  // A full queue refuses the message (x-overflow reject-publish): wait for room, with
  // backoff, up to the publish timeout, as a blocked in-process publisher would.
  // Refusals that last a confirm timeout may not be a full queue at all: RabbitMQ 3.10's
  // channel nacks every publish routed to a quorum queue whose leader moved while the
  // channel was new. A connection to the next node gets through; a queue that really is
  // full still refuses there.
  auto deadline = std::chrono::steady_clock::now() + core_->options.publish_timeout;
  auto pause = std::chrono::milliseconds(5);
  std::optional<std::chrono::steady_clock::time_point> refused_since;
  while (true) {
    Core::Request r;
    r.kind = Core::Request::kPublish;
    r.exchange = exchange;
    r.routing_key = routing_key;
    r.message = message;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    Status status = core_->Call(std::move(r), std::max(left, std::chrono::milliseconds(1)));
    if (status.code() != StatusCode::kResourceExhausted) return status;
    if (exchange.empty()) {
      MutexLock lock(core_->mu);
      if (core_->reject_queues.count(routing_key) > 0) return status;  // kReject: at once
    }
    const auto now = std::chrono::steady_clock::now();
    if (!refused_since) refused_since = now;
    if (now - *refused_since >= core_->options.confirm_timeout) {
      Core::Request reconnect;
      reconnect.kind = Core::Request::kReconnect;
      reconnect.why = "publishes to " + (exchange.empty() ? routing_key : exchange) +
                      " refused for " + std::to_string(core_->options.confirm_timeout.count()) +
                      " ms";
      core_->Enqueue(std::move(reconnect));
      refused_since = now;
    }
    if (now + pause >= deadline)
      return DeadlineExceededError("amqp: publish to " +
                                   (exchange.empty() ? routing_key : exchange) +
                                   ": the queue stayed full for " +
                                   std::to_string(core_->options.publish_timeout.count()) + " ms");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

Result<std::unique_ptr<Subscription>> AmqpBus::Consume(const std::string& queue,
                                                       const ConsumeOptions& options,
                                                       Handler handler) {
  auto consumer = std::make_shared<Consumer>();
  consumer->core = core_;
  consumer->queue = queue;
  consumer->prefetch = std::max<size_t>(1, options.prefetch);
  consumer->handler = std::move(handler);
  consumer->thread = std::thread([c = consumer.get()] { c->Dispatch(); });
  Core::Request r;
  r.kind = Core::Request::kConsume;
  r.consumer = consumer;
  Status status = core_->Call(std::move(r), core_->options.unavailable_after);
  auto subscription = std::make_unique<AmqpSubscription>(consumer);
  if (!status.ok()) return status;  // the subscription's destructor stops the thread
  return std::unique_ptr<Subscription>(std::move(subscription));
}

}  // namespace vigil::bus

// Bench program for docs/scaling.md (issue #9): how the distributed roles' throughput grows
// with the number of `vigil coordinator` and `vigil datamanager` processes. bench/scale-load
// drives it around real processes; this program is the load and the stopwatch.
//
//   scale_load preload AMQP_URL AGENTS BATCHES SAMPLES_PER_BATCH
//     Declares the topology and AGENTS data queues (vigil.data.scale-<i>) and fills each
//     with BATCHES batches of SAMPLES_PER_BATCH fresh samples (1,000 series per agent,
//     distinct timestamps), with publisher confirms; no coordinator runs yet.
//
//   scale_load watch AMQP_URL AGENTS QUEUE MESSAGES
//     Stands in for the AGENTS agents: announces their queues on vigil.discovery and again
//     whenever a (late) coordinator asks. Polls the number of ready messages in QUEUE every
//     50 ms until it reaches MESSAGES, and prints the rate between the first message seen
//     and the last (the coordinators' throughput, when QUEUE is vigil.store and no
//     datamanager consumes it).
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "bus/amqp/amqp_bus.h"
#include "bus/topology.h"
#include "core/clock.h"
#include "model/batch_codec.h"
#include "model/messages.h"

namespace {

using namespace vigil;
using Steady = std::chrono::steady_clock;

std::unique_ptr<bus::AmqpBus> Connect(const std::string& url) {
  bus::AmqpBus::Options options;
  options.url = url;
  auto bus = bus::AmqpBus::Connect(options);
  if (!bus.ok()) {
    std::cerr << bus.status().ToString() << "\n";
    std::exit(1);
  }
  return std::move(bus).value();
}

std::string AgentName(int i) { return "scale-" + std::to_string(i); }

// Ready messages in a queue, by a passive declare on a connection of its own (the Bus
// interface has no such question: roles never need it).
class QueueDepth {
 public:
  explicit QueueDepth(const std::string& url) {
    std::string copy = url;
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(copy.data(), &info) != AMQP_STATUS_OK) Fail("bad url");
    conn_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (amqp_socket_open(socket, info.host, info.port) != AMQP_STATUS_OK) Fail("connect");
    if (amqp_login(conn_, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
                   info.password)
            .reply_type != AMQP_RESPONSE_NORMAL)
      Fail("login");
    amqp_channel_open(conn_, 1);
  }
  ~QueueDepth() { amqp_destroy_connection(conn_); }
  uint32_t Ready(const std::string& queue) {
    amqp_queue_declare_ok_t* ok = amqp_queue_declare(conn_, 1, amqp_cstring_bytes(queue.c_str()),
                                                     /*passive=*/1, 0, 0, 0, amqp_empty_table);
    if (ok == nullptr) Fail("passive declare of " + queue);
    return ok->message_count;
  }

 private:
  [[noreturn]] static void Fail(const std::string& what) {
    std::cerr << "queue depth: " << what << "\n";
    std::exit(1);
  }
  amqp_connection_state_t conn_;
};

int Preload(const std::string& url, int agents, int batches, size_t samples) {
  auto bus = Connect(url);
  bus::TopologyOptions topology;
  if (!bus::DeclareTopology(*bus, topology).ok()) return 1;
  const int64_t base = SystemClock::Get().NowMillis() - 3'600'000;
  const size_t kSeries = 1000;
  const size_t per_series = std::max<size_t>(1, samples / kSeries);
  for (int a = 0; a < agents; ++a) {
    if (!bus::DeclareDataQueue(*bus, AgentName(a), topology).ok()) return 1;
    for (int b = 0; b < batches; ++b) {
      model::Batch batch;
      for (size_t s = 0; s < kSeries; ++s) {
        model::Series series;
        series.labels = model::Labels::Of({{"__name__", "scale_reading"},
                                           {"agent", AgentName(a)},
                                           {"series", std::to_string(s)}});
        for (size_t i = 0; i < per_series; ++i) {
          series.samples.push_back(
              {base + static_cast<int64_t>(b * per_series + i), static_cast<double>(s + i)});
        }
        batch.series.push_back(std::move(series));
      }
      bus::Message m{model::EncodeBatch(batch), std::string(model::kProtobufContentType)};
      if (Status s = bus->Publish("", bus::DataQueueName(AgentName(a)), std::move(m)); !s.ok()) {
        std::cerr << s.ToString() << "\n";
        return 1;
      }
    }
  }
  std::printf("preloaded %d queues x %d batches x %zu samples = %zu samples\n", agents, batches,
              kSeries * per_series, static_cast<size_t>(agents) * batches * kSeries * per_series);
  return 0;
}

int Watch(const std::string& url, int agents, const std::string& queue, uint32_t target) {
  auto bus = Connect(url);
  bus::TopologyOptions topology;
  if (!bus::DeclareTopology(*bus, topology).ok()) return 1;
  auto announce = [&] {
    for (int a = 0; a < agents; ++a) {
      model::RouteAnnouncement announcement;
      announcement.agent = AgentName(a);
      announcement.queue = bus::DataQueueName(AgentName(a));
      announcement.timestamp_ms = SystemClock::Get().NowMillis();
      (void)bus->Publish(
          std::string(bus::kDiscoveryExchange), "",
          {model::EncodeAnnouncement(announcement), std::string(model::kProtobufContentType)});
    }
  };
  bus::QueueOptions private_queue;
  private_queue.durable = false;
  private_queue.exclusive = true;
  const std::string requests = "scale.discovery.requests";
  if (!bus->DeclareQueue(requests, private_queue).ok() ||
      !bus->BindQueue(requests, std::string(bus::kDiscoveryRequestsExchange), "").ok())
    return 1;
  auto subscription = bus->Consume(requests, {.prefetch = 16}, [&](const bus::Delivery& d) {
    announce();
    d.Ack();
  });
  if (!subscription.ok()) return 1;
  announce();
  std::printf("watching %s for %u messages\n", queue.c_str(), target);
  std::fflush(stdout);
  QueueDepth depth(url);
  Steady::time_point first{};
  uint32_t at_first = 0;
  const auto deadline = Steady::now() + std::chrono::minutes(5);
  for (uint32_t n = depth.Ready(queue); n < target; n = depth.Ready(queue)) {
    if (n > 0 && first == Steady::time_point{}) {
      first = Steady::now();
      at_first = n;
    }
    if (Steady::now() > deadline) {
      std::printf("timeout at %u of %u messages\n", n, target);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  double seconds = std::chrono::duration<double>(Steady::now() - first).count();
  std::printf("%u messages in %.2f s = %.0f messages/s\n", target - at_first, seconds,
              (target - at_first) / seconds);
  (*subscription)->Cancel();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "preload" && argc == 6)
    return Preload(argv[2], std::atoi(argv[3]), std::atoi(argv[4]),
                   std::strtoul(argv[5], nullptr, 10));
  if (mode == "watch" && argc == 6)
    return Watch(argv[2], std::atoi(argv[3]), argv[4], std::strtoul(argv[5], nullptr, 10));
  std::cerr << "usage: scale_load preload AMQP_URL AGENTS BATCHES SAMPLES_PER_BATCH\n"
               "       scale_load watch AMQP_URL AGENTS QUEUE MESSAGES\n";
  return 2;
}

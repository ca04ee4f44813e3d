// Bench program for the distributed data path on a real RabbitMQ (issue #6):
//
//   pipeline_load path AMQP_URL SECONDS SAMPLES_PER_BATCH RATE DATA_DIR
//     agent → vigil.data.<agent> → Coordinator → vigil.events → vigil.store → DataManager
//     → TsdbStore (fsync always), each over its own AMQP connection, as the roles run.
//     Two publisher threads stand in for agents: each publishes batches of
//     SAMPLES_PER_BATCH fresh samples (1,000 series, timestamps = now), RATE samples a
//     second between them (0: as fast as the confirms come back). Prints the samples stored per
//     second over the run and the latency from a batch's newest reading to the store's commit (p50,
//     p99, max).
//
//   pipeline_load replay AMQP_URL OUTAGE_SECONDS SAMPLES_PER_SECOND DATA_DIR
//     What an agent spooled during an outage of OUTAGE_SECONDS at SAMPLES_PER_SECOND (one
//     batch a second, as the default flush interval makes them) is written to its spool;
//     then the agent starts with the broker back, the coordinator and the datamanager
//     running, and the program times how long until the spool is empty and every spooled
//     sample is in the store (drain rate: the default, 100 batches a second).
//
//   pipeline_load raw AMQP_URL SECONDS SAMPLES_PER_BATCH
//     The broker alone on the same messages: the same publishers into one durable queue,
//     one consumer acking; messages and megabytes per second. The ceiling the path is
//     measured against.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "bus/amqp/amqp_bus.h"
#include "bus/topology.h"
#include "core/clock.h"
#include "core/env.h"
#include "model/batch_codec.h"
#include "model/messages.h"
#include "roles/agent.h"
#include "roles/coordinator.h"
#include "roles/datamanager.h"
#include "roles/spool.h"
#include "tsdb/tsdb_store.h"

namespace {

using namespace vigil;
using Steady = std::chrono::steady_clock;

std::unique_ptr<bus::AmqpBus> Connect(const std::string& url, metrics::Registry& registry) {
  bus::AmqpBus::Options options;
  options.url = url;
  options.registry = &registry;
  auto bus = bus::AmqpBus::Connect(options);
  if (!bus.ok()) {
    std::cerr << bus.status().ToString() << "\n";
    std::exit(1);
  }
  return std::move(bus).value();
}

// A batch of `samples` readings over 1,000 series, `per_series` each, ending at `now_ms`.
model::Batch MakeBatch(size_t samples, int64_t now_ms, int publisher) {
  constexpr size_t kSeries = 1000;
  size_t per_series = std::max<size_t>(1, samples / kSeries);
  model::Batch batch;
  for (size_t s = 0; s < kSeries && batch.SampleCount() < samples; ++s) {
    model::Series series;
    series.labels = model::Labels::Of({{"__name__", "bench_reading"},
                                       {"agent", "bench-" + std::to_string(publisher)},
                                       {"series", std::to_string(s)}});
    for (size_t i = 0; i < per_series; ++i)
      series.samples.push_back(
          {now_ms - static_cast<int64_t>(per_series - 1 - i), static_cast<double>(s + i)});
    batch.series.push_back(std::move(series));
  }
  return batch;
}

// Publishes fresh batches to `queue` until `stop`, at most `rate` samples a second (0: as
// fast as the confirms come back); counts what was confirmed. The labels are built once;
// each batch gets new timestamps, as an agent's would.
void Publish(bus::Bus& bus, const std::string& queue, size_t samples, int publisher, double rate,
             std::atomic<bool>& stop, std::atomic<uint64_t>& published) {
  model::Batch batch = MakeBatch(samples, SystemClock::Get().NowMillis(), publisher);
  auto start = Steady::now();
  uint64_t sent = 0;
  while (!stop) {
    int64_t now = SystemClock::Get().NowMillis();
    for (auto& series : batch.series) {
      int64_t t = now - static_cast<int64_t>(series.samples.size());
      for (auto& sample : series.samples) sample.timestamp_ms = ++t;
    }
    bus::Message message{model::EncodeBatch(batch), std::string(model::kProtobufContentType)};
    if (bus.Publish("", queue, std::move(message)).ok()) published += batch.SampleCount();
    sent += batch.SampleCount();
    if (rate > 0) std::this_thread::sleep_until(start + std::chrono::duration<double>(sent / rate));
  }
}

// Records when each batch became durable in the store.
class TimedWriter final : public store::BatchWriter {
 public:
  explicit TimedWriter(store::BatchWriter& inner) : inner_(inner) {}
  Status Append(const model::Batch& batch) override {
    newest_ = 0;
    for (const auto& s : batch.series)
      for (const auto& sample : s.samples) newest_ = std::max(newest_, sample.timestamp_ms);
    count_ = batch.SampleCount();
    return inner_.Append(batch);
  }
  Status Flush() override {
    Status status = inner_.Flush();
    if (status.ok()) {
      std::lock_guard lock(mu_);
      latencies_ms_.push_back(SystemClock::Get().NowMillis() - newest_);
      stored_ += count_;
    }
    return status;
  }
  uint64_t stored() {
    std::lock_guard lock(mu_);
    return stored_;
  }
  std::vector<int64_t> latencies() {
    std::lock_guard lock(mu_);
    return latencies_ms_;
  }

 private:
  store::BatchWriter& inner_;
  int64_t newest_ = 0;
  size_t count_ = 0;
  std::mutex mu_;
  uint64_t stored_ = 0;
  std::vector<int64_t> latencies_ms_;
};

// The consuming side of the path, each role on its own connection: the coordinator and
// the datamanager writing into an embedded store in `dir` through a TimedWriter.
struct Consumers {
  Consumers(const std::string& url, const std::string& dir, metrics::Registry& registry)
      : coordinator_bus(Connect(url, registry)), store_bus(Connect(url, registry)) {
    tsdb::TsdbOptions options;
    options.dir = dir;
    auto opened = tsdb::TsdbStore::Open(Env::Default(), SystemClock::Get(), options);
    if (!opened.ok()) {
      std::cerr << opened.status().ToString() << "\n";
      std::exit(1);
    }
    store = std::move(opened).value();
    timed = std::make_unique<TimedWriter>(*store);
    roles::DataManager::Options dm;
    dm.registry = &registry;
    datamanager = std::make_unique<roles::DataManager>(
        *store_bus, dm, std::vector<store::BatchWriter*>{timed.get()});
    roles::Coordinator::Options co;
    co.id = "bench-coordinator";
    co.registry = &registry;
    coordinator = std::make_unique<roles::Coordinator>(
        *coordinator_bus, SystemClock::Get(), co, pipeline::ShardedPipeline::PassThrough(registry));
  }
  bool Start() { return datamanager->Start().ok() && coordinator->Start().ok(); }
  void Stop() {
    coordinator->Stop();
    datamanager->Stop();
  }

  std::unique_ptr<bus::AmqpBus> coordinator_bus, store_bus;
  std::unique_ptr<tsdb::TsdbStore> store;
  std::unique_ptr<TimedWriter> timed;
  std::unique_ptr<roles::DataManager> datamanager;
  std::unique_ptr<roles::Coordinator> coordinator;
};

int Path(const std::string& url, int seconds, size_t samples, double rate, const std::string& dir) {
  metrics::Registry registry;
  auto producer = Connect(url, registry);
  bus::TopologyOptions topology;
  if (!bus::DeclareTopology(*producer, topology).ok()) return 1;
  std::vector<std::string> agents = {"bench-0", "bench-1"};
  for (const auto& agent : agents) {
    if (!bus::DeclareDataQueue(*producer, agent, topology).ok()) return 1;
  }
  Consumers consumers(url, dir, registry);
  TimedWriter& timed = *consumers.timed;
  if (!consumers.Start()) return 1;
  for (const auto& agent : agents) {
    model::RouteAnnouncement announcement;
    announcement.agent = agent;
    announcement.queue = bus::DataQueueName(agent);
    announcement.timestamp_ms = SystemClock::Get().NowMillis();
    bus::Message m{model::EncodeAnnouncement(announcement),
                   std::string(model::kProtobufContentType)};
    (void)producer->Publish(std::string(bus::kDiscoveryExchange), "", std::move(m));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};
  auto second_producer = Connect(url, registry);
  auto start = Steady::now();
  std::thread a([&] {
    Publish(*producer, bus::DataQueueName(agents[0]), samples, 0, rate / 2, stop, published);
  });
  std::thread b([&] {
    Publish(*second_producer, bus::DataQueueName(agents[1]), samples, 1, rate / 2, stop, published);
  });
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  a.join();
  b.join();
  double publish_seconds = std::chrono::duration<double>(Steady::now() - start).count();
  // Let the pipeline finish what was published.
  for (int i = 0; i < 600 && timed.stored() < published; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  double seconds_all = std::chrono::duration<double>(Steady::now() - start).count();
  consumers.Stop();
  std::vector<int64_t> lat = timed.latencies();
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))];
  };
  std::printf("batches of %zu samples, 2 publishers, offered %s, %d s\n", samples,
              rate > 0 ? (std::to_string(static_cast<long>(rate)) + " samples/s").c_str()
                       : "as fast as confirmed",
              seconds);
  std::printf("published: %.0f samples (%.0f/s while publishing)\n", double(published.load()),
              published / publish_seconds);
  std::printf("stored: %.0f samples in %.1f s = %.0f samples/s sustained\n", double(timed.stored()),
              seconds_all, timed.stored() / seconds_all);
  std::printf("reading -> store commit: p50 %lld ms, p99 %lld ms, max %lld ms (%zu batches)\n",
              (long long)pct(0.5), (long long)pct(0.99), (long long)(lat.empty() ? 0 : lat.back()),
              lat.size());
  return timed.stored() == published ? 0 : 1;
}

int Replay(const std::string& url, int outage_seconds, size_t per_second, const std::string& dir) {
  metrics::Registry registry;
  {
    auto spool = roles::Spool::Open(Env::Default(), SystemClock::Get(), {.dir = dir + "/spool"});
    if (!spool.ok()) {
      std::cerr << spool.status().ToString() << "\n";
      return 1;
    }
    int64_t start = SystemClock::Get().NowMillis() - outage_seconds * 1000LL;
    model::Batch batch = MakeBatch(per_second, start, 0);
    for (int i = 0; i < outage_seconds; ++i) {
      int64_t now = start + i * 1000LL;
      for (auto& series : batch.series) {
        int64_t t = now - static_cast<int64_t>(series.samples.size());
        for (auto& sample : series.samples) sample.timestamp_ms = ++t;
      }
      bus::Message m{model::EncodeBatch(batch), std::string(model::kProtobufContentType)};
      if (!(*spool)->Append(m, static_cast<uint32_t>(batch.SampleCount())).ok()) return 1;
    }
    std::printf("spooled: %d batches of %zu samples (%.1f MiB)\n", outage_seconds,
                batch.SampleCount(), (*spool)->bytes() / 1048576.0);
  }
  uint64_t expected =
      static_cast<uint64_t>(outage_seconds) * std::max<size_t>(1, per_second / 1000) * 1000;
  auto agent_bus = Connect(url, registry);
  Consumers consumers(url, dir + "/store", registry);
  TimedWriter& timed = *consumers.timed;
  if (!consumers.Start()) return 1;
  roles::Agent::Options ao;
  ao.id = "bench-0";
  ao.registry = &registry;
  ao.spool_dir = dir + "/spool";
  auto agent = roles::Agent::Create(*agent_bus, SystemClock::Get(), ao, {});
  if (!agent.ok()) {
    std::cerr << agent.status().ToString() << "\n";
    return 1;
  }
  auto start = Steady::now();
  if (!(*agent)->Start().ok()) return 1;
  double drained_at = 0;
  for (int i = 0; i < 6000 && timed.stored() < expected; ++i) {
    if (drained_at == 0 && (*agent)->spooled_batches() == 0)
      drained_at = std::chrono::duration<double>(Steady::now() - start).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  double stored_at = std::chrono::duration<double>(Steady::now() - start).count();
  if (drained_at == 0) drained_at = stored_at;
  (*agent)->Stop();
  consumers.Stop();
  std::printf(
      "outage of %d s at %zu samples/s: spool empty after %.1f s, all %llu samples "
      "stored after %.1f s (%.0f samples/s)\n",
      outage_seconds, per_second, drained_at, static_cast<unsigned long long>(timed.stored()),
      stored_at, timed.stored() / stored_at);
  return timed.stored() == expected ? 0 : 1;
}

int Raw(const std::string& url, int seconds, size_t samples) {
  metrics::Registry registry;
  auto producer = Connect(url, registry), second = Connect(url, registry),
       consumer_bus = Connect(url, registry);
  bus::QueueOptions queue;
  queue.max_length = 1024;
  if (!producer->DeclareQueue("bench.raw", queue).ok()) return 1;
  std::atomic<uint64_t> received{0}, bytes{0};
  auto consumer =
      *consumer_bus->Consume("bench.raw", {.prefetch = 64}, [&](const bus::Delivery& d) {
        received += 1;
        bytes += d.message().body.size();
        d.Ack();
      });
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};
  auto start = Steady::now();
  std::thread a([&] { Publish(*producer, "bench.raw", samples, 0, 0, stop, published); });
  std::thread b([&] { Publish(*second, "bench.raw", samples, 1, 0, stop, published); });
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  a.join();
  b.join();
  uint64_t messages_expected = published / samples;
  for (int i = 0; i < 300 && received < messages_expected; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  double s = std::chrono::duration<double>(Steady::now() - start).count();
  consumer->Cancel();
  std::printf("raw broker, batches of %zu samples (%.1f KiB each), 2 publishers, 1 consumer\n",
              samples, received ? bytes / double(received) / 1024 : 0.0);
  std::printf("%.0f messages/s, %.1f MB/s, %.0f samples/s carried\n", received / s, bytes / s / 1e6,
              received * double(samples) / s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "path" && argc == 7)
    return Path(argv[2], std::stoi(argv[3]), std::stoul(argv[4]), std::stod(argv[5]), argv[6]);
  if (mode == "replay" && argc == 6)
    return Replay(argv[2], std::stoi(argv[3]), std::stoul(argv[4]), argv[5]);
  if (mode == "raw" && argc == 5) return Raw(argv[2], std::stoi(argv[3]), std::stoul(argv[4]));
  std::cerr << "usage: pipeline_load path AMQP_URL SECONDS SAMPLES_PER_BATCH RATE DATA_DIR\n"
               "       pipeline_load replay AMQP_URL OUTAGE_SECONDS SAMPLES_PER_SECOND DATA_DIR\n"
               "       pipeline_load raw AMQP_URL SECONDS SAMPLES_PER_BATCH\n";
  return 2;
}

// Bench program for the sensor agent (issue #3), two modes:
//
//   agent_load overhead CONFIG SECONDS
//     Runs the [[sensors]] of CONFIG (the http probes left out: the bundled agent's figure
//     is for proc + the plant) in a real Agent publishing to an in-process bus that a
//     consumer drains, for SECONDS, and prints the CPU the process used (% of one core,
//     from getrusage) and its peak RSS (VmHWM). The RabbitMQ publish is not included.
//
//   agent_load probes URL_PREFIX TARGETS SECONDS
//     One http sensor probing TARGETS URLs (URL_PREFIX?i=N) every 10 s through the real
//     Scheduler for SECONDS, and prints each collection's duration, the successes, and
//     vigil_sensor_errors_total (skipped or timed-out collections mean missed intervals).
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "bus/in_process_bus.h"
#include "core/clock.h"
#include "roles/agent.h"
#include "roles/config.h"
#include "sensors/http/http_probe.h"
#include "sensors/scheduler.h"

namespace {

using namespace vigil;

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::string StatusField(const std::string& name) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(name + ":")) return line.substr(name.size() + 1);
  }
  return "?";
}

int Overhead(const std::string& config_path, int seconds) {
  auto config = roles::LoadVigilConfig(config_path);
  if (!config.ok()) {
    std::cerr << config.status().ToString() << "\n";
    return 1;
  }
  std::vector<sensors::SensorSpec> specs;
  for (const auto& spec : config->sensors) {
    if (spec.type != "http") specs.push_back(spec);
  }
  metrics::Registry registry;
  bus::InProcessBus bus(bus::InProcessBus::Options{.registry = &registry});
  roles::Agent::Options options;
  options.id = "bench";
  options.registry = &registry;
  auto agent = roles::Agent::Create(bus, SystemClock::Get(), options, specs);
  if (!agent.ok()) {
    std::cerr << agent.status().ToString() << "\n";
    return 1;
  }
  if (Status s = (*agent)->Start(); !s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  std::atomic<size_t> batches{0};
  auto consumer = *bus.Consume((*agent)->queue(), {}, [&](const bus::Delivery& d) {
    ++batches;
    d.Ack();
  });
  // Let start-up (thread creation, the first reading) pass before measuring.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  double cpu_start = CpuSeconds();
  auto wall_start = std::chrono::steady_clock::now();
  size_t batches_start = batches;
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double cpu = CpuSeconds() - cpu_start;
  double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  size_t published = batches - batches_start;
  auto& samples = registry.AddCounter("vigil_agent_samples_total", "", {"outcome"});
  std::printf("sensors: %zu (http left out)\n", specs.size());
  std::printf("wall: %.1f s, batches: %zu, samples published in all: %.0f\n", wall, published,
              samples.WithLabels({"published"}).Value());
  std::printf("cpu: %.3f s = %.3f %% of one core\n", cpu, 100 * cpu / wall);
  std::printf("rss now:%s, peak:%s\n", StatusField("VmRSS").c_str(), StatusField("VmHWM").c_str());
  (*agent)->Stop();
  return 0;
}

int Probes(const std::string& prefix, int targets, int seconds) {
  sensors::http::HttpProbe::Options options;
  for (int i = 0; i < targets; ++i) options.targets.push_back(prefix + "?i=" + std::to_string(i));
  options.interval_ms = 10'000;
  options.timeout_ms = 5'000;
  auto probe = sensors::http::HttpProbe::Create({}, options);
  if (!probe.ok()) {
    std::cerr << probe.status().ToString() << "\n";
    return 1;
  }
  metrics::Registry registry;
  std::mutex mu;
  struct Collection {
    size_t ok = 0, all = 0;
    int64_t took_ms = 0;  // from the collection's start to its readings in hand
  };
  std::vector<Collection> collections;
  std::vector<sensors::Scheduler::Entry> entries;
  entries.push_back({"probes", std::move(probe).value()});
  sensors::Scheduler scheduler(
      std::move(entries), "bench",
      [&](const std::string&, model::Batch&& batch) {
        Collection c;
        for (const auto& s : batch.series) {
          if (s.labels.MetricName() != "probe_success") continue;
          ++c.all;
          c.ok += s.samples[0].value == 1;
          c.took_ms = SystemClock::Get().NowMillis() - s.samples[0].timestamp_ms;
        }
        std::lock_guard lock(mu);
        collections.push_back(c);
      },
      registry);
  double cpu_start = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    int64_t now = SystemClock::Get().NowMillis();
    int64_t next = scheduler.RunOnce(now);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::max<int64_t>(1, next - now)));
  }
  scheduler.WaitIdle();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = CpuSeconds() - cpu_start;
  auto& durations = registry.AddHistogram("vigil_sensor_collect_duration_seconds", "", {"sensor"})
                        .WithLabels({"probes"});
  auto& errors = registry.AddCounter("vigil_sensor_errors_total", "", {"sensor", "reason"});
  std::lock_guard lock(mu);
  std::printf("targets: %d, interval 10 s, %.0f s\n", targets, wall);
  for (size_t i = 0; i < collections.size(); ++i)
    std::printf("collection %zu: %zu of %zu probes succeeded, took %lld ms\n", i + 1,
                collections[i].ok, collections[i].all,
                static_cast<long long>(collections[i].took_ms));
  std::printf("collections: %llu, mean duration %.3f s\n",
              static_cast<unsigned long long>(durations.Count()),
              durations.Count() ? durations.Sum() / durations.Count() : 0.0);
  std::printf("skipped: %.0f, timeouts: %.0f, errors: %.0f\n",
              errors.WithLabels({"probes", "skipped"}).Value(),
              errors.WithLabels({"probes", "timeout"}).Value(),
              errors.WithLabels({"probes", "collect"}).Value());
  std::printf("cpu: %.3f s = %.2f %% of one core\n", cpu, 100 * cpu / wall);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "overhead" && argc == 4) return Overhead(argv[2], std::stoi(argv[3]));
  if (mode == "probes" && argc == 5) return Probes(argv[2], std::stoi(argv[3]), std::stoi(argv[4]));
  std::cerr << "usage: agent_load overhead CONFIG SECONDS\n"
               "       agent_load probes URL_PREFIX TARGETS SECONDS\n";
  return 2;
}

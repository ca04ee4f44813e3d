#include "sensors/scheduler.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <chrono>
#include <limits>
#include <optional>
#include <thread>

#include "core/mutex.h"

namespace vigil::sensors {

namespace {

int64_t HashBelow(std::string_view key, int64_t bound) {
  if (bound <= 0) return 0;
  return static_cast<int64_t>(XXH3_64bits(key.data(), key.size()) % static_cast<uint64_t>(bound));
}

}  // namespace

int64_t ScheduleOffset(std::string_view agent, std::string_view sensor, int64_t interval_ms) {
  const int64_t span = std::min<int64_t>(interval_ms / 10, 100);
  const int64_t sensor_span = span / 10;
  const std::string key = std::string(agent) + "/" + std::string(sensor);
  return HashBelow(agent, span - sensor_span) + HashBelow(key, sensor_span);
}

int64_t NextDue(int64_t now_ms, int64_t interval_ms, int64_t offset_ms) {
  int64_t base = now_ms - offset_ms;
  // Floor division, so times before the offset round down too.
  int64_t k = base >= 0 ? base / interval_ms : -((-base + interval_ms - 1) / interval_ms);
  return (k + 1) * interval_ms + offset_ms;
}

// One sensor and the worker thread that collects it. The fields under mu are shared
// between the scheduler's thread and the worker; the rest belong to the scheduler's.
struct Scheduler::Runner {
  Runner(std::string name, std::unique_ptr<Sensor> sensor, int64_t offset,
         const Scheduler::ReadingSink& sink, metrics::Histogram& duration,
         metrics::Family<metrics::Counter>& errors)
      : name(std::move(name)),
        sensor(std::move(sensor)),
        interval_ms(this->sensor->interval_ms()),
        timeout_ms(this->sensor->timeout_ms()),
        offset_ms(offset),
        sink(sink),
        duration(duration),
        errors(errors) {}

  void Work();
  void CountError(std::string_view reason, const std::string& message);

  const std::string name;
  const std::unique_ptr<Sensor> sensor;
  const int64_t interval_ms;
  const int64_t timeout_ms;
  const int64_t offset_ms;
  const Scheduler::ReadingSink& sink;
  metrics::Histogram& duration;
  metrics::Family<metrics::Counter>& errors;
  int64_t next_due_ms = 0;  // scheduler's thread; 0: right away

  Mutex mu;
  CondVar cv;
  std::optional<int64_t> request;  // the time of a collection the worker should start
  bool busy = false;               // from request until the collection returned
  int64_t started_ms = 0;
  bool abandoned = false;  // the running collection outlived its timeout
  bool stop = false;
  std::string last_error;  // logged at warning level only when it changes
  std::thread thread;
};

void Scheduler::Runner::CountError(std::string_view reason, const std::string& message) {
  errors.WithLabels({name, reason}).Inc();
  if (message != last_error) {
    spdlog::warn("sensor {}: {}", name, message);
    last_error = message;
  } else {
    spdlog::debug("sensor {}: {}", name, message);
  }
}

void Scheduler::Runner::Work() {
  MutexLock lock(mu);
  while (true) {
    cv.wait(lock, [&] { return stop || request.has_value(); });
    if (stop) return;
    int64_t at = *request;
    request.reset();
    lock.unlock();

    model::BatchBuilder out;
    Status status;
    std::optional<std::string> exception;
    auto start = std::chrono::steady_clock::now();
    try {
      status = sensor->Collect(at, out);
    } catch (const std::exception& e) {
      exception = e.what();
    } catch (...) {
      exception = "unknown exception";
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    lock.lock();
    busy = false;
    cv.notify_all();
    if (stop) return;  // the registry and the sink may be gone
    if (abandoned) {   // counted as a timeout when it was abandoned
      abandoned = false;
      continue;
    }
    duration.Observe(seconds);
    if (exception) {
      CountError("exception", "collect threw: " + *exception);
    } else if (!status.ok()) {
      CountError("collect", status.ToString());
    } else {
      last_error.clear();
    }
    if (!out.empty()) sink(name, out.Take());
  }
}

Scheduler::Scheduler(std::vector<Entry> entries, std::string_view agent_id, ReadingSink sink,
                     metrics::Registry& registry)
    : errors_(registry.AddCounter("vigil_sensor_errors_total",
                                  "Failed collections, by sensor and reason (collect, timeout, "
                                  "skipped, exception).",
                                  {"sensor", "reason"})) {
  auto& durations = registry.AddHistogram("vigil_sensor_collect_duration_seconds",
                                          "Time one collection of a sensor took.", {"sensor"});
  // The sink outlives every runner that is not stopped; keep one copy they all refer to.
  auto shared_sink = std::make_shared<ReadingSink>(std::move(sink));
  for (auto& entry : entries) {
    int64_t offset = ScheduleOffset(agent_id, entry.name, entry.sensor->interval_ms());
    auto runner =
        std::make_shared<Runner>(entry.name, std::move(entry.sensor), offset, *shared_sink,
                                 durations.WithLabels({entry.name}), errors_);
    runner->thread = std::thread([runner, shared_sink] { runner->Work(); });
    runners_.push_back(std::move(runner));
  }
}

Scheduler::~Scheduler() { Stop(); }

int64_t Scheduler::RunOnce(int64_t now_ms) {
  int64_t next = std::numeric_limits<int64_t>::max();
  for (auto& r : runners_) {
    MutexLock lock(r->mu);
    if (r->busy && !r->abandoned && now_ms >= r->started_ms + r->timeout_ms) {
      r->abandoned = true;
      r->CountError("timeout", "collection started at " + std::to_string(r->started_ms) +
                                   " ran past its timeout of " + std::to_string(r->timeout_ms) +
                                   " ms; its readings will be dropped");
    }
    if (now_ms >= r->next_due_ms) {
      bool first = r->next_due_ms == 0;
      if (r->busy) {
        r->errors.WithLabels({r->name, "skipped"}).Inc();
      } else {
        r->request = now_ms;
        r->busy = true;
        r->started_ms = now_ms;
        r->cv.notify_all();
      }
      r->next_due_ms = NextDue(now_ms, r->interval_ms, r->offset_ms);
      // The first collection runs at start; the second not before half an interval later.
      if (first && r->next_due_ms - now_ms < r->interval_ms / 2) r->next_due_ms += r->interval_ms;
    }
    next = std::min(next, r->next_due_ms);
    if (r->busy && !r->abandoned) next = std::min(next, r->started_ms + r->timeout_ms);
  }
  return next;
}

bool Scheduler::Settled(int64_t until_ms) {
  for (auto& r : runners_) {
    MutexLock lock(r->mu);
    if ((r->busy && !r->abandoned) || r->next_due_ms <= until_ms) return false;
  }
  return true;
}

void Scheduler::WaitIdle() {
  for (auto& r : runners_) {
    MutexLock lock(r->mu);
    r->cv.wait(lock, [&] { return !r->busy || r->abandoned; });
  }
}

void Scheduler::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& r : runners_) {
    MutexLock lock(r->mu);
    r->cv.wait_for(lock, std::chrono::milliseconds(r->timeout_ms),
                   [&] { return !r->busy || r->abandoned; });
    r->stop = true;
    bool hung = r->busy;
    r->cv.notify_all();
    lock.unlock();
    if (hung) {
      spdlog::warn("sensor {}: still collecting at stop; left to finish on its own", r->name);
      r->thread.detach();
    } else {
      r->thread.join();
    }
  }
}

void Scheduler::ForEachSensor(
    const std::function<void(const std::string& name, const Sensor&)>& fn) const {
  for (const auto& runner : runners_) fn(runner->name, *runner->sensor);
}

}  // namespace vigil::sensors

#include "roles/agent.h"

#include <spdlog/spdlog.h>

#include "model/batch_codec.h"
#include "model/messages.h"
#include "sensors/registry.h"

namespace vigil::roles {

int64_t NextAligned(int64_t now_ms, int64_t interval_ms) {
  return (now_ms / interval_ms + 1) * interval_ms;
}

Result<std::unique_ptr<Agent>> Agent::Create(bus::Bus& bus, Clock& clock, Options options,
                                             const std::vector<sensors::SensorSpec>& specs) {
  if (options.id.empty()) return InvalidArgumentError("agent: empty id");
  if (options.flush_interval_ms <= 0)
    return InvalidArgumentError("agent: flush interval must be positive");
  std::unique_ptr<Agent> agent(new Agent(bus, clock, std::move(options)));
  auto& durations = agent->options_.registry->AddHistogram(
      "vigil_sensor_collect_duration_seconds", "Time one collection of a sensor took.", {"sensor"});
  for (sensors::SensorSpec spec : specs) {
    // Every series says which agent took it, unless the config says otherwise.
    spec.labels.try_emplace("agent", agent->options_.id);
    auto sensor = sensors::CreateSensor(spec);
    if (!sensor.ok()) return sensor.status().Annotate("sensor " + spec.name);
    agent->sensors_.push_back(
        {spec, std::move(sensor).value(), 0, durations.WithLabels({spec.name})});
  }
  return agent;
}

Agent::Agent(bus::Bus& bus, Clock& clock, Options options)
    : bus_(bus),
      clock_(clock),
      options_(std::move(options)),
      queue_(bus::DataQueueName(options_.id)),
      sensor_errors_(options_.registry->AddCounter("vigil_sensor_errors_total",
                                                   "Failed collections, by sensor and reason.",
                                                   {"sensor", "reason"})),
      batches_(options_.registry->AddCounter(
          "vigil_agent_batches_total", "Batches the agent published, by outcome.", {"outcome"})),
      samples_(options_.registry->AddCounter(
          "vigil_agent_samples_total", "Samples the agent collected, by outcome.", {"outcome"})),
      batches_published_(batches_.WithLabels({"published"})),
      batches_failed_(batches_.WithLabels({"failed"})),
      samples_published_(samples_.WithLabels({"published"})),
      samples_dropped_(samples_.WithLabels({"dropped"})) {}

Agent::~Agent() { Stop(); }

Status Agent::Announce() {
  model::RouteAnnouncement announcement;
  announcement.agent = options_.id;
  announcement.queue = queue_;
  announcement.timestamp_ms = clock_.NowMillis();
  for (const auto& s : sensors_) {
    std::vector<model::Label> pairs;
    for (const auto& [name, value] : s.spec.labels) pairs.push_back({name, value});
    auto labels = model::Labels::FromPairs(std::move(pairs));
    announcement.sensors.push_back({s.spec.name, s.spec.type,
                                    labels.ok() ? *labels : model::Labels(),
                                    s.sensor->interval_ms()});
  }
  bus::Message message{model::EncodeAnnouncement(announcement),
                       std::string(model::kProtobufContentType)};
  return bus_.Publish(std::string(bus::kDiscoveryExchange), "", std::move(message))
      .Annotate("announce");
}

Status Agent::Start() {
  VIGIL_RETURN_IF_ERROR(bus::DeclareTopology(bus_, options_.topology));
  VIGIL_RETURN_IF_ERROR(bus::DeclareDataQueue(bus_, options_.id, options_.topology));
  std::string requests = bus::PrivateQueueName("agent", options_.id);
  bus::QueueOptions private_queue;
  private_queue.durable = false;
  private_queue.exclusive = true;
  private_queue.max_length = 16;
  private_queue.overflow = bus::Overflow::kReject;
  VIGIL_RETURN_IF_ERROR(bus_.DeclareQueue(requests, private_queue));
  VIGIL_RETURN_IF_ERROR(bus_.BindQueue(requests, std::string(bus::kDiscoveryRequestsExchange), ""));
  VIGIL_ASSIGN_OR_RETURN(requests_,
                         bus_.Consume(requests, {.prefetch = 1}, [this](const bus::Delivery& d) {
                           // Any request, even one we cannot read, deserves an answer.
                           Status status = Announce();
                           if (!status.ok())
                             spdlog::warn("agent {}: {}", options_.id, status.ToString());
                           d.Ack();
                         }));
  VIGIL_RETURN_IF_ERROR(Announce());
  spdlog::info("agent {}: started with {} sensors, publishing to {}", options_.id, sensors_.size(),
               queue_);
  thread_ = std::thread([this] { Run(); });
  return OkStatus();
}

void Agent::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (requests_) requests_->Cancel();
  Status status = Flush();
  if (!status.ok()) spdlog::error("agent {}: final flush: {}", options_.id, status.ToString());
}

void Agent::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    int64_t now = clock_.NowMillis();
    int64_t next = RunOnce(now);
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, next - now)),
                   [this] { return stop_; });
  }
}

int64_t Agent::RunOnce(int64_t now_ms) {
  if (next_flush_ms_ == 0) next_flush_ms_ = NextAligned(now_ms, options_.flush_interval_ms);
  int64_t next = next_flush_ms_;
  for (auto& s : sensors_) {
    if (now_ms >= s.next_due_ms) {
      auto start = std::chrono::steady_clock::now();
      Status status = s.sensor->Collect(now_ms, pending_);
      s.duration.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (!status.ok()) {
        sensor_errors_.WithLabels({s.spec.name, "collect"}).Inc();
        spdlog::warn("sensor {}: {}", s.spec.name, status.ToString());
      }
      s.next_due_ms = NextAligned(now_ms, s.sensor->interval_ms());
    }
    next = std::min(next, s.next_due_ms);
  }
  if (now_ms >= next_flush_ms_ || pending_.sample_count() >= options_.max_batch_samples) {
    Status status = Flush();
    if (!status.ok()) spdlog::error("agent {}: {}", options_.id, status.ToString());
    next_flush_ms_ = NextAligned(now_ms, options_.flush_interval_ms);
    next = std::min(next, next_flush_ms_);
  }
  return next;
}

Status Agent::Flush() {
  if (pending_.empty()) return OkStatus();
  size_t samples = pending_.sample_count();
  model::Batch batch = pending_.Take();
  bus::Message message{model::EncodeBatch(batch), std::string(model::kProtobufContentType)};
  Status status = bus_.Publish("", queue_, std::move(message));
  if (!status.ok()) {
    // The on-disk spool that keeps these arrives with the RabbitMQ bus (issue 6).
    batches_failed_.Inc();
    samples_dropped_.Inc(static_cast<double>(samples));
    return status.Annotate("publish batch of " + std::to_string(samples) + " samples");
  }
  batches_published_.Inc();
  samples_published_.Inc(static_cast<double>(samples));
  return OkStatus();
}

}  // namespace vigil::roles

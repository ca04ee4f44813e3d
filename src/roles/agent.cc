#include "roles/agent.h"

#include <spdlog/spdlog.h>

#include "model/batch_codec.h"
#include "model/messages.h"
#include "sensors/registry.h"

namespace vigil::roles {

namespace {

// The flush waits this long after each multiple of its interval, so that the readings
// taken at that multiple (sensor offsets are below 100 ms) travel in it.
int64_t FlushLag(int64_t flush_interval_ms) {
  return std::min<int64_t>(flush_interval_ms / 5, 200);
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::Create(bus::Bus& bus, Clock& clock, Options options,
                                             const std::vector<sensors::SensorSpec>& specs) {
  if (options.id.empty()) return InvalidArgumentError("agent: empty id");
  if (options.flush_interval_ms <= 0)
    return InvalidArgumentError("agent: flush interval must be positive");
  std::unique_ptr<Agent> agent(new Agent(bus, clock, std::move(options)));
  std::vector<sensors::Scheduler::Entry> entries;
  for (sensors::SensorSpec spec : specs) {
    // Every series says which agent took it, unless the config says otherwise.
    spec.labels.try_emplace("agent", agent->options_.id);
    auto sensor = sensors::CreateSensor(spec);
    if (!sensor.ok()) return sensor.status().Annotate("sensor " + spec.name);
    std::vector<model::Label> pairs;
    for (const auto& [name, value] : spec.labels) pairs.push_back({name, value});
    auto labels = model::Labels::FromPairs(std::move(pairs));
    agent->announced_.push_back(
        {spec.name, spec.type, labels.ok() ? *labels : model::Labels(), (*sensor)->interval_ms()});
    entries.push_back({spec.name, std::move(sensor).value()});
  }
  Agent* self = agent.get();
  agent->scheduler_ = std::make_unique<sensors::Scheduler>(
      std::move(entries), agent->options_.id,
      [self](const std::string&, model::Batch&& readings) { self->AddReadings(readings); },
      *agent->options_.registry);
  return agent;
}

Agent::Agent(bus::Bus& bus, Clock& clock, Options options)
    : bus_(bus),
      clock_(clock),
      options_(std::move(options)),
      queue_(bus::DataQueueName(options_.id)),
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
  announcement.sensors = announced_;
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
  spdlog::info("agent {}: started with {} sensors, publishing to {}", options_.id,
               scheduler_->size(), queue_);
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
  scheduler_->Stop();
  if (requests_) requests_->Cancel();
  Status status = Flush();
  if (!status.ok()) spdlog::error("agent {}: final flush: {}", options_.id, status.ToString());
  spdlog::info("agent {}: stopped; {} samples published in {} batches, {} dropped", options_.id,
               samples_published_.Value(), batches_published_.Value(), samples_dropped_.Value());
}

void Agent::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    flush_now_ = false;
    lock.unlock();
    int64_t now = clock_.NowMillis();
    int64_t next = RunOnce(now);
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, next - now)),
                   [this] { return stop_ || flush_now_; });
  }
}

void Agent::AddReadings(const model::Batch& readings) {
  bool full;
  {
    std::lock_guard lock(pending_mu_);
    for (const auto& series : readings.series) {
      for (const auto& sample : series.samples) pending_.Add(series.labels, sample);
    }
    full = pending_.sample_count() >= options_.max_batch_samples;
  }
  if (full) {
    std::lock_guard lock(mu_);
    flush_now_ = true;
    wake_.notify_all();
  }
}

bool Agent::BatchFull() {
  std::lock_guard lock(pending_mu_);
  return pending_.sample_count() >= options_.max_batch_samples;
}

int64_t Agent::RunOnce(int64_t now_ms) {
  int64_t lag = FlushLag(options_.flush_interval_ms);
  if (next_flush_ms_ == 0)
    next_flush_ms_ = sensors::NextDue(now_ms, options_.flush_interval_ms, lag);
  int64_t next = scheduler_->RunOnce(now_ms);
  if (now_ms >= next_flush_ms_ || BatchFull()) {
    Status status = Flush();
    if (!status.ok()) spdlog::error("agent {}: {}", options_.id, status.ToString());
    if (now_ms >= next_flush_ms_)
      next_flush_ms_ = sensors::NextDue(now_ms, options_.flush_interval_ms, lag);
  }
  return std::min(next, next_flush_ms_);
}

Status Agent::Flush() {
  model::Batch batch;
  {
    std::lock_guard lock(pending_mu_);
    batch = pending_.Take();
  }
  size_t samples = batch.SampleCount();
  if (samples == 0) return OkStatus();
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

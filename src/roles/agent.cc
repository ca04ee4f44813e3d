#include "roles/agent.h"

#include <spdlog/spdlog.h>

#include "bus/topic.h"
#include "model/batch_codec.h"
#include "model/messages.h"
#include "sensors/registry.h"

namespace vigil::roles {

namespace {

// Whether two descriptions of the sensors differ at most in when their targets were last
// scraped and how long that took.
bool SameButForScrapeTimes(std::vector<model::SensorInfo> a, std::vector<model::SensorInfo> b) {
  for (auto* side : {&a, &b}) {
    for (auto& sensor : *side) {
      for (auto& target : sensor.targets) {
        target.last_scrape_ms = 0;
        target.last_scrape_duration_seconds = 0;
      }
    }
  }
  return a == b;
}

// The flush is due this long after each multiple of its interval, so that the readings
// taken at that multiple (sensor offsets are below 100 ms) travel in it; it goes earlier
// once they are all in.
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
  if (!agent->options_.spool_dir.empty()) {
    VIGIL_ASSIGN_OR_RETURN(agent->spool_,
                           Spool::Open(*agent->options_.env, clock,
                                       {.dir = agent->options_.spool_dir,
                                        .max_bytes = agent->options_.spool_max_bytes,
                                        .legacy_dir = agent->options_.legacy_spool_dir}));
    agent->UpdateSpoolGauges();
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
      breaker_(clock, options_.breaker),
      batches_(options_.registry->AddCounter(
          "vigil_agent_batches_total",
          "Batches of the agent, by outcome: published, spooled, replayed (from the spool), "
          "failed (lost).",
          {"outcome"})),
      samples_(options_.registry->AddCounter(
          "vigil_agent_samples_total",
          "Samples of the agent, by outcome: published, spooled, dropped (lost).", {"outcome"})),
      batches_published_(batches_.WithLabels({"published"})),
      batches_spooled_(batches_.WithLabels({"spooled"})),
      batches_replayed_(batches_.WithLabels({"replayed"})),
      batches_failed_(batches_.WithLabels({"failed"})),
      samples_published_(samples_.WithLabels({"published"})),
      samples_spooled_(samples_.WithLabels({"spooled"})),
      samples_dropped_(samples_.WithLabels({"dropped"})),
      spool_batches_(
          options_.registry
              ->AddGauge("vigil_agent_spool_batches", "Batches waiting in the agent's spool.", {})
              .WithLabels({})),
      spool_bytes_(
          options_.registry->AddGauge("vigil_agent_spool_bytes", "Bytes of the agent's spool.", {})
              .WithLabels({})),
      spool_age_(options_.registry
                     ->AddGauge("vigil_agent_spool_oldest_age_seconds",
                                "Age of the oldest batch in the spool; 0 when empty.", {})
                     .WithLabels({})),
      spool_dropped_(options_.registry
                         ->AddCounter("vigil_agent_spool_dropped_batches_total",
                                      "Spooled batches lost because the spool was full.", {})
                         .WithLabels({})),
      breaker_gauge_(options_.registry
                         ->AddGauge("vigil_agent_breaker_state",
                                    "The publish circuit breaker: 0 closed, 1 open, 2 half-open.",
                                    {})
                         .WithLabels({})),
      breaker_trips_(options_.registry
                         ->AddCounter("vigil_agent_breaker_trips_total",
                                      "Times the publish circuit breaker opened.", {})
                         .WithLabels({})) {}

Agent::~Agent() { Stop(); }

std::vector<model::SensorInfo> Agent::DescribeSensors() const {
  std::vector<model::SensorInfo> sensors = announced_;
  size_t i = 0;
  scheduler_->ForEachSensor([&](const std::string&, const sensors::Sensor& sensor) {
    sensors[i].metadata = sensor.Metadata();
    sensors[i].targets = sensor.Targets();
    ++i;
  });
  return sensors;
}

Status Agent::Announce() {
  model::RouteAnnouncement announcement;
  announcement.agent = options_.id;
  announcement.queue = queue_;
  announcement.timestamp_ms = clock_.NowMillis();
  announcement.sensors = DescribeSensors();
  {
    MutexLock lock(announce_mu_);
    last_announced_ = announcement.sensors;
    last_announced_ms_ = announcement.timestamp_ms;
  }
  bus::Message message{model::EncodeAnnouncement(announcement),
                       std::string(model::kProtobufContentType)};
  return bus_.Publish(std::string(bus::kDiscoveryExchange), "", std::move(message))
      .Annotate("announce");
}

Status PublishGoodbye(bus::Bus& bus, const std::string& agent, int64_t now_ms, bool retired) {
  model::RouteAnnouncement goodbye;
  goodbye.agent = agent;
  goodbye.queue = bus::DataQueueName(agent);
  goodbye.timestamp_ms = now_ms;
  goodbye.leaving = true;
  goodbye.retired = retired;
  bus::Message message{model::EncodeAnnouncement(goodbye),
                       std::string(model::kProtobufContentType)};
  return bus.Publish(std::string(bus::kDiscoveryExchange), "", std::move(message))
      .Annotate("goodbye");
}

Status Agent::Start() {
  if (Status status = SetUp(); !status.ok()) {
    if (!spool_ || !IsTransient(status)) return status;
    spdlog::warn(
        "agent {}: the broker is not reachable ({}); collecting into the spool until "
        "it is",
        options_.id, status.ToString());
  }
  spdlog::info("agent {}: started with {} sensors, publishing to {}", options_.id,
               scheduler_->size(), queue_);
  thread_ = std::thread([this] { Run(); });
  return OkStatus();
}

Status Agent::SetUp() {
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
  if (!requests_) {
    VIGIL_ASSIGN_OR_RETURN(requests_,
                           bus_.Consume(requests, {.prefetch = 1}, [this](const bus::Delivery& d) {
                             // Any request, even one we cannot read, deserves an answer.
                             Status status = Announce();
                             if (!status.ok())
                               spdlog::warn("agent {}: {}", options_.id, status.ToString());
                             d.Ack();
                           }));
  }
  VIGIL_RETURN_IF_ERROR(Announce());
  set_up_ = true;
  return OkStatus();
}

void Agent::Stop() {
  {
    MutexLock lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  scheduler_->Stop();
  if (requests_) requests_->Cancel();
  Status status = Flush();
  if (!status.ok()) spdlog::error("agent {}: final flush: {}", options_.id, status.ToString());
  if (set_up_) {
    status = PublishGoodbye(bus_, options_.id, clock_.NowMillis(), /*retired=*/false);
    if (!status.ok()) spdlog::warn("agent {}: {}", options_.id, status.ToString());
  }
  spdlog::info(
      "agent {}: stopped; {} samples published in {} batches ({} replayed from the "
      "spool), {} dropped, {} batches left in the spool",
      options_.id, samples_published_.Value(),
      batches_published_.Value() + batches_replayed_.Value(), batches_replayed_.Value(),
      samples_dropped_.Value(), spooled_batches());
}

void Agent::Run() {
  MutexLock lock(mu_);
  while (!stop_) {
    readings_in_ = false;
    lock.unlock();
    int64_t now = clock_.NowMillis();
    int64_t next = RunOnce(now);
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, next - now)),
                   [this]() VIGIL_REQUIRES(mu_) { return stop_ || readings_in_; });
  }
}

void Agent::AddReadings(const model::Batch& readings) {
  {
    MutexLock lock(pending_mu_);
    for (const auto& series : readings.series) {
      for (const auto& sample : series.samples) pending_.Add(series.labels, sample);
    }
  }
  // The agent thread looks whether the batch is full or complete.
  MutexLock lock(mu_);
  readings_in_ = true;
  wake_.notify_all();
}

size_t Agent::PendingSamples() {
  MutexLock lock(pending_mu_);
  return pending_.sample_count();
}

int64_t Agent::RunOnce(int64_t now_ms) {
  if (!set_up_ && bus_.connected() && now_ms >= next_set_up_ms_) {
    if (Status status = SetUp(); status.ok()) {
      spdlog::info("agent {}: the broker is reachable; publishing and replaying the spool",
                   options_.id);
    } else {
      next_set_up_ms_ = now_ms + 1000;
      spdlog::debug("agent {}: set up: {}", options_.id, status.ToString());
    }
  }
  int64_t lag = FlushLag(options_.flush_interval_ms);
  if (next_flush_ms_ == 0)
    next_flush_ms_ = sensors::NextDue(now_ms, options_.flush_interval_ms, lag);
  int64_t next = scheduler_->RunOnce(now_ms);
  const bool due = now_ms >= next_flush_ms_;
  const size_t pending = PendingSamples();
  // Every reading this flush would carry is in: send it now rather than wait for its time.
  const bool complete = !due && pending > 0 && scheduler_->Settled(next_flush_ms_);
  if (due || complete || pending >= options_.max_batch_samples) {
    Status status = Flush();
    if (!status.ok()) spdlog::error("agent {}: {}", options_.id, status.ToString());
    if (due || complete) {
      next_flush_ms_ =
          sensors::NextDue(std::max(now_ms, next_flush_ms_), options_.flush_interval_ms, lag);
    }
  }
  next = std::min(next, next_flush_ms_);
  // What the sensors say of their metrics and targets changed (a first scrape, a target
  // down or up again, a new scrape time): tell the web servers, at most every few seconds.
  if (set_up_ && now_ms >= next_report_ms_) {
    next_report_ms_ = now_ms + kReportIntervalMs;
    bool changed;
    {
      std::vector<model::SensorInfo> sensors = DescribeSensors();
      MutexLock lock(announce_mu_);
      // Counted from the last announcement of any kind (set-up, an answer to a
      // coordinator), so a first scrape that ends right after set-up waits its turn.
      const int64_t since = now_ms - last_announced_ms_;
      changed = since >= kReportIntervalMs &&
                (!SameButForScrapeTimes(sensors, last_announced_) ||
                 (sensors != last_announced_ && since >= kScrapeTimesRefreshMs));
    }
    if (changed) {
      if (Status status = Announce(); !status.ok())
        spdlog::warn("agent {}: {}", options_.id, status.ToString());
    }
  }
  if (spool_) {
    Drain(now_ms);
    if (!spool_->empty()) next = std::min(next, now_ms + 10);
  }
  return next;
}

void Agent::UpdateSpoolGauges() {
  if (!spool_) return;
  spool_batches_.Set(static_cast<double>(spool_->batches()));
  spool_bytes_.Set(static_cast<double>(spool_->bytes()));
  int64_t oldest = spool_->oldest_ms();
  spool_age_.Set(oldest == 0 ? 0 : static_cast<double>(clock_.NowMillis() - oldest) / 1000);
  if (spool_->dropped() > spool_dropped_seen_) {
    spool_dropped_.Inc(static_cast<double>(spool_->dropped() - spool_dropped_seen_));
    spool_dropped_seen_ = spool_->dropped();
  }
  breaker_gauge_.Set(static_cast<double>(breaker_.state()));
  if (breaker_.trips() > trips_seen_) {
    spdlog::warn(
        "agent {}: the circuit breaker opened ({}); spooling batches until the bus "
        "takes them again",
        options_.id, last_publish_error_);
    breaker_trips_.Inc(static_cast<double>(breaker_.trips() - trips_seen_));
    trips_seen_ = breaker_.trips();
  }
}

Status Agent::SpoolOrDrop(const bus::Message& message, size_t samples, const Status& why) {
  if (spool_) {
    Status spooled = spool_->Append(message, static_cast<uint32_t>(samples));
    if (spooled.ok()) {
      batches_spooled_.Inc();
      samples_spooled_.Inc(static_cast<double>(samples));
      UpdateSpoolGauges();
      return OkStatus();
    }
    spdlog::error("agent {}: spool: {}", options_.id, spooled.ToString());
  }
  batches_failed_.Inc();
  samples_dropped_.Inc(static_cast<double>(samples));
  UpdateSpoolGauges();
  return why.Annotate("publish batch of " + std::to_string(samples) + " samples");
}

void Agent::Drain(int64_t now_ms) {
  if (!spool_ || spool_->empty() || !set_up_) {
    last_drain_ms_ = now_ms;
    return;
  }
  // A token bucket: drain_rate batches a second, at most one second's worth at once.
  if (last_drain_ms_ != 0)
    drain_tokens_ += static_cast<double>(now_ms - last_drain_ms_) * options_.drain_rate / 1000;
  drain_tokens_ = std::min(drain_tokens_, std::max(1.0, options_.drain_rate));
  last_drain_ms_ = now_ms;
  bool was_open = breaker_.state() != CircuitBreaker::State::kClosed;
  while (drain_tokens_ >= 1 && !spool_->empty() && breaker_.Allow()) {
    auto front = spool_->Front();
    if (!front.ok() || !front->has_value()) {
      if (!front.ok()) spdlog::error("agent {}: spool: {}", options_.id, front.status().ToString());
      break;
    }
    Status status = bus_.Publish("", queue_, (*front)->message);
    if (!status.ok()) {
      breaker_.RecordFailure();
      last_publish_error_ = status.ToString();
      break;
    }
    breaker_.RecordSuccess();
    drain_tokens_ -= 1;
    batches_replayed_.Inc();
    samples_published_.Inc((*front)->samples);
    if (Status popped = spool_->Pop(); !popped.ok())
      spdlog::error("agent {}: spool: {}", options_.id, popped.ToString());
    if (spool_->empty()) spdlog::info("agent {}: spool drained", options_.id);
  }
  if (was_open && breaker_.state() == CircuitBreaker::State::kClosed)
    spdlog::info("agent {}: the bus takes batches again; replaying the spool", options_.id);
  UpdateSpoolGauges();
}

Status Agent::Flush() {
  model::Batch batch;
  {
    MutexLock lock(pending_mu_);
    batch = pending_.Take();
  }
  size_t samples = batch.SampleCount();
  if (samples == 0) return OkStatus();
  bus::Message message = bus::Batches::Make(std::move(batch));
  // Straight to the spool while the breaker is open, or while older batches wait there
  // and order matters.
  if (spool_ && (!set_up_ || breaker_.state() == CircuitBreaker::State::kOpen ||
                 (options_.ordered_replay && !spool_->empty()))) {
    message.Encode();
    return SpoolOrDrop(message, samples, UnavailableError("spooled"));
  }
  Status status = bus_.Publish("", queue_, message);
  if (!status.ok()) {
    breaker_.RecordFailure();
    last_publish_error_ = status.ToString();
    message.Encode();
    return SpoolOrDrop(message, samples, status);
  }
  breaker_.RecordSuccess();
  batches_published_.Inc();
  samples_published_.Inc(static_cast<double>(samples));
  return OkStatus();
}

}  // namespace vigil::roles

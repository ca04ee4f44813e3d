#include "roles/coordinator.h"

#include <spdlog/spdlog.h>

#include "bus/replies.h"
#include "bus/topic.h"
#include "model/batch_codec.h"
#include "model/messages.h"

namespace vigil::roles {

Coordinator::Coordinator(bus::Bus& bus, Clock& clock, Options options,
                         std::unique_ptr<pipeline::ShardedPipeline> pipeline)
    : bus_(bus),
      clock_(clock),
      options_(std::move(options)),
      pipeline_(std::move(pipeline)),
      batches_(options_.registry->AddCounter(
          "vigil_coordinator_batches_total",
          "Batches the coordinator handled: processed, invalid (dead-lettered), failed "
          "(requeued).",
          {"outcome"})),
      samples_(options_.registry
                   ->AddCounter("vigil_coordinator_samples_total",
                                "Samples the coordinator published after the pipeline.")
                   .WithLabels({})) {}

Coordinator::~Coordinator() { Stop(); }

Status Coordinator::Start() {
  VIGIL_RETURN_IF_ERROR(bus::DeclareTopology(bus_, options_.topology));
  std::string queue = bus::PrivateQueueName("coordinator", options_.id);
  bus::QueueOptions private_queue;
  private_queue.durable = false;
  private_queue.exclusive = true;
  private_queue.max_length = 1024;
  VIGIL_RETURN_IF_ERROR(bus_.DeclareQueue(queue, private_queue));
  VIGIL_RETURN_IF_ERROR(bus_.BindQueue(queue, std::string(bus::kDiscoveryExchange), ""));
  VIGIL_ASSIGN_OR_RETURN(
      announcements_,
      bus_.Consume(queue, {.prefetch = 16}, [this](const bus::Delivery& d) { OnAnnouncement(d); }));
  VIGIL_ASSIGN_OR_RETURN(
      push_, bus_.Consume(std::string(bus::kPushQueue), {.prefetch = options_.prefetch},
                          [this](const bus::Delivery& d) {
                            OnBatch(std::string(bus::kPushSource), std::string(bus::kPushQueue), d);
                          }));
  model::DiscoveryRequest request{model::kMessageVersion, options_.id, clock_.NowMillis()};
  bus::Message message{model::EncodeDiscoveryRequest(request),
                       std::string(model::kProtobufContentType)};
  VIGIL_RETURN_IF_ERROR(
      bus_.Publish(std::string(bus::kDiscoveryRequestsExchange), "", std::move(message)));
  heartbeat_ = std::thread([this] {
    MutexLock lock(mu_);
    while (!stop_cv_.wait_for(lock, options_.heartbeat_interval,
                              [this]() VIGIL_REQUIRES(mu_) { return stopped_; })) {
      lock.unlock();
      PublishHeartbeats();
      lock.lock();
    }
  });
  spdlog::info("coordinator {}: started, {} pipeline stages on {} workers", options_.id,
               pipeline_->stage_count(), pipeline_->workers());
  return OkStatus();
}

void Coordinator::Stop() {
  if (announcements_) announcements_->Cancel();
  if (push_) push_->Cancel();
  std::map<std::string, std::unique_ptr<bus::Subscription>> data;
  {
    MutexLock lock(mu_);
    stopped_ = true;
    data.swap(data_);
  }
  stop_cv_.notify_all();
  for (auto& [agent, subscription] : data) subscription->Cancel();
  if (heartbeat_.joinable()) heartbeat_.join();
  std::map<std::string, Seen> seen;
  {
    MutexLock lock(mu_);
    seen.swap(seen_);
  }
  for (const auto& [agent, unused] : seen) EndHeartbeats(agent);
}

namespace {
constexpr std::string_view kLastSeenMetric = "vigil_agent_last_seen_timestamp_seconds";
constexpr std::string_view kIntervalMetric = "vigil_agent_interval_seconds";
}  // namespace

void Coordinator::PublishHeartbeats() {
  MutexLock heartbeats(heartbeats_mu_);
  const int64_t now = last_heartbeat_ms_ = std::max(clock_.NowMillis(), last_heartbeat_ms_ + 1);
  model::BatchBuilder out;
  {
    MutexLock lock(mu_);
    for (const auto& [agent, seen] : seen_) {
      out.Add(model::Labels::Of(
                  {{"__name__", kLastSeenMetric}, {"agent", agent}, {"coordinator", options_.id}}),
              {now, static_cast<double>(seen.last_ms) / 1000});
      out.Add(model::Labels::Of(
                  {{"__name__", kIntervalMetric}, {"agent", agent}, {"coordinator", options_.id}}),
              {now, static_cast<double>(seen.interval_ms) / 1000});
    }
  }
  PublishSamples(out.Take(), "heartbeats");
}

void Coordinator::EndHeartbeats(const std::string& agent) {
  MutexLock heartbeats(heartbeats_mu_);
  last_heartbeat_ms_ = std::max(clock_.NowMillis(), last_heartbeat_ms_ + 1);
  const model::Sample stale{last_heartbeat_ms_, model::StaleMarker()};
  model::BatchBuilder out;
  for (std::string_view metric : {kLastSeenMetric, kIntervalMetric})
    out.Add(
        model::Labels::Of({{"__name__", metric}, {"agent", agent}, {"coordinator", options_.id}}),
        stale);
  PublishSamples(out.Take(), "the end of the heartbeats of " + agent);
}

void Coordinator::PublishSamples(model::Batch batch, const std::string& what) {
  if (batch.series.empty()) return;
  Status status = bus_.Publish(std::string(bus::kEventsExchange),
                               std::string(bus::kSamplesTopicPrefix) + options_.id,
                               bus::Batches::Make(std::move(batch)));
  if (!status.ok())
    spdlog::warn("coordinator {}: {} not published: {}", options_.id, what, status.ToString());
}

std::vector<std::string> Coordinator::KnownAgents() {
  MutexLock lock(mu_);
  std::vector<std::string> agents;
  for (const auto& [agent, subscription] : data_) agents.push_back(agent);
  return agents;
}

void Coordinator::OnAnnouncement(const bus::Delivery& delivery) {
  auto announcement =
      model::DecodeAnnouncementAs(delivery.message().content_type, delivery.message().body);
  // Announcements come on a private queue: nothing to dead-letter to, so a bad one is
  // logged and dropped.
  delivery.Ack();
  if (!announcement.ok()) {
    spdlog::warn("coordinator {}: {}", options_.id, announcement.status().ToString());
    return;
  }
  const std::string& agent = announcement->agent;
  if (announcement->queue != bus::DataQueueName(agent)) {
    spdlog::warn("coordinator {}: agent {} announced queue {}, expected {}", options_.id, agent,
                 announcement->queue, bus::DataQueueName(agent));
    return;
  }
  if (announcement->leaving) {
    spdlog::info("coordinator {}: agent {} said goodbye", options_.id, agent);
    bool watched;
    {
      MutexLock lock(mu_);
      departed_.insert(agent);
      watched = seen_.erase(agent) > 0;
    }
    if (watched) EndHeartbeats(agent);
    return;
  }
  int64_t interval = 0;
  for (const auto& sensor : announcement->sensors) {
    if (sensor.interval_ms > 0 && (interval == 0 || sensor.interval_ms < interval))
      interval = sensor.interval_ms;
  }
  // An agent that announces itself and then sends nothing is offline too.
  MutexLock lock(mu_);
  departed_.erase(agent);
  seen_[agent] = {clock_.NowMillis(), std::max<int64_t>(interval, 1000)};
  if (stopped_ || data_.count(agent)) return;
  Status status = bus::DeclareDataQueue(bus_, agent, options_.topology);
  auto subscription = status.ok()
                          ? bus_.Consume(announcement->queue, {.prefetch = options_.prefetch},
                                         [this, agent, queue = announcement->queue](
                                             const bus::Delivery& d) { OnBatch(agent, queue, d); })
                          : Result<std::unique_ptr<bus::Subscription>>(status);
  if (!subscription.ok()) {
    spdlog::error("coordinator {}: consume {}: {}", options_.id, announcement->queue,
                  subscription.status().ToString());
    return;
  }
  data_[agent] = std::move(subscription).value();
  spdlog::info("coordinator {}: consuming {} ({} sensors)", options_.id, announcement->queue,
               announcement->sensors.size());
}

void Coordinator::OnBatch(const std::string& source, const std::string& queue,
                          const bus::Delivery& delivery) {
  auto batch = bus::Batches::Read(delivery.message());
  if (!batch.ok()) {
    batches_.WithLabels({"invalid"}).Inc();
    spdlog::warn("coordinator {}: dead-lettering a batch from {}: {}", options_.id, source,
                 batch.status().ToString());
    bus::DeadLetter(bus_, delivery, queue, batch.status().message());
    return;
  }
  {
    MutexLock lock(mu_);
    if (auto it = seen_.find(source); it != seen_.end()) it->second.last_ms = clock_.NowMillis();
  }
  // A batch the stages change is copied (the queue keeps the original until it is acked).
  std::shared_ptr<const model::Batch> processed = *batch;
  Status status = pipeline_->Process(source, processed);
  if (status.ok()) {
    bus::Message out = bus::Batches::Make(processed);
    bus::CopyReplyHeaders(delivery.message(), out);  // whoever waits for the batch, waits for this
    status = bus_.Publish(std::string(bus::kEventsExchange),
                          std::string(bus::kSamplesTopicPrefix) + source, std::move(out));
  }
  if (!status.ok()) {
    batches_.WithLabels({"failed"}).Inc();
    spdlog::error("coordinator {}: batch from {} requeued: {}", options_.id, source,
                  status.ToString());
    delivery.Nack(/*requeue=*/true);
    return;
  }
  batches_.WithLabels({"processed"}).Inc();
  samples_.Inc(static_cast<double>(processed->SampleCount()));
  delivery.Ack();
}

}  // namespace vigil::roles

#include "roles/ruler.h"

#include <spdlog/spdlog.h>

#include "bus/topic.h"
#include "bus/topology.h"
#include "model/batch_codec.h"
#include "roles/parts.h"
#include "web/rule_board.h"

namespace vigil::roles {

std::vector<vigil::rules::GroupSpec> WithBuiltInRules(std::vector<vigil::rules::GroupSpec> files,
                                                      const VigilConfig& config) {
  vigil::rules::GroupSpec group;
  group.file = "built-in";
  group.name = "vigil";
  group.interval_ms = config.alerting.evaluation_interval.count();
  group.rules = config.alerts;
  if (config.alerting.agent_offline) {
    const std::string intervals = std::to_string(config.alerting.offline_intervals);
    vigil::rules::RuleSpec offline;
    offline.name = "VigilAgentOffline";
    offline.expr = "time() - max by (agent) (vigil_agent_last_seen_timestamp_seconds) > " +
                   intervals + " * max by (agent) (vigil_agent_interval_seconds)";
    offline.labels = {{"severity", "critical"}};
    offline.annotations = {
        {"summary", "agent {{ $labels.agent }} is offline"},
        {"description",
         "No batch from agent {{ $labels.agent }} for {{ $value | humanizeDuration }}, "
         "over " +
             intervals + " times its shortest sensor interval."}};
    group.rules.push_back(std::move(offline));
  }
  if (!group.rules.empty()) files.push_back(std::move(group));
  return files;
}

Ruler::Ruler(bus::Bus& bus, store::Store& store, Clock& clock, const VigilConfig& config,
             std::string id, bool lease)
    : bus_(bus), config_(config), id_(std::move(id)), lease_(lease), engine_(store, config.query) {
  notifier_ = std::make_unique<AlertNotifier>(bus, NotifierOptionsFrom(config));
  active_gauge_ = &metrics::Registry::Default()
                       .AddGauge("vigil_ruler_active",
                                 "1 while this process evaluates the rule files (it holds the "
                                 "rulers' lease, or needs none).")
                       .WithLabels({});
  vigil::rules::RuleManager::Options options;
  options.default_interval_ms = config.rules.evaluation_interval.count();
  options.outage_tolerance_ms = config.rules.outage_tolerance.count();
  options.for_grace_period_ms = config.rules.for_grace_period.count();
  options.external_url = NotifierOptionsFrom(config).external_url;
  vigil::rules::RuleManager::Outputs outputs;
  outputs.write = [this](model::Batch batch) {
    return bus_.Publish(std::string(bus::kEventsExchange),
                        std::string(bus::kSamplesTopicPrefix) + id_,
                        bus::Batches::Make(std::move(batch)));
  };
  outputs.notify = [this](const std::vector<vigil::rules::AlertChange>& changes) {
    notifier_->Notify(changes);
  };
  outputs.send = [this](const std::vector<vigil::rules::RuleManager::OutgoingAlert>& alerts) {
    notifier_->Send(alerts);
  };
  outputs.group_state = [this](const std::string& key, int64_t interval_ms,
                               const std::string& json) {
    Status status = bus_.Publish(
        std::string(bus::kEventsExchange), std::string(bus::kRuleStateTopic),
        {web::EncodeRuleState(key, interval_ms, json), std::string(model::kJsonContentType)});
    if (!status.ok())
      spdlog::warn("ruler {}: the state of {} was not published: {}", id_, key, status.ToString());
  };
  manager_ = std::make_unique<vigil::rules::RuleManager>(engine_, clock, options, outputs);
  manager_->Load(WithBuiltInRules(config.rule_groups, config));
}

Ruler::~Ruler() { Stop(); }

bool Ruler::active() const {
  MutexLock lock(mu_);
  return active_;
}

void Ruler::BecomeActive() {
  if (active_ || stopped_) return;
  active_ = true;
  active_gauge_->Set(1);
  manager_->Start();
  spdlog::info("ruler {}: evaluating {} rule groups", id_, manager_->group_count());
}

void Ruler::StandBy(const char* why) {
  if (!active_) return;
  active_ = false;
  active_gauge_->Set(0);
  token_.reset();
  manager_->Stop();
  spdlog::warn("ruler {}: standing by ({})", id_, why);
}

Status Ruler::Start() {
  {
    MutexLock lock(mu_);
    if (!stopped_) return OkStatus();
    stopped_ = false;
    if (!lease_) {
      BecomeActive();
      return OkStatus();
    }
  }
  bus::QueueOptions lease;
  lease.durable = true;
  lease.max_length = 1;  // one token waits at most; the holder's is unacknowledged
  lease.overflow = bus::Overflow::kDropOldest;
  lease.single_active_consumer = true;
  const std::string queue(bus::kRulerLeaseQueue);
  VIGIL_RETURN_IF_ERROR(bus_.DeclareQueue(queue, lease));
  // Every ruler offers a token: with a single active consumer only the active one ever
  // holds one, so a spare waiting in the queue does no harm.
  VIGIL_RETURN_IF_ERROR(bus_.Publish("", queue, {"token", "text/plain"}));
  VIGIL_ASSIGN_OR_RETURN(
      lease_subscription_,
      bus_.Consume(queue, {.prefetch = 1}, [this](const bus::Delivery& d) { OnToken(d); }));
  watchdog_ = std::thread([this] {
    MutexLock lock(mu_);
    while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(250),
                              [this]() VIGIL_REQUIRES(mu_) { return stopped_; })) {
      if (active_ && !bus_.connected()) StandBy("lost the broker");
    }
  });
  spdlog::info("ruler {}: waiting for the rulers' lease on {}", id_, queue);
  return OkStatus();
}

void Ruler::OnToken(const bus::Delivery& token) {
  MutexLock lock(mu_);
  if (stopped_) {
    token.Nack(/*requeue=*/true);
    return;
  }
  // Held, never acknowledged: the broker gives it to the next ruler when this one goes.
  token_ = token;
  BecomeActive();
}

void Ruler::Stop() {
  {
    MutexLock lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    if (active_) {
      active_ = false;
      active_gauge_->Set(0);
      manager_->Stop();
    }
    token_.reset();
  }
  stop_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  // Cancelling requeues the token for the next ruler in line.
  if (lease_subscription_) lease_subscription_->Cancel();
}

Status Ruler::Reload() {
  vigil::rules::LoadedRules loaded = LoadRuleFilesOf(config_);
  if (!loaded.ok()) {
    std::string message;
    for (const auto& error : loaded.errors) message += (message.empty() ? "" : "\n") + error;
    spdlog::error("ruler {}: the rule files were not reloaded:\n{}", id_, message);
    return InvalidArgumentError(std::move(message));
  }
  size_t groups = loaded.groups.size();
  manager_->Load(WithBuiltInRules(std::move(loaded.groups), config_));
  spdlog::info("ruler {}: reloaded {} rule groups from {} files", id_, groups, loaded.files.size());
  return OkStatus();
}

}  // namespace vigil::roles

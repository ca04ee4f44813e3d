#include "roles/ruler.h"

#include <spdlog/spdlog.h>

#include "bus/topology.h"
#include "model/batch_codec.h"
#include "roles/parts.h"

namespace vigil::roles {

Ruler::Ruler(bus::Bus& bus, store::Store& store, Clock& clock, const VigilConfig& config,
             std::string id)
    : bus_(bus), config_(config), id_(std::move(id)), engine_(store, config.query) {
  notifier_ = std::make_unique<AlertNotifier>(bus, NotifierOptionsFrom(config));
  vigil::rules::RuleManager::Options options;
  options.default_interval_ms = config.rules.evaluation_interval.count();
  options.outage_tolerance_ms = config.rules.outage_tolerance.count();
  options.for_grace_period_ms = config.rules.for_grace_period.count();
  options.external_url = NotifierOptionsFrom(config).external_url;
  vigil::rules::RuleManager::Outputs outputs;
  outputs.write = [this](model::Batch batch) {
    return bus_.Publish(std::string(bus::kEventsExchange),
                        std::string(bus::kSamplesTopicPrefix) + id_,
                        {model::EncodeBatch(batch), std::string(model::kProtobufContentType)});
  };
  outputs.notify = [this](const std::vector<pipeline::AlertChange>& changes) {
    notifier_->Notify(changes);
  };
  manager_ = std::make_unique<vigil::rules::RuleManager>(engine_, clock, options, outputs);
  manager_->Load(config.rule_groups);
}

Ruler::~Ruler() { Stop(); }

void Ruler::Start() {
  manager_->Start();
  if (manager_->group_count() > 0)
    spdlog::info("ruler {}: evaluating {} rule groups", id_, manager_->group_count());
}

void Ruler::Stop() { manager_->Stop(); }

Status Ruler::Reload() {
  vigil::rules::LoadedRules loaded = LoadRuleFilesOf(config_);
  if (!loaded.ok()) {
    std::string message;
    for (const auto& error : loaded.errors) message += (message.empty() ? "" : "\n") + error;
    spdlog::error("ruler {}: the rule files were not reloaded:\n{}", id_, message);
    return InvalidArgumentError(std::move(message));
  }
  size_t groups = loaded.groups.size();
  manager_->Load(std::move(loaded.groups));
  spdlog::info("ruler {}: reloaded {} rule groups from {} files", id_, groups, loaded.files.size());
  return OkStatus();
}

}  // namespace vigil::roles

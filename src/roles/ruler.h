// The ruler: evaluates the Prometheus rule files of [rules] over a store (docs/alerts.md).
// Recorded series, ALERTS and ALERTS_FOR_STATE go out on vigil.events as samples.<id>, the
// way every processed batch does, so the datamanager stores them and every web server
// streams them; alert changes go through an AlertNotifier (vigil.events alerts.<severity>,
// webhooks). Reload reads the rule files again and swaps them in only when all of them
// check.
//
// Thread safety: Start, Stop and Reload from one thread at a time; RulesJson from any.
#pragma once

#include <memory>
#include <string>

#include "bus/bus.h"
#include "roles/alert_notifier.h"
#include "roles/config.h"
#include "rules/manager.h"
#include "store/store.h"

namespace vigil::roles {

class Ruler {
 public:
  // `id` names the samples.<id> routing key. `bus`, `store` and `clock` outlive the Ruler.
  Ruler(bus::Bus& bus, store::Store& store, Clock& clock, const VigilConfig& config,
        std::string id);
  ~Ruler();

  void Start();
  void Stop();
  // Reads the rule files again; InvalidArgument with every error, the old rules kept.
  Status Reload();

  // /api/v1/rules' data.
  std::string RulesJson(std::string_view type) const { return manager_->RulesJson(type); }
  size_t group_count() const { return manager_->group_count(); }

 private:
  bus::Bus& bus_;
  VigilConfig config_;
  std::string id_;
  query::Engine engine_;
  std::unique_ptr<AlertNotifier> notifier_;
  std::unique_ptr<vigil::rules::RuleManager> manager_;
};

}  // namespace vigil::roles

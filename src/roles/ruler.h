// The ruler: evaluates the Prometheus rule files of [rules] over a store (docs/alerts.md).
// Recorded series, ALERTS and ALERTS_FOR_STATE go out on vigil.events as samples.<id>, the
// way every processed batch does, so the datamanager stores them and every web server
// streams them; alert changes go through an AlertNotifier (vigil.events alerts.<severity>,
// webhooks); each group's state after each evaluation goes out as rules.state, which every
// web server answers /api/v1/rules and /api/v1/alerts from. Reload reads the rule files
// again and swaps them in only when all of them check.
//
// With `lease` (the distributed `vigil ruler`), only the ruler holding the token of the
// vigil.ruler.lease queue evaluates: a single-active-consumer queue, so the broker hands the
// token to the next ruler in line as soon as the holder's connection closes (it died, or
// stopped). A ruler that loses its broker connection stops evaluating at once; the state of
// pending and firing alerts comes back from ALERTS_FOR_STATE in the store.
//
// Besides the rule files, the ruler evaluates a built-in group (WithBuiltInRules): the
// config's [[alerts]] tables, and VigilAgentOffline over the heartbeat series the
// coordinators publish (coordinator.h).
//
// Thread safety: Start, Stop and Reload from one thread at a time; the rest from any.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "bus/bus.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "roles/alert_notifier.h"
#include "roles/config.h"
#include "rules/manager.h"
#include "store/store.h"

namespace vigil::roles {

// The built-in group "vigil" (file "built-in"), after `files` (the rule files' groups),
// evaluated every [alerting] evaluation_interval: the [[alerts]] rules, then, with
// [alerting] agent_offline, VigilAgentOffline for an agent no coordinator heard of for
// offline_intervals times its shortest sensor interval (docs/alerts.md). None when both
// are empty.
std::vector<vigil::rules::GroupSpec> WithBuiltInRules(std::vector<vigil::rules::GroupSpec> files,
                                                      const VigilConfig& config);

class Ruler {
 public:
  // `id` names the samples.<id> routing key. `bus`, `store` and `clock` outlive the Ruler.
  Ruler(bus::Bus& bus, store::Store& store, Clock& clock, const VigilConfig& config, std::string id,
        bool lease = false);
  ~Ruler();

  Status Start();
  void Stop();
  // Reads the rule files again; InvalidArgument with every error, the old rules kept.
  Status Reload();

  // True while this ruler evaluates (always, without a lease, once started).
  bool active() const;
  size_t group_count() const { return manager_->group_count(); }
  // The pending and firing alerts.
  std::vector<model::Alert> ActiveAlerts() const { return manager_->ActiveAlerts(); }

  // Tests: evaluates every group once at `time_ms`, on the caller's thread, whether or not
  // this ruler is active.
  void TEST_EvaluateAt(int64_t time_ms) {
    for (size_t i = 0; i < manager_->group_count(); ++i) manager_->TEST_EvaluateGroup(i, time_ms);
  }

 private:
  void OnToken(const bus::Delivery& token);
  void BecomeActive() VIGIL_REQUIRES(mu_);
  void StandBy(const char* why) VIGIL_REQUIRES(mu_);

  bus::Bus& bus_;
  VigilConfig config_;
  std::string id_;
  bool lease_;
  query::Engine engine_;
  std::unique_ptr<AlertNotifier> notifier_;
  std::unique_ptr<vigil::rules::RuleManager> manager_;
  metrics::Gauge* active_gauge_ = nullptr;

  mutable Mutex mu_;
  bool active_ VIGIL_GUARDED_BY(mu_) = false;
  bool stopped_ VIGIL_GUARDED_BY(mu_) = true;
  std::optional<bus::Delivery> token_ VIGIL_GUARDED_BY(mu_);
  CondVar stop_cv_;
  std::unique_ptr<bus::Subscription> lease_subscription_;
  std::thread watchdog_;  // with a lease: stands by when the broker connection is lost
};

}  // namespace vigil::roles

// Evaluates rule groups (rule_file.h) over stored data, as Prometheus's rule manager does
// (docs/alerts.md). Each group runs on a thread of its own every `interval`, at multiples
// of it plus an offset hashed from the group's file and name; its rules, in order, are instant
// queries through the same engine as /api/v1/query at that time. A group's results are
// written once after it (one durable write, not one a rule), except where a later rule of
// the group names what a rule writes: then it is written before that rule runs, so the
// later rule sees it in the same evaluation, as in Prometheus.
//
// - A recording rule writes its result as `record` (with the rule's labels) at the
//   evaluation time.
// - An alerting rule keeps one alert per output series (its labels without __name__, plus
//   the rule's templated labels and alertname): new → pending; pending for `for` → firing;
//   gone → resolved (a pending one is dropped), unless it fired and was seen within
//   `keep_firing_for`. It writes ALERTS{alertstate=…} 1 and ALERTS_FOR_STATE (the alert's
//   activeAt in seconds) for every active alert.
// - A series written by the previous evaluation and not by this one gets a stale marker,
//   so ALERTS of a resolved alert and recorded series that vanished end at once.
// - On its first evaluation a group restores the `for` state of alerts found pending from
//   the ALERTS_FOR_STATE written within `outage_tolerance`: time spent pending before the
//   restart counts, time down does not, and an alert that had fired fires again at once.
//   Rules whose `for` is at least `for_grace_period` get that long to recover instead
//   (Prometheus's --rules.alert.for-grace-period).
// - An evaluation slot missed because the previous one ran long is counted, not caught
//   up.
//
// Output goes through `Outputs`: samples to `write` (the normal ingest path), alert changes
// to `notify`, alerts due to Alertmanager to `send` (firing and resolved ones, each again
// every resend_delay, as Prometheus sends them), each group's state to `group_state`.
//
// Thread safety: all public methods may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "model/batch.h"
#include "model/messages.h"
#include "query/engine.h"
#include "rules/rule_file.h"

namespace vigil::rules {

// A change of an alert's state, to be notified.
struct AlertChange {
  model::Alert alert;
  bool fired = false;  // it was firing at some point (a resolved pending alert was not)
};

class RuleManager {
 public:
  // A group's rules and their state, behind a lock of its own; defined in manager.cc (named
  // here for its helpers there only).
  struct Group;
  struct Rule;
  struct ActiveAlert;

  struct Options {
    int64_t default_interval_ms = 60'000;         // a group's interval when it names none
    int64_t outage_tolerance_ms = 3'600'000;      // --rules.alert.for-outage-tolerance
    int64_t for_grace_period_ms = 600'000;        // --rules.alert.for-grace-period
    int64_t resolved_retention_ms = 15 * 60'000;  // a resolved alert is kept this long
    // A firing alert goes to Alertmanager again this often; a resolved one too, while kept
    // (Prometheus's --rules.alert.resend-delay).
    int64_t resend_delay_ms = 60'000;
    std::string external_url;  // $externalURL in templates
    metrics::Registry* registry = &metrics::Registry::Default();
  };
  // An alert as Prometheus sends it to Alertmanager's /api/v2/alerts: a firing one ends at
  // the evaluation time plus four times the resend delay (or the interval, if longer), so
  // Alertmanager resolves it by itself should the sender die; a resolved one ends when it
  // resolved.
  struct OutgoingAlert {
    model::Labels labels;
    std::map<std::string, std::string> annotations;
    int64_t starts_at_ms = 0;
    int64_t ends_at_ms = 0;
  };
  struct Outputs {
    std::function<Status(model::Batch)> write;
    std::function<void(const std::vector<AlertChange>&)> notify;
    // The firing and resolved alerts due to Alertmanager after an evaluation.
    std::function<void(const std::vector<OutgoingAlert>&)> send;
    // After each evaluation of a group: its key (file;name), interval and state in
    // /api/v1/rules' shape (one element of `groups`).
    std::function<void(const std::string& key, int64_t interval_ms, const std::string& json)>
        group_state;
  };

  RuleManager(query::Engine& engine, Clock& clock, Options options, Outputs outputs);
  ~RuleManager();

  // Replaces the groups. Alerts of rules that stay (same file, group, name and expression)
  // keep their state. Running groups are restarted.
  void Load(std::vector<GroupSpec> groups);
  // One thread per group, evaluating at every multiple of its interval plus its offset.
  void Start();
  void Stop();

  // Tests: evaluates group `index` (in Load's order) at `time_ms`, on the caller's thread.
  void TEST_EvaluateGroup(size_t index, int64_t time_ms) { EvaluateGroup(index, time_ms); }

  // Prometheus's /api/v1/rules `data` ({"groups":[…]}); `type` "alert", "record" or "" for
  // both.
  std::string RulesJson(std::string_view type) const;
  // The pending and firing alerts.
  std::vector<model::Alert> ActiveAlerts() const;
  size_t group_count() const;

 private:
  void Run(std::shared_ptr<Group> group);
  // Evaluates group `index` at `time_ms` and writes, notifies and publishes what it gives.
  void EvaluateGroup(size_t index, int64_t time_ms);
  // One rule at `ts`; what it writes goes to `out` and its labels to `written`.
  Status EvaluateRule(Rule& rule, int64_t ts, int64_t limit, bool restore, model::BatchBuilder& out,
                      std::set<model::Labels>& written, std::vector<AlertChange>& changes);
  void RestoreForState(Rule& rule, int64_t ts);
  // Writes what `out` holds (outputs_.write), logging a failure.
  void Write(const Group& group, model::BatchBuilder& out);
  // Adds the rule's alerts due to Alertmanager at `ts` to `due`.
  void CollectDue(Rule& rule, int64_t ts, int64_t interval_ms, std::vector<OutgoingAlert>& due);
  model::Alert ToModel(const RuleSpec& spec, const ActiveAlert& alert, model::AlertState state,
                       int64_t ts) const;

  query::Engine& engine_;
  Clock& clock_;
  Options options_;
  Outputs outputs_;

  mutable Mutex mu_;  // guards what follows
  std::vector<std::shared_ptr<Group>> groups_ VIGIL_GUARDED_BY(mu_);
  bool stopped_ VIGIL_GUARDED_BY(mu_) = true;
  CondVar stop_cv_;
  std::vector<std::thread> threads_;  // touched by Start and Stop only

  metrics::Family<metrics::Counter>* evaluations_ = nullptr;
  metrics::Family<metrics::Counter>* failures_ = nullptr;
  metrics::Family<metrics::Counter>* missed_ = nullptr;
  metrics::Family<metrics::Gauge>* duration_ = nullptr;
  metrics::Family<metrics::Gauge>* alerts_ = nullptr;
  metrics::Family<metrics::Counter>* transitions_ = nullptr;
};

}  // namespace vigil::rules

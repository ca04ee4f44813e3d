// Alert rules over the coordinator's stream (docs/alerts.md). A rule is an expression —
// a selector compared with a number (`boiler_pressure_out > 15.4`), `absent(selector)` or
// `absent_over_time(selector[5m])` — with a `for` duration, a `keep_firing_for`, a
// severity, and labels and annotations that may use `{{ $labels.<name> }}` and
// `{{ $value }}`. (VigilAgentOffline is a rule the ruler evaluates over the coordinators'
// heartbeat series, roles/ruler.h.)
//
// AlertEvaluator keeps, per pipeline shard, the newest sample of every series a rule
// matches (Observe, called under that shard's lock); Evaluate, on a clock the caller drives,
// moves each alert between pending, firing and resolved as Prometheus does:
//   condition true            → pending (firing at once when `for` is 0);
//   true for `for`            → firing;
//   false                     → resolved (a pending alert is dropped, also reported as
//                               resolved so that dashboards clear it), unless it fired and
//                               was true within `keep_firing_for`.
// A series' condition is false once its newest sample is older than the lookback (5 m).
// An alert's labels: the series' labels without __name__, the rule's labels, alertname
// and severity. State is bounded: series a rule has not seen for the lookback are
// forgotten, and at most max_series series are tracked per shard.
//
// Thread safety: Observe(shard) from one thread per shard at a time; Evaluate from any
// thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/metrics.h"
#include "core/mutex.h"
#include "core/options.h"
#include "model/batch.h"
#include "model/matcher.h"
#include "model/messages.h"

namespace vigil::pipeline {

// Text with `{{ $labels.<name> }}` and `{{ $value }}` placeholders.
class AlertTemplate {
 public:
  // InvalidArgument for an unclosed `{{` or a placeholder other than those two.
  static Result<AlertTemplate> Parse(std::string_view text);
  std::string Render(const model::Labels& labels, double value) const;

 private:
  struct Part {
    std::string text;  // literal text, or the label's name
    enum { kText, kLabel, kValue } kind = kText;
  };
  std::vector<Part> parts_;
};

enum class CompareOp { kGreater, kGreaterEqual, kLess, kLessEqual, kEqual, kNotEqual };

// A parsed alert expression.
struct AlertExpr {
  enum Kind { kThreshold, kAbsent } kind = kThreshold;
  std::vector<model::Matcher> selector;
  CompareOp op = CompareOp::kGreater;
  double threshold = 0;
  int64_t absent_window_ms = 0;  // absent_over_time's range; 0: the lookback
};
// InvalidArgument naming what does not parse.
Result<AlertExpr> ParseAlertExpr(std::string_view text);

struct AlertRuleSpec {
  std::string name;  // alertname
  std::string expr;
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  std::string severity = "warning";
  config::LabelMap labels;       // may hold templates
  config::LabelMap annotations;  // may hold templates
};

// A change of an alert's state, to be notified.
struct AlertChange {
  model::Alert alert;
  bool fired = false;  // it was firing at some point (a resolved pending alert was not)
};

// The ALERTS series, as Prometheus writes it, for one evaluation at `now_ms`:
// ALERTS{alertname, alertstate, <alert labels>} 1 for every active alert, and 0 for the
// state each change left (pending when it fired or cleared, firing when it resolved).
model::Batch AlertsSeries(const std::vector<model::Alert>& active,
                          const std::vector<AlertChange>& changes, int64_t now_ms);

class AlertEvaluator {
 public:
  struct Options {
    size_t shards = 1;
    int64_t lookback_ms = 300'000;
    size_t max_series = 1'000'000;  // per shard
    metrics::Registry* registry = &metrics::Registry::Default();
  };

  // InvalidArgument naming the rule whose expression or template does not parse.
  static Result<std::unique_ptr<AlertEvaluator>> Create(std::vector<AlertRuleSpec> rules,
                                                        Options options);
  ~AlertEvaluator();

  // Notes the newest sample of every series a rule watches.
  void Observe(size_t shard, const model::Batch& batch);

  // Moves alerts to their state at `now_ms` and returns the changes.
  std::vector<AlertChange> Evaluate(int64_t now_ms);
  // The pending and firing alerts.
  std::vector<model::Alert> Active();

  size_t rule_count() const;

 private:
  struct Rule;
  struct Shard;
  struct Instance;
  AlertEvaluator() = default;
  // Moves the alert of (rule, series) by the condition's value now.
  void Step(size_t rule, const model::Labels& series, bool condition, double value, int64_t now_ms,
            std::vector<AlertChange>& changes) VIGIL_REQUIRES(mu_);
  model::Alert MakeAlert(size_t rule, const Instance& instance, model::AlertState state,
                         int64_t now_ms) const;

  Options options_;
  std::vector<std::unique_ptr<Rule>> rules_;  // built-in rules last
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  template <typename T>
  using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;
  // The rules of one metric name, by the value of the label most of them match with "="
  // (server="b1"), so that a series is checked against the few rules that can match it.
  struct MetricRules {
    std::string label;
    StringMap<std::vector<size_t>> by_value;
    std::vector<size_t> others;
  };
  void BuildIndex();

  StringMap<MetricRules> by_metric_;
  std::vector<size_t> any_metric_;  // rules whose selector names no metric
  std::vector<std::unique_ptr<Shard>> shards_;

  Mutex mu_;  // guards what follows, and Evaluate as a whole
  std::map<std::pair<size_t, model::Labels>, Instance> instances_
      VIGIL_GUARDED_BY(mu_);  // (rule, alert labels)
  int64_t first_evaluation_ms_ VIGIL_GUARDED_BY(mu_) = 0;

  metrics::Gauge* active_pending_ = nullptr;
  metrics::Gauge* active_firing_ = nullptr;
  metrics::Family<metrics::Counter>* transitions_ = nullptr;
  metrics::Counter* dropped_series_ = nullptr;
};

}  // namespace vigil::pipeline

#include "pipeline/alerts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/format_float.h"
#include "model/selector.h"

namespace vigil::pipeline {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool Compare(CompareOp op, double value, double threshold) {
  switch (op) {
    case CompareOp::kGreater:
      return value > threshold;
    case CompareOp::kGreaterEqual:
      return value >= threshold;
    case CompareOp::kLess:
      return value < threshold;
    case CompareOp::kLessEqual:
      return value <= threshold;
    case CompareOp::kEqual:
      return value == threshold;
    case CompareOp::kNotEqual:
      return value != threshold;
  }
  return false;
}

// Where the comparison operator starts, outside braces and quotes; npos when none.
size_t FindOperator(std::string_view text, size_t& length) {
  bool quoted = false;
  int braces = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (c == '"')
      quoted = true;
    else if (c == '{')
      ++braces;
    else if (c == '}')
      --braces;
    else if (braces == 0 && (c == '>' || c == '<' || c == '=' || c == '!')) {
      length = i + 1 < text.size() && text[i + 1] == '=' ? 2 : 1;
      return i;
    }
  }
  return std::string_view::npos;
}

// `name(inner)` → inner, when text is a call of `name`.
std::optional<std::string_view> CallArgument(std::string_view text, std::string_view name) {
  if (text.rfind(name, 0) != 0) return std::nullopt;
  std::string_view rest = Trim(text.substr(name.size()));
  if (rest.empty() || rest.front() != '(' || rest.back() != ')') return std::nullopt;
  return Trim(rest.substr(1, rest.size() - 2));
}

}  // namespace

Result<AlertTemplate> AlertTemplate::Parse(std::string_view text) {
  AlertTemplate t;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      t.parts_.push_back({std::string(text.substr(pos)), Part::kText});
      break;
    }
    if (open > pos) t.parts_.push_back({std::string(text.substr(pos, open - pos)), Part::kText});
    size_t close = text.find("}}", open);
    if (close == std::string_view::npos)
      return InvalidArgumentError("template \"" + std::string(text) + "\": unclosed {{");
    std::string_view inner = Trim(text.substr(open + 2, close - open - 2));
    if (inner == "$value") {
      t.parts_.push_back({"", Part::kValue});
    } else if (inner.rfind("$labels.", 0) == 0 && inner.size() > 8) {
      t.parts_.push_back({std::string(inner.substr(8)), Part::kLabel});
    } else {
      return InvalidArgumentError("template \"" + std::string(text) + "\": {{ " +
                                  std::string(inner) +
                                  " }} is not {{ $labels.<name> }} or {{ $value }}");
    }
    pos = close + 2;
  }
  return t;
}

std::string AlertTemplate::Render(const model::Labels& labels, double value) const {
  std::string out;
  for (const auto& part : parts_) {
    switch (part.kind) {
      case Part::kText:
        out += part.text;
        break;
      case Part::kLabel:
        out += labels.Get(part.text);
        break;
      case Part::kValue:
        out += FormatFloat(value, FloatStyle::kShortest);
        break;
    }
  }
  return out;
}

Result<AlertExpr> ParseAlertExpr(std::string_view text) {
  text = Trim(text);
  AlertExpr expr;
  auto fail = [&](const std::string& why) {
    return InvalidArgumentError("expr \"" + std::string(text) + "\": " + why);
  };
  if (auto inner = CallArgument(text, "absent_over_time")) {
    size_t open = inner->rfind('[');
    if (open == std::string_view::npos || inner->back() != ']')
      return fail("absent_over_time needs a range: absent_over_time(selector[5m])");
    auto window = model::ParseDurationMs(inner->substr(open + 1, inner->size() - open - 2));
    if (!window.ok()) return fail(window.status().message());
    auto selector = model::ParseSelector(inner->substr(0, open));
    if (!selector.ok()) return fail(selector.status().message());
    expr.kind = AlertExpr::kAbsent;
    expr.selector = std::move(selector).value();
    expr.absent_window_ms = *window;
    return expr;
  }
  if (auto inner = CallArgument(text, "absent")) {
    auto selector = model::ParseSelector(*inner);
    if (!selector.ok()) return fail(selector.status().message());
    expr.kind = AlertExpr::kAbsent;
    expr.selector = std::move(selector).value();
    return expr;
  }
  size_t length = 0;
  size_t at = FindOperator(text, length);
  if (at == std::string_view::npos)
    return fail(
        "expected `selector > number` (or >=, <, <=, ==, !=), absent(selector) or "
        "absent_over_time(selector[duration])");
  std::string_view op = text.substr(at, length);
  if (op == ">")
    expr.op = CompareOp::kGreater;
  else if (op == ">=")
    expr.op = CompareOp::kGreaterEqual;
  else if (op == "<")
    expr.op = CompareOp::kLess;
  else if (op == "<=")
    expr.op = CompareOp::kLessEqual;
  else if (op == "==")
    expr.op = CompareOp::kEqual;
  else if (op == "!=")
    expr.op = CompareOp::kNotEqual;
  else
    return fail("unknown operator " + std::string(op));
  auto selector = model::ParseSelector(Trim(text.substr(0, at)));
  if (!selector.ok()) return fail(selector.status().message());
  std::string number(Trim(text.substr(at + length)));
  char* end = nullptr;
  expr.threshold = std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size())
    return fail("\"" + number + "\" is not a number");
  expr.selector = std::move(selector).value();
  return expr;
}

model::Batch AlertsSeries(const std::vector<model::Alert>& active,
                          const std::vector<AlertChange>& changes, int64_t now_ms) {
  model::BatchBuilder builder;
  auto add = [&](const model::Labels& labels, std::string_view state, double value) {
    builder.Add(labels.With(model::kMetricNameLabel, "ALERTS").With("alertstate", state),
                {now_ms, value});
  };
  for (const auto& c : changes) {
    if (c.alert.state == model::AlertState::kFiring) add(c.alert.labels, "pending", 0);
    if (c.alert.state == model::AlertState::kResolved)
      add(c.alert.labels, c.fired ? "firing" : "pending", 0);
  }
  for (const auto& a : active) add(a.labels, model::AlertStateName(a.state), 1);
  return builder.Take();
}

// A rule, compiled.
struct AlertEvaluator::Rule {
  AlertRuleSpec spec;
  AlertExpr expr;
  std::vector<std::pair<std::string, AlertTemplate>> labels, annotations;
  model::Labels absent_labels;  // an absent rule's alert: its selector's equality matchers
};

// The newest sample of each series a threshold rule matched, and of each absent rule.
struct AlertEvaluator::Shard {
  struct Watched {
    size_t rule;
    model::Sample newest;
  };
  Mutex mu;
  std::unordered_map<model::Labels, std::vector<Watched>, model::LabelsHash> series;  // mu
  std::vector<int64_t> absent_seen VIGIL_GUARDED_BY(mu);  // per rule, newest timestamp
};

struct AlertEvaluator::Instance {
  model::Labels labels;  // the alert's
  model::AlertState state = model::AlertState::kPending;
  int64_t active_since_ms = 0;
  int64_t last_true_ms = 0;
  int64_t evaluated_ms = 0;
  double value = 0;
  bool fired = false;
  model::Labels series;  // for the annotations' templates
};

AlertEvaluator::~AlertEvaluator() = default;

Result<std::unique_ptr<AlertEvaluator>> AlertEvaluator::Create(std::vector<AlertRuleSpec> rules,
                                                               Options options) {
  std::unique_ptr<AlertEvaluator> e(new AlertEvaluator());
  e->options_ = options;
  for (size_t i = 0; i < rules.size(); ++i) {
    auto rule = std::make_unique<Rule>();
    rule->spec = std::move(rules[i]);
    auto fail = [&](const Status& status) {
      return InvalidArgumentError("alert " + rule->spec.name + ": " + status.message());
    };
    auto expr = ParseAlertExpr(rule->spec.expr);
    if (!expr.ok()) return fail(expr.status());
    rule->expr = std::move(expr).value();
    for (const auto& [name, text] : rule->spec.labels) {
      auto t = AlertTemplate::Parse(text);
      if (!t.ok()) return fail(t.status());
      rule->labels.emplace_back(name, std::move(t).value());
    }
    for (const auto& [name, text] : rule->spec.annotations) {
      auto t = AlertTemplate::Parse(text);
      if (!t.ok()) return fail(t.status());
      rule->annotations.emplace_back(name, std::move(t).value());
    }
    if (rule->expr.kind == AlertExpr::kAbsent) {
      std::vector<model::Label> pairs;
      for (const auto& m : rule->expr.selector) {
        if (m.type() == model::MatchType::kEqual && m.name() != model::kMetricNameLabel)
          pairs.push_back({m.name(), m.value()});
      }
      auto labels = model::Labels::FromPairs(std::move(pairs));
      if (!labels.ok()) return fail(labels.status());
      rule->absent_labels = std::move(labels).value();
    }
    e->rules_.push_back(std::move(rule));
  }
  e->BuildIndex();
  for (size_t i = 0; i < std::max<size_t>(options.shards, 1); ++i) {
    auto shard = std::make_unique<Shard>();
    MutexLock lock(shard->mu);
    shard->absent_seen.assign(e->rules_.size(), 0);
    e->shards_.push_back(std::move(shard));
  }
  auto& active = options.registry->AddGauge("vigil_alerts",
                                            "Alerts the coordinator holds, by state.", {"state"});
  e->active_pending_ = &active.WithLabels({"pending"});
  e->active_firing_ = &active.WithLabels({"firing"});
  e->transitions_ =
      &options.registry->AddCounter("vigil_alert_transitions_total",
                                    "Alerts that became pending, firing or resolved.", {"state"});
  e->dropped_series_ =
      &options.registry
           ->AddCounter("vigil_alert_series_dropped_total",
                        "Series the alert rules did not track: over max_series per shard.")
           .WithLabels({});
  return e;
}

void AlertEvaluator::BuildIndex() {
  auto equal_value = [](const Rule& rule, std::string_view label) -> const std::string* {
    for (const auto& m : rule.expr.selector) {
      if (m.type() == model::MatchType::kEqual && m.name() == label) return &m.value();
    }
    return nullptr;
  };
  std::map<std::string, std::vector<size_t>> by_metric;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const std::string* metric = equal_value(*rules_[i], model::kMetricNameLabel);
    if (metric == nullptr)
      any_metric_.push_back(i);
    else
      by_metric[*metric].push_back(i);
  }
  for (const auto& [metric, rules] : by_metric) {
    std::map<std::string, size_t> label_counts;
    for (size_t r : rules) {
      for (const auto& m : rules_[r]->expr.selector) {
        if (m.type() == model::MatchType::kEqual && m.name() != model::kMetricNameLabel)
          ++label_counts[m.name()];
      }
    }
    MetricRules& index = by_metric_[metric];
    size_t best = 0;
    for (const auto& [label, count] : label_counts) {
      if (count > best) {
        best = count;
        index.label = label;
      }
    }
    for (size_t r : rules) {
      const std::string* value =
          index.label.empty() ? nullptr : equal_value(*rules_[r], index.label);
      if (value)
        index.by_value[*value].push_back(r);
      else
        index.others.push_back(r);
    }
  }
}

size_t AlertEvaluator::rule_count() const { return rules_.size(); }

void AlertEvaluator::Observe(size_t shard_index, const model::Batch& batch) {
  if (rules_.empty()) return;
  Shard& shard = *shards_[shard_index % shards_.size()];
  MutexLock lock(shard.mu);
  for (const auto& series : batch.series) {
    if (series.samples.empty()) continue;
    const model::Sample& newest = series.samples.back();
    auto named = by_metric_.find(series.labels.MetricName());
    std::vector<Shard::Watched>* watched = nullptr;
    auto visit = [&](size_t r) VIGIL_REQUIRES(shard.mu) {
      const Rule& rule = *rules_[r];
      if (!model::MatchesAll(rule.expr.selector, series.labels)) return;
      if (rule.expr.kind == AlertExpr::kAbsent) {
        shard.absent_seen[r] = std::max(shard.absent_seen[r], newest.timestamp_ms);
        return;
      }
      if (watched == nullptr) {
        auto it = shard.series.find(series.labels);
        if (it == shard.series.end()) {
          if (shard.series.size() >= options_.max_series) {
            dropped_series_->Inc();
            return;
          }
          it = shard.series.emplace(series.labels, std::vector<Shard::Watched>{}).first;
        }
        watched = &it->second;
      }
      for (auto& w : *watched) {
        if (w.rule == r) {
          if (newest.timestamp_ms >= w.newest.timestamp_ms) w.newest = newest;
          return;
        }
      }
      watched->push_back({r, newest});
    };
    if (named != by_metric_.end()) {
      const MetricRules& index = named->second;
      if (!index.label.empty()) {
        auto same = index.by_value.find(series.labels.Get(index.label));
        if (same != index.by_value.end()) {
          for (size_t r : same->second) visit(r);
        }
      }
      for (size_t r : index.others) visit(r);
    }
    for (size_t r : any_metric_) visit(r);
  }
}

model::Alert AlertEvaluator::MakeAlert(size_t rule_index, const Instance& inst,
                                       model::AlertState state, int64_t now_ms) const {
  const Rule& rule = *rules_[rule_index];
  model::Alert a;
  a.name = rule.spec.name;
  a.severity = rule.spec.severity;
  a.state = state;
  a.labels = inst.labels;
  for (const auto& [name, t] : rule.annotations)
    a.annotations[name] = t.Render(inst.series, inst.value);
  a.value = inst.value;
  a.active_since_ms = inst.active_since_ms;
  a.timestamp_ms = now_ms;
  return a;
}

void AlertEvaluator::Step(size_t rule_index, const model::Labels& series, bool condition,
                          double value, int64_t now_ms, std::vector<AlertChange>& changes) {
  const Rule& rule = *rules_[rule_index];
  auto key = std::make_pair(rule_index, series);
  auto it = instances_.find(key);
  auto change = [&](const Instance& inst, model::AlertState state) {
    changes.push_back({MakeAlert(rule_index, inst, state, now_ms), inst.fired});
    transitions_->WithLabels({std::string(model::AlertStateName(state))}).Inc();
  };
  if (condition) {
    const bool created = it == instances_.end();
    if (created) {
      Instance inst;
      model::Labels merged = series.With(model::kMetricNameLabel, "");
      for (const auto& [name, t] : rule.labels) merged.Set(name, t.Render(series, value));
      merged.Set("alertname", rule.spec.name);
      if (merged.Get("severity").empty()) merged.Set("severity", rule.spec.severity);
      inst.labels = std::move(merged);
      inst.series = series;
      inst.active_since_ms = now_ms;
      it = instances_.emplace(key, std::move(inst)).first;
    }
    Instance& inst = it->second;
    inst.value = value;
    inst.last_true_ms = now_ms;
    inst.evaluated_ms = now_ms;
    if (inst.state == model::AlertState::kPending &&
        now_ms - inst.active_since_ms >= rule.spec.for_ms) {
      inst.state = model::AlertState::kFiring;
      inst.fired = true;
      change(inst, model::AlertState::kFiring);
    } else if (created) {
      change(inst, model::AlertState::kPending);
    }
    return;
  }
  if (it == instances_.end()) return;
  Instance& inst = it->second;
  inst.evaluated_ms = now_ms;
  if (inst.state == model::AlertState::kFiring && rule.spec.keep_firing_for_ms > 0 &&
      now_ms - inst.last_true_ms < rule.spec.keep_firing_for_ms) {
    return;
  }
  change(inst, model::AlertState::kResolved);
  instances_.erase(it);
}

std::vector<AlertChange> AlertEvaluator::Evaluate(int64_t now_ms) {
  MutexLock lock(mu_);
  if (first_evaluation_ms_ == 0) first_evaluation_ms_ = now_ms;
  std::vector<AlertChange> changes;

  // Series rules: each shard's series, then the alerts whose series were forgotten.
  for (auto& shard : shards_) {
    MutexLock shard_lock(shard->mu);
    for (auto it = shard->series.begin(); it != shard->series.end();) {
      auto& watched = it->second;
      for (size_t i = 0; i < watched.size();) {
        const Rule& rule = *rules_[watched[i].rule];
        bool present = now_ms - watched[i].newest.timestamp_ms <= options_.lookback_ms;
        bool condition =
            present && Compare(rule.expr.op, watched[i].newest.value, rule.expr.threshold);
        Step(watched[i].rule, it->first, condition, watched[i].newest.value, now_ms, changes);
        if (present) {
          ++i;
        } else {
          watched[i] = watched.back();
          watched.pop_back();
        }
      }
      it = watched.empty() ? shard->series.erase(it) : std::next(it);
    }
  }
  // Absent rules.
  for (size_t r = 0; r < rules_.size(); ++r) {
    const Rule& rule = *rules_[r];
    if (rule.expr.kind == AlertExpr::kAbsent) {
      int64_t newest = first_evaluation_ms_;
      for (auto& shard : shards_) {
        MutexLock shard_lock(shard->mu);
        newest = std::max(newest, shard->absent_seen[r]);
      }
      int64_t window =
          rule.expr.absent_window_ms ? rule.expr.absent_window_ms : options_.lookback_ms;
      Step(r, rule.absent_labels, now_ms - newest > window, 1, now_ms, changes);
    }
  }
  // Series alerts this round did not visit: their series went away.
  std::vector<std::pair<size_t, model::Labels>> gone;
  for (const auto& [key, inst] : instances_) {
    if (inst.evaluated_ms != now_ms) gone.push_back(key);
  }
  for (const auto& key : gone) Step(key.first, key.second, false, 0, now_ms, changes);

  double pending = 0, firing = 0;
  for (const auto& [key, inst] : instances_)
    (inst.state == model::AlertState::kFiring ? firing : pending) += 1;
  active_pending_->Set(pending);
  active_firing_->Set(firing);
  return changes;
}

std::vector<model::Alert> AlertEvaluator::Active() {
  MutexLock lock(mu_);
  std::vector<model::Alert> out;
  for (const auto& [key, inst] : instances_)
    out.push_back(MakeAlert(key.first, inst, inst.state, inst.evaluated_ms));
  return out;
}

}  // namespace vigil::pipeline

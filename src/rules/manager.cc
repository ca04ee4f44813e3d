#include "rules/manager.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/format_float.h"
#include "rules/template.h"

namespace vigil::rules {
namespace {

constexpr std::string_view kAlertsMetric = "ALERTS";
constexpr std::string_view kForStateMetric = "ALERTS_FOR_STATE";

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

struct RuleManager::ActiveAlert {
  model::Labels labels;
  std::map<std::string, std::string> annotations;
  model::AlertState state = model::AlertState::kPending;
  bool inactive = false;  // resolved, kept for resolved_retention
  double value = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;
  int64_t resolved_at_ms = 0;
  int64_t keep_firing_since_ms = 0;  // when it was last missing from the result while firing
  // Its state came back from ALERTS_FOR_STATE after a restart: not news to notify.
  bool restored = false;
  int64_t restored_at_ms = 0;
  int64_t last_sent_ms = 0;  // to Alertmanager
};

struct RuleManager::Rule {
  RuleSpec spec;
  std::vector<std::pair<std::string, Template>> label_templates;
  std::vector<std::pair<std::string, Template>> annotation_templates;
  std::string health = "unknown";
  std::string last_error;
  int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
  std::map<model::Labels, ActiveAlert> alerts;  // by the alert's labels
  std::set<model::Labels> written;              // the series the last evaluation wrote
  // A later rule of the group names what this one writes: written before that rule runs.
  bool read_later = false;
};

struct RuleManager::Group {
  GroupSpec spec;
  int64_t interval_ms = 0;
  // Where in each interval the group runs: a hash of its key, as Prometheus spreads its
  // groups, so that groups of one interval do not all start at the same instant.
  int64_t offset_ms = 0;
  std::string key;  // file;name, the rule_group label

  Mutex mu;  // held for a whole evaluation
  std::vector<Rule> rules VIGIL_GUARDED_BY(mu);
  bool restored VIGIL_GUARDED_BY(mu) = false;
  int64_t last_evaluation_ms VIGIL_GUARDED_BY(mu) = 0;
  double evaluation_seconds VIGIL_GUARDED_BY(mu) = 0;
};

nlohmann::json GroupJson(const RuleManager::Group& group, std::string_view type)
    VIGIL_REQUIRES(group.mu);

namespace {
// 64-bit FNV-1a: the same offset for the same group on every server and every build.
uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}
}  // namespace

RuleManager::RuleManager(query::Engine& engine, Clock& clock, Options options, Outputs outputs)
    : engine_(engine), clock_(clock), options_(std::move(options)), outputs_(std::move(outputs)) {
  auto& r = *options_.registry;
  evaluations_ = &r.AddCounter("vigil_rule_evaluations_total",
                               "Rule evaluations, by group (file;name).", {"rule_group"});
  failures_ = &r.AddCounter("vigil_rule_evaluation_failures_total",
                            "Rule evaluations that failed, by group.", {"rule_group"});
  missed_ = &r.AddCounter("vigil_rule_group_iterations_missed_total",
                          "Evaluation slots skipped because the previous evaluation ran long.",
                          {"rule_group"});
  duration_ = &r.AddGauge("vigil_rule_group_last_duration_seconds",
                          "How long the group's last evaluation took.", {"rule_group"});
  alerts_ =
      &r.AddGauge("vigil_alerts", "Alerts pending and firing after the group's last evaluation.",
                  {"rule_group", "state"});
  transitions_ = &r.AddCounter("vigil_alert_transitions_total",
                               "Alerts that became firing or resolved (a pending alert that "
                               "cleared counts as resolved).",
                               {"state"});
}

RuleManager::~RuleManager() { Stop(); }

void RuleManager::Load(std::vector<GroupSpec> specs) {
  bool was_running;
  {
    MutexLock lock(mu_);
    was_running = !stopped_;
  }
  if (was_running) Stop();
  MutexLock lock(mu_);
  // Alerts of rules that stay keep their state: matched by file, group, name and expression.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, Rule*> old;
  for (auto& group : groups_) {
    group->mu.AssertHeld();  // no thread runs: Stop joined them
    for (auto& rule : group->rules)
      old.emplace(std::tuple{group->spec.file, group->spec.name, rule.spec.name, rule.spec.expr},
                  &rule);
  }
  std::vector<std::shared_ptr<Group>> groups;
  for (auto& spec : specs) {
    auto group = std::make_shared<Group>();
    group->mu.AssertHeld();  // not shared yet
    group->interval_ms = spec.interval_ms > 0 ? spec.interval_ms : options_.default_interval_ms;
    group->key = spec.file + ";" + spec.name;
    group->offset_ms =
        static_cast<int64_t>(Fnv1a(group->key) % static_cast<uint64_t>(group->interval_ms));
    for (auto& rule_spec : spec.rules) {
      Rule rule;
      rule.spec = rule_spec;
      // The loader checked every template, so these parse.
      for (const auto& [name, text] : rule_spec.labels)
        if (auto t = Template::Parse(text); t.ok()) rule.label_templates.emplace_back(name, *t);
      for (const auto& [name, text] : rule_spec.annotations)
        if (auto t = Template::Parse(text); t.ok())
          rule.annotation_templates.emplace_back(name, *t);
      auto it = old.find(std::tuple{spec.file, spec.name, rule_spec.name, rule_spec.expr});
      if (it != old.end()) {
        rule.alerts = std::move(it->second->alerts);
        rule.written = std::move(it->second->written);
        group->restored = true;  // state carried over: nothing to restore from the store
      }
      group->rules.push_back(std::move(rule));
    }
    // What a rule writes is read by a later one when the later expression names it (a
    // recording rule's metric, or ALERTS): a cheap textual test, erring towards writing.
    for (size_t i = 0; i < group->rules.size(); ++i) {
      const RuleSpec& writer = group->rules[i].spec;
      const std::string written = writer.kind == RuleKind::kRecord ? writer.name : "ALERTS";
      for (size_t j = i + 1; j < group->rules.size(); ++j)
        if (group->rules[j].spec.expr.find(written) != std::string::npos)
          group->rules[i].read_later = true;
    }
    group->spec = std::move(spec);
    groups.push_back(std::move(group));
  }
  groups_ = std::move(groups);
  lock.unlock();
  if (was_running) Start();
}

void RuleManager::Start() {
  std::vector<std::shared_ptr<Group>> groups;
  {
    MutexLock lock(mu_);
    if (!stopped_) return;
    stopped_ = false;
    groups = groups_;
  }
  for (auto& group : groups) threads_.emplace_back([this, group] { Run(group); });
}

void RuleManager::Stop() {
  {
    MutexLock lock(mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

void RuleManager::Run(std::shared_ptr<Group> group) {
  const int64_t interval = group->interval_ms;
  int64_t next =
      ((clock_.NowMillis() - group->offset_ms) / interval + 1) * interval + group->offset_ms;
  while (true) {
    {
      MutexLock lock(mu_);
      while (!stopped_) {
        int64_t wait = next - clock_.NowMillis();
        if (wait <= 0) break;
        stop_cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(wait, 1000)));
      }
      if (stopped_) return;
    }
    size_t index = 0;
    {
      MutexLock lock(mu_);
      for (; index < groups_.size() && groups_[index] != group; ++index) {
      }
      if (index == groups_.size()) return;
    }
    EvaluateGroup(index, next);
    // Slots that passed while this one ran are skipped and counted.
    int64_t now = clock_.NowMillis();
    int64_t missed = now > next + interval ? (now - next) / interval : 0;
    if (missed > 0) missed_->WithLabels({group->key}).Inc(static_cast<double>(missed));
    next += (missed + 1) * interval;
  }
}

void RuleManager::Write(const Group& group, model::BatchBuilder& out) {
  if (out.empty() || !outputs_.write) return;
  Status status = outputs_.write(out.Take());
  if (!status.ok())
    spdlog::warn("rules: results of group {} were not written: {}", group.spec.name,
                 status.ToString());
}

void RuleManager::EvaluateGroup(size_t index, int64_t ts) {
  std::shared_ptr<Group> group;
  {
    MutexLock lock(mu_);
    if (index >= groups_.size()) return;
    group = groups_[index];
  }
  const auto started = std::chrono::steady_clock::now();
  model::BatchBuilder out;
  std::vector<AlertChange> changes;
  std::vector<OutgoingAlert> due;
  std::string state;
  {
    MutexLock lock(group->mu);
    for (auto& rule : group->rules) {
      const auto rule_started = std::chrono::steady_clock::now();
      evaluations_->WithLabels({group->key}).Inc();
      std::set<model::Labels> written;
      Status status =
          EvaluateRule(rule, ts, group->spec.limit, !group->restored, out, written, changes);
      rule.last_evaluation_ms = ts;
      rule.evaluation_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - rule_started).count();
      if (!status.ok()) {
        failures_->WithLabels({group->key}).Inc();
        if (rule.last_error != status.message())
          spdlog::warn("rules: {} in group {} ({}): {}", rule.spec.name, group->spec.name,
                       group->spec.file, status.message());
        rule.health = "err";
        rule.last_error = status.message();
        continue;
      }
      rule.health = "ok";
      rule.last_error.clear();
      // What the last evaluation wrote and this one did not ends now.
      for (const auto& labels : rule.written)
        if (!written.contains(labels)) out.Add(labels, {ts, model::StaleMarker()});
      rule.written = std::move(written);
      if (outputs_.send) CollectDue(rule, ts, group->interval_ms, due);
      if (rule.read_later) Write(*group, out);
    }
    group->restored = true;
    group->last_evaluation_ms = ts;
    group->evaluation_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    duration_->WithLabels({group->key}).Set(group->evaluation_seconds);
    size_t pending = 0, firing = 0;
    for (const auto& rule : group->rules)
      for (const auto& [labels, alert] : rule.alerts) {
        if (alert.inactive) continue;
        ++(alert.state == model::AlertState::kFiring ? firing : pending);
      }
    alerts_->WithLabels({group->key, "pending"}).Set(static_cast<double>(pending));
    alerts_->WithLabels({group->key, "firing"}).Set(static_cast<double>(firing));
    if (outputs_.group_state) state = GroupJson(*group, "").dump();
  }
  Write(*group, out);
  for (const auto& change : changes)
    if (change.alert.state != model::AlertState::kPending)
      transitions_->WithLabels({std::string(model::AlertStateName(change.alert.state))}).Inc();
  if (!changes.empty() && outputs_.notify) outputs_.notify(changes);
  if (!due.empty()) outputs_.send(due);
  if (outputs_.group_state) outputs_.group_state(group->key, group->interval_ms, state);
}

Status RuleManager::EvaluateRule(Rule& rule, int64_t ts, int64_t limit, bool restore,
                                 model::BatchBuilder& out, std::set<model::Labels>& written,
                                 std::vector<AlertChange>& changes) {
  VIGIL_ASSIGN_OR_RETURN(query::QueryResult result, engine_.Instant(rule.spec.expr, ts));
  if (result.type != query::ValueType::kVector && result.type != query::ValueType::kScalar)
    return FailedPreconditionError("rule result is not a vector or scalar");

  if (rule.spec.kind == RuleKind::kRecord) {
    if (limit > 0 && static_cast<int64_t>(result.series.size()) > limit)
      return ResourceExhaustedError(
          fmt::format("exceeded limit {} with {} series", limit, result.series.size()));
    std::vector<std::pair<model::Labels, double>> samples;
    std::set<model::Labels> seen;
    for (const auto& series : result.series) {
      if (series.points.empty()) continue;
      model::Labels labels = series.labels;
      labels.Set(model::kMetricNameLabel, rule.spec.name);
      for (const auto& [name, value] : rule.spec.labels) labels.Set(name, value);
      if (!seen.insert(labels).second)
        return FailedPreconditionError(
            "vector contains metrics with the same labelset after applying rule labels");
      samples.emplace_back(std::move(labels), series.points.back().value);
    }
    for (auto& [labels, value] : samples) {
      out.Add(labels, {ts, value});
      written.insert(std::move(labels));
    }
    return OkStatus();
  }

  // An alerting rule: the output series, as alerts.
  std::map<model::Labels, ActiveAlert> found;
  for (const auto& series : result.series) {
    if (series.points.empty()) continue;
    const double value = series.points.back().value;
    TemplateData data;
    data.labels = series.labels;
    data.value = value;
    data.external_url = options_.external_url;
    data.query = [this, ts](std::string_view text) -> Result<std::vector<TemplateSample>> {
      VIGIL_ASSIGN_OR_RETURN(query::QueryResult r, engine_.Instant(text, ts));
      std::vector<TemplateSample> samples;
      for (const auto& s : r.series)
        if (!s.points.empty()) samples.push_back({s.labels, s.points.back().value});
      return samples;
    };
    model::Labels labels = series.labels;
    labels.Set(model::kMetricNameLabel, "");
    for (const auto& [name, tmpl] : rule.label_templates) labels.Set(name, tmpl.Expand(data));
    labels.Set("alertname", rule.spec.name);
    ActiveAlert alert;
    alert.labels = labels;
    alert.value = value;
    for (const auto& [name, tmpl] : rule.annotation_templates)
      alert.annotations[name] = tmpl.Expand(data);
    if (found.contains(labels))
      return FailedPreconditionError(
          "vector contains metrics with the same labelset after applying alert labels");
    found.emplace(std::move(labels), std::move(alert));
  }

  for (auto& [labels, alert] : found) {
    auto it = rule.alerts.find(labels);
    if (it != rule.alerts.end() && !it->second.inactive) {
      it->second.value = alert.value;
      it->second.annotations = std::move(alert.annotations);
      it->second.keep_firing_since_ms = 0;
      continue;
    }
    alert.active_at_ms = ts;
    rule.alerts[labels] = std::move(alert);
  }
  if (restore && rule.spec.for_ms > 0) RestoreForState(rule, ts);

  for (auto it = rule.alerts.begin(); it != rule.alerts.end();) {
    ActiveAlert& alert = it->second;
    const bool present = found.contains(it->first);
    if (!present) {
      if (alert.inactive) {
        if (ts - alert.resolved_at_ms > options_.resolved_retention_ms)
          it = rule.alerts.erase(it);
        else
          ++it;
        continue;
      }
      if (alert.state == model::AlertState::kFiring && rule.spec.keep_firing_for_ms > 0) {
        if (alert.keep_firing_since_ms == 0) alert.keep_firing_since_ms = ts;
        if (ts - alert.keep_firing_since_ms < rule.spec.keep_firing_for_ms) {
          ++it;
          continue;
        }
      }
      const bool fired = alert.state == model::AlertState::kFiring;
      alert.resolved_at_ms = ts;
      model::Alert resolved = ToModel(rule.spec, alert, model::AlertState::kResolved, ts);
      changes.push_back({std::move(resolved), fired});
      if (!fired) {
        it = rule.alerts.erase(it);
        continue;
      }
      alert.inactive = true;
      ++it;
      continue;
    }
    const bool is_new = alert.active_at_ms == ts && alert.state == model::AlertState::kPending &&
                        alert.fired_at_ms == 0;
    if (alert.state == model::AlertState::kPending && ts - alert.active_at_ms >= rule.spec.for_ms) {
      // One that had fired before the restart fires on; it was notified then.
      const bool news = !(alert.restored && ts == alert.restored_at_ms);
      alert.state = model::AlertState::kFiring;
      alert.fired_at_ms = ts;
      if (news) changes.push_back({ToModel(rule.spec, alert, alert.state, ts), true});
    } else if (is_new && !alert.restored) {
      changes.push_back({ToModel(rule.spec, alert, alert.state, ts), false});
    }
    ++it;
  }

  size_t active = 0;
  for (const auto& [labels, alert] : rule.alerts) active += alert.inactive ? 0 : 1;
  if (limit > 0 && static_cast<int64_t>(active) > limit) {
    rule.alerts.clear();
    return ResourceExhaustedError(
        fmt::format("exceeded limit of {} with {} alerts", limit, active));
  }
  for (const auto& [labels, alert] : rule.alerts) {
    if (alert.inactive) continue;
    model::Labels series = labels.With(model::kMetricNameLabel, kAlertsMetric)
                               .With("alertstate", model::AlertStateName(alert.state));
    out.Add(series, {ts, 1});
    written.insert(std::move(series));
    model::Labels for_state = labels.With(model::kMetricNameLabel, kForStateMetric);
    out.Add(for_state, {ts, static_cast<double>(alert.active_at_ms / 1000)});
    written.insert(std::move(for_state));
  }
  return OkStatus();
}

void RuleManager::CollectDue(Rule& rule, int64_t ts, int64_t interval_ms,
                             std::vector<OutgoingAlert>& due) {
  // Prometheus's needsSending: never pending ones; resolved ones once resolved, then like
  // firing ones every resend delay while they are kept.
  const int64_t valid_for = 4 * std::max(options_.resend_delay_ms, interval_ms);
  for (auto& [labels, alert] : rule.alerts) {
    if (alert.state == model::AlertState::kPending && !alert.inactive) continue;
    const bool resolved_since = alert.inactive && alert.resolved_at_ms > alert.last_sent_ms;
    if (!resolved_since && alert.last_sent_ms != 0 &&
        ts - alert.last_sent_ms < options_.resend_delay_ms)
      continue;
    alert.last_sent_ms = ts;
    due.push_back({labels, alert.annotations, alert.fired_at_ms,
                   alert.inactive ? alert.resolved_at_ms : ts + valid_for});
  }
}

void RuleManager::RestoreForState(Rule& rule, int64_t ts) {
  const std::string selector = fmt::format("{}{{alertname={}}}[{}ms]", kForStateMetric,
                                           Quote(rule.spec.name), options_.outage_tolerance_ms);
  auto result = engine_.Instant(selector, ts);
  if (!result.ok()) {
    spdlog::warn("rules: the state of {} was not restored: {}", rule.spec.name,
                 result.status().ToString());
    return;
  }
  const int64_t hold = rule.spec.for_ms;
  for (const auto& series : result->series) {
    if (series.points.empty()) continue;
    model::Labels labels = series.labels;
    labels.Set(model::kMetricNameLabel, "");
    auto it = rule.alerts.find(labels);
    if (it == rule.alerts.end() || it->second.inactive) continue;
    const model::Sample& last = series.points.back();
    int64_t active_at = static_cast<int64_t>(last.value) * 1000;
    const int64_t down_at = last.timestamp_ms;
    const int64_t remaining = hold - (down_at - active_at);
    if (remaining <= 0) {
      // It had fired: it fires again at once.
    } else if (hold >= options_.for_grace_period_ms && remaining < options_.for_grace_period_ms) {
      active_at = ts + options_.for_grace_period_ms - hold;
    } else {
      active_at += ts - down_at;  // the time it was down does not count
    }
    it->second.active_at_ms = active_at;
    it->second.restored = true;
    it->second.restored_at_ms = ts;
    spdlog::info("rules: restored {} {} as active since {}", rule.spec.name, labels.ToString(),
                 FormatRfc3339(active_at));
  }
}

model::Alert RuleManager::ToModel(const RuleSpec& spec, const ActiveAlert& alert,
                                  model::AlertState state, int64_t ts) const {
  model::Alert out;
  out.name = spec.name;
  std::string_view severity = alert.labels.Get("severity");
  out.severity = severity.empty() ? "none" : std::string(severity);
  out.state = state;
  out.labels = alert.labels;
  out.annotations = alert.annotations;
  out.value = alert.value;
  out.active_since_ms = alert.active_at_ms;
  out.timestamp_ms = ts;
  return out;
}

std::vector<model::Alert> RuleManager::ActiveAlerts() const {
  std::vector<std::shared_ptr<Group>> groups;
  {
    MutexLock lock(mu_);
    groups = groups_;
  }
  std::vector<model::Alert> alerts;
  for (const auto& group : groups) {
    MutexLock lock(group->mu);
    for (const auto& rule : group->rules)
      for (const auto& [labels, alert] : rule.alerts)
        if (!alert.inactive)
          alerts.push_back(ToModel(rule.spec, alert, alert.state, group->last_evaluation_ms));
  }
  return alerts;
}

size_t RuleManager::group_count() const {
  MutexLock lock(mu_);
  return groups_.size();
}

// One group in /api/v1/rules' shape; `type` "alert" or "record" keeps one kind of rule.
nlohmann::json GroupJson(const RuleManager::Group& group, std::string_view type)
    VIGIL_REQUIRES(group.mu) {
  auto time_text = [](int64_t ms) {
    return ms == 0 ? std::string("0001-01-01T00:00:00Z") : FormatRfc3339(ms);
  };
  auto labels_json = [](const auto& pairs) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, v] : pairs) j[std::string(k)] = v;
    return j;
  };
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& rule : group.rules) {
    const bool alerting = rule.spec.kind == RuleKind::kAlert;
    if ((type == "alert" && !alerting) || (type == "record" && alerting)) continue;
    nlohmann::json r = {{"name", rule.spec.name},
                        {"query", rule.spec.expr},
                        {"labels", labels_json(rule.spec.labels)},
                        {"health", rule.health},
                        {"evaluationTime", rule.evaluation_seconds},
                        {"lastEvaluation", time_text(rule.last_evaluation_ms)},
                        {"type", alerting ? "alerting" : "recording"}};
    if (!rule.last_error.empty()) r["lastError"] = rule.last_error;
    if (alerting) {
      std::string state = "inactive";
      nlohmann::json alerts = nlohmann::json::array();
      for (const auto& [labels, alert] : rule.alerts) {
        if (alert.inactive) continue;
        if (alert.state == model::AlertState::kFiring)
          state = "firing";
        else if (state == "inactive")
          state = "pending";
        nlohmann::json label_map = nlohmann::json::object();
        for (const auto& l : labels) label_map[std::string(l.name)] = l.value;
        nlohmann::json a = {{"labels", label_map},
                            {"annotations", labels_json(alert.annotations)},
                            {"state", model::AlertStateName(alert.state)},
                            {"activeAt", FormatRfc3339(alert.active_at_ms)},
                            {"value", FormatFloat(alert.value, FloatStyle::kExponent)}};
        if (alert.keep_firing_since_ms)
          a["keepFiringSince"] = FormatRfc3339(alert.keep_firing_since_ms);
        alerts.push_back(std::move(a));
      }
      r["state"] = state;
      r["duration"] = static_cast<double>(rule.spec.for_ms) / 1000.0;
      r["keepFiringFor"] = static_cast<double>(rule.spec.keep_firing_for_ms) / 1000.0;
      r["annotations"] = labels_json(rule.spec.annotations);
      r["alerts"] = std::move(alerts);
    }
    rules.push_back(std::move(r));
  }
  return {{"name", group.spec.name},
          {"file", group.spec.file},
          {"rules", std::move(rules)},
          {"interval", static_cast<double>(group.interval_ms) / 1000.0},
          {"limit", group.spec.limit},
          {"evaluationTime", group.evaluation_seconds},
          {"lastEvaluation", time_text(group.last_evaluation_ms)}};
}

std::string RuleManager::RulesJson(std::string_view type) const {
  std::vector<std::shared_ptr<Group>> groups;
  {
    MutexLock lock(mu_);
    groups = groups_;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& group : groups) {
    MutexLock lock(group->mu);
    nlohmann::json one = GroupJson(*group, type);
    if (!type.empty() && one["rules"].empty()) continue;
    list.push_back(std::move(one));
  }
  return nlohmann::json({{"groups", list}}).dump();
}

}  // namespace vigil::rules

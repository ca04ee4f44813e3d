#include "rules/manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/format_float.h"
#include "store/memory_store.h"
#include "testing/fake_clock.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"

namespace vigil::rules {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;  // a multiple of 1 s and of 10 s

class RuleManagerTest : public ::testing::Test {
 protected:
  RuleManagerTest() : engine_(store_) {}

  std::unique_ptr<RuleManager> Make(const std::string& yaml) {
    LoadedRules loaded = ParseRuleFile("rules.yml", yaml);
    EXPECT_TRUE(loaded.ok()) << loaded.errors[0];
    RuleManager::Outputs outputs;
    outputs.write = [this](model::Batch batch) { return store_.Append(batch); };
    outputs.notify = [this](const std::vector<AlertChange>& changes) {
      for (const auto& c : changes) changes_.push_back(c);
    };
    outputs.send = [this](const std::vector<RuleManager::OutgoingAlert>& alerts) {
      for (const auto& a : alerts) sent_.push_back(a);
    };
    RuleManager::Options options;
    options.registry = &registry_;
    auto manager = std::make_unique<RuleManager>(engine_, clock_, options, outputs);
    manager->Load(loaded.groups);
    return manager;
  }

  void Write(const model::Labels& labels, int64_t ts, double value) {
    model::Batch batch;
    batch.series.push_back({labels, {{ts, value}}});
    ASSERT_TRUE(store_.Append(batch).ok());
  }

  // The states of the changes since the last call, as "pending", "firing", "resolved".
  std::vector<std::string> TakeChanges() {
    std::vector<std::string> states;
    for (const auto& c : changes_) states.emplace_back(model::AlertStateName(c.alert.state));
    changes_.clear();
    return states;
  }

  double ValueAt(const std::string& query, int64_t ts) {
    auto r = engine_.Instant(query, ts);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->series.empty() || r->series[0].points.empty()) return -1;
    return r->series[0].points.back().value;
  }

  store::MemoryStore store_;
  query::Engine engine_;
  vigil::testing::FakeClock clock_{kStart};
  metrics::Registry registry_;
  std::vector<AlertChange> changes_;
  std::vector<RuleManager::OutgoingAlert> sent_;
};

const model::Labels kRoom = model::Labels::Of({{"__name__", "temperature"}, {"room", "a"}});

const char* kHotRule = R"(groups:
- name: plant
  interval: 10s
  rules:
  - alert: TooHot
    expr: temperature > 30
    for: 30s
    keep_firing_for: 20s
    labels:
      severity: "{{ if gt $value 40.0 }}critical{{ else }}warning{{ end }}"
    annotations:
      summary: "room {{ $labels.room }} at {{ $value }} degrees"
)";

TEST_F(RuleManagerTest, PendingFiringKeptFiringThenResolved) {
  auto manager = Make(kHotRule);
  int64_t t = kStart;
  auto step = [&](double value) {
    Write(kRoom, t, value);
    manager->TEST_EvaluateGroup(0, t);
    t += 10'000;
  };
  step(25);
  EXPECT_TRUE(TakeChanges().empty());
  step(35);  // pending since now
  EXPECT_THAT(TakeChanges(), ::testing::ElementsAre("pending"));
  step(35);
  step(35);
  EXPECT_TRUE(TakeChanges().empty());
  EXPECT_EQ(ValueAt("ALERTS{alertname=\"TooHot\",alertstate=\"pending\"}", t - 10'000), 1);
  step(36);  // 30 s pending: fires
  auto firing = changes_;
  EXPECT_THAT(TakeChanges(), ::testing::ElementsAre("firing"));
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].alert.labels.Get("severity"), "warning");
  EXPECT_EQ(firing[0].alert.labels.Get("alertname"), "TooHot");
  EXPECT_EQ(firing[0].alert.labels.Get("room"), "a");
  EXPECT_EQ(firing[0].alert.annotations.at("summary"), "room a at 36 degrees");
  EXPECT_EQ(firing[0].alert.active_since_ms, kStart + 10'000);
  // The pending series ended with a stale marker; the firing one is there.
  EXPECT_EQ(ValueAt("ALERTS{alertstate=\"pending\"}", t - 10'000), -1);
  EXPECT_EQ(ValueAt("ALERTS{alertstate=\"firing\"}", t - 10'000), 1);
  EXPECT_EQ(ValueAt("ALERTS_FOR_STATE", t - 10'000), (kStart + 10'000) / 1000);
  step(20);  // cleared, but kept firing for 20 s
  step(20);
  EXPECT_TRUE(TakeChanges().empty());
  step(20);
  EXPECT_THAT(TakeChanges(), ::testing::ElementsAre("resolved"));
  EXPECT_EQ(ValueAt("ALERTS", t - 10'000), -1);
  auto rules = nlohmann::json::parse(manager->RulesJson(""));
  EXPECT_EQ(rules["groups"][0]["rules"][0]["state"], "inactive");
  EXPECT_EQ(rules["groups"][0]["rules"][0]["health"], "ok");
}

// What goes to Alertmanager, as Prometheus sends it: a firing alert at once and again
// every minute, ending 4 minutes ahead; its resolution with the time it resolved.
TEST_F(RuleManagerTest, AlertmanagerGetsFiringAlertsEveryMinuteAndTheirResolution) {
  auto manager = Make(R"(groups:
- name: g
  interval: 10s
  rules:
  - alert: Hot
    expr: temperature > 30
)");
  int64_t t = kStart;
  for (; t < kStart + 90'000; t += 10'000) {
    Write(kRoom, t, 35);
    manager->TEST_EvaluateGroup(0, t);
  }
  ASSERT_EQ(sent_.size(), 2u);  // at 0 s and at 60 s
  EXPECT_EQ(sent_[0].starts_at_ms, kStart);
  EXPECT_EQ(sent_[0].ends_at_ms, kStart + 4 * 60'000);
  EXPECT_EQ(sent_[1].ends_at_ms, kStart + 60'000 + 4 * 60'000);
  EXPECT_EQ(sent_[1].labels.Get("alertname"), "Hot");
  Write(kRoom, t, 20);
  manager->TEST_EvaluateGroup(0, t);
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[2].ends_at_ms, t);
  EXPECT_EQ(sent_[2].starts_at_ms, kStart);
}

TEST_F(RuleManagerTest, PendingThatClearsIsDroppedWithoutFiring) {
  auto manager = Make(kHotRule);
  Write(kRoom, kStart, 35);
  manager->TEST_EvaluateGroup(0, kStart);
  Write(kRoom, kStart + 10'000, 20);
  manager->TEST_EvaluateGroup(0, kStart + 10'000);
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_FALSE(changes_[1].fired);
  EXPECT_EQ(changes_[1].alert.state, model::AlertState::kResolved);
  EXPECT_TRUE(manager->ActiveAlerts().empty());
}

TEST_F(RuleManagerTest, RecordingRulesWriteTheirSeriesAndEndThem) {
  auto manager = Make(R"(groups:
- name: rec
  rules:
  - record: room:temperature:max
    expr: max by (room) (temperature)
    labels:
      source: rules
  - record: broken
    expr: temperature[5m]
)");
  Write(kRoom, kStart, 21.5);
  Write(kRoom.With("sensor", "2"), kStart, 23);
  manager->TEST_EvaluateGroup(0, kStart);
  EXPECT_EQ(ValueAt("room:temperature:max{room=\"a\",source=\"rules\"}", kStart), 23);
  auto rules = nlohmann::json::parse(manager->RulesJson("record"));
  auto broken = rules["groups"][0]["rules"][1];
  EXPECT_EQ(broken["health"], "err");
  EXPECT_EQ(broken["lastError"], "rule result is not a vector or scalar");
  EXPECT_EQ(broken["type"], "recording");
  EXPECT_EQ(registry_.AddCounter("vigil_rule_evaluation_failures_total", "", {"rule_group"})
                .WithLabels({"rules.yml;rec"})
                .Value(),
            1);
  // Once the input is gone for good, the recorded series ends at the next evaluation.
  model::Batch stale;
  manager->TEST_EvaluateGroup(0, kStart + 6 * 60'000);
  EXPECT_EQ(ValueAt("room:temperature:max", kStart + 6 * 60'000), -1);
}

// A rule that names what an earlier rule of its group recorded sees it in the same
// evaluation, as in Prometheus; rules nobody reads later are written with the group, in
// one write.
TEST_F(RuleManagerTest, ALaterRuleSeesWhatAnEarlierOneRecordedInTheSameEvaluation) {
  int writes = 0;
  RuleManager::Outputs outputs;
  outputs.write = [&](model::Batch batch) {
    ++writes;
    return store_.Append(batch);
  };
  RuleManager manager(engine_, clock_, RuleManager::Options{.registry = &registry_}, outputs);
  LoadedRules loaded = ParseRuleFile("rules.yml", R"(groups:
- name: chain
  rules:
  - record: room:temperature:max
    expr: max by (room) (temperature)
  - record: unrelated
    expr: vector(1)
  - record: room:temperature:max:doubled
    expr: 2 * room:temperature:max
  - alert: Hot
    expr: room:temperature:max:doubled > 40
)");
  ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
  manager.Load(loaded.groups);
  Write(kRoom, kStart, 21.5);
  manager.TEST_EvaluateGroup(0, kStart);
  EXPECT_EQ(ValueAt("room:temperature:max:doubled", kStart), 43);
  EXPECT_EQ(manager.ActiveAlerts().size(), 1u);
  // The first and third rule are read later; the rest goes with the group's one write.
  EXPECT_EQ(writes, 3);
}

TEST_F(RuleManagerTest, ARestartRestoresForStateFromTheStore) {
  const char* rule = R"(groups:
- name: g
  interval: 10s
  rules:
  - alert: Hot
    expr: temperature > 30
    for: 1m
  - alert: Warm
    expr: temperature > 20
    for: 2m
)";
  int64_t t = kStart;
  {
    auto first = Make(rule);
    for (int i = 0; i < 8; ++i, t += 10'000) {  // 80 s: Hot fires, Warm is pending
      Write(kRoom, t, 35);
      first->TEST_EvaluateGroup(0, t);
    }
    EXPECT_THAT(TakeChanges(), ::testing::ElementsAre("pending", "pending", "firing"));
  }
  // Down for 5 minutes; the new manager's first evaluation restores both.
  t += 5 * 60'000;
  Write(kRoom, t, 35);
  auto second = Make(rule);
  second->TEST_EvaluateGroup(0, t);
  // Nothing to notify: Hot was firing and Warm pending before the restart, and still are.
  EXPECT_TRUE(TakeChanges().empty());
  std::map<std::string, model::Alert> alerts;
  for (auto& a : second->ActiveAlerts()) alerts[a.name] = a;
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts["Hot"].state, model::AlertState::kFiring);  // no second wait
  EXPECT_EQ(alerts["Hot"].active_since_ms, kStart);
  // Warm had been pending 70 s of its 120: 50 s to go, not the 5 minutes it was down.
  EXPECT_EQ(alerts["Warm"].state, model::AlertState::kPending);
  Write(kRoom, t + 40'000, 35);
  second->TEST_EvaluateGroup(0, t + 40'000);
  EXPECT_EQ(second->ActiveAlerts()[1].state, model::AlertState::kPending);
  Write(kRoom, t + 50'000, 35);
  second->TEST_EvaluateGroup(0, t + 50'000);
  for (auto& a : second->ActiveAlerts()) EXPECT_EQ(a.state, model::AlertState::kFiring) << a.name;
}

TEST_F(RuleManagerTest, ALimitFailsTheRule) {
  auto manager = Make(R"(groups:
- name: g
  limit: 1
  rules:
  - alert: Hot
    expr: temperature > 30
)");
  Write(kRoom, kStart, 35);
  Write(kRoom.With("room", "b"), kStart, 35);
  manager->TEST_EvaluateGroup(0, kStart);
  auto rules = nlohmann::json::parse(manager->RulesJson("alert"));
  EXPECT_EQ(rules["groups"][0]["rules"][0]["lastError"], "exceeded limit of 1 with 2 alerts");
  EXPECT_TRUE(manager->ActiveAlerts().empty());
}

TEST_F(RuleManagerTest, RunsEveryIntervalOnItsOwnThread) {
  vigil::testing::FakeClock& clock = clock_;
  (void)clock;
  auto manager = std::make_unique<RuleManager>(
      engine_, SystemClock::Get(), RuleManager::Options{.registry = &registry_},
      RuleManager::Outputs{[this](model::Batch b) { return store_.Append(b); }, nullptr});
  LoadedRules loaded = ParseRuleFile("r.yml", R"(groups:
- name: fast
  interval: 100ms
  rules:
  - record: one
    expr: vector(1)
)");
  manager->Load(loaded.groups);
  manager->Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  manager->Stop();
  auto evaluations = registry_.AddCounter("vigil_rule_evaluations_total", "", {"rule_group"})
                         .WithLabels({"r.yml;fast"})
                         .Value();
  EXPECT_GE(evaluations, 3);
  EXPECT_LE(evaluations, 5);
  // Every evaluation at the same place in the interval: multiples of it plus the group's
  // offset.
  auto r = engine_.Instant("one[1s]", SystemClock::Get().NowMillis());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->series.size(), 1u);
  const auto& points = r->series[0].points;
  ASSERT_GE(points.size(), 3u);
  for (const auto& point : points) {
    EXPECT_EQ(point.timestamp_ms % 100, points[0].timestamp_ms % 100) << point.timestamp_ms;
  }
}

}  // namespace
}  // namespace vigil::rules

namespace vigil::rules {
namespace {

// The same rules over the same series, evaluated by vigil and by Prometheus's own rule
// engine (`promtool test rules`, Prometheus 2.42): vigil's firing alerts — labels and
// expanded annotations — and recorded samples become the expectations of a promtool unit
// test, which passes only if Prometheus computes exactly the same.
TEST(RulesAgainstPromtool, AlertsAnnotationsAndRecordingsAreTheSame) {
  ASSERT_EQ(vigil::testing::RunShell("command -v promtool").exit_code, 0)
      << "promtool (Debian's prometheus package) is needed: scripts/install-deps";
  const std::string rules_yaml = R"yaml(groups:
  - name: record
    interval: 1m
    rules:
      - record: job:http_errors:rate5m
        expr: sum by (job) (rate(http_requests_total{code="500"}[5m]))
      - record: job:http_error_ratio:rate5m
        expr: sum by (job) (rate(http_requests_total{code="500"}[5m])) / sum by (job) (rate(http_requests_total[5m]))
  - name: alert
    interval: 1m
    rules:
      - alert: DiskAlmostFull
        expr: disk_free_ratio < 0.1
        for: 2m
        keep_firing_for: 2m
        labels:
          severity: '{{ if lt $value 0.05 }}critical{{ else }}warning{{ end }}'
          host: '{{ $labels.instance | stripPort }}'
        annotations:
          summary: '{{ $labels.disk }} on {{ $labels.instance }}: {{ $value | humanizePercentage }} free'
          detail: '{{ printf "%.3f" $value }} / {{ humanize 1234567 }} / {{ humanize1024 2048 }} / {{ humanizeDuration 3725.5 }} / {{ $value }}'
          others: '{{ with query "count(disk_free_ratio < 0.1)" }}{{ . | first | value }}{{ end }} low'
          title: '{{ title "disk almost full" }} {{ toUpper $labels.disk }} {{ reReplaceAll "(.*)-([0-9])" "$2-$1" (stripDomain $labels.instance) }}'
      - alert: ErrorsHigh
        expr: job:http_errors:rate5m > 0.5
        annotations:
          summary: '{{ $labels.job }} errors at {{ $value | humanize }}/s, ratio {{ with query "job:http_error_ratio:rate5m" }}{{ . | first | value | printf "%.4f" }}{{ end }}'
      - alert: Absent
        expr: absent(nothing_here{job="x"})
        for: 3m
        annotations:
          summary: 'nothing from {{ $labels.job }} ({{ $value }})'
)yaml";
  // Series at one-minute steps from time 0, as promtool's input_series.
  struct InputSeries {
    std::string text;
    model::Labels labels;
    std::vector<double> values;
  };
  const std::vector<InputSeries> inputs = {
      {R"(disk_free_ratio{instance="host-1.example.com:9100",disk="sda"})",
       model::Labels::Of({{"__name__", "disk_free_ratio"},
                          {"instance", "host-1.example.com:9100"},
                          {"disk", "sda"}}),
       {0.5, 0.4, 0.3, 0.08, 0.07, 0.06, 0.06, 0.2, 0.2, 0.2, 0.2, 0.2}},
      {R"(disk_free_ratio{instance="host-2:9100",disk="sdb"})",
       model::Labels::Of(
           {{"__name__", "disk_free_ratio"}, {"instance", "host-2:9100"}, {"disk", "sdb"}}),
       std::vector<double>(12, 0.01)},
      {R"(http_requests_total{job="api",code="500"})",
       model::Labels::Of({{"__name__", "http_requests_total"}, {"job", "api"}, {"code", "500"}}),
       {0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 660}},
      {R"(http_requests_total{job="api",code="200"})",
       model::Labels::Of({{"__name__", "http_requests_total"}, {"job", "api"}, {"code", "200"}}),
       {0, 600, 1200, 1800, 2400, 3000, 3600, 4200, 4800, 5400, 6000, 6600}},
  };
  store::MemoryStore store;
  query::Engine engine(store);
  vigil::testing::FakeClock clock(0);
  metrics::Registry registry;
  for (const auto& input : inputs) {
    model::Batch batch;
    model::Series series{input.labels, {}};
    for (size_t i = 0; i < input.values.size(); ++i)
      series.samples.push_back({static_cast<int64_t>(i) * 60'000, input.values[i]});
    batch.series.push_back(series);
    ASSERT_TRUE(store.Append(batch).ok());
  }
  RuleManager manager(engine, clock, {.registry = &registry},
                      {[&](model::Batch b) { return store.Append(b); }, nullptr});
  LoadedRules loaded = ParseRuleFile("rules.yml", rules_yaml);
  ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
  manager.Load(loaded.groups);

  nlohmann::json alert_tests = nlohmann::json::array();
  nlohmann::json expr_tests = nlohmann::json::array();
  size_t firing_seen = 0;
  for (int minute = 0; minute <= 11; ++minute) {
    const int64_t t = minute * 60'000;
    manager.TEST_EvaluateGroup(0, t);
    manager.TEST_EvaluateGroup(1, t);
    const std::string eval_time = std::to_string(minute) + "m";
    std::map<std::string, nlohmann::json> firing;
    for (const char* name : {"DiskAlmostFull", "ErrorsHigh", "Absent"})
      firing[name] = nlohmann::json::array();
    for (const auto& alert : manager.ActiveAlerts()) {
      if (alert.state != model::AlertState::kFiring) continue;
      nlohmann::json labels = nlohmann::json::object();
      for (const auto& l : alert.labels)
        if (l.name != "alertname") labels[std::string(l.name)] = std::string(l.value);
      firing[alert.name].push_back(
          {{"exp_labels", labels}, {"exp_annotations", alert.annotations}});
      ++firing_seen;
    }
    for (auto& [name, alerts] : firing)
      alert_tests.push_back(
          {{"eval_time", eval_time}, {"alertname", name}, {"exp_alerts", alerts}});
    for (const char* recorded : {"job:http_errors:rate5m", "job:http_error_ratio:rate5m"}) {
      auto r = engine.Instant(recorded, t);
      ASSERT_TRUE(r.ok());
      nlohmann::json samples = nlohmann::json::array();
      for (const auto& s : r->series)
        samples.push_back({{"labels", s.labels.ToString()}, {"value", s.points.back().value}});
      expr_tests.push_back(
          {{"expr", recorded}, {"eval_time", eval_time}, {"exp_samples", samples}});
    }
  }
  EXPECT_GT(firing_seen, 10u);  // the comparison covers firing alerts, not only quiet ones

  vigil::testing::TempDir dir;
  {
    std::ofstream(dir.Sub("rules.yml")) << rules_yaml;
    nlohmann::json input_series = nlohmann::json::array();
    for (const auto& input : inputs) {
      std::string values;
      for (double v : input.values)
        values += (values.empty() ? "" : " ") + FormatFloat(v, FloatStyle::kShortest);
      input_series.push_back({{"series", input.text}, {"values", values}});
    }
    // JSON is YAML: promtool reads this file as it is.
    // promtool evaluates groups in a random order unless told; vigil's order is the file's.
    nlohmann::json test = {{"rule_files", {"rules.yml"}},
                           {"evaluation_interval", "1m"},
                           {"group_eval_order", {"record", "alert"}},
                           {"tests",
                            {{{"interval", "1m"},
                              {"input_series", input_series},
                              {"alert_rule_test", alert_tests},
                              {"promql_expr_test", expr_tests}}}}};
    std::ofstream(dir.Sub("test.yml")) << test.dump(1);
  }
  auto promtool =
      vigil::testing::RunShell("cd '" + dir.path() + "' && promtool test rules test.yml 2>&1");
  EXPECT_EQ(promtool.exit_code, 0) << promtool.output;
}

}  // namespace
}  // namespace vigil::rules

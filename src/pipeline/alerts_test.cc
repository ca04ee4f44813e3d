#include "pipeline/alerts.h"

#include <gtest/gtest.h>

namespace vigil::pipeline {
namespace {

using model::AlertState;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kSecond = 1000;

model::Batch Reading(std::string_view metric, std::string_view server, double value,
                     int64_t timestamp) {
  model::Batch batch;
  batch.series.push_back(
      {model::Labels::Of({{"__name__", metric}, {"server", server}}), {{timestamp, value}}});
  return batch;
}

// "name:state" for every change, in order.
std::vector<std::string> States(const std::vector<AlertChange>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) {
    std::string state = c.alert.state == AlertState::kPending  ? "pending"
                        : c.alert.state == AlertState::kFiring ? "firing"
                                                               : "resolved";
    out.push_back(std::string(c.alert.labels.Get("server")) + ":" + state);
  }
  return out;
}

std::unique_ptr<AlertEvaluator> Evaluator(std::vector<AlertRuleSpec> rules,
                                          metrics::Registry& registry, size_t shards = 1) {
  AlertEvaluator::Options options;
  options.shards = shards;
  options.registry = &registry;
  auto e = AlertEvaluator::Create(std::move(rules), options);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return std::move(e).value();
}

AlertRuleSpec HighPressure(int64_t for_ms, int64_t keep_firing_for_ms = 0) {
  AlertRuleSpec rule;
  rule.name = "BoilerPressureHigh";
  rule.expr = "boiler_pressure_out > 15.4";
  rule.for_ms = for_ms;
  rule.keep_firing_for_ms = keep_firing_for_ms;
  rule.severity = "critical";
  rule.labels = {{"team", "plant"}};
  rule.annotations = {{"summary", "boiler pressure on {{ $labels.server }} is {{ $value }} bar"}};
  return rule;
}

TEST(ParseAlertExpr, AcceptsComparisonsAndAbsent) {
  struct Case {
    std::string text;
    AlertExpr::Kind kind;
    CompareOp op;
    double threshold;
    int64_t window_ms;
    size_t matchers;
  };
  const std::vector<Case> cases = {
      {"boiler_pressure_out > 15.4", AlertExpr::kThreshold, CompareOp::kGreater, 15.4, 0, 1},
      {"probe_success{sensor=\"web\"} == 0", AlertExpr::kThreshold, CompareOp::kEqual, 0, 0, 2},
      {"x>=1e3", AlertExpr::kThreshold, CompareOp::kGreaterEqual, 1000, 0, 1},
      {"x < -2", AlertExpr::kThreshold, CompareOp::kLess, -2, 0, 1},
      {"x <= 2", AlertExpr::kThreshold, CompareOp::kLessEqual, 2, 0, 1},
      {"{__name__=\"x\",a!=\"b>c\"} != 2", AlertExpr::kThreshold, CompareOp::kNotEqual, 2, 0, 2},
      {"absent(turbine_speed{area=\"turbine\"})", AlertExpr::kAbsent, CompareOp::kGreater, 0, 0, 2},
      {"absent_over_time(turbine_speed[30s])", AlertExpr::kAbsent, CompareOp::kGreater, 0, 30'000,
       1},
  };
  for (const auto& c : cases) {
    auto expr = ParseAlertExpr(c.text);
    ASSERT_TRUE(expr.ok()) << c.text << ": " << expr.status().ToString();
    EXPECT_EQ(expr->kind, c.kind) << c.text;
    EXPECT_EQ(expr->selector.size(), c.matchers) << c.text;
    if (c.kind == AlertExpr::kThreshold) {
      EXPECT_EQ(expr->op, c.op) << c.text;
      EXPECT_EQ(expr->threshold, c.threshold) << c.text;
    }
    EXPECT_EQ(expr->absent_window_ms, c.window_ms) << c.text;
  }
}

TEST(ParseAlertExpr, RejectsWhatItCannotEvaluate) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"boiler_pressure_out", "expected `selector > number`"},
      {"x > high", "\"high\" is not a number"},
      {"x{a=\"b\" > 1", "expected `selector"},
      {"rate(x[5m]) > 1", "not a series selector"},
      {"absent_over_time(x)", "needs a range"},
      {"absent_over_time(x[soon])", "duration"},
      {"x => 1", "unknown operator"},
  };
  for (const auto& [text, why] : cases) {
    auto expr = ParseAlertExpr(text);
    ASSERT_FALSE(expr.ok()) << text;
    EXPECT_NE(expr.status().message().find(why), std::string::npos)
        << text << ": " << expr.status().message();
  }
}

TEST(AlertTemplate, RendersLabelsAndValue) {
  auto t = AlertTemplate::Parse("{{ $labels.server }} at {{$value}} bar{{ $labels.none }}!");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render(model::Labels::Of({{"server", "b1"}}), 15.45), "b1 at 15.45 bar!");
  EXPECT_EQ(t->Render({}, std::numeric_limits<double>::infinity()), " at +Inf bar!");
  EXPECT_FALSE(AlertTemplate::Parse("{{ $labels.server ").ok());
  EXPECT_FALSE(AlertTemplate::Parse("{{ .Value }}").ok());
}

TEST(AlertEvaluator, PendingThenFiringThenResolved) {
  metrics::Registry registry;
  auto e = Evaluator({HighPressure(30 * kSecond)}, registry);
  e->Observe(0, Reading("boiler_pressure_out", "b1", 15.3, kT0));
  EXPECT_TRUE(e->Evaluate(kT0).empty());

  e->Observe(0, Reading("boiler_pressure_out", "b1", 15.5, kT0 + kSecond));
  auto changes = e->Evaluate(kT0 + kSecond);
  ASSERT_EQ(States(changes), std::vector<std::string>{"b1:pending"});
  const model::Alert& pending = changes[0].alert;
  EXPECT_EQ(pending.name, "BoilerPressureHigh");
  EXPECT_EQ(pending.labels, model::Labels::Of({{"alertname", "BoilerPressureHigh"},
                                               {"server", "b1"},
                                               {"severity", "critical"},
                                               {"team", "plant"}}));
  EXPECT_EQ(pending.annotations.at("summary"), "boiler pressure on b1 is 15.5 bar");
  EXPECT_EQ(pending.active_since_ms, kT0 + kSecond);

  e->Observe(0, Reading("boiler_pressure_out", "b1", 15.6, kT0 + 30 * kSecond));
  EXPECT_TRUE(e->Evaluate(kT0 + 30 * kSecond).empty());  // 29 s of 30
  changes = e->Evaluate(kT0 + 31 * kSecond);
  ASSERT_EQ(States(changes), std::vector<std::string>{"b1:firing"});
  EXPECT_EQ(changes[0].alert.value, 15.6);
  EXPECT_EQ(changes[0].alert.active_since_ms, kT0 + kSecond);
  EXPECT_EQ(e->Active().size(), 1u);
  auto& active = registry.AddGauge("vigil_alerts", "", {"state"});
  EXPECT_EQ(active.WithLabels({"firing"}).Value(), 1);

  e->Observe(0, Reading("boiler_pressure_out", "b1", 15.2, kT0 + 40 * kSecond));
  changes = e->Evaluate(kT0 + 40 * kSecond);
  ASSERT_EQ(States(changes), std::vector<std::string>{"b1:resolved"});
  EXPECT_TRUE(changes[0].fired);
  EXPECT_TRUE(e->Active().empty());
  EXPECT_EQ(active.WithLabels({"firing"}).Value(), 0);
}

TEST(AlertEvaluator, ForZeroFiresAtOnceAndPendingThatClearsIsNotAFiring) {
  metrics::Registry registry;
  AlertRuleSpec now = HighPressure(0);
  now.name = "Now";
  AlertRuleSpec slow = HighPressure(60 * kSecond);
  slow.name = "Slow";
  auto e = Evaluator({now, slow}, registry);
  e->Observe(0, Reading("boiler_pressure_out", "b1", 16, kT0));
  auto changes = e->Evaluate(kT0);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].alert.name, "Now");
  EXPECT_EQ(changes[0].alert.state, AlertState::kFiring);
  EXPECT_EQ(changes[1].alert.name, "Slow");
  EXPECT_EQ(changes[1].alert.state, AlertState::kPending);

  e->Observe(0, Reading("boiler_pressure_out", "b1", 15, kT0 + kSecond));
  changes = e->Evaluate(kT0 + kSecond);
  ASSERT_EQ(States(changes), (std::vector<std::string>{"b1:resolved", "b1:resolved"}));
  EXPECT_TRUE(changes[0].fired);
  EXPECT_FALSE(changes[1].fired);  // never fired: dashboards clear it, webhooks never hear of it
}

TEST(AlertEvaluator, KeepFiringForStopsFlapping) {
  metrics::Registry registry;
  auto e = Evaluator({HighPressure(0, 10 * kSecond)}, registry);
  // The value flaps around the threshold every second for 8 s, then stays low.
  std::vector<std::string> all;
  for (int s = 0; s <= 30; ++s) {
    double value = s < 8 ? (s % 2 == 0 ? 15.5 : 15.3) : 15.0;
    e->Observe(0, Reading("boiler_pressure_out", "b1", value, kT0 + s * kSecond));
    for (auto& state : States(e->Evaluate(kT0 + s * kSecond)))
      all.push_back(std::to_string(s) + " " + state);
  }
  // Fired once at 0 s; last true at 6 s, so resolved at 16 s.
  EXPECT_EQ(all, (std::vector<std::string>{"0 b1:firing", "16 b1:resolved"}));

  metrics::Registry registry2;
  auto without = Evaluator({HighPressure(0)}, registry2);
  size_t changes = 0;
  for (int s = 0; s < 8; ++s) {
    without->Observe(
        0, Reading("boiler_pressure_out", "b1", s % 2 == 0 ? 15.5 : 15.3, kT0 + s * kSecond));
    changes += without->Evaluate(kT0 + s * kSecond).size();
  }
  EXPECT_EQ(changes, 8u);  // every flap is a notification without keep_firing_for
}

TEST(AlertEvaluator, ASeriesThatStopsReportingResolvesAfterTheLookback) {
  metrics::Registry registry;
  auto e = Evaluator({HighPressure(0)}, registry);
  e->Observe(0, Reading("boiler_pressure_out", "b1", 16, kT0));
  EXPECT_EQ(States(e->Evaluate(kT0)), std::vector<std::string>{"b1:firing"});
  EXPECT_TRUE(e->Evaluate(kT0 + 300 * kSecond).empty());  // still within 5 min
  EXPECT_EQ(States(e->Evaluate(kT0 + 301 * kSecond)), std::vector<std::string>{"b1:resolved"});
  EXPECT_TRUE(e->Evaluate(kT0 + 400 * kSecond).empty());
}

TEST(AlertEvaluator, EachSeriesIsItsOwnAlert) {
  metrics::Registry registry;
  auto e = Evaluator({HighPressure(0)}, registry, 2);
  e->Observe(0, Reading("boiler_pressure_out", "b1", 16, kT0));
  e->Observe(1, Reading("boiler_pressure_out", "b2", 16, kT0));
  e->Observe(1, Reading("boiler_temperature_out", "b2", 1000, kT0));  // not this rule's metric
  auto changes = States(e->Evaluate(kT0));
  std::sort(changes.begin(), changes.end());
  EXPECT_EQ(changes, (std::vector<std::string>{"b1:firing", "b2:firing"}));
  e->Observe(1, Reading("boiler_pressure_out", "b2", 15, kT0 + kSecond));
  EXPECT_EQ(States(e->Evaluate(kT0 + kSecond)), std::vector<std::string>{"b2:resolved"});
}

TEST(AlertEvaluator, AbsentFiresWhenNoShardSawTheSeries) {
  metrics::Registry registry;
  AlertRuleSpec rule;
  rule.name = "TurbineSilent";
  rule.expr = "absent_over_time(turbine_speed{area=\"turbine\"}[30s])";
  rule.for_ms = 10 * kSecond;
  auto e = Evaluator({rule}, registry, 2);
  // Nothing seen yet: the window counts from the first evaluation.
  EXPECT_TRUE(e->Evaluate(kT0).empty());
  auto changes = e->Evaluate(kT0 + 31 * kSecond);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].alert.state, AlertState::kPending);
  EXPECT_EQ(changes[0].alert.labels,
            model::Labels::Of(
                {{"alertname", "TurbineSilent"}, {"area", "turbine"}, {"severity", "warning"}}));
  EXPECT_EQ(e->Evaluate(kT0 + 41 * kSecond)[0].alert.state, AlertState::kFiring);

  // Seen on the second shard only: no longer absent.
  model::Batch batch;
  batch.series.push_back({model::Labels::Of({{"__name__", "turbine_speed"}, {"area", "turbine"}}),
                          {{kT0 + 42 * kSecond, 3000}}});
  e->Observe(1, batch);
  changes = e->Evaluate(kT0 + 43 * kSecond);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].alert.state, AlertState::kResolved);
  EXPECT_TRUE(e->Evaluate(kT0 + 72 * kSecond).empty());   // 30 s after the sample
  EXPECT_EQ(e->Evaluate(kT0 + 73 * kSecond).size(), 1u);  // pending again
}

TEST(AlertEvaluator, BadRulesAreRejectedWithTheirName) {
  metrics::Registry registry;
  AlertEvaluator::Options options;
  options.registry = &registry;
  AlertRuleSpec rule = HighPressure(0);
  rule.annotations = {{"summary", "{{ $labels }}"}};
  auto e = AlertEvaluator::Create({rule}, options);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("alert BoilerPressureHigh: template"), std::string::npos);
  rule = HighPressure(0);
  rule.expr = "boiler_pressure_out >";
  EXPECT_FALSE(AlertEvaluator::Create({rule}, options).ok());
}

TEST(AlertEvaluator, TrackedSeriesAreBounded) {
  metrics::Registry registry;
  AlertEvaluator::Options options;
  options.registry = &registry;
  options.max_series = 2;
  auto e = AlertEvaluator::Create({HighPressure(0)}, options);
  ASSERT_TRUE(e.ok());
  for (auto server : {"b1", "b2", "b3"})
    (*e)->Observe(0, Reading("boiler_pressure_out", server, 16, kT0));
  EXPECT_EQ((*e)->Evaluate(kT0).size(), 2u);
  EXPECT_EQ(registry.AddCounter("vigil_alert_series_dropped_total", "").WithLabels({}).Value(), 1);
}

}  // namespace
}  // namespace vigil::pipeline

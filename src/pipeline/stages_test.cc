#include "pipeline/stages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace vigil::pipeline {
namespace {

model::Labels L(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  return model::Labels::Of(pairs);
}

model::Matcher M(model::MatchType type, std::string name, std::string value) {
  return *model::Matcher::Create(type, std::move(name), std::move(value));
}

model::Batch BatchOf(std::vector<model::Labels> labels) {
  model::Batch batch;
  for (auto& l : labels) batch.series.push_back({std::move(l), {{1000, 1}}});
  return batch;
}

std::vector<std::string> Texts(const model::Batch& batch) {
  std::vector<std::string> out;
  for (const auto& s : batch.series) out.push_back(s.labels.ToString());
  return out;
}

TEST(FilterStage, KeepsThenDrops) {
  struct Case {
    std::vector<Selector> keep, drop;
    std::vector<std::string> expected;
  };
  using model::MatchType;
  std::vector<Case> cases = {
      {{}, {}, {"boiler_pressure_out{area=\"boiler\"}", "node_load1{}", "node_load5{}"}},
      {{{M(MatchType::kRegexMatch, "__name__", "node_.*")}}, {}, {"node_load1{}", "node_load5{}"}},
      {{},
       {{M(MatchType::kEqual, "__name__", "node_load5")}},
       {"boiler_pressure_out{area=\"boiler\"}", "node_load1{}"}},
      {{{M(MatchType::kRegexMatch, "__name__", "node_.*")},
        {M(MatchType::kEqual, "area", "boiler")}},
       {{M(MatchType::kEqual, "__name__", "node_load1")}},
       {"boiler_pressure_out{area=\"boiler\"}", "node_load5{}"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    FilterStage stage("filter", cases[i].keep, cases[i].drop);
    auto batch = BatchOf({L({{"__name__", "boiler_pressure_out"}, {"area", "boiler"}}),
                          L({{"__name__", "node_load1"}}), L({{"__name__", "node_load5"}})});
    ASSERT_TRUE(stage.Apply(batch).ok());
    EXPECT_EQ(Texts(batch), cases[i].expected) << "case " << i;
  }
}

// Cases in the manner of Prometheus's relabel tests.
TEST(RelabelStage, FollowsPrometheusSemantics) {
  struct Case {
    const char* what;
    RelabelRule rule;
    model::Labels in;
    std::optional<std::string> out;  // nullopt: dropped
  };
  auto base = L({{"__name__", "node_cpu_seconds_total"},
                 {"cpu", "0"},
                 {"mode", "idle"},
                 {"instance", "host-1:9100"}});
  std::vector<Case> cases = {
      {"replace with a capture group",
       {.source_labels = {"instance"},
        .target_label = "host",
        .regex = "(.*):\\d+",
        .replacement = "$1"},
       base,
       R"(node_cpu_seconds_total{cpu="0",host="host-1",instance="host-1:9100",mode="idle"})"},
      {"replace joins source labels with the separator",
       {.source_labels = {"cpu", "mode"},
        .separator = "/",
        .target_label = "where",
        .regex = "(.*)",
        .replacement = "cpu-${1}"},
       base,
       R"(node_cpu_seconds_total{cpu="0",instance="host-1:9100",mode="idle",where="cpu-0/idle"})"},
      {"replace that does not match changes nothing",
       {.source_labels = {"mode"}, .target_label = "busy", .regex = "user", .replacement = "yes"},
       base,
       R"(node_cpu_seconds_total{cpu="0",instance="host-1:9100",mode="idle"})"},
      {"replace to an empty value removes the label",
       {.source_labels = {"mode"}, .target_label = "cpu", .regex = "idle", .replacement = ""},
       base,
       R"(node_cpu_seconds_total{instance="host-1:9100",mode="idle"})"},
      {"named group and $$",
       {.source_labels = {"instance"},
        .target_label = "port",
        .regex = "[^:]+:(?P<port>\\d+)",
        .replacement = "$$${port}"},
       base,
       R"(node_cpu_seconds_total{cpu="0",instance="host-1:9100",mode="idle",port="$9100"})"},
      {"renaming the metric",
       {.source_labels = {"__name__"},
        .target_label = "__name__",
        .regex = "node_(.*)",
        .replacement = "host_$1"},
       base,
       R"(host_cpu_seconds_total{cpu="0",instance="host-1:9100",mode="idle"})"},
      {"keep on a match",
       {.source_labels = {"mode"}, .regex = "idle|user", .action = RelabelAction::kKeep},
       base,
       R"(node_cpu_seconds_total{cpu="0",instance="host-1:9100",mode="idle"})"},
      {"keep drops what does not match (anchored: 'dle' is no match)",
       {.source_labels = {"mode"}, .regex = "dle", .action = RelabelAction::kKeep},
       base,
       std::nullopt},
      {"drop on a match",
       {.source_labels = {"cpu"}, .regex = "0", .action = RelabelAction::kDrop},
       base,
       std::nullopt},
      {"labelmap copies matching labels under new names",
       {.regex = "(cpu|mode)", .replacement = "node_$1", .action = RelabelAction::kLabelMap},
       base,
       R"(node_cpu_seconds_total{cpu="0",instance="host-1:9100",mode="idle",node_cpu="0",node_mode="idle"})"},
      {"labeldrop",
       {.regex = "cpu|instance", .action = RelabelAction::kLabelDrop},
       base,
       R"(node_cpu_seconds_total{mode="idle"})"},
      {"labelkeep (the metric name must be kept too)",
       {.regex = "__name__|mode", .action = RelabelAction::kLabelKeep},
       base,
       R"(node_cpu_seconds_total{mode="idle"})"},
      {"labelkeep that loses the metric name drops the series",
       {.regex = "mode", .action = RelabelAction::kLabelKeep},
       base,
       std::nullopt},
  };
  for (const auto& c : cases) {
    auto stage = RelabelStage::Create("relabel", c.rule);
    ASSERT_TRUE(stage.ok()) << c.what << ": " << stage.status().ToString();
    auto out = (*stage)->Relabel(c.in);
    ASSERT_EQ(out.has_value(), c.out.has_value()) << c.what;
    if (out) {
      EXPECT_EQ(out->ToString(), *c.out) << c.what;
    }
  }
}

TEST(RelabelStage, HashmodSpreadsSeriesStablyOverShards) {
  RelabelRule rule{.source_labels = {"instance"},
                   .target_label = "shard",
                   .modulus = 4,
                   .action = RelabelAction::kHashMod};
  auto stage = *RelabelStage::Create("shard", rule);
  std::map<std::string, int> shards;
  for (int i = 0; i < 200; ++i) {
    auto labels = L({{"__name__", "up"}, {"instance", "host-" + std::to_string(i)}});
    auto out = stage->Relabel(labels);
    ASSERT_TRUE(out.has_value());
    std::string shard(out->Get("shard"));
    EXPECT_EQ(stage->Relabel(labels)->Get("shard"), shard);  // stable
    ++shards[shard];
  }
  EXPECT_EQ(shards.size(), 4u);
  for (const auto& [shard, n] : shards) EXPECT_GT(n, 20) << shard;
  // Prometheus's values (md5 of the joined value, bytes 8..15 big-endian, modulo),
  // computed independently with Python's hashlib.
  EXPECT_EQ(stage->Relabel(L({{"__name__", "up"}, {"instance", "host-1"}}))->Get("shard"), "2");
  EXPECT_EQ(stage->Relabel(L({{"__name__", "up"}, {"instance", "host-2"}}))->Get("shard"), "0");
  EXPECT_EQ(stage->Relabel(L({{"__name__", "up"}, {"instance", "10.0.0.1:9100"}}))->Get("shard"),
            "1");
}

TEST(RelabelStage, BadRulesAreRejected) {
  EXPECT_FALSE(RelabelStage::Create("r", {.regex = "("}).ok());
  EXPECT_FALSE(RelabelStage::Create("r", {.source_labels = {"a"}}).ok());  // no target_label
  EXPECT_FALSE(
      RelabelStage::Create(
          "r", {.source_labels = {"a"}, .target_label = "s", .action = RelabelAction::kHashMod})
          .ok());  // no modulus
  EXPECT_FALSE(ParseRelabelAction("rename").ok());
  EXPECT_EQ(*ParseRelabelAction("labelmap"), RelabelAction::kLabelMap);
}

TEST(RelabelStage, ApplyRenamesAndDropsInABatch) {
  auto stage = *RelabelStage::Create(
      "r", {.source_labels = {"__name__"}, .regex = "node_load.*", .action = RelabelAction::kDrop});
  auto batch = BatchOf({L({{"__name__", "node_load1"}}), L({{"__name__", "boiler"}})});
  ASSERT_TRUE(stage->Apply(batch).ok());
  EXPECT_EQ(Texts(batch), (std::vector<std::string>{"boiler{}"}));
}

TEST(MatchStage, TagsMatchingSeries) {
  using model::MatchType;
  MatchStage stage("hot", {M(MatchType::kRegexMatch, "__name__", "boiler_.*")},
                   {{"zone", "hot"}, {"area", "steam"}});
  auto batch = BatchOf({L({{"__name__", "boiler_pressure_out"}, {"area", "boiler"}}),
                        L({{"__name__", "coolant_flow"}})});
  ASSERT_TRUE(stage.Apply(batch).ok());
  EXPECT_EQ(Texts(batch),
            (std::vector<std::string>{R"(boiler_pressure_out{area="steam",zone="hot"})",
                                      "coolant_flow{}"}));
}

// The pipeline copies a batch only for a stage that would change one of its series
// (Stage::LeavesAsIs): each built-in stage says so exactly when its Apply leaves the
// batch as it was.
TEST(Stages, EachSaysWhenItWouldLeaveABatchAsItIs) {
  using model::MatchType;
  const Selector boiler = {M(MatchType::kEqual, "area", "boiler")};
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<FilterStage>(
      "drop", std::vector<Selector>{},
      std::vector<Selector>{{M(MatchType::kRegexMatch, "__name__", "node_.*")}}));
  stages.push_back(std::make_unique<FilterStage>("keep", std::vector<Selector>{boiler},
                                                 std::vector<Selector>{}));
  stages.push_back(*RelabelStage::Create(
      "host",
      {.source_labels = {"target"}, .target_label = "host", .regex = "https?://([^/:]+).*"}));
  stages.push_back(*RelabelStage::Create(
      "exported", {.regex = "exported_.*", .action = RelabelAction::kLabelDrop}));
  stages.push_back(
      std::make_unique<MatchStage>("zone", boiler, config::LabelMap{{"zone", "steam"}}));
  stages.push_back(*DownsampleStage::Create("minute", {.selector = boiler}));
  const std::vector<model::Labels> pool = {
      L({{"__name__", "node_load1"}}),
      L({{"__name__", "boiler_pressure_out"}, {"area", "boiler"}}),
      L({{"__name__", "boiler_pressure_out"}, {"area", "boiler"}, {"zone", "steam"}}),
      L({{"__name__", "probe_ok"}, {"target", "http://db:80/"}}),
      L({{"__name__", "probe_ok"}, {"host", "db"}, {"target", "http://db:80/"}}),
      L({{"__name__", "up"}, {"exported_job", "x"}}),
      L({{"__name__", "up"}, {"job", "x"}}),
  };
  std::vector<model::Batch> batches = {BatchOf({})};
  for (size_t i = 0; i < pool.size(); ++i) {
    batches.push_back(BatchOf({pool[i]}));
    for (size_t j = i + 1; j < pool.size(); ++j) batches.push_back(BatchOf({pool[i], pool[j]}));
  }
  for (const auto& stage : stages) {
    int untouched = 0;
    for (const auto& batch : batches) {
      model::Batch applied = batch;
      ASSERT_TRUE(stage->Apply(applied).ok());
      const bool stateful = stage->name() == "minute";  // it changes state, not only batches
      if (std::all_of(batch.series.begin(), batch.series.end(),
                      [&](const model::Series& s) { return stage->LeavesAsIs(s); })) {
        EXPECT_EQ(applied, batch) << stage->name() << ": "
                                  << ::testing::PrintToString(Texts(batch));
        ++untouched;
      } else if (!stateful) {
        EXPECT_NE(applied, batch) << stage->name() << ": "
                                  << ::testing::PrintToString(Texts(batch));
      }
    }
    EXPECT_GT(untouched, 1) << stage->name();
    EXPECT_LT(untouched, static_cast<int>(batches.size())) << stage->name();
  }
}

}  // namespace
}  // namespace vigil::pipeline

namespace vigil::pipeline {
namespace {

model::Batch Readings(const char* metric, std::vector<std::pair<int64_t, double>> points) {
  model::Batch batch;
  model::Series series{model::Labels::Of({{"__name__", metric}, {"unit", "bar"}}), {}};
  for (auto [t, v] : points) series.samples.push_back({t, v});
  batch.series.push_back(std::move(series));
  return batch;
}

std::map<std::string, std::vector<model::Sample>> ByText(const model::Batch& batch) {
  std::map<std::string, std::vector<model::Sample>> out;
  for (const auto& s : batch.series) out[s.labels.ToString()] = s.samples;
  return out;
}

TEST(DownsampleStage, ClosedWindowsEmitTheirAggregatesAtTheWindowEnd) {
  using F = DownsampleFunction;
  auto stage = *DownsampleStage::Create(
      "ds", {.window_ms = 10'000, .functions = {F::kAvg, F::kMin, F::kMax, F::kLast, F::kCount}});
  // The first window spans two batches; the sample at 10 s opens the next and closes it.
  auto first = Readings("p", {{1000, 4}, {2000, 8}});
  ASSERT_TRUE(stage->Apply(first).ok());
  EXPECT_EQ(first.series.size(), 1u);  // raw only: the window is still open
  auto second = Readings("p", {{9999, 6}, {10'000, 100}});
  ASSERT_TRUE(stage->Apply(second).ok());
  auto out = ByText(second);
  ASSERT_EQ(out.size(), 6u);  // raw + five aggregates
  auto at = [&](const std::string& name) {
    auto& samples = out[name + R"({unit="bar",window="10s"})"];
    EXPECT_EQ(samples.size(), 1u) << name;
    EXPECT_EQ(samples[0].timestamp_ms, 10'000) << name;
    return samples[0].value;
  };
  EXPECT_DOUBLE_EQ(at("p:avg"), 6);
  EXPECT_DOUBLE_EQ(at("p:min"), 4);
  EXPECT_DOUBLE_EQ(at("p:max"), 8);
  EXPECT_DOUBLE_EQ(at("p:last"), 6);
  EXPECT_DOUBLE_EQ(at("p:count"), 3);
  EXPECT_EQ(out[R"(p{unit="bar"})"].size(), 2u);
}

TEST(DownsampleStage, ReplaceModeSelectorAndLateSamples) {
  Selector only_p = {*model::Matcher::Create(model::MatchType::kEqual, "__name__", "p")};
  auto stage = *DownsampleStage::Create("ds", {.window_ms = 1000,
                                               .functions = {DownsampleFunction::kMax},
                                               .replace = true,
                                               .selector = only_p});
  auto batch = Readings("p", {{100, 1}, {900, 3}, {1500, 2}, {800, 50}, {2100, 7}});
  auto other = Readings("q", {{100, 1}});
  batch.series.push_back(other.series[0]);
  ASSERT_TRUE(stage->Apply(batch).ok());
  auto out = ByText(batch);
  // p itself is gone (replace); q passes as it is; the late 800 ms sample counted nowhere.
  EXPECT_EQ(out.count(R"(p{unit="bar"})"), 0u);
  EXPECT_EQ(out[R"(q{unit="bar"})"].size(), 1u);
  ASSERT_EQ(out.count(R"(p:max{unit="bar",window="1s"})"), 1u);
  // Windows [0,1s) and [1s,2s) closed; [2s,3s) still open.
  std::vector<model::Sample> expected = {{1000, 3}, {2000, 2}};
  std::vector<model::Sample> got;
  for (const auto& s : batch.series) {
    if (s.labels.MetricName() == "p:max") got.push_back(s.samples[0]);
  }
  EXPECT_EQ(got, expected);
}

TEST(DownsampleStage, BadOptionsAreRejected) {
  EXPECT_FALSE(DownsampleStage::Create("d", {.window_ms = 10}).ok());
  EXPECT_FALSE(DownsampleStage::Create("d", {.functions = {}}).ok());
  EXPECT_FALSE(ParseDownsampleFunction("median").ok());
}

}  // namespace
}  // namespace vigil::pipeline

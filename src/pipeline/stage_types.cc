#include "pipeline/stage_types.h"

#include "model/selector.h"
#include "pipeline/stages.h"

namespace vigil::pipeline {
namespace {

using config::OptionSpec;
using config::OptionType;
using config::OptionValue;
using config::OptionValues;

std::optional<std::string> CheckSelector(const OptionValue& value) {
  if (auto parsed = model::ParseSelector(std::get<std::string>(value)); !parsed.ok())
    return parsed.status().message();
  return std::nullopt;
}

std::optional<std::string> CheckSelectors(const OptionValue& value) {
  for (const auto& text : std::get<config::StringList>(value)) {
    if (auto parsed = model::ParseSelector(text); !parsed.ok())
      return "\"" + text + "\": " + parsed.status().message();
  }
  return std::nullopt;
}

Status About(std::string_view key, const Status& status) {
  return InvalidArgumentError(std::string(key) + ": " + status.message());
}

Result<std::vector<Selector>> Selectors(const OptionValues& o, const std::string& key) {
  std::vector<Selector> out;
  for (const auto& text : o.Strings(key)) {
    auto matchers = model::ParseSelector(text);
    if (!matchers.ok()) return About(key, matchers.status());
    out.push_back(std::move(matchers).value());
  }
  return out;
}

StageDescriptor Filter() {
  return {"filter",
          "Keeps or drops series by selectors.",
          {OptionSpec{"keep",
                      OptionType::kStrings,
                      "Selectors; when any are given, only series matching one of them stay.",
                      config::StringList{},
                      std::nullopt,
                      std::nullopt,
                      {},
                      CheckSelectors},
           OptionSpec{"drop",
                      OptionType::kStrings,
                      "Selectors; series matching one of them go.",
                      config::StringList{},
                      std::nullopt,
                      std::nullopt,
                      {},
                      CheckSelectors}},
          [](const std::string& name, const OptionValues& o) -> Result<std::unique_ptr<Stage>> {
            VIGIL_ASSIGN_OR_RETURN(auto keep, Selectors(o, "keep"));
            VIGIL_ASSIGN_OR_RETURN(auto drop, Selectors(o, "drop"));
            return std::unique_ptr<Stage>(
                std::make_unique<FilterStage>(name, std::move(keep), std::move(drop)));
          }};
}

StageDescriptor Relabel() {
  return {"relabel",
          "One Prometheus relabel_config.",
          {OptionSpec{"action",
                      OptionType::kString,
                      "What the rule does (Prometheus's relabel_config actions).",
                      std::string("replace"),
                      std::nullopt,
                      std::nullopt,
                      {"replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "hashmod"}},
           OptionSpec{"source_labels", OptionType::kStrings,
                      "Labels whose values, joined by separator, the regex is matched against.",
                      config::StringList{}},
           OptionSpec{"separator", OptionType::kString, "Joins the source labels' values.",
                      std::string(";")},
           OptionSpec{"target_label", OptionType::kString,
                      "The label replace and hashmod write; may use the regex's groups.",
                      std::string()},
           OptionSpec{"regex", OptionType::kString,
                      "RE2 regular expression, anchored at both ends.", std::string("(.*)")},
           OptionSpec{"modulus", OptionType::kInt, "For hashmod: the number of shards.", int64_t{0},
                      0.0, 1e9},
           OptionSpec{"replacement", OptionType::kString,
                      "What replace writes and labelmap names labels: $1, ${1}, $name groups.",
                      std::string("$1")}},
          [](const std::string& name, const OptionValues& o) -> Result<std::unique_ptr<Stage>> {
            RelabelRule rule;
            auto action = ParseRelabelAction(o.String("action"));
            if (!action.ok()) return About("action", action.status());
            rule.action = *action;
            rule.source_labels = o.Strings("source_labels");
            rule.separator = o.String("separator");
            rule.target_label = o.String("target_label");
            rule.regex = o.String("regex");
            rule.modulus = static_cast<uint64_t>(o.Int("modulus"));
            rule.replacement = o.String("replacement");
            VIGIL_ASSIGN_OR_RETURN(auto stage, RelabelStage::Create(name, std::move(rule)));
            return std::unique_ptr<Stage>(std::move(stage));
          }};
}

StageDescriptor Match() {
  return {"match",
          "Tags the series a selector matches with labels.",
          {OptionSpec{"selector",
                      OptionType::kString,
                      "The series to tag.",
                      std::nullopt,
                      std::nullopt,
                      std::nullopt,
                      {},
                      CheckSelector},
           OptionSpec{"add_labels", OptionType::kLabels, "Labels the matching series get.",
                      std::nullopt}},
          [](const std::string& name, const OptionValues& o) -> Result<std::unique_ptr<Stage>> {
            auto selector = model::ParseSelector(o.String("selector"));
            if (!selector.ok()) return About("selector", selector.status());
            return std::unique_ptr<Stage>(std::make_unique<MatchStage>(
                name, std::move(selector).value(), o.Labels("add_labels")));
          }};
}

StageDescriptor Downsample() {
  auto functions = [](const OptionValue& value) -> std::optional<std::string> {
    const auto& list = std::get<config::StringList>(value);
    if (list.empty()) return std::string("at least one function");
    for (const auto& word : list) {
      if (auto fn = ParseDownsampleFunction(word); !fn.ok()) return fn.status().message();
    }
    return std::nullopt;
  };
  auto optional_selector = [](const OptionValue& value) {
    return std::get<std::string>(value).empty() ? std::nullopt : CheckSelector(value);
  };
  return {"downsample",
          "Per-series windows emitting aggregates.",
          {OptionSpec{"window", OptionType::kDuration, "Length of each window.",
                      std::chrono::milliseconds(60'000), 1.0, 86400.0},
           OptionSpec{"functions",
                      OptionType::kStrings,
                      "What each closed window emits: avg, min, max, last, count.",
                      config::StringList{"avg"},
                      std::nullopt,
                      std::nullopt,
                      {},
                      functions},
           OptionSpec{"mode",
                      OptionType::kString,
                      "add: the aggregates beside the raw series; replace: instead of them.",
                      std::string("add"),
                      std::nullopt,
                      std::nullopt,
                      {"add", "replace"}},
           OptionSpec{"selector",
                      OptionType::kString,
                      "The series to downsample; empty: every series.",
                      std::string(),
                      std::nullopt,
                      std::nullopt,
                      {},
                      optional_selector}},
          [](const std::string& name, const OptionValues& o) -> Result<std::unique_ptr<Stage>> {
            DownsampleStage::Options options;
            options.window_ms = o.Duration("window").count();
            options.functions.clear();
            for (const auto& word : o.Strings("functions")) {
              auto fn = ParseDownsampleFunction(word);
              if (!fn.ok()) return About("functions", fn.status());
              options.functions.push_back(*fn);
            }
            options.replace = o.String("mode") == "replace";
            if (!o.String("selector").empty()) {
              auto selector = model::ParseSelector(o.String("selector"));
              if (!selector.ok()) return About("selector", selector.status());
              options.selector = std::move(selector).value();
            }
            VIGIL_ASSIGN_OR_RETURN(auto stage, DownsampleStage::Create(name, std::move(options)));
            return std::unique_ptr<Stage>(std::move(stage));
          }};
}

}  // namespace

const std::vector<StageDescriptor>& StageTypes() {
  static const std::vector<StageDescriptor> types = {Filter(), Relabel(), Match(), Downsample()};
  return types;
}

const StageDescriptor* FindStageType(std::string_view stage) {
  for (const auto& type : StageTypes()) {
    if (type.stage == stage) return &type;
  }
  return nullptr;
}

}  // namespace vigil::pipeline

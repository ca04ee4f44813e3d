// The coordinator's pipeline stages (docs/pipeline.md), each pure — no I/O, no state
// between batches — and safe to run from several threads at once:
//   FilterStage   keeps or drops series by selectors (label matchers);
//   RelabelStage  one Prometheus relabel_config: replace, keep, drop, labelmap, labeldrop,
//                 labelkeep, hashmod, with regex capture groups ($1, ${1}, $name);
//   MatchStage    the seed's regex matcher: tags the series a selector matches with labels.
//   DownsampleStage  per-series windows of N seconds emitting avg, min, max, last or
//                 count as series <metric>:<fn>{window="Ns"}, beside or instead of the raw
//                 ones — the one stage with state (each series' open window, bounded).
// A series left without a metric name by relabeling is dropped, as Prometheus does.
//
// Thread safety: Apply may run concurrently (DownsampleStage locks its state).
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/mutex.h"
#include "core/options.h"
#include "model/matcher.h"
#include "pipeline/pipeline.h"

namespace vigil::pipeline {

using Selector = std::vector<model::Matcher>;  // all must match

class FilterStage final : public Stage {
 public:
  // With `keep` non-empty, only series matching one of its selectors stay; then series
  // matching one of `drop` go.
  FilterStage(std::string name, std::vector<Selector> keep, std::vector<Selector> drop)
      : name_(std::move(name)), keep_(std::move(keep)), drop_(std::move(drop)) {}
  const std::string& name() const override { return name_; }
  bool LeavesAsIs(const model::Series& series) const override;
  Status Apply(model::Batch& batch) override;

 private:
  bool Drops(const model::Labels& labels) const;
  std::string name_;
  std::vector<Selector> keep_, drop_;
};

enum class RelabelAction { kReplace, kKeep, kDrop, kLabelMap, kLabelDrop, kLabelKeep, kHashMod };
// "replace" … "hashmod"; InvalidArgument for another word.
Result<RelabelAction> ParseRelabelAction(std::string_view word);

struct RelabelRule {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string target_label;
  std::string regex = "(.*)";
  uint64_t modulus = 0;
  std::string replacement = "$1";
  RelabelAction action = RelabelAction::kReplace;
};

class RelabelStage final : public Stage {
 public:
  // InvalidArgument for a regex that does not compile, a replace/hashmod without
  // target_label, a hashmod without modulus, or a target label that is not a label name.
  static Result<std::unique_ptr<RelabelStage>> Create(std::string name, RelabelRule rule);
  const std::string& name() const override { return name_; }
  bool LeavesAsIs(const model::Series& series) const override;
  Status Apply(model::Batch& batch) override;

  // The series' labels after the rule; nullopt when the rule drops the series.
  std::optional<model::Labels> Relabel(const model::Labels& labels) const;

 private:
  enum class Outcome { kUnchanged, kChanged, kDropped };
  RelabelStage(std::string name, RelabelRule rule);
  // The rule on one series; `out` holds the new labels when kChanged.
  Outcome Rewrite(const model::Labels& labels, model::Labels& out) const;
  bool FullMatch(std::string_view text) const;
  std::string name_;
  RelabelRule rule_;
  std::unique_ptr<RE2> regex_;  // anchored at both ends
  std::string rewrite_;         // `replacement` in RE2's \1 syntax
  std::string target_rewrite_;  // `target_label` in RE2's syntax (may hold groups)
  bool bounded_ = false;        // every match lies in [min_, max_]
  std::string min_, max_;
};

class MatchStage final : public Stage {
 public:
  // Series matching `selector` get `add_labels` (overwriting labels of the same name).
  MatchStage(std::string name, Selector selector, config::LabelMap add_labels)
      : name_(std::move(name)), selector_(std::move(selector)), add_(std::move(add_labels)) {}
  const std::string& name() const override { return name_; }
  bool LeavesAsIs(const model::Series& series) const override;
  Status Apply(model::Batch& batch) override;

 private:
  std::string name_;
  Selector selector_;
  config::LabelMap add_;
};

enum class DownsampleFunction { kAvg, kMin, kMax, kLast, kCount };
// "avg" … "count"; InvalidArgument for another word.
Result<DownsampleFunction> ParseDownsampleFunction(std::string_view word);

class DownsampleStage final : public Stage {
 public:
  struct Options {
    int64_t window_ms = 60'000;
    std::vector<DownsampleFunction> functions = {DownsampleFunction::kAvg};
    bool replace = false;           // drop the raw series it downsamples
    Selector selector;              // the series it downsamples; empty: all
    size_t max_series = 1'000'000;  // open windows kept at most; beyond, new series pass raw
  };
  // InvalidArgument for a window under 1 s or no function.
  static Result<std::unique_ptr<DownsampleStage>> Create(std::string name, Options options);
  const std::string& name() const override { return name_; }
  // True for a series the selector does not take.
  bool LeavesAsIs(const model::Series& series) const override;
  // Adds to each series' open window; a sample of a later window closes it and emits its
  // aggregates, stamped at the window's end. A sample older than its series' open window
  // is counted into no window (late). The last window stays open until the next batch.
  Status Apply(model::Batch& batch) override;

 private:
  struct Window {
    int64_t start = 0;
    double sum = 0, min = 0, max = 0, last = 0;
    uint64_t count = 0;
  };
  DownsampleStage(std::string name, Options options)
      : name_(std::move(name)), options_(std::move(options)) {}
  void Emit(const model::Labels& labels, const Window& w, model::Batch& out) const;

  std::string name_;
  Options options_;
  Mutex mu_;
  std::unordered_map<model::Labels, Window, model::LabelsHash> windows_ VIGIL_GUARDED_BY(mu_);
  int64_t newest_ms_ VIGIL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil::pipeline

#include "pipeline/stages.h"

#include <openssl/evp.h>

#include <algorithm>

#include "core/names.h"

namespace vigil::pipeline {
namespace {

bool MatchesAny(const std::vector<Selector>& selectors, const model::Labels& labels) {
  for (const auto& selector : selectors) {
    if (model::MatchesAll(selector, labels)) return true;
  }
  return false;
}

// Prometheus's `$1`, `${1}`, `$name`, `${name}` and `$$` in RE2's rewrite syntax (`\1`).
Result<std::string> ToRe2Rewrite(std::string_view text, const RE2& re) {
  const auto& named = re.NamedCapturingGroups();
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      out += "\\\\";
      continue;
    }
    if (c != '$') {
      out += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    bool braces = i + 1 < text.size() && text[i + 1] == '{';
    size_t start = i + (braces ? 2 : 1);
    size_t end = start;
    while (end < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_'))
      ++end;
    std::string group(text.substr(start, end - start));
    if (group.empty() || (braces && (end >= text.size() || text[end] != '}'))) {
      out += c;  // a lone '$' stays as it is
      continue;
    }
    int index = -1;
    if (std::all_of(group.begin(), group.end(), [](char d) { return std::isdigit(d); })) {
      index = std::stoi(group);
    } else if (auto it = named.find(group); it != named.end()) {
      index = it->second;
    }
    // A group the regex does not have expands to nothing, as in Prometheus.
    if (index >= 0 && index <= re.NumberOfCapturingGroups() && index <= 9)
      out += "\\" + std::to_string(index);
    i = braces ? end : end - 1;
  }
  return out;
}

std::string Join(const model::Labels& labels, const std::vector<std::string>& names,
                 const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += separator;
    out += labels.Get(names[i]);
  }
  return out;
}

uint64_t Md5Prefix(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_md5(), nullptr);
  uint64_t value = 0;
  for (int i = 8; i < 16; ++i) value = (value << 8) | digest[i];  // Prometheus: sum[8:]
  return value;
}

// Sets (or, with an empty value, removes) one label.
void SetLabel(std::vector<model::Label>& pairs, const std::string& name, const std::string& value) {
  auto it = std::find_if(pairs.begin(), pairs.end(), [&](const auto& l) { return l.name == name; });
  if (value.empty()) {
    if (it != pairs.end()) pairs.erase(it);
  } else if (it != pairs.end()) {
    it->value = value;
  } else {
    pairs.push_back({name, value});
  }
}

}  // namespace

bool FilterStage::Drops(const model::Labels& labels) const {
  return (!keep_.empty() && !MatchesAny(keep_, labels)) || MatchesAny(drop_, labels);
}

bool FilterStage::LeavesAsIs(const model::Series& series) const { return !Drops(series.labels); }

Status FilterStage::Apply(model::Batch& batch) {
  std::erase_if(batch.series, [&](const model::Series& s) { return Drops(s.labels); });
  return OkStatus();
}

Result<RelabelAction> ParseRelabelAction(std::string_view word) {
  static constexpr std::pair<std::string_view, RelabelAction> kActions[] = {
      {"replace", RelabelAction::kReplace},     {"keep", RelabelAction::kKeep},
      {"drop", RelabelAction::kDrop},           {"labelmap", RelabelAction::kLabelMap},
      {"labeldrop", RelabelAction::kLabelDrop}, {"labelkeep", RelabelAction::kLabelKeep},
      {"hashmod", RelabelAction::kHashMod}};
  for (const auto& [name, action] : kActions) {
    if (word == name) return action;
  }
  return InvalidArgumentError("unknown relabel action \"" + std::string(word) +
                              "\" (replace, keep, drop, labelmap, labeldrop, labelkeep, hashmod)");
}

RelabelStage::RelabelStage(std::string name, RelabelRule rule)
    : name_(std::move(name)), rule_(std::move(rule)) {}

Result<std::unique_ptr<RelabelStage>> RelabelStage::Create(std::string name, RelabelRule rule) {
  std::unique_ptr<RelabelStage> stage(new RelabelStage(std::move(name), std::move(rule)));
  const RelabelRule& r = stage->rule_;
  stage->regex_ = std::make_unique<RE2>("^(?:" + r.regex + ")$", RE2::Quiet);
  if (!stage->regex_->ok()) {
    // The user's pattern alone, for an error that quotes what they wrote.
    RE2 alone(r.regex, RE2::Quiet);
    return InvalidArgumentError("regex: \"" + r.regex +
                                "\": " + (alone.ok() ? stage->regex_->error() : alone.error()));
  }
  bool needs_target = r.action == RelabelAction::kReplace || r.action == RelabelAction::kHashMod;
  if (needs_target && r.target_label.empty())
    return InvalidArgumentError("target_label: required for this action");
  if (r.action == RelabelAction::kHashMod && r.modulus == 0)
    return InvalidArgumentError("modulus: required for hashmod");
  if (r.action == RelabelAction::kHashMod && !IsValidLabelName(r.target_label))
    return InvalidArgumentError("target_label: \"" + r.target_label + "\" is not a label name");
  // Strings outside this range cannot match: a comparison instead of a match.
  stage->bounded_ = stage->regex_->PossibleMatchRange(&stage->min_, &stage->max_, 16);
  VIGIL_ASSIGN_OR_RETURN(stage->rewrite_, ToRe2Rewrite(r.replacement, *stage->regex_));
  VIGIL_ASSIGN_OR_RETURN(stage->target_rewrite_, ToRe2Rewrite(r.target_label, *stage->regex_));
  return stage;
}

bool RelabelStage::FullMatch(std::string_view text) const {
  if (bounded_ && (text < min_ || text > max_)) return false;
  return RE2::FullMatch(text, *regex_);
}

RelabelStage::Outcome RelabelStage::Rewrite(const model::Labels& labels, model::Labels& out) const {
  const RelabelRule& r = rule_;
  std::string joined;
  auto source = [&]() -> std::string_view {
    if (r.source_labels.size() == 1) return labels.Get(r.source_labels[0]);
    joined = Join(labels, r.source_labels, r.separator);
    return joined;
  };
  std::vector<model::Label> pairs;
  switch (r.action) {
    case RelabelAction::kKeep:
      return FullMatch(source()) ? Outcome::kUnchanged : Outcome::kDropped;
    case RelabelAction::kDrop:
      return FullMatch(source()) ? Outcome::kDropped : Outcome::kUnchanged;
    case RelabelAction::kReplace: {
      std::string_view value = source();
      if (bounded_ && (value < min_ || value > max_)) return Outcome::kUnchanged;
      std::string target, replaced;
      if (!RE2::Extract(value, *regex_, target_rewrite_, &target) ||
          !RE2::Extract(value, *regex_, rewrite_, &replaced) || !IsValidLabelName(target) ||
          labels.Get(target) == replaced)
        return Outcome::kUnchanged;
      pairs.assign(labels.begin(), labels.end());
      SetLabel(pairs, target, replaced);
      break;
    }
    case RelabelAction::kHashMod: {
      std::string shard = std::to_string(Md5Prefix(source()) % r.modulus);
      if (labels.Get(r.target_label) == shard) return Outcome::kUnchanged;
      pairs.assign(labels.begin(), labels.end());
      SetLabel(pairs, r.target_label, shard);
      break;
    }
    case RelabelAction::kLabelMap: {
      pairs.assign(labels.begin(), labels.end());
      bool changed = false;
      for (const auto& label : labels) {
        std::string mapped;
        if (FullMatch(label.name) && RE2::Extract(label.name, *regex_, rewrite_, &mapped) &&
            IsValidLabelName(mapped) && labels.Get(mapped) != label.value) {
          SetLabel(pairs, mapped, std::string(label.value));
          changed = true;
        }
      }
      if (!changed) return Outcome::kUnchanged;
      break;
    }
    case RelabelAction::kLabelDrop:
    case RelabelAction::kLabelKeep: {
      const bool drop = r.action == RelabelAction::kLabelDrop;
      auto goes = [&](const auto& l) { return FullMatch(l.name) == drop; };
      if (std::none_of(labels.begin(), labels.end(), goes)) return Outcome::kUnchanged;
      pairs.assign(labels.begin(), labels.end());
      std::erase_if(pairs, goes);
      break;
    }
  }
  auto relabeled = model::Labels::FromPairs(std::move(pairs));
  if (!relabeled.ok() || relabeled->MetricName().empty()) return Outcome::kDropped;
  out = std::move(relabeled).value();
  return Outcome::kChanged;
}

std::optional<model::Labels> RelabelStage::Relabel(const model::Labels& labels) const {
  model::Labels out;
  switch (Rewrite(labels, out)) {
    case Outcome::kUnchanged:
      return labels;
    case Outcome::kChanged:
      return out;
    case Outcome::kDropped:
      break;
  }
  return std::nullopt;
}

bool RelabelStage::LeavesAsIs(const model::Series& series) const {
  model::Labels out;
  return Rewrite(series.labels, out) == Outcome::kUnchanged;
}

Status RelabelStage::Apply(model::Batch& batch) {
  size_t kept = 0;
  model::Labels out;
  for (auto& series : batch.series) {
    Outcome outcome = Rewrite(series.labels, out);
    if (outcome == Outcome::kDropped) continue;
    if (outcome == Outcome::kChanged) series.labels = std::move(out);
    if (&batch.series[kept] != &series) batch.series[kept] = std::move(series);
    ++kept;
  }
  batch.series.resize(kept);
  return OkStatus();
}

bool MatchStage::LeavesAsIs(const model::Series& series) const {
  if (!model::MatchesAll(selector_, series.labels)) return true;
  return std::all_of(add_.begin(), add_.end(), [&](const auto& label) {
    return series.labels.Get(label.first) == label.second;
  });
}

Status MatchStage::Apply(model::Batch& batch) {
  for (auto& series : batch.series) {
    if (!model::MatchesAll(selector_, series.labels)) continue;
    for (const auto& [name, value] : add_) series.labels.Set(name, value);
  }
  return OkStatus();
}

Result<DownsampleFunction> ParseDownsampleFunction(std::string_view word) {
  static constexpr std::pair<std::string_view, DownsampleFunction> kFunctions[] = {
      {"avg", DownsampleFunction::kAvg},
      {"min", DownsampleFunction::kMin},
      {"max", DownsampleFunction::kMax},
      {"last", DownsampleFunction::kLast},
      {"count", DownsampleFunction::kCount}};
  for (const auto& [name, fn] : kFunctions) {
    if (word == name) return fn;
  }
  return InvalidArgumentError("unknown downsample function \"" + std::string(word) +
                              "\" (avg, min, max, last, count)");
}

Result<std::unique_ptr<DownsampleStage>> DownsampleStage::Create(std::string name,
                                                                 Options options) {
  if (options.window_ms < 1000) return InvalidArgumentError("window: must be at least 1s");
  if (options.functions.empty()) return InvalidArgumentError("functions: at least one");
  return std::unique_ptr<DownsampleStage>(new DownsampleStage(std::move(name), std::move(options)));
}

void DownsampleStage::Emit(const model::Labels& labels, const Window& w, model::Batch& out) const {
  static constexpr std::string_view kNames[] = {"avg", "min", "max", "last", "count"};
  std::string window = std::to_string(options_.window_ms / 1000) + "s";
  for (DownsampleFunction fn : options_.functions) {
    double value = 0;
    switch (fn) {
      case DownsampleFunction::kAvg:
        value = w.sum / static_cast<double>(w.count);
        break;
      case DownsampleFunction::kMin:
        value = w.min;
        break;
      case DownsampleFunction::kMax:
        value = w.max;
        break;
      case DownsampleFunction::kLast:
        value = w.last;
        break;
      case DownsampleFunction::kCount:
        value = static_cast<double>(w.count);
        break;
    }
    std::string metric =
        std::string(labels.MetricName()) + ":" + std::string(kNames[static_cast<int>(fn)]);
    model::Labels emitted = labels.With(model::kMetricNameLabel, metric).With("window", window);
    out.series.push_back({std::move(emitted), {{w.start + options_.window_ms, value}}});
  }
}

bool DownsampleStage::LeavesAsIs(const model::Series& series) const {
  return !model::MatchesAll(options_.selector, series.labels);
}

Status DownsampleStage::Apply(model::Batch& batch) {
  model::Batch emitted;
  std::vector<model::Series> kept;
  kept.reserve(batch.series.size());
  {
    MutexLock lock(mu_);
    for (auto& series : batch.series) {
      if (!model::MatchesAll(options_.selector, series.labels)) {
        kept.push_back(std::move(series));
        continue;
      }
      auto it = windows_.find(series.labels);
      if (it == windows_.end()) {
        if (windows_.size() >= options_.max_series) {
          kept.push_back(std::move(series));  // over the bound: passes raw, unaggregated
          continue;
        }
        it = windows_.emplace(series.labels, Window{}).first;
      }
      Window& w = it->second;
      for (const auto& sample : series.samples) {
        newest_ms_ = std::max(newest_ms_, sample.timestamp_ms);
        int64_t start =
            sample.timestamp_ms -
            ((sample.timestamp_ms % options_.window_ms) + options_.window_ms) % options_.window_ms;
        if (w.count > 0 && start < w.start) continue;  // late for its window
        if (w.count > 0 && start > w.start) {
          Emit(series.labels, w, emitted);
          w = Window{};
        }
        if (w.count == 0) {
          w.start = start;
          w.min = w.max = sample.value;
        }
        w.sum += sample.value;
        w.min = std::min(w.min, sample.value);
        w.max = std::max(w.max, sample.value);
        w.last = sample.value;
        ++w.count;
      }
      if (!options_.replace) kept.push_back(std::move(series));
    }
    // Series gone quiet for 10 windows are forgotten (their last window with them).
    if (windows_.size() > 1024) {
      std::erase_if(windows_, [&](const auto& kv) VIGIL_REQUIRES(mu_) {
        return kv.second.start < newest_ms_ - 10 * options_.window_ms;
      });
    }
  }
  for (auto& s : emitted.series) kept.push_back(std::move(s));
  batch.series = std::move(kept);
  return OkStatus();
}

}  // namespace vigil::pipeline

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

Status FilterStage::Apply(model::Batch& batch) {
  std::erase_if(batch.series, [&](const model::Series& s) {
    return (!keep_.empty() && !MatchesAny(keep_, s.labels)) || MatchesAny(drop_, s.labels);
  });
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
  if (!stage->regex_->ok())
    return InvalidArgumentError("regex \"" + r.regex + "\": " + stage->regex_->error());
  bool needs_target = r.action == RelabelAction::kReplace || r.action == RelabelAction::kHashMod;
  if (needs_target && r.target_label.empty())
    return InvalidArgumentError("target_label is required for this action");
  if (r.action == RelabelAction::kHashMod && r.modulus == 0)
    return InvalidArgumentError("modulus is required for hashmod");
  if (r.action == RelabelAction::kHashMod && !IsValidLabelName(r.target_label))
    return InvalidArgumentError("target_label \"" + r.target_label + "\" is not a label name");
  VIGIL_ASSIGN_OR_RETURN(stage->rewrite_, ToRe2Rewrite(r.replacement, *stage->regex_));
  VIGIL_ASSIGN_OR_RETURN(stage->target_rewrite_, ToRe2Rewrite(r.target_label, *stage->regex_));
  return stage;
}

std::optional<model::Labels> RelabelStage::Relabel(const model::Labels& labels) const {
  const RelabelRule& r = rule_;
  std::vector<model::Label> pairs(labels.begin(), labels.end());
  switch (r.action) {
    case RelabelAction::kKeep:
      if (!RE2::FullMatch(Join(labels, r.source_labels, r.separator), *regex_)) return std::nullopt;
      return labels;
    case RelabelAction::kDrop:
      if (RE2::FullMatch(Join(labels, r.source_labels, r.separator), *regex_)) return std::nullopt;
      return labels;
    case RelabelAction::kReplace: {
      std::string value = Join(labels, r.source_labels, r.separator);
      std::string target, replaced;
      if (!RE2::Extract(value, *regex_, target_rewrite_, &target) ||
          !RE2::Extract(value, *regex_, rewrite_, &replaced))
        return labels;  // no match: unchanged
      if (!IsValidLabelName(target)) return labels;
      SetLabel(pairs, target, replaced);
      break;
    }
    case RelabelAction::kHashMod:
      SetLabel(pairs, r.target_label,
               std::to_string(Md5Prefix(Join(labels, r.source_labels, r.separator)) % r.modulus));
      break;
    case RelabelAction::kLabelMap:
      for (const auto& label : labels) {
        std::string mapped;
        if (RE2::Extract(label.name, *regex_, rewrite_, &mapped) && IsValidLabelName(mapped))
          SetLabel(pairs, mapped, label.value);
      }
      break;
    case RelabelAction::kLabelDrop:
      std::erase_if(pairs, [&](const auto& l) { return RE2::FullMatch(l.name, *regex_); });
      break;
    case RelabelAction::kLabelKeep:
      std::erase_if(pairs, [&](const auto& l) { return !RE2::FullMatch(l.name, *regex_); });
      break;
  }
  auto relabeled = model::Labels::FromPairs(std::move(pairs));
  if (!relabeled.ok() || relabeled->MetricName().empty()) return std::nullopt;
  return std::move(relabeled).value();
}

Status RelabelStage::Apply(model::Batch& batch) {
  std::vector<model::Series> kept;
  kept.reserve(batch.series.size());
  for (auto& series : batch.series) {
    auto labels = Relabel(series.labels);
    if (!labels) continue;
    series.labels = std::move(*labels);
    kept.push_back(std::move(series));
  }
  batch.series = std::move(kept);
  return OkStatus();
}

Status MatchStage::Apply(model::Batch& batch) {
  for (auto& series : batch.series) {
    if (!model::MatchesAll(selector_, series.labels)) continue;
    for (const auto& [name, value] : add_) series.labels = series.labels.With(name, value);
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
  if (options.window_ms < 1000) return InvalidArgumentError("window must be at least 1s");
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

Status DownsampleStage::Apply(model::Batch& batch) {
  model::Batch emitted;
  std::vector<model::Series> kept;
  kept.reserve(batch.series.size());
  {
    std::lock_guard lock(mu_);
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
      std::erase_if(windows_, [&](const auto& kv) {
        return kv.second.start < newest_ms_ - 10 * options_.window_ms;
      });
    }
  }
  for (auto& s : emitted.series) kept.push_back(std::move(s));
  batch.series = std::move(kept);
  return OkStatus();
}

}  // namespace vigil::pipeline

#include "store/memory_store.h"

#include <algorithm>
#include <set>

#include "store/aggregate.h"

namespace vigil::store {

Status MemoryStore::AppendAll(const model::Batch& batch) {
  MutexLock lock(mu_);
  if (options_.out_of_order_window_ms > 0) {
    uint64_t too_old = 0;
    const model::Series* first = nullptr;
    int64_t first_ms = 0;
    for (const model::Series& in : batch.series) {
      auto it = series_.find(in.labels);
      int64_t newest =
          it == series_.end() || it->second.empty() ? INT64_MIN : it->second.rbegin()->first;
      for (const model::Sample& s : in.samples) {
        if (newest != INT64_MIN && s.timestamp_ms < newest - options_.out_of_order_window_ms) {
          if (too_old++ == 0) first = &in, first_ms = s.timestamp_ms;
        }
        newest = std::max(newest, s.timestamp_ms);
      }
    }
    if (too_old > 0) {
      return RefusedSamplesError(first->labels, first_ms, too_old,
                                 "is older than the out-of-order window allows (out of bounds)");
    }
  }
  return AppendLocked(batch);
}

Status MemoryStore::Append(const model::Batch& batch) {
  MutexLock lock(mu_);
  return AppendLocked(batch);
}

Status MemoryStore::AppendLocked(const model::Batch& batch) {
  for (const model::Series& in : batch.series) {
    auto& samples = series_[in.labels];
    for (const model::Sample& s : in.samples) {
      const int64_t newest = samples.empty() ? INT64_MIN : samples.rbegin()->first;
      if (samples.count(s.timestamp_ms) > 0) {
        ++duplicates_;
      } else if (options_.out_of_order_window_ms > 0 && newest != INT64_MIN &&
                 s.timestamp_ms < newest - options_.out_of_order_window_ms) {
        ++rejected_;
      } else {
        samples.emplace(s.timestamp_ms, s.value);
      }
    }
    if (samples.empty()) series_.erase(in.labels);
  }
  return OkStatus();
}

Result<SelectResult> MemoryStore::Select(const std::vector<model::Matcher>& matchers,
                                         int64_t start_ms, int64_t end_ms) {
  MutexLock lock(mu_);
  SelectResult result;
  int64_t points = 0;
  for (const auto& [labels, samples] : series_) {
    if (!model::MatchesAll(matchers, labels)) continue;
    SeriesSamples out{labels, {}};
    for (auto it = samples.lower_bound(start_ms); it != samples.end() && it->first <= end_ms;
         ++it) {
      out.samples.push_back({it->first, it->second});
    }
    if (out.samples.empty()) continue;
    points += static_cast<int64_t>(out.samples.size());
    if (points > options_.max_points) return TooManyPointsError(options_.max_points);
    result.series.push_back(std::move(out));
  }
  return result;
}

Result<SelectResult> MemoryStore::Aggregate(const AggregateQuery& query) {
  if (query.step_ms <= 0) return InvalidArgumentError("step must be > 0");
  const int64_t window = query.window_ms > 0 ? query.window_ms : query.step_ms;
  MutexLock lock(mu_);
  SelectResult result;
  int64_t points = 0;
  for (const auto& [labels, stored] : series_) {
    if (!model::MatchesAll(query.matchers, labels)) continue;
    std::vector<model::Sample> samples;
    for (auto it = stored.upper_bound(query.start_ms - window);
         it != stored.end() && it->first <= query.end_ms; ++it) {
      samples.push_back({it->first, it->second});
    }
    std::vector<model::Sample> steps = EvaluateSteps(query, samples);
    if (steps.empty()) continue;
    points += static_cast<int64_t>(steps.size());
    if (points > options_.max_points) return TooManyPointsError(options_.max_points);
    result.series.push_back({labels, std::move(steps)});
  }
  return result;
}

Result<std::vector<model::Labels>> MemoryStore::Series(
    const std::vector<model::Matcher>& matchers) {
  MutexLock lock(mu_);
  std::vector<model::Labels> out;
  for (const auto& [labels, samples] : series_) {
    if (model::MatchesAll(matchers, labels)) out.push_back(labels);
  }
  return out;
}

Result<std::vector<std::string>> MemoryStore::LabelNames(
    const std::vector<model::Matcher>& matchers) {
  MutexLock lock(mu_);
  std::set<std::string> names;
  for (const auto& [labels, samples] : series_) {
    if (!model::MatchesAll(matchers, labels)) continue;
    for (const model::LabelRef& l : labels) names.emplace(l.name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Result<std::vector<std::string>> MemoryStore::LabelValues(
    const std::string& name, const std::vector<model::Matcher>& matchers) {
  MutexLock lock(mu_);
  std::set<std::string> values;
  for (const auto& [labels, samples] : series_) {
    if (!model::MatchesAll(matchers, labels)) continue;
    std::string_view v = labels.Get(name);
    if (!v.empty()) values.emplace(v);
  }
  return std::vector<std::string>(values.begin(), values.end());
}

uint64_t MemoryStore::duplicates() const {
  MutexLock lock(mu_);
  return duplicates_;
}

uint64_t MemoryStore::rejected() const {
  MutexLock lock(mu_);
  return rejected_;
}

}  // namespace vigil::store

#include "store/aggregate.h"

#include <algorithm>
#include <cmath>

namespace vigil::store {

namespace {

// promql/functions.go extrapolatedRate, after the difference: `result` (last - first, plus
// the counter correction for counters) over `count` samples from (first_ms, first) to
// last_ms, extrapolated towards the window's ends.
double Extrapolate(double result, int64_t first_ms, double first, int64_t last_ms, int64_t count,
                   int64_t range_start_ms, int64_t range_end_ms, bool counter, bool as_rate) {
  double to_start = static_cast<double>(first_ms - range_start_ms) / 1000.0;
  double to_end = static_cast<double>(range_end_ms - last_ms) / 1000.0;
  const double sampled = static_cast<double>(last_ms - first_ms) / 1000.0;
  const double average_gap = sampled / static_cast<double>(count - 1);
  const double threshold = average_gap * 1.1;
  if (to_start >= threshold) to_start = average_gap / 2;
  if (counter && result > 0 && first >= 0) {
    const double to_zero = sampled * (first / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  if (to_end >= threshold) to_end = average_gap / 2;
  double factor = sampled != 0 ? (sampled + to_start + to_end) / sampled : 1.0;
  if (as_rate) factor /= static_cast<double>(range_end_ms - range_start_ms) / 1000.0;
  return result * factor;
}

// rate and increase (counters), delta (gauges) over at least two samples.
double ExtrapolatedDelta(std::span<const model::Sample> s, int64_t range_start_ms,
                         int64_t range_end_ms, bool counter, bool as_rate) {
  double result = s.back().value - s.front().value;
  if (counter) {
    // Each counter reset adds back the value before it, in order (as promql does, so the
    // sums round alike). The resets are found first without a branch a sample: a gauge's
    // random walk goes down at every third sample or so, which a branch mispredicts.
    constexpr size_t kChunk = 64;
    size_t resets[kChunk];  // indices of the values before a reset
    for (size_t begin = 1; begin < s.size(); begin += kChunk) {
      const size_t end = std::min(s.size(), begin + kChunk);
      size_t n = 0;
      for (size_t i = begin; i < end; ++i) {
        resets[n] = i - 1;
        n += s[i].value < s[i - 1].value;
      }
      for (size_t k = 0; k < n; ++k) result += s[resets[k]].value;
    }
  }
  return Extrapolate(result, s.front().timestamp_ms, s.front().value, s.back().timestamp_ms,
                     static_cast<int64_t>(s.size()), range_start_ms, range_end_ms, counter,
                     as_rate);
}

// The NaN rule of min_over_time and max_over_time: a NaN so far gives way to anything.
void KeepMin(double value, double* min) {
  if (value < *min || std::isnan(*min)) *min = value;
}
void KeepMax(double value, double* max) {
  if (value > *max || std::isnan(*max)) *max = value;
}

// avg_over_time: a compensated sum, switching to an incremental mean past the float range.
double Average(std::span<const model::Sample> s) {
  double sum = s[0].value, count = 1, mean = 0, c = 0;
  bool incremental = false;
  for (size_t i = 1; i < s.size(); ++i) {
    count = static_cast<double>(i + 1);
    if (!incremental) {
      double new_sum = sum, new_c = c;
      KahanAdd(s[i].value, &new_sum, &new_c);
      if (!std::isinf(new_sum)) {
        sum = new_sum;
        c = new_c;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    const double q = (count - 1) / count;
    mean *= q;
    c *= q;
    KahanAdd(s[i].value / count, &mean, &c);
  }
  return incremental ? mean + c : sum / count + c / count;
}

// Calls fn(t, the items in (t - window, t]) for each step t of the query, in order; the
// items are ascending by `time`. Windows move forward: [first, last) follows them rather
// than each step searching the whole series. When the window is the step (rate(x[5m])
// at 5 m), a window starts where the one before ended, and is not looked for again.
template <typename T, typename Fn>
void ForEachStep(const AggregateQuery& query, std::span<const T> items, int64_t T::*time,
                 const Fn& fn) {
  if (query.step_ms <= 0) return;
  const int64_t window = query.window_ms > 0 ? query.window_ms : query.step_ms;
  size_t first = 0, last = 0;
  for (int64_t t = query.start_ms; t <= query.end_ms; t += query.step_ms) {
    if (t > query.start_ms && window == query.step_ms) {
      first = last;  // the items up to t - window, the step before
    } else {
      while (first < items.size() && items[first].*time <= t - window) ++first;
    }
    last = std::max(last, first);
    while (last < items.size() && items[last].*time <= t) ++last;
    fn(t, items.subspan(first, last - first));
  }
}

// EvaluateWindow on a window already cut to (end_ms - window_ms, end_ms]. Stale markers
// are looked for only when `may_have_stale`.
std::optional<double> EvaluateCutWindow(Aggregation function, std::span<const model::Sample> window,
                                        int64_t start_ms, int64_t end_ms, bool may_have_stale) {
  // Stale markers end a series; they are no values.
  std::vector<model::Sample> without_stale;
  if (may_have_stale && std::any_of(window.begin(), window.end(), [](const model::Sample& s) {
        return model::IsStaleMarker(s.value);
      })) {
    for (const model::Sample& s : window) {
      if (!model::IsStaleMarker(s.value)) without_stale.push_back(s);
    }
    window = without_stale;
  }
  if (window.empty()) return std::nullopt;
  switch (function) {
    case Aggregation::kCount:
      return static_cast<double>(window.size());
    case Aggregation::kLast:
      return window.back().value;
    case Aggregation::kSum: {
      double sum = 0, c = 0;
      for (const auto& s : window) KahanAdd(s.value, &sum, &c);
      return std::isinf(sum) ? sum : sum + c;
    }
    case Aggregation::kAvg:
      return Average(window);
    case Aggregation::kMin:
    case Aggregation::kMax: {
      // NaN only wins when every value is NaN, as in Prometheus.
      double result = window.front().value;
      for (const auto& s : window) {
        if (function == Aggregation::kMin) {
          KeepMin(s.value, &result);
        } else {
          KeepMax(s.value, &result);
        }
      }
      return result;
    }
    case Aggregation::kRate:
    case Aggregation::kIncrease:
    case Aggregation::kDelta:
      if (window.size() < 2) return std::nullopt;
      return ExtrapolatedDelta(window, start_ms, end_ms, function != Aggregation::kDelta,
                               function == Aggregation::kRate);
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> EvaluateWindow(Aggregation function, std::span<const model::Sample> samples,
                                     int64_t end_ms, int64_t window_ms) {
  const int64_t start_ms = end_ms - window_ms;  // exclusive
  auto first =
      std::upper_bound(samples.begin(), samples.end(), start_ms,
                       [](int64_t t, const model::Sample& s) { return t < s.timestamp_ms; });
  auto last = std::upper_bound(first, samples.end(), end_ms, [](int64_t t, const model::Sample& s) {
    return t < s.timestamp_ms;
  });
  return EvaluateCutWindow(function, std::span<const model::Sample>(first, last), start_ms, end_ms,
                           true);
}

int64_t StepCount(const AggregateQuery& query) {
  if (query.step_ms <= 0 || query.end_ms < query.start_ms) return 0;
  return (query.end_ms - query.start_ms) / query.step_ms + 1;
}

std::vector<model::Sample> EvaluateSteps(const AggregateQuery& query,
                                         std::span<const model::Sample> samples) {
  std::vector<model::Sample> points;
  const int64_t window = query.window_ms > 0 ? query.window_ms : query.step_ms;
  // Looked for once in the whole series rather than in each window: scraped series have
  // a stale marker only where a target went away.
  const bool has_stale = std::any_of(samples.begin(), samples.end(), [](const model::Sample& s) {
    return model::IsStaleMarker(s.value);
  });
  ForEachStep(query, samples, &model::Sample::timestamp_ms, [&](int64_t t, auto in_window) {
    if (auto value = EvaluateCutWindow(query.function, in_window, t - window, t, has_stale)) {
      points.push_back({t, *value});
    }
  });
  return points;
}

namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return a / b + ((a % b != 0) && ((a < 0) == (b < 0))); }
}  // namespace

void Summarize(std::span<const model::Sample> samples, int64_t resolution_ms,
               std::vector<WindowSummary>* out) {
  double compensation = 0;
  WindowSummary* open = nullptr;
  auto close = [&] {
    if (open != nullptr && !std::isinf(open->sum)) open->sum += compensation;
  };
  for (const model::Sample& s : samples) {
    if (model::IsStaleMarker(s.value)) continue;
    const int64_t end = CeilDiv(s.timestamp_ms, resolution_ms) * resolution_ms;
    if (open == nullptr || open->end_ms != end) {
      close();
      open = &out->emplace_back();
      open->end_ms = end;
      open->min = open->max = open->first = s.value;
      open->first_ms = s.timestamp_ms;
      compensation = 0;
    } else {
      if (s.value < open->last) open->resets += open->last;
      KeepMin(s.value, &open->min);
      KeepMax(s.value, &open->max);
    }
    ++open->count;
    KahanAdd(s.value, &open->sum, &compensation);
    open->last_ms = s.timestamp_ms;
    open->last = s.value;
  }
  close();
}

void MergeSummary(WindowSummary* into, const WindowSummary& later) {
  if (later.first < into->last) into->resets += into->last;
  into->resets += later.resets;
  KeepMin(later.min, &into->min);
  KeepMax(later.max, &into->max);
  into->count += later.count;
  into->sum += later.sum;
  into->end_ms = later.end_ms;
  into->last_ms = later.last_ms;
  into->last = later.last;
}

void MergePieces(std::vector<WindowSummary>* summaries) {
  std::sort(summaries->begin(), summaries->end(), [](const auto& a, const auto& b) {
    return std::pair(a.end_ms, a.first_ms) < std::pair(b.end_ms, b.first_ms);
  });
  size_t kept = 0;
  for (size_t i = 0; i < summaries->size(); ++i) {
    if (kept > 0 && (*summaries)[kept - 1].end_ms == (*summaries)[i].end_ms) {
      MergeSummary(&(*summaries)[kept - 1], (*summaries)[i]);
    } else {
      (*summaries)[kept++] = (*summaries)[i];
    }
  }
  summaries->resize(kept);
}

bool SummariesAnswer(const AggregateQuery& query, int64_t resolution_ms) {
  const int64_t window = query.window_ms > 0 ? query.window_ms : query.step_ms;
  return resolution_ms > 0 && query.step_ms > 0 && query.step_ms % resolution_ms == 0 &&
         window % resolution_ms == 0 && query.start_ms % resolution_ms == 0;
}

std::vector<model::Sample> EvaluateSummarySteps(const AggregateQuery& query,
                                                std::span<const WindowSummary> summaries) {
  std::vector<model::Sample> points;
  const int64_t window = query.window_ms > 0 ? query.window_ms : query.step_ms;
  ForEachStep(query, summaries, &WindowSummary::end_ms, [&](int64_t t, auto in_window) {
    if (in_window.empty()) return;
    WindowSummary all = in_window.front();
    double sum = all.sum, compensation = 0;
    for (const WindowSummary& s : in_window.subspan(1)) {
      MergeSummary(&all, s);
      KahanAdd(s.sum, &sum, &compensation);
    }
    double value = 0;
    switch (query.function) {
      case Aggregation::kCount:
        value = static_cast<double>(all.count);
        break;
      case Aggregation::kLast:
        value = all.last;
        break;
      case Aggregation::kSum:
        value = std::isinf(sum) ? sum : sum + compensation;
        break;
      case Aggregation::kAvg: {
        const auto count = static_cast<double>(all.count);
        value = std::isinf(sum) ? sum / count : sum / count + compensation / count;
        break;
      }
      case Aggregation::kMin:
        value = all.min;
        break;
      case Aggregation::kMax:
        value = all.max;
        break;
      case Aggregation::kRate:
      case Aggregation::kIncrease:
      case Aggregation::kDelta: {
        if (all.count < 2) return;
        const bool counter = query.function != Aggregation::kDelta;
        const double result = all.last - all.first + (counter ? all.resets : 0);
        value = Extrapolate(result, all.first_ms, all.first, all.last_ms, all.count, t - window, t,
                            counter, query.function == Aggregation::kRate);
        break;
      }
    }
    points.push_back({t, value});
  });
  return points;
}

}  // namespace vigil::store

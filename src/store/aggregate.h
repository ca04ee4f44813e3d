// Per-step evaluation of time functions over one series' samples, shared by every Store
// so that they all answer alike: `avg|min|max|sum|count|last` over a window, and `rate`
// `increase` and `delta` with Prometheus's counter-reset handling and extrapolation
// (promql/functions.go extrapolatedRate). Windows are left-open: (t - window, t], as in
// Prometheus 3.
//
// Thread safety: pure functions.
#pragma once

#include <cmath>
#include <optional>
#include <span>
#include <vector>

#include "model/batch.h"
#include "store/store.h"

namespace vigil::store {

// The value of `function` over `samples` (ascending time) that fall in (end - window, end];
// nullopt when the window has no sample (or fewer than two, for rate and increase).
std::optional<double> EvaluateWindow(Aggregation function, std::span<const model::Sample> samples,
                                     int64_t end_ms, int64_t window_ms);

// One point per step, at start, start + step, … <= end, each over its window.
std::vector<model::Sample> EvaluateSteps(const AggregateQuery& query,
                                         std::span<const model::Sample> samples);

// Neumaier's variant of Kahan summation, as Prometheus's kahansum.Inc: adds `value` to
// `sum`, carrying the lost low-order bits in `compensation`. Shared with the query engine,
// inline: a sum over many series calls it once a point.
inline void KahanAdd(double value, double* sum, double* compensation) {
  const double t = *sum + value;
  if (std::isinf(t)) {
    *compensation = 0;
  } else if (std::fabs(*sum) >= std::fabs(value)) {
    *compensation += (*sum - t) + value;
  } else {
    *compensation += (value - t) + *sum;
  }
  *sum = t;
}

// Points a query would return at most per series: the steps in [start, end].
int64_t StepCount(const AggregateQuery& query);

// What one series' samples in a window (end - resolution, end] come down to: enough to
// answer every Aggregation over windows made of whole summaries, without the samples
// (the embedded store's downsampled tiers, docs/format/tier.md). Stale markers are no
// values: a summary holds at least one sample.
struct WindowSummary {
  int64_t end_ms = 0;
  int64_t count = 0;
  double min = 0;  // as min_over_time and max_over_time: NaN only when every value is
  double max = 0;
  double sum = 0;  // compensated, as sum_over_time
  int64_t first_ms = 0;
  double first = 0;
  int64_t last_ms = 0;
  double last = 0;
  double resets = 0;  // the sum of the value before each decrease: rate's counter correction
  bool operator==(const WindowSummary&) const = default;
};

// Appends the summaries of `samples` (ascending time) over the windows of
// `resolution_ms` that end at its multiples: (k·resolution - resolution, k·resolution].
void Summarize(std::span<const model::Sample> samples, int64_t resolution_ms,
               std::vector<WindowSummary>* out);

// Folds `later` — the samples that follow `into`'s, of the same window or of later ones —
// into `into`, as if they had been summarized together (sums up to rounding).
void MergeSummary(WindowSummary* into, const WindowSummary& later);

// Sorts summaries by window, then time, and merges the pieces of each window (summarized
// apart: a 2-hour block's end cuts a window in two) into one.
void MergePieces(std::vector<WindowSummary>* summaries);

// True when every window of `query` is made of whole summaries of `resolution_ms`: the
// start, the step and the window are multiples of it.
bool SummariesAnswer(const AggregateQuery& query, int64_t resolution_ms);

// EvaluateSteps over summaries (ascending end, one per window) instead of samples, for a
// query SummariesAnswer says they can answer. The answers are EvaluateSteps's, except
// that sums, averages and counter corrections are added per summary first, so they may
// differ in the last bits.
std::vector<model::Sample> EvaluateSummarySteps(const AggregateQuery& query,
                                                std::span<const WindowSummary> summaries);

}  // namespace vigil::store

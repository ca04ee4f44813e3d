// Per-step evaluation of time functions over one series' samples, shared by every Store
// so that they all answer alike: `avg|min|max|sum|count|last` over a window, and `rate`
// `increase` and `delta` with Prometheus's counter-reset handling and extrapolation
// (promql/functions.go extrapolatedRate). Windows are left-open: (t - window, t], as in
// Prometheus 3.
//
// Thread safety: pure functions.
#pragma once

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
// `sum`, carrying the lost low-order bits in `compensation`. Shared with the query engine.
void KahanAdd(double value, double* sum, double* compensation);

// Points a query would return at most per series: the steps in [start, end].
int64_t StepCount(const AggregateQuery& query);

}  // namespace vigil::store

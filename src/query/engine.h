// Evaluates PromQL over any Store with Prometheus 3's semantics (docs/http-api.md, "Query
// language"). An instant query is a range query of one step. At each step t an instant
// selector takes each series' latest sample in (t - lookback, t] (5 min), a range selector
// the samples in (t - range, t], both shifted by `offset` and pinned by `@`; stale markers
// end a series. Functions that every store can answer itself (rate, *_over_time …) over a
// plain range selector are pushed down to Store::Aggregate.
//
// Expressions are evaluated step-wise over all series at once (Prometheus's range
// evaluation). Chains of operators are walked with an explicit stack, so no query the
// parser accepts can exhaust the thread's stack; other nesting is bounded by kMaxNesting.
//
// Admission: at most max_concurrency queries evaluate at once (the rest wait for a slot
// until their timeout), and together they load at most max_samples_in_flight samples, so
// concurrent queries cannot take the process's memory between them.
//
// Thread safety: an Engine may be used from any thread (the Store must allow it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config_map.h"
#include "core/mutex.h"
#include "core/status.h"
#include "model/batch.h"
#include "query/ast.h"
#include "store/store.h"

namespace vigil::query {

struct SeriesResult {
  model::Labels labels;
  std::vector<model::Sample> points;  // ascending time; one per step where it has a value
};

struct QueryResult {
  ValueType type = ValueType::kVector;
  // kScalar: one series with empty labels; kVector: one point per series at the query's
  // time; kMatrix: the points per step (range query) or raw samples (x[5m] instant);
  // kString: `string_value`, with one series whose one point holds the query's time.
  std::vector<SeriesResult> series;
  std::string string_value;
  std::vector<std::string> warnings;
};

struct EngineOptions {
  int64_t lookback_ms = 5 * 60'000;
  int64_t max_steps = 11'000;         // Prometheus's limit of points per series
  int64_t max_samples = 50'000'000;   // Prometheus's --query.max-samples
  int64_t subquery_step_ms = 60'000;  // a subquery's step when it names none (`x[1h:]`)
  int64_t timeout_ms = 120'000;       // Prometheus's --query.timeout; 0: none
  // Queries evaluated at once (Prometheus's --query.max-concurrency); the others wait for
  // a slot until their timeout. 0: no bound.
  int64_t max_concurrency = 4;
  // Samples all running queries together may load (each counted as max_samples counts);
  // a query that would pass it fails with Unavailable (HTTP 503: try again). 0: no bound.
  int64_t max_samples_in_flight = 50'000'000;
};

// The [query] section of vigil.toml: the options above a user sets, bound to their fields.
config::SectionMap<EngineOptions> EngineOptionsSection();

class Engine {
 public:
  explicit Engine(store::Store& store, EngineOptions options = {})
      : store_(store), options_(options) {}

  // `text` at time `time_ms`. InvalidArgument for bad queries (HTTP 400), ResourceExhausted
  // when a limit is hit and FailedPrecondition when the data cannot be evaluated (both
  // HTTP 422, as Prometheus's "execution" errors), DeadlineExceeded past the timeout (503
  // "timeout"), other codes for store failures.
  Result<QueryResult> Instant(std::string_view text, int64_t time_ms);
  // From start to end (inclusive) every step; a matrix result.
  Result<QueryResult> Range(std::string_view text, int64_t start_ms, int64_t end_ms,
                            int64_t step_ms);

 private:
  std::chrono::steady_clock::time_point Deadline() const;
  // Waits for one of max_concurrency slots until `deadline` (DeadlineExceeded); the slot is
  // given back when the returned guard goes.
  Result<std::shared_ptr<void>> Admit(std::chrono::steady_clock::time_point deadline);

  store::Store& store_;
  EngineOptions options_;
  Mutex gate_mu_;
  CondVar gate_freed_;
  int64_t running_ VIGIL_GUARDED_BY(gate_mu_) = 0;
  std::atomic<int64_t> samples_in_flight_{0};
};

}  // namespace vigil::query

// Evaluates parsed queries over any Store, with Prometheus's semantics: an instant query
// is a range query of one step; at each step t an instant selector takes each series'
// latest sample in (t - lookback, t] (lookback 5 min); range functions take the samples
// in (t - range, t]; functions and arithmetic drop the metric name; comparisons with a
// number filter (or give 0/1 with `bool`). docs/http-api.md ("Query language").
//
// Thread safety: an Engine may be used from any thread (the Store must allow it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/batch.h"
#include "query/ast.h"
#include "store/store.h"

namespace vigil::query {

enum class ValueType { kScalar, kVector, kMatrix };

struct SeriesResult {
  model::Labels labels;
  std::vector<model::Sample> points;  // ascending time; one per step where it has a value
};

struct QueryResult {
  ValueType type = ValueType::kVector;
  // kScalar: one series with empty labels; kVector: one point per series at the query's
  // time; kMatrix: the points per step (range query) or raw samples (x[5m] instant).
  std::vector<SeriesResult> series;
  std::vector<std::string> warnings;
};

struct EngineOptions {
  int64_t lookback_ms = 5 * 60'000;
  int64_t max_steps = 11'000;  // Prometheus's limit of points per series
};

class Engine {
 public:
  explicit Engine(store::Store& store, EngineOptions options = {})
      : store_(store), options_(options) {}

  // `text` at time `time_ms`. InvalidArgument for bad or unsupported queries (HTTP 400),
  // ResourceExhausted when a limit is hit (HTTP 422), other codes for store failures.
  Result<QueryResult> Instant(std::string_view text, int64_t time_ms);
  // From start to end (inclusive) every step; a matrix result.
  Result<QueryResult> Range(std::string_view text, int64_t start_ms, int64_t end_ms,
                            int64_t step_ms);

 private:
  store::Store& store_;
  EngineOptions options_;
};

}  // namespace vigil::query

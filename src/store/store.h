// Store is where readings rest: the embedded TSDB (tsdb::TsdbStore, the default), PostgreSQL
// (store::postgres, for scale-out) and MemoryStore (tests, and the reference the others
// are checked against). The datamanager appends; the web tier and the query engine read.
// Timestamps are int64 milliseconds; ranges are inclusive [start, end].
// docs/architecture.md (Modules), docs/storage.md.
//
// Thread safety: every method of every implementation may be called from any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/batch.h"
#include "model/matcher.h"
#include "store/batch_writer.h"

namespace vigil::store {

struct SeriesSamples {
  model::Labels labels;
  std::vector<model::Sample> samples;  // ascending time, no duplicate timestamps
  bool operator==(const SeriesSamples&) const = default;
};

// What a read returns: the series in label order, plus warnings for parts of the store
// that could not be read (a damaged chunk) — the rest is still answered.
struct SelectResult {
  std::vector<SeriesSamples> series;
  std::vector<std::string> warnings;
};

// Per-step functions over time, with Prometheus's semantics for `<fn>_over_time`,
// `rate`, `increase` and `delta` (docs/storage.md, "Queries"). Stale markers are no values.
enum class Aggregation { kAvg, kMin, kMax, kSum, kCount, kLast, kRate, kIncrease, kDelta };

// What an instant selector needs of a series: at each time first + i × step (i < count,
// step > 0), the last sample at or before it. Given to ForEachSeries, it lets a store
// leave out every other sample (never one a time needs, never reordering the rest), and
// so decode less: a day at 10 s read for steps of a minute keeps one sample in six.
struct StepPicks {
  int64_t first = 0;
  int64_t step = 1;
  size_t count = 0;
  int64_t At(size_t i) const { return first + static_cast<int64_t>(i) * step; }
};

struct AggregateQuery {
  std::vector<model::Matcher> matchers;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t step_ms = 60'000;
  // Each output point at t covers samples in (t - window, t]; 0 means the step.
  int64_t window_ms = 0;
  Aggregation function = Aggregation::kAvg;
};

// What AppendAll answers when it refuses a batch: `count` samples would be dropped, the
// first of them `labels` at `timestamp_ms`, for `why`.
inline Status RefusedSamplesError(const model::Labels& labels, int64_t timestamp_ms, uint64_t count,
                                  std::string_view why) {
  return InvalidArgumentError(std::to_string(count) +
                              " sample(s) refused, nothing stored: " + labels.ToString() + " @" +
                              std::to_string(timestamp_ms) + " " + std::string(why));
}

class Store : public BatchWriter {
 public:
  // Append (from BatchWriter): a returned OK means the batch is as durable as the store
  // promises (the TSDB: in its fsynced log). Samples with a series and timestamp already
  // stored are duplicates: dropped and counted, so redelivered batches change nothing.
  // Flush (from BatchWriter): waits until everything appended is durable. Append drops
  // and counts the samples it cannot take (older than the out-of-order window or the
  // retention, a timestamp the store cannot hold): nobody could be told.

  // Append for writers that can be told (HTTP): all or nothing. When a sample would be
  // dropped for another reason than being a duplicate, nothing is appended and the
  // InvalidArgument (RefusedSamplesError) names the first such sample and counts them.
  Status AppendAll(const model::Batch& batch) override = 0;

  // Raw samples of every series matching all `matchers` within [start, end].
  // ResourceExhausted when more than the store's point limit would be returned.
  virtual Result<SelectResult> Select(const std::vector<model::Matcher>& matchers, int64_t start_ms,
                                      int64_t end_ms) = 0;

  // The series Select would return, one at a time, for readers that need not hold them
  // all at once. Each series' labels and samples (ascending, never empty; the vector is
  // reused) go first through `transform`, when given, then — unless transform left them
  // empty — to `fn`, in ascending order of their labels (so that a reader can add up
  // series as they come, in the order a sorted list of them would give). `transform` may rewrite
  // the samples (into what fn needs: per-step points, usually far fewer) and runs on the store's
  // reading threads, several series at once: it must touch nothing but its arguments and
  // thread-safe state. `fn` is called one series at a time. The first error either
  // returns ends the read. Unreadable parts of the store are reported in `warnings`.
  // With `picks` (may be null; its times at or before end_ms), the samples those times
  // do not need may be left out.
  // Stores that can read a series at a time override it; this one reads them all first.
  using SeriesFn = std::function<Status(const model::Labels&, std::vector<model::Sample>&)>;
  virtual Status ForEachSeries(const std::vector<model::Matcher>& matchers, int64_t start_ms,
                               int64_t end_ms, const StepPicks* /*picks*/,
                               std::vector<std::string>* warnings, const SeriesFn& transform,
                               const SeriesFn& fn) {
    VIGIL_ASSIGN_OR_RETURN(SelectResult result, Select(matchers, start_ms, end_ms));
    for (std::string& w : result.warnings) warnings->push_back(std::move(w));
    std::sort(result.series.begin(), result.series.end(),
              [](const SeriesSamples& a, const SeriesSamples& b) { return a.labels < b.labels; });
    for (SeriesSamples& s : result.series) {
      if (!s.samples.empty() && transform) VIGIL_RETURN_IF_ERROR(transform(s.labels, s.samples));
      if (!s.samples.empty()) VIGIL_RETURN_IF_ERROR(fn(s.labels, s.samples));
    }
    return OkStatus();
  }

  // One point per step from start to end per matching series (steps with no sample in
  // their window are left out; series with no point are left out).
  virtual Result<SelectResult> Aggregate(const AggregateQuery& query) = 0;

  // Label sets of the series matching `matchers` (all series when empty), label order.
  virtual Result<std::vector<model::Labels>> Series(
      const std::vector<model::Matcher>& matchers) = 0;
  // Sorted label names / values of `name`, over the series matching `matchers`.
  virtual Result<std::vector<std::string>> LabelNames(
      const std::vector<model::Matcher>& matchers) = 0;
  virtual Result<std::vector<std::string>> LabelValues(
      const std::string& name, const std::vector<model::Matcher>& matchers) = 0;

  // Housekeeping (retention; the TSDB's persisting, the PostgreSQL store's partitions),
  // called every few seconds by the role that owns the store; each store decides how often
  // there is work to do.
  virtual Status Maintain() { return OkStatus(); }
  // Makes everything appended durable and lets go of files and connections. Once only.
  virtual Status Close() { return Flush(); }
};

// The error every store returns when a read would exceed its point limit.
Status TooManyPointsError(int64_t limit);

}  // namespace vigil::store

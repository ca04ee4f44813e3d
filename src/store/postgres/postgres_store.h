// PostgresStore keeps readings in PostgreSQL (migrations/0001_schema.sql): a `series`
// table (labels as jsonb, unique) and a `samples` table partitioned by time, one
// partition per day by default, made ahead of time and on demand, dropped for retention.
// Any number of datamanagers append and any number of web servers read the same database.
//
// Append: series ids come from an in-memory cache (or one upsert per new series), the
// samples go in with one binary COPY in one transaction, so an acknowledged batch is
// committed. A batch that meets a sample already stored (a redelivery) is rewritten
// through a staging table with ON CONFLICT DO NOTHING: duplicates are dropped and
// counted, never stored twice. Samples older than the retention are dropped and counted;
// a series PostgreSQL refuses (a label value with a NUL byte) is rejected and counted.
//
// The same transaction adds the new samples to an hourly rollup (min, max and count per
// series and hour, migrations/0002_hourly_rollup.sql), exact because it counts only rows
// actually inserted.
//
// Reads: series are chosen in SQL by their `=` matchers (jsonb containment, on the GIN
// index), then by every matcher in C++ (RE2, exactly as the other stores); samples come
// from the primary key's index alone. min, max and count per step are computed in SQL,
// from the rollup when the steps are whole hours on hour boundaries; the other functions
// from the raw samples by store/aggregate.h, so that every store gives the same numbers.
// docs/postgres.md.
//
// Thread safety: every method may be called from any thread (a pool of connections).
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "store/postgres/pool.h"
#include "store/store.h"

namespace vigil::store::postgres {

struct PostgresOptions {
  std::string url;  // postgres://user:password@host:5432/db
  size_t pool_size = 4;
  std::chrono::milliseconds statement_timeout{30'000};
  // Partitions of samples are this many days wide, and made this many ahead of today.
  int partition_days = 1;
  int partitions_ahead = 2;
  // Samples older than this are dropped at append and their partitions dropped; 0: keep
  // forever.
  int64_t retention_ms = 15 * 86'400'000LL;
  // Points one Select or Aggregate may return.
  int64_t max_points = 5'000'000;
  // Series ids kept in memory (the cache is cleared when it would grow past this).
  size_t series_cache_size = 1'000'000;
  // Apply the bundled migrations and make partitions at Open. A web server leaves that to
  // the datamanagers and `vigil migrate` (it may have a read-only user, or a replica).
  bool migrate = true;
  // Maintenance (partitions ahead, retention) runs at most this often.
  int64_t maintenance_interval_ms = 60'000;
  metrics::Registry* registry = &metrics::Registry::Default();
};

class PostgresStore final : public Store {
 public:
  // Connects, applies the migrations and makes the partitions ahead; with
  // options.migrate false, only checks that the schema is there (FailedPrecondition, saying
  // to run `vigil migrate`, when it is not). Unavailable when the database cannot be reached.
  static Result<std::unique_ptr<PostgresStore>> Open(Clock& clock, PostgresOptions options);

  Status Append(const model::Batch& batch) override;
  Status AppendAll(const model::Batch& batch) override;
  Status Flush() override { return OkStatus(); }  // an Append that returned OK is committed
  Result<SelectResult> Select(const std::vector<model::Matcher>& matchers, int64_t start_ms,
                              int64_t end_ms) override;
  Result<SelectResult> Aggregate(const AggregateQuery& query) override;
  Result<std::vector<model::Labels>> Series(const std::vector<model::Matcher>& matchers) override;
  Result<std::vector<std::string>> LabelNames(const std::vector<model::Matcher>& matchers) override;
  Result<std::vector<std::string>> LabelValues(
      const std::string& name, const std::vector<model::Matcher>& matchers) override;

  // Makes the partitions ahead and applies retention, when maintenance_interval_ms has
  // passed since the last run.
  Status Maintain() override;
  // The same, now.
  Status MaintainNow();

  struct Stats {
    uint64_t written = 0;
    uint64_t duplicates = 0;
    uint64_t too_old = 0;
    uint64_t rejected = 0;
  };
  Stats stats() const;

 private:
  struct SeriesRow {
    int64_t id;
    model::Labels labels;
  };

  PostgresStore(Clock& clock, PostgresOptions options);
  // Ensures the partition holding `ms` exists.
  Status EnsurePartition(Pool::Lease& conn, int64_t ms);
  // The series id of `labels`, from the cache or the database; InvalidArgument when the
  // database refuses the labels.
  // Append and AppendAll (which has checked the timestamps already).
  Status AppendBatch(const model::Batch& batch, bool all_or_nothing);
  Result<int64_t> SeriesId(Pool::Lease& conn, const model::Labels& labels);
  using Row = std::pair<int64_t, model::Sample>;  // series id, sample
  // Inserts `rows` (`copy_data` is their binary COPY) and adds them to the hourly rollup,
  // in one transaction. Rows already stored (a redelivered batch) or repeated in the batch
  // are skipped, keeping the first; returns how many were new.
  Result<int64_t> Insert(Pool::Lease& conn, std::string_view copy_data, std::vector<Row> rows);
  // Adds rows just inserted to samples_hourly (min, max, count per series and hour).
  Status AddToRollup(Pool::Lease& conn, const std::vector<Row>& rows);
  // The per-step points of the series `ids` (a chunk of an Aggregate's series).
  Result<std::unordered_map<int64_t, std::vector<model::Sample>>> AggregateChunk(
      Pool::Lease& conn, const std::vector<int64_t>& ids, const AggregateQuery& query);
  // The series matching every matcher, in label order.
  Result<std::vector<SeriesRow>> MatchSeries(Pool::Lease& conn,
                                             const std::vector<model::Matcher>& matchers);
  // Raw samples of `ids` in [start, end], per id (ascending time).
  Result<std::unordered_map<int64_t, std::vector<model::Sample>>> ReadSamples(
      Pool::Lease& conn, const std::vector<int64_t>& ids, int64_t start_ms, int64_t end_ms,
      int64_t limit);

  Clock& clock_;
  PostgresOptions options_;
  Pool pool_;

  Mutex mu_;
  std::unordered_map<model::Labels, int64_t, model::LabelsHash> series_ids_ VIGIL_GUARDED_BY(mu_);
  std::set<int64_t> partitions_ VIGIL_GUARDED_BY(mu_);  // partition start days made
  int64_t last_maintenance_ms_ VIGIL_GUARDED_BY(mu_) = INT64_MIN;
  int64_t retention_epoch_ VIGIL_GUARDED_BY(mu_) = 0;  // as last seen by Maintain

  metrics::Counter& written_;
  metrics::Counter& duplicates_;
  metrics::Counter& too_old_;
  metrics::Counter& rejected_;
  metrics::Counter& errors_;
  metrics::Gauge& cached_series_;
  metrics::Histogram& append_seconds_;
};

}  // namespace vigil::store::postgres

#include "store/postgres/postgres_store.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "model/json_values.h"
#include "store/aggregate.h"
#include "store/postgres/migrations.h"

namespace vigil::store::postgres {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHourMs = 3'600'000;
// Series per statement when reading raw samples for an aggregate, to bound memory.
constexpr size_t kSeriesPerRead = 100;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }
// The end of the rollup hour holding `ms`: hours are (end - 1 h, end].
int64_t HourEnd(int64_t ms) { return (FloorDiv(ms - 1, kHourMs) + 1) * kHourMs; }

}  // namespace

PostgresStore::PostgresStore(Clock& clock, PostgresOptions options)
    : clock_(clock),
      options_(std::move(options)),
      pool_(Pool::Options{.url = options_.url,
                          .size = options_.pool_size,
                          .statement_timeout = options_.statement_timeout}),
      written_(options_.registry
                   ->AddCounter("vigil_postgres_samples_written_total",
                                "Samples committed to PostgreSQL.")
                   .WithLabels({})),
      duplicates_(options_.registry
                      ->AddCounter("vigil_postgres_samples_dropped_total",
                                   "Samples the PostgreSQL store dropped: duplicate (series and "
                                   "timestamp already stored), too_old (older than the "
                                   "retention), rejected (labels PostgreSQL refuses, or a "
                                   "time a timestamptz cannot hold).",
                                   {"reason"})
                      .WithLabels({"duplicate"})),
      too_old_(options_.registry->AddCounter("vigil_postgres_samples_dropped_total", "", {"reason"})
                   .WithLabels({"too_old"})),
      rejected_(
          options_.registry->AddCounter("vigil_postgres_samples_dropped_total", "", {"reason"})
              .WithLabels({"rejected"})),
      errors_(options_.registry
                  ->AddCounter("vigil_postgres_append_errors_total",
                               "Appends that failed (the batch was not acknowledged and will be "
                               "delivered again).")
                  .WithLabels({})),
      cached_series_(options_.registry
                         ->AddGauge("vigil_postgres_cached_series",
                                    "Series ids the PostgreSQL store holds in memory.")
                         .WithLabels({})),
      append_seconds_(options_.registry
                          ->AddHistogram("vigil_postgres_append_duration_seconds",
                                         "Time to commit one batch to PostgreSQL.", {})
                          .WithLabels({})) {}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(Clock& clock, PostgresOptions options) {
  if (options.partition_days < 1) return InvalidArgumentError("partition_days must be >= 1");
  std::unique_ptr<PostgresStore> store(new PostgresStore(clock, std::move(options)));
  if (!store->options_.migrate) {
    VIGIL_RETURN_IF_ERROR(CheckSchema(store->pool_));
    return store;
  }
  VIGIL_RETURN_IF_ERROR(Migrate(store->pool_).status());
  VIGIL_RETURN_IF_ERROR(store->MaintainNow());
  return store;
}

Status PostgresStore::EnsurePartition(Pool::Lease& conn, int64_t ms) {
  const int64_t width = kDayMs * options_.partition_days;
  const int64_t index = FloorDiv(ms, width);
  {
    MutexLock lock(mu_);
    if (partitions_.count(index) > 0) return OkStatus();
  }
  VIGIL_RETURN_IF_ERROR(
      conn.Exec("SELECT vigil_ensure_partition($1, $2)",
                {Param::Timestamp(index * width), Param::Timestamp((index + 1) * width)})
          .status());
  MutexLock lock(mu_);
  partitions_.insert(index);
  return OkStatus();
}

Result<int64_t> PostgresStore::SeriesId(Pool::Lease& conn, const model::Labels& labels) {
  {
    MutexLock lock(mu_);
    auto it = series_ids_.find(labels);
    if (it != series_ids_.end()) return it->second;
  }
  const std::vector<Param> params = {Param::Text(std::string(labels.MetricName())),
                                     Param::Text(model::LabelsJsonText(labels))};
  // A row another datamanager inserted after this statement's snapshot is skipped by ON
  // CONFLICT and not seen by the SELECT: the second try sees it.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<PgResult> rows = conn.Exec(
        "WITH inserted AS (INSERT INTO series (metric, labels) VALUES ($1, $2::jsonb) "
        "ON CONFLICT (labels) DO NOTHING RETURNING id) "
        "SELECT id FROM inserted UNION ALL SELECT id FROM series WHERE labels = $2::jsonb "
        "LIMIT 1",
        params);
    if (!rows.ok()) return rows.status();
    if (PQntuples(rows->get()) == 0) continue;
    const int64_t id = std::atoll(PQgetvalue(rows->get(), 0, 0));
    MutexLock lock(mu_);
    if (series_ids_.size() >= options_.series_cache_size) series_ids_.clear();
    series_ids_.emplace(labels, id);
    cached_series_.Set(static_cast<double>(series_ids_.size()));
    return id;
  }
  return UnavailableError("postgres: series " + labels.ToString() + " was not found after insert");
}

Status PostgresStore::AppendAll(const model::Batch& batch) {
  const int64_t oldest =
      options_.retention_ms > 0 ? clock_.NowMillis() - options_.retention_ms : INT64_MIN;
  uint64_t refused = 0;
  const model::Series* first = nullptr;
  int64_t first_ms = 0;
  for (const model::Series& series : batch.series) {
    for (const model::Sample& s : series.samples) {
      if (TimestampFits(s.timestamp_ms) && s.timestamp_ms >= oldest) continue;
      if (refused++ == 0) first = &series, first_ms = s.timestamp_ms;
    }
  }
  if (refused > 0) {
    return RefusedSamplesError(first->labels, first_ms, refused,
                               "is older than storage.retention or outside the timestamps "
                               "PostgreSQL holds (out of bounds)");
  }
  return AppendBatch(batch, /*all_or_nothing=*/true);
}

Status PostgresStore::Append(const model::Batch& batch) {
  return AppendBatch(batch, /*all_or_nothing=*/false);
}

Status PostgresStore::AppendBatch(const model::Batch& batch, bool all_or_nothing) {
  const auto started = std::chrono::steady_clock::now();
  const int64_t now = clock_.NowMillis();
  const int64_t oldest = options_.retention_ms > 0 ? now - options_.retention_ms : INT64_MIN;
  VIGIL_ASSIGN_OR_RETURN(Pool::Lease conn, pool_.Acquire());
  std::string data = CopyHeader();
  std::vector<Row> rows;
  rows.reserve(batch.SampleCount());
  int64_t last_partition_ms = INT64_MIN;
  const int64_t width = kDayMs * options_.partition_days;
  for (const model::Series& series : batch.series) {
    size_t kept = 0;
    size_t unrepresentable = 0;
    for (const model::Sample& s : series.samples) {
      if (!TimestampFits(s.timestamp_ms)) {
        ++unrepresentable;
      } else if (s.timestamp_ms >= oldest) {
        ++kept;
      }
    }
    rejected_.Inc(static_cast<double>(unrepresentable));
    too_old_.Inc(static_cast<double>(series.samples.size() - kept - unrepresentable));
    if (kept == 0) continue;
    Result<int64_t> id = SeriesId(conn, series.labels);
    if (!id.ok()) {
      if (id.status().code() != StatusCode::kInvalidArgument) {
        errors_.Inc();
        return id.status();
      }
      if (all_or_nothing) {
        return RefusedSamplesError(series.labels, series.samples.front().timestamp_ms, kept,
                                   "cannot be stored: " + id.status().message());
      }
      spdlog::warn("postgres: series {} rejected: {}", series.labels.ToString(),
                   id.status().message());
      rejected_.Inc(static_cast<double>(kept));
      continue;
    }
    for (const model::Sample& s : series.samples) {
      if (s.timestamp_ms < oldest || !TimestampFits(s.timestamp_ms)) continue;
      if (FloorDiv(s.timestamp_ms, width) != FloorDiv(last_partition_ms, width)) {
        if (Status made = EnsurePartition(conn, s.timestamp_ms); !made.ok()) {
          errors_.Inc();
          return made;
        }
        last_partition_ms = s.timestamp_ms;
      }
      AppendCopyRow(data, *id, s.timestamp_ms, s.value);
      rows.emplace_back(*id, s);
    }
  }
  if (rows.empty()) return OkStatus();
  AppendCopyTrailer(data);
  const auto total = static_cast<int64_t>(rows.size());
  Result<int64_t> written = Insert(conn, data, std::move(rows));
  if (!written.ok()) {
    errors_.Inc();
    return written.status();
  }
  duplicates_.Inc(static_cast<double>(total - *written));
  written_.Inc(static_cast<double>(*written));
  append_seconds_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return OkStatus();
}

Result<int64_t> PostgresStore::Insert(Pool::Lease& conn, std::string_view copy_data,
                                      std::vector<Row> rows) {
  VIGIL_RETURN_IF_ERROR(conn.Exec("BEGIN").status());
  Result<int64_t> copied =
      conn.CopyIn("COPY samples (series_id, t, value) FROM STDIN (FORMAT binary)", copy_data);
  if (copied.ok()) {
    VIGIL_RETURN_IF_ERROR(AddToRollup(conn, rows));
    VIGIL_RETURN_IF_ERROR(conn.Exec("COMMIT").status());
    return *copied;
  }
  if (copied.status().code() != StatusCode::kAlreadyExists) return copied.status();
  // Some sample is stored already (a redelivered batch) or twice in the batch: start over
  // through a staging table, keeping the first of each and adding only the new rows to the
  // rollup.
  VIGIL_RETURN_IF_ERROR(conn.Exec("ROLLBACK").status());
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.first != b.first ? a.first < b.first : a.second.timestamp_ms < b.second.timestamp_ms;
  });
  rows.erase(std::unique(rows.begin(), rows.end(),
                         [](const Row& a, const Row& b) {
                           return a.first == b.first &&
                                  a.second.timestamp_ms == b.second.timestamp_ms;
                         }),
             rows.end());
  std::string data = CopyHeader();
  for (const auto& [id, sample] : rows) AppendCopyRow(data, id, sample.timestamp_ms, sample.value);
  AppendCopyTrailer(data);
  VIGIL_RETURN_IF_ERROR(conn.Exec("BEGIN").status());
  VIGIL_RETURN_IF_ERROR(conn.Exec("CREATE TEMP TABLE IF NOT EXISTS vigil_staging "
                                  "(series_id bigint, t timestamptz, value double precision) "
                                  "ON COMMIT DELETE ROWS")
                            .status());
  VIGIL_RETURN_IF_ERROR(
      conn.CopyIn("COPY vigil_staging (series_id, t, value) FROM STDIN (FORMAT binary)", data)
          .status());
  VIGIL_ASSIGN_OR_RETURN(
      PgResult inserted,
      conn.Exec("INSERT INTO samples (series_id, t, value) SELECT series_id, t, value FROM "
                "vigil_staging ON CONFLICT DO NOTHING RETURNING series_id, t, value",
                {}, /*binary_result=*/true));
  std::vector<Row> new_rows;
  for (int i = 0; i < PQntuples(inserted.get()); ++i) {
    new_rows.push_back({ReadInt8(PQgetvalue(inserted.get(), i, 0)),
                        {ReadTimestampMs(PQgetvalue(inserted.get(), i, 1)),
                         ReadFloat8(PQgetvalue(inserted.get(), i, 2))}});
  }
  VIGIL_RETURN_IF_ERROR(AddToRollup(conn, new_rows));
  VIGIL_RETURN_IF_ERROR(conn.Exec("COMMIT").status());
  return static_cast<int64_t>(new_rows.size());
}

Status PostgresStore::AddToRollup(Pool::Lease& conn, const std::vector<Row>& rows) {
  struct Hour {
    std::optional<double> min, max;  // over the values that are not NaN
    int64_t count = 0;
  };
  // Ordered by (series, hour), so that datamanagers updating the same hours lock them in
  // the same order.
  std::map<std::pair<int64_t, int64_t>, Hour> hours;
  for (const auto& [id, sample] : rows) {
    Hour& h = hours[{id, HourEnd(sample.timestamp_ms)}];
    ++h.count;
    if (std::isnan(sample.value)) continue;
    if (!h.min || sample.value < *h.min) h.min = sample.value;
    if (!h.max || sample.value > *h.max) h.max = sample.value;
  }
  if (hours.empty()) return OkStatus();
  std::vector<int64_t> ids, ends, counts;
  std::vector<std::optional<double>> mins, maxes;
  for (const auto& [key, h] : hours) {
    ids.push_back(key.first);
    ends.push_back(key.second);
    mins.push_back(h.min);
    maxes.push_back(h.max);
    counts.push_back(h.count);
  }
  // least() and greatest() skip NULLs: an hour of NaNs keeps NULL until it gets a number.
  return conn
      .Exec(
          "INSERT INTO samples_hourly (series_id, hour_end, min_value, max_value, count) "
          "SELECT id, timestamptz 'epoch' + hour_end * interval '1 millisecond', min_value, "
          "max_value, count FROM unnest($1::bigint[], $2::bigint[], $3::float8[], "
          "$4::float8[], $5::bigint[]) AS r(id, hour_end, min_value, max_value, count) "
          "ON CONFLICT (series_id, hour_end) DO UPDATE SET "
          "min_value = least(samples_hourly.min_value, excluded.min_value), "
          "max_value = greatest(samples_hourly.max_value, excluded.max_value), "
          "count = samples_hourly.count + excluded.count",
          {Param::Int8Array(ids), Param::Int8Array(ends), Param::Float8Array(mins),
           Param::Float8Array(maxes), Param::Int8Array(counts)})
      .status();
}

Result<std::vector<PostgresStore::SeriesRow>> PostgresStore::MatchSeries(
    Pool::Lease& conn, const std::vector<model::Matcher>& matchers) {
  nlohmann::json contains = nlohmann::json::object();
  for (const model::Matcher& m : matchers) {
    if (m.type() == model::MatchType::kEqual && !m.value().empty()) contains[m.name()] = m.value();
  }
  Result<PgResult> rows = contains.empty()
                              ? conn.Exec("SELECT id, labels FROM series")
                              : conn.Exec("SELECT id, labels FROM series WHERE labels @> $1::jsonb",
                                          {Param::Text(contains.dump())});
  if (!rows.ok()) return rows.status();
  std::vector<SeriesRow> out;
  for (int i = 0; i < PQntuples(rows->get()); ++i) {
    auto parsed = model::LabelsFromJsonText(PQgetvalue(rows->get(), i, 1));
    if (!parsed.ok()) return DataLossError("postgres: series labels: " + parsed.status().message());
    model::Labels labels = *std::move(parsed);
    if (!model::MatchesAll(matchers, labels)) continue;
    out.push_back({std::atoll(PQgetvalue(rows->get(), i, 0)), std::move(labels)});
  }
  std::sort(out.begin(), out.end(),
            [](const SeriesRow& a, const SeriesRow& b) { return a.labels < b.labels; });
  return out;
}

Result<std::unordered_map<int64_t, std::vector<model::Sample>>> PostgresStore::ReadSamples(
    Pool::Lease& conn, const std::vector<int64_t>& ids, int64_t start_ms, int64_t end_ms,
    int64_t limit) {
  VIGIL_ASSIGN_OR_RETURN(
      PgResult rows, conn.Exec("SELECT series_id, t, value FROM samples WHERE series_id = ANY($1) "
                               "AND t >= $2 AND t <= $3 ORDER BY series_id, t LIMIT $4",
                               {Param::Int8Array(ids), Param::Timestamp(start_ms),
                                Param::Timestamp(end_ms), Param::Int8(limit + 1)},
                               /*binary_result=*/true));
  const int n = PQntuples(rows.get());
  if (n > limit) return TooManyPointsError(options_.max_points);
  std::unordered_map<int64_t, std::vector<model::Sample>> out;
  for (int i = 0; i < n; ++i) {
    const int64_t id = ReadInt8(PQgetvalue(rows.get(), i, 0));
    out[id].push_back(
        {ReadTimestampMs(PQgetvalue(rows.get(), i, 1)), ReadFloat8(PQgetvalue(rows.get(), i, 2))});
  }
  return out;
}

Result<SelectResult> PostgresStore::Select(const std::vector<model::Matcher>& matchers,
                                           int64_t start_ms, int64_t end_ms) {
  VIGIL_ASSIGN_OR_RETURN(Pool::Lease conn, pool_.Acquire());
  VIGIL_ASSIGN_OR_RETURN(std::vector<SeriesRow> series, MatchSeries(conn, matchers));
  SelectResult result;
  if (series.empty() || end_ms < start_ms) return result;
  std::vector<int64_t> ids;
  for (const SeriesRow& s : series) ids.push_back(s.id);
  VIGIL_ASSIGN_OR_RETURN(auto samples,
                         ReadSamples(conn, ids, start_ms, end_ms, options_.max_points));
  for (SeriesRow& s : series) {
    auto it = samples.find(s.id);
    if (it == samples.end()) continue;
    result.series.push_back({std::move(s.labels), std::move(it->second)});
  }
  return result;
}

Result<SelectResult> PostgresStore::Aggregate(const AggregateQuery& query) {
  if (query.step_ms <= 0) return InvalidArgumentError("step must be > 0");
  VIGIL_ASSIGN_OR_RETURN(Pool::Lease conn, pool_.Acquire());
  VIGIL_ASSIGN_OR_RETURN(std::vector<SeriesRow> series, MatchSeries(conn, query.matchers));
  SelectResult result;
  const int64_t steps = StepCount(query);
  if (series.empty() || steps == 0) return result;
  if (steps * static_cast<int64_t>(series.size()) > options_.max_points &&
      steps > options_.max_points) {
    return TooManyPointsError(options_.max_points);
  }
  int64_t points = 0;
  for (size_t first = 0; first < series.size(); first += kSeriesPerRead) {
    const size_t last = std::min(series.size(), first + kSeriesPerRead);
    std::vector<int64_t> ids;
    for (size_t i = first; i < last; ++i) ids.push_back(series[i].id);
    VIGIL_ASSIGN_OR_RETURN(auto per_series, AggregateChunk(conn, ids, query));
    for (size_t i = first; i < last; ++i) {
      auto it = per_series.find(series[i].id);
      if (it == per_series.end() || it->second.empty()) continue;
      points += static_cast<int64_t>(it->second.size());
      if (points > options_.max_points) return TooManyPointsError(options_.max_points);
      result.series.push_back({series[i].labels, std::move(it->second)});
    }
  }
  return result;
}

Result<std::unordered_map<int64_t, std::vector<model::Sample>>> PostgresStore::AggregateChunk(
    Pool::Lease& conn, const std::vector<int64_t>& ids, const AggregateQuery& query) {
  const int64_t window = query.window_ms > 0 ? query.window_ms : query.step_ms;
  const int64_t last_step = query.start_ms + (StepCount(query) - 1) * query.step_ms;
  std::unordered_map<int64_t, std::vector<model::Sample>> per_series;
  const bool in_sql = window == query.step_ms &&
                      (query.function == Aggregation::kMin || query.function == Aggregation::kMax ||
                       query.function == Aggregation::kCount);
  if (!in_sql) {
    VIGIL_ASSIGN_OR_RETURN(
        per_series, ReadSamples(conn, ids, query.start_ms - window + 1, last_step, INT32_MAX));
    for (auto& [id, samples] : per_series) samples = EvaluateSteps(query, samples);
    return per_series;
  }
  // Bins (start + (k-1)·step, start + k·step], reported at their end, as EvaluateSteps.
  // NaN wins min and max only when every value is NaN, as in Prometheus. Bins of whole
  // hours, on hour boundaries, add up the hourly rollup instead of the samples.
  const bool whole_hours = query.step_ms % kHourMs == 0 && FloorMod(query.start_ms, kHourMs) == 0;
  const char* table = whole_hours ? "samples_hourly" : "samples";
  const char* time = whole_hours ? "hour_end" : "t";
  const char* value =
      query.function == Aggregation::kCount
          ? (whole_hours ? "sum(count)::float8" : "count(*)::float8")
      : query.function == Aggregation::kMin
          ? (whole_hours ? "coalesce(min(min_value), 'NaN')"
                         : "coalesce(min(value) FILTER (WHERE value <> 'NaN'), 'NaN')")
          : (whole_hours ? "coalesce(max(max_value), 'NaN')"
                         : "coalesce(max(value) FILTER (WHERE value <> 'NaN'), 'NaN')");
  const std::string step = std::to_string(query.step_ms) + " milliseconds";
  VIGIL_ASSIGN_OR_RETURN(
      PgResult rows,
      conn.Exec(fmt::format("SELECT series_id, date_bin($4::interval, {1} - interval '1 "
                            "microsecond', $5) + $4::interval AS at, {2} FROM {0} WHERE "
                            "series_id = ANY($1) AND {1} > $2 AND {1} <= $3 "
                            "GROUP BY 1, 2 ORDER BY 1, 2",
                            table, time, value),
                {Param::Int8Array(ids), Param::Timestamp(query.start_ms - window),
                 Param::Timestamp(last_step), Param::Text(step),
                 Param::Timestamp(query.start_ms - 2 * query.step_ms)},
                /*binary_result=*/true));
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    per_series[ReadInt8(PQgetvalue(rows.get(), i, 0))].push_back(
        {ReadTimestampMs(PQgetvalue(rows.get(), i, 1)), ReadFloat8(PQgetvalue(rows.get(), i, 2))});
  }
  return per_series;
}

Result<std::vector<model::Labels>> PostgresStore::Series(
    const std::vector<model::Matcher>& matchers) {
  VIGIL_ASSIGN_OR_RETURN(Pool::Lease conn, pool_.Acquire());
  VIGIL_ASSIGN_OR_RETURN(std::vector<SeriesRow> series, MatchSeries(conn, matchers));
  std::vector<model::Labels> out;
  for (SeriesRow& s : series) out.push_back(std::move(s.labels));
  return out;
}

Result<std::vector<std::string>> PostgresStore::LabelNames(
    const std::vector<model::Matcher>& matchers) {
  VIGIL_ASSIGN_OR_RETURN(std::vector<model::Labels> series, Series(matchers));
  std::set<std::string> names;
  for (const model::Labels& labels : series) {
    for (const model::LabelRef& l : labels) names.emplace(l.name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Result<std::vector<std::string>> PostgresStore::LabelValues(
    const std::string& name, const std::vector<model::Matcher>& matchers) {
  VIGIL_ASSIGN_OR_RETURN(std::vector<model::Labels> series, Series(matchers));
  std::set<std::string> values;
  for (const model::Labels& labels : series) {
    std::string_view v = labels.Get(name);
    if (!v.empty()) values.emplace(v);
  }
  return std::vector<std::string>(values.begin(), values.end());
}

Status PostgresStore::Maintain() {
  {
    MutexLock lock(mu_);
    if (clock_.NowMillis() - last_maintenance_ms_ < options_.maintenance_interval_ms)
      return OkStatus();
  }
  return MaintainNow();
}

Status PostgresStore::MaintainNow() {
  const int64_t now = clock_.NowMillis();
  {
    MutexLock lock(mu_);
    last_maintenance_ms_ = now;
  }
  VIGIL_ASSIGN_OR_RETURN(Pool::Lease conn, pool_.Acquire());
  const int64_t width = kDayMs * options_.partition_days;
  for (int i = 0; i <= options_.partitions_ahead; ++i) {
    VIGIL_RETURN_IF_ERROR(EnsurePartition(conn, now + i * width));
  }
  if (options_.retention_ms > 0) {
    VIGIL_ASSIGN_OR_RETURN(PgResult dropped,
                           conn.Exec("SELECT vigil_drop_partitions($1)",
                                     {Param::Timestamp(now - options_.retention_ms)}));
    for (int i = 0; i < PQntuples(dropped.get()); ++i) {
      spdlog::info("postgres: retention dropped partition {}", PQgetvalue(dropped.get(), i, 0));
    }
  }
  // Partitions dropped here or by another datamanager take series with them: when the
  // retention epoch moved, forget the cached series ids and partitions.
  VIGIL_ASSIGN_OR_RETURN(
      PgResult epoch,
      conn.Exec(
          "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM vigil_retention_epoch"));
  const int64_t retention_epoch = std::atoll(PQgetvalue(epoch.get(), 0, 0));
  MutexLock lock(mu_);
  if (retention_epoch != retention_epoch_) {
    series_ids_.clear();
    partitions_.clear();
    cached_series_.Set(0);
    retention_epoch_ = retention_epoch;
  }
  return OkStatus();
}

PostgresStore::Stats PostgresStore::stats() const {
  Stats s;
  s.written = static_cast<uint64_t>(written_.Value());
  s.duplicates = static_cast<uint64_t>(duplicates_.Value());
  s.too_old = static_cast<uint64_t>(too_old_.Value());
  s.rejected = static_cast<uint64_t>(rejected_.Value());
  return s;
}

}  // namespace vigil::store::postgres

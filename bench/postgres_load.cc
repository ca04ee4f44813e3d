// Bench program for the PostgreSQL store (issue #7), against a server on this machine
// (bench/postgres-load starts a throwaway one): ingest of the TSBS-like data set (8.64 M
// samples, bench/tsbs_data.h) through PostgresStore::Append in batches of 10,000, on 1 or
// more threads; the same rows loaded with plain `psql \copy … (FORMAT binary)` into the
// same schema as the baseline; one series raw over the day; the hourly max over 100
// series for the day (the store's Aggregate, and the same query in PromQL through the query
// engine); bytes per sample on disk. Usage:
//   postgres_load postgres://postgres@127.0.0.1:PORT/postgres [--threads N]
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "query/engine.h"
#include "store/postgres/migrations.h"
#include "store/postgres/postgres_store.h"
#include "tsbs_data.h"

namespace vigil::bench {
namespace {

using Steady = std::chrono::steady_clock;
using store::postgres::Param;
using store::postgres::PgResult;
using store::postgres::Pool;

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

void Check(const Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
    std::exit(1);
  }
}

// A clock at the end of the data set, so that nothing is older than the retention.
class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t ms) : ms_(ms) {}
  int64_t NowMillis() const override { return ms_; }

 private:
  int64_t ms_;
};

// Drops and creates `name` on the server of `admin_url`; returns its URL.
std::string FreshDatabase(const std::string& admin_url, const std::string& name) {
  Pool pool({.url = admin_url, .size = 1});
  auto conn = pool.Acquire();
  Check(conn.status(), "connect");
  Check(conn->Exec("DROP DATABASE IF EXISTS " + name).status(), "drop database");
  Check(conn->Exec("CREATE DATABASE " + name).status(), "create database");
  return admin_url.substr(0, admin_url.rfind('/') + 1) + name;
}

std::string Sql(Pool& pool, const std::string& query) {
  auto conn = pool.Acquire();
  Check(conn.status(), "connect");
  auto r = conn->Exec(query);
  Check(r.status(), query.c_str());
  return PQntuples(r->get()) > 0 ? PQgetvalue(r->get(), 0, 0) : "";
}

double BytesPerSample(Pool& pool, const TsbsData& data) {
  const double bytes = std::atof(
      Sql(pool,
          "SELECT sum(pg_total_relation_size(name::regclass)) + pg_total_relation_size('series') "
          "+ pg_total_relation_size('samples_hourly') FROM vigil_partitions")
          .c_str());
  return bytes / static_cast<double>(data.samples());
}

template <typename Fn>
double MedianMs(int runs, Fn&& fn) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = Steady::now();
    fn();
    ms.push_back(Seconds(start) * 1000);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void Run(const std::string& admin_url, int threads) {
  const TsbsData data(TsbsOptions{});
  const int kStepsPerBatch = 10;  // 1,000 series × 10 = 10,000 samples per batch
  FixedClock clock(data.TimeOf(data.steps() - 1) + 3'600'000);
  std::printf("data set: %zu series x %d steps = %lld samples\n", data.series().size(),
              data.steps(), static_cast<long long>(data.samples()));

  // 1. PostgresStore::Append.
  store::postgres::PostgresOptions options;
  options.url = FreshDatabase(admin_url, "vigil_bench_store");
  options.retention_ms = 0;
  options.pool_size = static_cast<size_t>(threads);
  auto opened = store::postgres::PostgresStore::Open(clock, options);
  Check(opened.status(), "open");
  store::postgres::PostgresStore& store = **opened;
  std::vector<model::Batch> batches;
  for (int step = 0; step < data.steps(); step += kStepsPerBatch) {
    batches.push_back(data.Batch(step, kStepsPerBatch));
  }
  std::atomic<size_t> next{0};
  const auto ingest_start = Steady::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < batches.size(); i = next++)
        Check(store.Append(batches[i]), "append");
    });
  }
  for (auto& w : workers) w.join();
  const double ingest_s = Seconds(ingest_start);
  std::printf(
      "store ingest, %d thread(s), batches of 10,000, a commit each: %.2f s = %.0f samples/s\n",
      threads, ingest_s, static_cast<double>(data.samples()) / ingest_s);
  Pool store_pool({.url = options.url, .size = 1});
  const auto vacuum_start = Steady::now();
  Sql(store_pool, "VACUUM ANALYZE samples, samples_hourly");
  std::printf("VACUUM ANALYZE after ingest (autovacuum does it in service): %.2f s\n",
              Seconds(vacuum_start));
  std::printf(
      "store bytes/sample (partitions with their index, the series table and the hourly "
      "rollup): %.1f\n",
      BytesPerSample(store_pool, data));

  // 2. Queries.
  const std::vector<model::Matcher> one = {
      *model::Matcher::Create(model::MatchType::kEqual, "__name__", "cpu_usage_user"),
      *model::Matcher::Create(model::MatchType::kEqual, "hostname", "host_42")};
  size_t points = 0;
  const double raw_ms = MedianMs(21, [&] {
    auto r = store.Select(one, data.TimeOf(0), data.TimeOf(data.steps() - 1));
    Check(r.status(), "select");
    points = r->series.at(0).samples.size();
  });
  std::printf("one series over the day, raw (%zu points): %.2f ms median of 21\n", points, raw_ms);
  store::AggregateQuery q;
  q.matchers = {*model::Matcher::Create(model::MatchType::kEqual, "__name__", "cpu_usage_user")};
  q.start_ms = data.TimeOf(0) + 3'600'000;
  q.end_ms = data.TimeOf(0) + 86'400'000;
  q.step_ms = 3'600'000;
  q.function = store::Aggregation::kMax;
  size_t series = 0;
  const double max_ms = MedianMs(11, [&] {
    auto r = store.Aggregate(q);
    Check(r.status(), "aggregate");
    series = r->series.size();
  });
  std::printf("hourly max over %zu series for the day: %.1f ms median of 11\n", series, max_ms);
  query::Engine engine(store);
  const double promql_ms = MedianMs(11, [&] {
    auto r = engine.Range("max_over_time(cpu_usage_user[1h])", q.start_ms, q.end_ms, q.step_ms);
    Check(r.status(), "query");
  });
  std::printf(
      "the same as max_over_time(cpu_usage_user[1h]), step 1h, through the query "
      "engine: %.1f ms median of 11\n",
      promql_ms);
  q.function = store::Aggregation::kAvg;
  const double avg_ms = MedianMs(5, [&] { Check(store.Aggregate(q).status(), "aggregate"); });
  std::printf("hourly avg (raw samples to vigil) over the same: %.1f ms median of 5\n", avg_ms);

  // 3. The baseline: the same rows, one binary COPY file, loaded by psql into the same schema.
  const std::string file =
      (std::filesystem::temp_directory_path() / "vigil-bench-rows.copy").string();
  {
    std::string out = store::postgres::CopyHeader();
    for (int step = 0; step < data.steps(); ++step) {
      for (size_t s = 0; s < data.series().size(); ++s) {
        store::postgres::AppendCopyRow(out, static_cast<int64_t>(s) + 1, data.TimeOf(step),
                                       data.Value(s, step));
      }
    }
    store::postgres::AppendCopyTrailer(out);
    std::ofstream(file, std::ios::binary) << out;
  }
  const std::string copy_url = FreshDatabase(admin_url, "vigil_bench_copy");
  {
    store::postgres::PostgresOptions copy_options = options;
    copy_options.url = copy_url;
    copy_options.registry = new metrics::Registry();  // the counters stay the store's own
    auto copy_store = store::postgres::PostgresStore::Open(clock, copy_options);
    Check(copy_store.status(), "open copy database");
    // The day's partitions, as the store made them.
    Check((*copy_store)->Append(data.Batch(0, 1)), "first partition");
    Check((*copy_store)->Append(data.Batch(data.steps() - 1, 1)), "last partition");
    Pool pool({.url = copy_url, .size = 1});
    Sql(pool, "TRUNCATE samples");
  }
  const auto copy_start = Steady::now();
  const std::string command = "psql '" + copy_url +
                              "' -qc \"\\copy samples (series_id, t, value) FROM '" + file +
                              "' (FORMAT binary)\"";
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "psql \\copy failed\n");
    std::exit(1);
  }
  const double copy_s = Seconds(copy_start);
  std::printf("psql \\copy (FORMAT binary), one transaction: %.2f s = %.0f samples/s\n", copy_s,
              static_cast<double>(data.samples()) / copy_s);
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace vigil::bench

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s postgres://... [--threads N]\n", argv[0]);
    return 2;
  }
  int threads = 1;
  if (argc >= 4 && std::string(argv[2]) == "--threads") threads = std::atoi(argv[3]);
  vigil::bench::Run(argv[1], std::max(1, threads));
  return 0;
}

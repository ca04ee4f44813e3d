// What only the PostgreSQL store does (the Store contract itself is checked for every
// store in tests/integration/store_conformance_test.cc): migrations, partitions and
// retention, rejections, the connection pool through an outage, and the datamanager
// holding back acks while the database is down. Runs against the server that
// scripts/test-services started; each test makes a database of its own.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>

#include "bus/in_process_bus.h"
#include "bus/topology.h"
#include "model/batch_codec.h"
#include "roles/datamanager.h"
#include "store/postgres/migrations.h"
#include "testing/fake_clock.h"
#include "testing/services.h"
#include "testing/shell.h"

namespace vigil::store::postgres {
namespace {

using model::Batch;
using model::Labels;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kNow = 1'795'312'800'000;  // 2026-11-22T02:00:00Z

Labels Host(const std::string& host) {
  return Labels::Of({{"__name__", "boiler_pressure_out"}, {"host", host}});
}

// What a coordinator does with a batch: publish it to the events exchange.
void PublishSamples(bus::Bus& bus, const Batch& batch) {
  ASSERT_TRUE(
      bus.Publish(std::string(bus::kEventsExchange), "samples.plant",
                  {model::EncodeBatch(batch), std::string(model::kProtobufContentType), "", {}})
          .ok());
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::NewPostgresDatabase();
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
  }

  PostgresOptions Options() {
    PostgresOptions options;
    options.url = url_;
    options.registry = &registry_;
    options.retention_ms = 3 * kDay;
    return options;
  }

  std::unique_ptr<PostgresStore> Open(PostgresOptions options) {
    auto store = PostgresStore::Open(clock_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // One value from psql, the way a user would ask.
  std::string Sql(const std::string& query) {
    testing::ShellResult r = testing::RunShell("psql '" + url_ + "' -qAtc \"" + query + "\"");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
    return r.output;
  }

  std::string url_;
  testing::FakeClock clock_{kNow};
  metrics::Registry registry_;
};

TEST_F(PostgresStoreTest, MigrationsApplyOnceEvenWhenStartedTogether) {
  std::vector<std::thread> threads;
  std::atomic<int> applied{0};
  std::atomic<int> failed{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      Pool pool({.url = url_, .size = 1});
      auto result = Migrate(pool);
      if (!result.ok()) {
        ++failed;
        ADD_FAILURE() << result.status().ToString();
        return;
      }
      applied += static_cast<int>(result->applied.size());
      EXPECT_EQ(result->version, BundledMigrations().back().version);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(applied.load(), static_cast<int>(BundledMigrations().size()));
  EXPECT_EQ(Sql("SELECT count(*) FROM vigil_schema_migrations"),
            std::to_string(BundledMigrations().size()));
  Pool pool({.url = url_, .size = 1});
  auto again = Migrate(pool);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->applied.empty());
}

TEST_F(PostgresStoreTest, ASchemaNewerThanTheBinaryIsRefused) {
  ASSERT_NE(Open(Options()), nullptr);
  Sql("INSERT INTO vigil_schema_migrations (version, name) VALUES (9999, '9999_future.sql')");
  auto store = PostgresStore::Open(clock_, Options());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("9999"), std::string::npos);
}

TEST_F(PostgresStoreTest, PartitionsAheadOnDemandAndDroppedByRetention) {
  PostgresOptions options = Options();
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  // Today and two days ahead exist from the start.
  EXPECT_EQ(Sql("SELECT string_agg(name, ',' ORDER BY name) FROM vigil_partitions"),
            "samples_20261122,samples_20261123,samples_20261124");
  // Two days back: made on demand. Four days back: older than the retention, dropped.
  ASSERT_TRUE(store
                  ->Append({{{Host("a"), {{kNow - 2 * kDay, 1}, {kNow - 4 * kDay, 9}}},
                             {Host("old"), {{kNow - 4 * kDay, 9}}}}})
                  .ok());
  EXPECT_EQ(store->stats().written, 1u);
  EXPECT_EQ(store->stats().too_old, 2u);
  EXPECT_EQ(Sql("SELECT count(*) FROM series"), "1");
  EXPECT_EQ(Sql("SELECT name FROM vigil_partitions ORDER BY name LIMIT 1"), "samples_20261120");
  ASSERT_TRUE(store->Append({{{Host("b"), {{kNow, 2}}}}}).ok());
  EXPECT_EQ(Sql("SELECT count(*) FROM samples_hourly"), "2");
  // Two days later the partition of 2026-11-20 is past the retention: dropped, with the
  // series that had samples only there, and their hours in the rollup.
  clock_.Advance(2 * kDay);
  ASSERT_TRUE(store->MaintainNow().ok());
  EXPECT_EQ(Sql("SELECT name FROM vigil_partitions ORDER BY name LIMIT 1"), "samples_20261122");
  EXPECT_EQ(Sql("SELECT labels->>'host' FROM series"), "b");
  EXPECT_EQ(Sql("SELECT count(*) FROM samples"), "1");
  EXPECT_EQ(Sql("SELECT count(*) FROM samples_hourly"), "1");
  // The cache forgot the dropped series: it comes back with a new id.
  ASSERT_TRUE(store->Append({{{Host("a"), {{kNow + 2 * kDay, 3}}}}}).ok());
  auto a = store->Select({*model::Matcher::Create(model::MatchType::kEqual, "host", "a")}, 0,
                         kNow + 3 * kDay);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->series.size(), 1u);
  EXPECT_EQ(a->series[0].samples, (std::vector<model::Sample>{{kNow + 2 * kDay, 3}}));
}

// The rollup the datamanager keeps, batch by batch and through redeliveries, is the one
// migration 2 computes from the samples in SQL: hours (end - 1 h, end], NaN left out of
// min and max but counted, an hour of NaNs alone with NULL min and max.
TEST_F(PostgresStoreTest, TheHourlyRollupEqualsTheOneComputedFromTheSamples) {
  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  constexpr int64_t kHour = 3'600'000;
  const double nan = std::nan("");
  ASSERT_TRUE(store
                  ->Append({{{Host("a"), {{kNow - kHour, 5}, {kNow - kHour + 1, 7}}},
                             {Host("b"), {{kNow + 10, nan}, {kNow + 20, nan}}}}})
                  .ok());
  // A redelivery with new samples mixed in: only the new ones are added.
  ASSERT_TRUE(store
                  ->Append({{{Host("a"), {{kNow - kHour + 1, 7}, {kNow, -3}, {kNow + 5, 2}}},
                             {Host("b"), {{kNow + 20, nan}, {kNow + 30, 4}}}}})
                  .ok());
  ASSERT_TRUE(store->Append({{{Host("b"), {{kNow + 2 * kHour, nan}}}}}).ok());
  const std::string rollup =
      "SELECT string_agg(concat_ws(' ', s.labels->>'host', h.hour_end AT TIME ZONE 'UTC', "
      "coalesce(h.min_value::text, 'null'), coalesce(h.max_value::text, 'null'), h.count), "
      "', ' ORDER BY s.labels->>'host', h.hour_end) FROM samples_hourly h JOIN series s ON "
      "s.id = h.series_id";
  const std::string kept = Sql(rollup);
  EXPECT_EQ(kept,
            "a 2026-11-22 01:00:00 5 5 1, a 2026-11-22 02:00:00 -3 7 2, "
            "a 2026-11-22 03:00:00 2 2 1, b 2026-11-22 03:00:00 4 4 3, "
            "b 2026-11-22 04:00:00 null null 1");
  Sql("DROP TABLE samples_hourly; DELETE FROM vigil_schema_migrations WHERE version = 2");
  Pool pool({.url = url_, .size = 1});
  auto migrated = Migrate(pool);
  ASSERT_TRUE(migrated.ok()) << migrated.status().ToString();
  EXPECT_EQ(migrated->applied, std::vector<int>{2});
  EXPECT_EQ(Sql(rollup), kept);
}

TEST_F(PostgresStoreTest, LabelsPostgresRefusesAreRejectedAndCountedTheRestIsStored) {
  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  auto nul = Labels::FromPairs({{"__name__", "x"}, {"v", std::string("a\0b", 3)}});
  ASSERT_TRUE(nul.ok());
  ASSERT_TRUE(store
                  ->Append({{{*nul, {{kNow, 1}, {kNow + 1, 2}}},
                             {Host("a"), {{kNow, 1}}},
                             {Host("far"), {{9'100'000'000'000'000, 1}}}}})
                  .ok());
  EXPECT_EQ(store->stats().rejected, 3u);
  EXPECT_EQ(store->stats().written, 1u);
  EXPECT_EQ(Sql("SELECT count(*) FROM vigil_samples WHERE labels->>'host' = 'a'"), "1");
}

TEST_F(PostgresStoreTest, PlainSqlSeesWhatWasAppended) {
  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append({{{Host("a"), {{kNow, 15.25}, {kNow + 1000, 15.5}}}}}).ok());
  EXPECT_EQ(Sql("SELECT max(value) FROM vigil_samples WHERE metric = 'boiler_pressure_out' "
                "AND labels @> '{\\\"host\\\": \\\"a\\\"}' AND t >= '2026-11-22T02:00:00Z'"),
            "15.5");
  EXPECT_EQ(Sql("SELECT count(*) FROM samples_20261122"), "2");
}

TEST_F(PostgresStoreTest, StatementTimeoutIsDeadlineExceeded) {
  Pool pool({.url = url_, .size = 1, .statement_timeout = std::chrono::milliseconds(100)});
  auto conn = pool.Acquire();
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->Exec("SELECT pg_sleep(2)").status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(conn->Exec("SELECT 1").ok());  // the connection stays usable
}

TEST_F(PostgresStoreTest, UnreachableServerIsUnavailableWithBackoffAndNoPassword) {
  Pool pool({.url = "postgres://vigil:secret@127.0.0.1:1/vigil", .size = 2});
  auto first = pool.Acquire();
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(first.status().message().find("secret"), std::string::npos);
  auto second = pool.Acquire();  // within the backoff: no new attempt
  EXPECT_NE(second.status().message().find("next attempt in"), std::string::npos);
}

// Kills the shared server and starts it again (tests of this service run one at a time).
class Outage {
 public:
  Outage() { Run("kill"); }
  ~Outage() { End(); }
  void End() {
    if (!over_) Run("restart");
    over_ = true;
  }

 private:
  static void Run(const std::string& verb) {
    testing::ShellResult r =
        testing::RunShell(std::string(VIGIL_SOURCE_DIR) + "/scripts/test-services " + verb +
                          " postgres " + testing::ServiceDir("postgres"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  bool over_ = false;
};

// The datamanager over the in-process bus: while PostgreSQL is down nothing is acked (the
// batches wait in the queue); once it is back every sample arrives, once.
TEST_F(PostgresStoreTest, DataManagerHoldsBatchesWhileTheDatabaseIsDownAndResumes) {
  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  bus::InProcessBus bus;
  roles::DataManager::Options options;
  options.registry = &registry_;
  options.retry_backoff = std::chrono::milliseconds(50);
  options.max_retry_backoff = std::chrono::milliseconds(400);
  roles::DataManager datamanager(bus, options, {store.get()});
  ASSERT_TRUE(datamanager.Start().ok());
  auto publish = [&](int first, int count) {
    for (int i = first; i < first + count; ++i) {
      Batch batch;
      for (int h = 0; h < 10; ++h) {
        batch.series.push_back({Host("h" + std::to_string(h)), {{kNow + i * 1000, double(i)}}});
      }
      PublishSamples(bus, batch);
    }
  };
  publish(0, 20);
  ASSERT_TRUE(bus.WaitUntilDrained(std::string(bus::kStoreQueue), std::chrono::seconds(10)).ok());
  {
    Outage outage;
    publish(20, 30);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_FALSE(
        bus.WaitUntilDrained(std::string(bus::kStoreQueue), std::chrono::milliseconds(200)).ok())
        << "batches were acked while PostgreSQL was down";
    EXPECT_GT(registry_.AddCounter("vigil_postgres_append_errors_total", "").WithLabels({}).Value(),
              0);
    outage.End();
    ASSERT_TRUE(bus.WaitUntilDrained(std::string(bus::kStoreQueue), std::chrono::seconds(30)).ok());
  }
  datamanager.Stop();
  EXPECT_EQ(Sql("SELECT count(*) FROM samples"), "500");
  EXPECT_EQ(Sql("SELECT count(DISTINCT (series_id, t)) FROM samples"), "500");
}

// Poison: label sets PostgreSQL cannot index (SQLSTATE 54000, "index row size exceeds
// btree maximum") and label sets beyond the label limits, more of them than the prefetch,
// among the batches of a 10 Hz sensor. The sensor's readings keep arriving; the poison is
// counted, not requeued for ever, and nothing waits in the queue at the end.
TEST_F(PostgresStoreTest, PoisonBatchesDoNotHoldUpASensorBesideThem) {
  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  bus::InProcessBus bus;
  roles::DataManager::Options options;
  options.registry = &registry_;
  roles::DataManager datamanager(bus, options, {store.get()});
  ASSERT_TRUE(datamanager.Start().ok());
  auto publish = [&](const Batch& batch) { PublishSamples(bus, batch); };
  // Random letters do not compress: 30 labels of 1,000 bytes is a 30 KB index row.
  std::mt19937 random(7);
  auto unindexable = [&](int i) {
    std::vector<model::Label> pairs = {{"__name__", "poison"}, {"n", std::to_string(i)}};
    for (int l = 0; l < 30; ++l) {
      std::string value(1000, 'a');
      for (char& c : value) c = static_cast<char>('a' + random() % 26);
      pairs.push_back({"l" + std::to_string(l), value});
    }
    return *Labels::FromPairs(pairs);
  };
  int sensor_samples = 0;
  std::thread sensor([&] {
    for (int i = 0; i < 30; ++i) {  // 10 Hz for 3 s
      publish({{{Host("sensor"), {{kNow + i * 100, double(i)}}}}});
      ++sensor_samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  for (int i = 0; i < 80; ++i) {
    Batch poison;
    poison.series.push_back({unindexable(i), {{kNow, 1}}});
    if (i % 10 == 0) {
      // The same batch may hold a good series: it is stored.
      poison.series.push_back({Host("beside" + std::to_string(i)), {{kNow, 2}}});
    }
    publish(poison);
  }
  std::vector<model::Label> wide = {{"__name__", "wide"}};
  for (int l = 0; l < 100; ++l) wide.push_back({"l" + std::to_string(l), "v"});
  publish({{{*Labels::FromPairs(wide), {{kNow, 3}}}}});
  // Readings of the sensor published late are stored within a second, poison or not.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const std::string stored_by_now =
      Sql("SELECT count(*) FROM vigil_samples WHERE labels->>'host' = 'sensor'");
  EXPECT_GE(std::stoi(stored_by_now), 10) << "the sensor's readings stalled behind the poison";
  sensor.join();
  ASSERT_TRUE(bus.WaitUntilDrained(std::string(bus::kStoreQueue), std::chrono::seconds(30)).ok());
  datamanager.Stop();
  EXPECT_EQ(Sql("SELECT count(*) FROM vigil_samples WHERE labels->>'host' = 'sensor'"),
            std::to_string(sensor_samples));
  EXPECT_EQ(Sql("SELECT count(*) FROM vigil_samples WHERE labels->>'host' LIKE 'beside%'"), "8");
  EXPECT_EQ(Sql("SELECT count(*) FROM vigil_samples WHERE metric IN ('poison', 'wide')"), "0");
  EXPECT_EQ(store->stats().rejected, 80u);
  EXPECT_EQ(registry_.AddCounter("vigil_datamanager_samples_refused_total", "", {"reason"})
                .WithLabels({"label_limit"})
                .Value(),
            1);
  EXPECT_EQ(bus.Depth(std::string(bus::kDeadQueue)), 0u);
}

}  // namespace
}  // namespace vigil::store::postgres

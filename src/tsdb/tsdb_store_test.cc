#include "tsdb/tsdb_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/wal.h"
#include "store/memory_store.h"
#include "testing/fake_clock.h"
#include "testing/mem_env.h"
#include "testing/temp_dir.h"
#include "tsdb/chunk/block_chunk.h"
#include "tsdb/wal_record.h"

namespace vigil::tsdb {
namespace {

using model::Batch;
using model::Labels;
using model::Matcher;
using model::MatchType;
using model::Sample;

constexpr int64_t kT0 = 1'700'000'000'000;

Labels Series(int i) {
  return Labels::Of({{"__name__", i % 2 ? "cpu" : "mem"}, {"host", "h" + std::to_string(i)}});
}

Batch One(const Labels& labels, std::vector<Sample> samples) {
  Batch b;
  b.series.push_back({labels, std::move(samples)});
  return b;
}

Matcher M(MatchType type, std::string_view name, std::string_view value) {
  return *Matcher::Create(type, std::string(name), std::string(value));
}

class TsdbStoreTest : public ::testing::Test {
 protected:
  TsdbOptions Options() {
    TsdbOptions o;
    o.dir = dir_.Sub("tsdb");
    o.registry = &registry_;
    o.retention_ms = 0;
    return o;
  }
  std::unique_ptr<TsdbStore> Open(TsdbOptions options) {
    auto store = TsdbStore::Open(Env::Default(), clock_, std::move(options));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *std::move(store) : nullptr;
  }
  std::vector<Sample> All(TsdbStore& store, const Labels& labels) {
    std::vector<Matcher> matchers;
    for (const auto& l : labels) matchers.push_back(M(MatchType::kEqual, l.name, l.value));
    auto r = store.Select(matchers, INT64_MIN / 2, INT64_MAX / 2);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->series.empty()) return {};
    EXPECT_EQ(r->series.size(), 1u);
    return r->series[0].samples;
  }

  // Runs `append` on a store opened in a child process that then exits without closing
  // it, as a crash would leave the folder (the log holds the heads).
  void AppendAndDie(TsdbOptions options, const std::function<bool(TsdbStore&)>& append) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      testing::FakeClock clock(clock_.NowMillis());
      metrics::Registry registry;
      options.registry = &registry;
      auto store = TsdbStore::Open(Env::Default(), clock, options);
      ::_exit(store.ok() && append(**store) ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  // Runs append(store, clock, k) for k = 0, 1, … in a child process that reports each k
  // acknowledged through a pipe. Once it has acknowledged batch `wait_for`, and `delay_us`
  // later, the child is killed with SIGKILL; returns the last k it acknowledged (-1 on a
  // failure, reported).
  using AppendFn = std::function<bool(TsdbStore&, testing::FakeClock&, int32_t k)>;
  int32_t AppendUntilKilled(TsdbOptions options, const AppendFn& append, int32_t wait_for,
                            useconds_t delay_us) {
    int fds[2];
    if (::pipe(fds) != 0) return ADD_FAILURE() << "pipe", -1;
    const pid_t child = ::fork();
    if (child < 0) return ADD_FAILURE() << "fork", -1;
    if (child == 0) {
      ::close(fds[0]);
      testing::FakeClock clock(kT0);
      metrics::Registry registry;
      options.registry = &registry;
      auto store = TsdbStore::Open(Env::Default(), clock, options);
      if (!store.ok()) ::_exit(3);
      for (int32_t k = 0;; ++k) {
        if (!append(**store, clock, k)) ::_exit(4);
        if (::write(fds[1], &k, sizeof(k)) != sizeof(k)) ::_exit(5);
      }
    }
    ::close(fds[1]);
    int32_t acked = -1;
    do {
      if (::read(fds[0], &acked, sizeof(acked)) != sizeof(acked)) {
        ::close(fds[0]);
        return ADD_FAILURE() << "the child stopped before batch " << wait_for, -1;
      }
    } while (acked < wait_for);
    ::usleep(delay_us);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFSIGNALED(status)) ADD_FAILURE() << "child exited early with " << WEXITSTATUS(status);
    for (int32_t k; ::read(fds[0], &k, sizeof(k)) == sizeof(k);) acked = k;
    ::close(fds[0]);
    return acked;
  }

  testing::TempDir dir_;
  testing::FakeClock clock_{kT0};
  metrics::Registry registry_;
};

TEST_F(TsdbStoreTest, AppendedSamplesAreReadBackAcrossChunksAndRestarts) {
  std::vector<Sample> want;
  for (int i = 0; i < 1000; ++i) want.push_back({kT0 + i * 10'000LL, i * 0.5});
  {
    auto store = Open(Options());
    for (size_t i = 0; i < want.size(); i += 100) {
      ASSERT_TRUE(store->Append(One(Series(1), {want.begin() + i, want.begin() + i + 100})).ok());
    }
    EXPECT_EQ(All(*store, Series(1)), want);
    EXPECT_GT(store->stats().head_chunks, 1u);  // 120-sample chunks and 2 h boundaries
  }
  auto store = Open(Options());  // a clean close persisted everything: no log to replay
  EXPECT_EQ(All(*store, Series(1)), want);
  EXPECT_EQ(store->stats().replayed_records, 0u);
  ASSERT_TRUE(store->PersistAll().ok());
  store.reset();
  store = Open(Options());
  EXPECT_EQ(store->stats().replayed_records, 0u);  // everything was in SQLite
  EXPECT_EQ(All(*store, Series(1)), want);
}

// Reads large enough for two threads (the second called after a first run of 32,768
// samples), several at once: every series whole, whatever thread read it.
TEST_F(TsdbStoreTest, LargeReadsOnTwoThreadsAndConnectionsReturnEverySample) {
  std::vector<std::vector<Sample>> want(40);
  {
    auto store = Open(Options());
    for (int s = 0; s < 40; ++s) {
      for (int i = 0; i < 2'000; ++i) want[s].push_back({kT0 + i * 10'000LL, s * 1000.0 + i});
      ASSERT_TRUE(store->Append(One(Series(s + 1), want[s])).ok());
    }
    ASSERT_TRUE(store->PersistAll().ok());
  }
  auto store = Open(Options());
  auto check = [&] {
    auto all = store->Select({}, kT0, kT0 + 2'000 * 10'000LL);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    ASSERT_EQ(all->series.size(), 40u);
    for (const store::SeriesSamples& s : all->series) {
      int index = -1;
      for (int k = 0; k < 40; ++k) {
        if (s.labels == Series(k + 1)) index = k;
      }
      ASSERT_GE(index, 0) << s.labels.ToString();
      EXPECT_EQ(s.samples, want[index]) << s.labels.ToString();
    }
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) readers.emplace_back([&] { check(); });
  for (std::thread& t : readers) t.join();
}

// ForEachSeries hands series over in label order, whatever order they were made in and
// whichever of the two reading threads decoded them (transforms of uneven length).
TEST_F(TsdbStoreTest, SeriesAreHandedOverInLabelOrder) {
  constexpr int kSeries = 200;
  {
    auto store = Open(Options());
    model::Batch batch;
    for (int s = 0; s < kSeries; ++s) {  // made against label order: n199 first
      model::Series series{
          Labels::Of({{"__name__", "m"}, {"n", "n" + std::to_string(kSeries - 1 - s)}}), {}};
      // 1,000 samples a series: a run's 32,768 call the second reading thread.
      for (int i = 0; i < 1'000; ++i) series.samples.push_back({kT0 + i * 10'000LL, 1.0 * i});
      batch.series.push_back(std::move(series));
    }
    ASSERT_TRUE(store->Append(batch).ok());
    ASSERT_TRUE(store->PersistAll().ok());
  }
  auto store = Open(Options());
  std::vector<Labels> order;
  std::vector<std::string> warnings;
  Status read = store->ForEachSeries(
      {M(MatchType::kEqual, "__name__", "m")}, kT0, kT0 + 1'000 * 10'000LL, nullptr, &warnings,
      [](const Labels& labels, std::vector<Sample>& samples) -> Status {
        const size_t n = std::hash<std::string>()(labels.ToString());
        if (n % 5 == 0) samples.clear();  // left out
        if (n % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(n % 500));
        return OkStatus();
      },
      [&](const Labels& labels, std::vector<Sample>&) -> Status {
        order.push_back(labels);
        return OkStatus();
      });
  ASSERT_TRUE(read.ok()) << read.ToString();
  EXPECT_GT(order.size(), size_t{kSeries / 2});
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST_F(TsdbStoreTest, RedeliveredBatchesChangeNothing) {
  auto store = Open(Options());
  Batch batch = One(Series(1), {{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}});
  ASSERT_TRUE(store->Append(batch).ok());
  ASSERT_TRUE(store->Append(One(Series(1), {{kT0 + 3000, 4}})).ok());
  ASSERT_TRUE(store->PersistAll().ok());  // the first samples now only in SQLite
  Batch changed = batch;
  changed.series[0].samples[1].value = 99;  // same timestamp, other value: still a duplicate
  ASSERT_TRUE(store->Append(changed).ok());
  ASSERT_TRUE(store->Append(batch).ok());
  EXPECT_EQ(All(*store, Series(1)),
            (std::vector<Sample>{{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}, {kT0 + 3000, 4}}));
  EXPECT_EQ(store->stats().duplicates, 6u);
  // Reopened, the store knows what SQLite holds without the log.
  ASSERT_TRUE(store->PersistAll().ok());
  store.reset();
  store = Open(Options());
  ASSERT_TRUE(store->Append(changed).ok());
  EXPECT_EQ(All(*store, Series(1)),
            (std::vector<Sample>{{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}, {kT0 + 3000, 4}}));
  EXPECT_EQ(store->stats().duplicates, 3u);
}

TEST_F(TsdbStoreTest, OutOfOrderWithinTheWindowIsKeptOlderIsRejected) {
  TsdbOptions options = Options();
  options.out_of_order_window_ms = 60'000;
  auto store = Open(options);
  ASSERT_TRUE(store->Append(One(Series(2), {{kT0 + 100'000, 1}})).ok());
  ASSERT_TRUE(store->Append(One(Series(2), {{kT0 + 50'000, 2}, {kT0 + 30'000, 3}})).ok());
  EXPECT_EQ(All(*store, Series(2)), (std::vector<Sample>{{kT0 + 50'000, 2}, {kT0 + 100'000, 1}}));
  EXPECT_EQ(store->stats().too_old, 1u);
  store.reset();
  store = Open(options);
  EXPECT_EQ(All(*store, Series(2)), (std::vector<Sample>{{kT0 + 50'000, 2}, {kT0 + 100'000, 1}}));

  // For writers that can be told: all or nothing, and the error names the first sample.
  Batch mixed = One(Series(2), {{kT0 + 110'000, 5}, {kT0 + 20'000, 6}});
  mixed.series.push_back({Series(3), {{kT0, 7}}});  // a new series, forgotten again
  Status refused = store->AppendAll(mixed);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("1 sample(s) refused, nothing stored"), std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find("@" + std::to_string(kT0 + 20'000)), std::string::npos);
  EXPECT_EQ(All(*store, Series(2)), (std::vector<Sample>{{kT0 + 50'000, 2}, {kT0 + 100'000, 1}}));
  EXPECT_TRUE(All(*store, Series(3)).empty());
  auto hosts = store->LabelValues("host", {});
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(*hosts, (std::vector<std::string>{"h2"}));
  ASSERT_TRUE(store->AppendAll(One(Series(2), {{kT0 + 110'000, 5}, {kT0 + 60'000, 6}})).ok());
  EXPECT_EQ(All(*store, Series(2)).size(), 4u);
}

TEST_F(TsdbStoreTest, MatchersLabelsAndValues) {
  auto store = Open(Options());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store->Append(One(Series(i), {{kT0, 1.0 * i}})).ok());
  auto cpu = store->Series({M(MatchType::kEqual, "__name__", "cpu")});
  ASSERT_TRUE(cpu.ok());
  EXPECT_EQ(cpu->size(), 3u);
  auto hosts = store->LabelValues("host", {M(MatchType::kRegexMatch, "host", "h[0-2]")});
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(*hosts, (std::vector<std::string>{"h0", "h1", "h2"}));
  auto names = store->LabelNames({});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"__name__", "host"}));
  auto r = store->Select({M(MatchType::kNotEqual, "__name__", "cpu")}, kT0, kT0);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->series.size(), 3u);
  EXPECT_EQ(r->series[0].labels, Series(0));
}

TEST_F(TsdbStoreTest, PointLimitIsAClearError) {
  TsdbOptions options = Options();
  options.max_points = 10;
  auto store = Open(options);
  std::vector<Sample> samples;
  for (int i = 0; i < 11; ++i) samples.push_back({kT0 + i, 1});
  ASSERT_TRUE(store->Append(One(Series(1), samples)).ok());
  auto r = store->Select({}, kT0, kT0 + 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(store->Select({}, kT0, kT0 + 5).ok());
}

TEST_F(TsdbStoreTest, AggregatesPerStep) {
  auto store = Open(Options());
  std::vector<Sample> samples;
  for (int i = 0; i < 360; ++i) samples.push_back({kT0 + i * 10'000LL, static_cast<double>(i)});
  ASSERT_TRUE(store->Append(One(Series(1), samples)).ok());
  ASSERT_TRUE(store->PersistAll().ok());
  store::AggregateQuery q;
  q.start_ms = kT0 + 600'000;
  q.end_ms = kT0 + 3'000'000;
  q.step_ms = 600'000;
  q.function = store::Aggregation::kMax;
  auto r = store->Aggregate(q);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->series.size(), 1u);
  ASSERT_EQ(r->series[0].samples.size(), 5u);
  EXPECT_EQ(r->series[0].samples[0], (Sample{kT0 + 600'000, 60}));
  EXPECT_EQ(r->series[0].samples[4], (Sample{kT0 + 3'000'000, 300}));
  q.function = store::Aggregation::kRate;
  r = store->Aggregate(q);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->series[0].samples[2].value, 0.1);  // one per 10 s
}

// Reads go through the chunk cache (chunk_cache.h): a second read finds the rows there,
// and what a later write changes — a late sample persisted into a block read before,
// its compaction, retention — is read as the database has it, never as cached.
TEST_F(TsdbStoreTest, ReadsSeeEveryWriteThroughTheChunkCache) {
  TsdbOptions options = Options();
  options.retention_ms = 30 * 3'600'000LL;
  auto store = Open(options);
  clock_.Set(kT0 + 10 * 3'600'000LL);
  std::vector<Sample> samples;  // 10 hours: five 2-hour blocks
  for (int i = 0; i < 1200; ++i) samples.push_back({kT0 + i * 30'000LL, static_cast<double>(i)});
  ASSERT_TRUE(store->Append(One(Series(1), samples)).ok());
  ASSERT_TRUE(store->PersistAll().ok());
  auto& hits = registry_.AddCounter("vigil_tsdb_chunk_cache_hits_total", "").WithLabels({});
  EXPECT_EQ(All(*store, Series(1)), samples);
  const double hits_before = hits.Value();
  EXPECT_EQ(All(*store, Series(1)), samples);
  EXPECT_GE(hits.Value() - hits_before, 4.0);  // the second read found the blocks kept

  // A late sample in the first block, persisted as a row of its own, then compacted.
  const Sample late{kT0 + 15'000, -1};
  ASSERT_TRUE(store->Append(One(Series(1), {late})).ok());
  ASSERT_TRUE(store->PersistAll().ok());
  samples.insert(samples.begin() + 1, late);
  EXPECT_EQ(All(*store, Series(1)), samples);
  ASSERT_TRUE(store->PersistAll().ok());
  EXPECT_EQ(All(*store, Series(1)), samples);

  // Retention takes the first blocks: gone from the reads too (a read from the data's
  // start, so that it looks for those blocks).
  auto from_start = [&] {
    auto r = store->Select({}, kT0, kT0 + 10 * 3'600'000LL);
    EXPECT_TRUE(r.ok() && r->series.size() == 1);
    return r.ok() && r->series.size() == 1 ? r->series[0].samples : std::vector<Sample>{};
  };
  EXPECT_EQ(from_start(), samples);
  clock_.Set(kT0 + 34 * 3'600'000LL + 1);
  ASSERT_TRUE(store->Maintain().ok());
  const std::vector<Sample> after_retention = from_start();
  ASSERT_FALSE(after_retention.empty());
  EXPECT_LT(after_retention.size(), samples.size());
  EXPECT_GT(after_retention.front().timestamp_ms, kT0 + 2 * 3'600'000LL);
}

// A read points at the chunk cache's rows instead of copying them: a write that drops
// them from the cache while the read still has them to decode must leave them alive
// (AddressSanitizer reports the use after free otherwise).
TEST_F(TsdbStoreTest, AReadKeepsTheCachedRowsItPointsAtWhenAWriteDropsThem) {
  auto store = Open(Options());
  clock_.Set(kT0 + 10 * 3'600'000LL);
  std::vector<Sample> samples;  // 10 hours: five 2-hour blocks
  for (int i = 0; i < 1200; ++i) samples.push_back({kT0 + i * 30'000LL, static_cast<double>(i)});
  for (int s = 1; s <= 3; ++s) ASSERT_TRUE(store->Append(One(Series(s), samples)).ok());
  ASSERT_TRUE(store->PersistAll().ok());
  for (int s = 1; s <= 3; ++s) ASSERT_EQ(All(*store, Series(s)), samples);  // now kept
  bool wrote = false;
  std::vector<std::vector<Sample>> read;
  std::vector<std::string> warnings;
  Status status = store->ForEachSeries(
      {}, kT0, kT0 + 10 * 3'600'000LL, nullptr, &warnings,
      [&](const Labels&, std::vector<Sample>&) -> Status {
        // The first series' turn: every series' rows were read, the others' not decoded.
        if (std::exchange(wrote, true)) return OkStatus();
        for (int s = 1; s <= 3; ++s) {
          for (int64_t block = 0; block < 5; ++block) {
            const Sample late{kT0 + 15'000 + block * 7'200'000, -1};
            EXPECT_TRUE(store->Append(One(Series(s), {late})).ok());
          }
        }
        EXPECT_TRUE(store->PersistAll().ok());  // rewrites their rows: dropped from the cache
        return OkStatus();
      },
      [&](const Labels&, std::vector<Sample>& got) -> Status {
        read.push_back(got);
        return OkStatus();
      });
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[1], samples);  // as read before the write
  EXPECT_EQ(read[2], samples);
  for (int s = 1; s <= 3; ++s) EXPECT_EQ(All(*store, Series(s)).size(), samples.size() + 5);
}

TEST_F(TsdbStoreTest, DamagedChunkRowIsReportedAndTheRestStaysReadable) {
  auto store = Open(Options());
  std::vector<Sample> samples;  // 5 hours: compacted into 3 or 4 rows, one per 2-hour block
  for (int i = 0; i < 600; ++i) samples.push_back({kT0 + i * 30'000LL, static_cast<double>(i)});
  ASSERT_TRUE(store->Append(One(Series(1), samples)).ok());
  ASSERT_TRUE(store->Append(One(Series(2), samples)).ok());
  ASSERT_TRUE(store->PersistAll().ok());
  store.reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.Sub("tsdb/chunks.db").c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE chunks SET data = zeroblob(length(data)) WHERE series_id = 1 AND "
                         "min_t = (SELECT MIN(min_t) FROM chunks WHERE series_id = 1)",
                         nullptr, nullptr, &error),
            SQLITE_OK)
      << error;
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);

  store = Open(Options());
  auto r = store->Select({}, kT0, kT0 + 86'400'000);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->series.size(), 2u);
  std::vector<Sample> rest;  // series 1 lost its first block's row
  std::copy_if(samples.begin(), samples.end(), std::back_inserter(rest),
               [](const Sample& s) { return BlockOf(s.timestamp_ms) != BlockOf(kT0); });
  EXPECT_EQ(r->series[0].samples, rest);
  EXPECT_EQ(r->series[1].samples, samples);  // series 2 untouched
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("checksum mismatch"), std::string::npos);
  EXPECT_EQ(store->stats().corrupt_chunks, 1u);
}

// A database written by a version that keyed chunks by series first (format 1) is
// converted at open and reads back whole, across blocks, gaps and the year 1969.
TEST_F(TsdbStoreTest, AFormatOneDatabaseIsConvertedAtOpen) {
  std::vector<Sample> recent, old;
  for (int i = 0; i < 900; ++i) recent.push_back({kT0 + i * 60'000LL, 1.0 * i});  // 15 h
  for (int i = 0; i < 300; ++i) old.push_back({-7'300'000 + i * 50'000LL, -1.0 * i});
  recent.push_back({kT0 + 40LL * 86'400'000, 42});  // a gap of weeks
  {
    auto store = Open(Options());
    ASSERT_TRUE(store->Append(One(Series(1), recent)).ok());
    ASSERT_TRUE(store->Append(One(Series(2), old)).ok());
    ASSERT_TRUE(store->PersistAll().ok());
  }
  std::filesystem::remove_all(dir_.Sub("tsdb/wal"));  // only the database holds the samples
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.Sub("tsdb/chunks.db").c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE format1(series_id INTEGER NOT NULL, min_t INTEGER NOT NULL, "
                         "max_t INTEGER NOT NULL, count INTEGER NOT NULL, encoding INTEGER NOT "
                         "NULL, crc INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(series_id, "
                         "min_t)) WITHOUT ROWID;"
                         "INSERT INTO format1 SELECT series_id, min_t, max_t, count, encoding, "
                         "crc, data FROM chunks;"
                         "DROP TABLE chunks; ALTER TABLE format1 RENAME TO chunks;"
                         "UPDATE meta SET value = '1' WHERE key = 'format';",
                         nullptr, nullptr, &error),
            SQLITE_OK)
      << error;
  sqlite3_close(db);

  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(All(*store, Series(1)), recent);
  EXPECT_EQ(All(*store, Series(2)), old);
  auto r = store->Select({}, kT0 + 3'600'000, kT0 + 3 * 3'600'000);  // one hour's worth
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].samples.size(), 121u);
  store.reset();

  // A format this version does not know is refused, not guessed at.
  ASSERT_EQ(sqlite3_open(dir_.Sub("tsdb/chunks.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'format'", nullptr, nullptr,
                         &error),
            SQLITE_OK);
  sqlite3_close(db);
  auto refused = TsdbStore::Open(Env::Default(), clock_, Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("format 99"), std::string::npos)
      << refused.status().ToString();
}

TEST_F(TsdbStoreTest, DamagedLogSegmentLosesOnlyItsOwnSamples) {
  TsdbOptions options = Options();
  options.wal.segment_bytes = 512;
  options.wal_max_bytes = 1ull << 30;
  options.persist_chunks = 1'000'000;
  AppendAndDie(options, [](TsdbStore& store) {
    for (int i = 0; i < 100; ++i) {
      if (!store.Append(One(Series(1), {{kT0 + i * 1000LL, 1.0 * i}})).ok()) return false;
    }
    return true;
  });
  auto segments = wal::ListSegments(Env::Default(), options.dir + "/wal");
  ASSERT_TRUE(segments.ok());
  ASSERT_GE(segments->size(), 3u);
  {
    const std::string path = wal::SegmentPath(options.dir + "/wal", (*segments)[0]);
    auto contents = Env::Default().ReadFile(path);
    ASSERT_TRUE(contents.ok());
    std::string damaged = *contents;
    damaged[20] ^= 0x01;
    ASSERT_TRUE(Env::Default().DeleteFile(path).ok());
    auto file = Env::Default().NewAppendableFile(path);
    ASSERT_TRUE((*file)->Append(damaged).ok());
    ASSERT_TRUE((*file)->Close().ok());
  }
  auto store = Open(options);
  EXPECT_EQ(store->stats().wal_corrupt_segments, 1);
  std::vector<Sample> got = All(*store, Series(1));
  EXPECT_LT(got.size(), 100u);
  EXPECT_GT(got.size(), 50u);
  EXPECT_EQ(got.back(), (Sample{kT0 + 99'000, 99}));
}

TEST_F(TsdbStoreTest, RetentionByAgeDeletesWholeChunksAndForgottenSeries) {
  TsdbOptions options = Options();
  options.retention_ms = 3'600'000;
  auto store = Open(options);
  std::vector<Sample> old_samples;
  for (int i = 0; i < 240; ++i) old_samples.push_back({kT0 + i * 1000LL, 1});
  ASSERT_TRUE(store->Append(One(Series(1), old_samples)).ok());
  ASSERT_TRUE(store->PersistAll().ok());
  clock_.Advance(2 * 3'600'000);
  ASSERT_TRUE(store->Append(One(Series(2), {{clock_.NowMillis(), 5}})).ok());
  ASSERT_TRUE(store->Maintain().ok());
  EXPECT_EQ(store->stats().retention_deleted_chunks, 1u);  // its block, compacted into one row
  EXPECT_TRUE(All(*store, Series(1)).empty());
  auto series = store->Series({});
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(*series, std::vector<Labels>{Series(2)});
}

TEST_F(TsdbStoreTest, RetentionBySizeKeepsTheNewestAndReusesFreedSpace) {
  TsdbOptions options = Options();
  options.retention_bytes = 300 << 10;
  options.maintenance_interval_ms = 0;
  auto store = Open(options);
  std::mt19937_64 rng(5);
  int64_t t = kT0;
  int64_t disk_when_full = 0;
  for (int round = 0; round < 10; ++round) {
    for (int b = 0; b < 20; ++b) {
      Batch batch;
      for (int s = 0; s < 20; ++s) {
        std::vector<Sample> samples;
        for (int i = 0; i < 30; ++i) {
          samples.push_back({t + i * 1000LL, std::bit_cast<double>(rng() >> 2)});
        }
        batch.series.push_back({Series(s), samples});
      }
      t += 30'000;
      ASSERT_TRUE(store->Append(batch).ok());
    }
    ASSERT_TRUE(store->PersistAll().ok());
    auto used = store->RetainedBytes();
    ASSERT_TRUE(used.ok());
    EXPECT_LE(*used, options.retention_bytes) << "round " << round;
    auto disk = store->DiskBytes();
    ASSERT_TRUE(disk.ok());
    if (round == 4) {
      EXPECT_GT(*used, options.retention_bytes / 2);  // full, retention deleting
      disk_when_full = *disk;
    }
    // Pages freed by retention are reused: the database stops growing.
    if (round > 5) {
      EXPECT_LE(*disk, disk_when_full * 5 / 4) << "round " << round;
    }
  }
  EXPECT_GT(store->stats().retention_deleted_chunks, 0u);
  std::vector<Sample> newest = All(*store, Series(3));
  ASSERT_FALSE(newest.empty());
  EXPECT_EQ(newest.back().timestamp_ms, t - 1000);
}

// Fails the Nth write to the log for every N: each failed Append leaves the store as it
// was, a retry succeeds, and after a restart every acknowledged sample is there once.
TEST_F(TsdbStoreTest, EveryLogWriteFaultKeepsEveryAcknowledgedSample) {
  for (int fault = 1; fault <= 24; ++fault) {
    testing::MemEnv env;  // the log in memory with faults; SQLite on disk
    TsdbOptions options = Options();
    options.dir = dir_.Sub("fault" + std::to_string(fault));
    options.wal.segment_bytes = 256;
    std::vector<Sample> acknowledged;
    {
      auto store = TsdbStore::Open(env, clock_, options);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      env.FailWritesFrom(fault);
      for (int i = 0; i < 12; ++i) {
        const Sample sample{kT0 + i * 1000LL, 1.0 * i};
        if (!(*store)->Append(One(Series(1), {sample})).ok()) {
          env.ClearFaults();
          ASSERT_TRUE((*store)->Append(One(Series(1), {sample})).ok()) << "retry, fault " << fault;
        }
        acknowledged.push_back(sample);
      }
      EXPECT_EQ(All(**store, Series(1)), acknowledged) << "fault " << fault;
    }
    auto store = TsdbStore::Open(env, clock_, options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(All(**store, Series(1)), acknowledged) << "after restart, fault " << fault;
  }
}

// Appends from four threads share log syncs; the log fails now and then meanwhile.
// Each thread retries until its append is acknowledged, and after a restart every
// sample is there once.
TEST_F(TsdbStoreTest, ConcurrentAppendsThroughLogFaultsKeepEveryAcknowledgedSample) {
  testing::MemEnv env;  // the log in memory with faults; SQLite on disk
  TsdbOptions options = Options();
  options.dir = dir_.Sub("concurrent");
  options.wal.segment_bytes = 4096;
  options.max_chunk_samples = 1000;  // every sample stays in the head: only the log has it
  constexpr int kThreads = 4, kSamples = 300;
  std::vector<Sample> expected;
  for (int i = 0; i < kSamples; ++i) expected.push_back({kT0 + i * 1000LL, 1.0 * i});
  {
    auto store = TsdbStore::Open(env, clock_, options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::atomic<int> done{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (const Sample& sample : expected) {
          for (int attempt = 0; !(*store)->Append(One(Series(t), {sample})).ok(); ++attempt) {
            ++failures;
            ASSERT_LT(attempt, 10'000) << "thread " << t << " never got through";
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
        }
        ++done;
      });
    }
    for (int round = 0; done.load() < kThreads && round < 2000; ++round) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      env.FailWritesFrom(1 + round % 4);
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      env.ClearFaults();
    }
    for (auto& thread : threads) thread.join();
    env.ClearFaults();
    EXPECT_GT(failures.load(), 0) << "no fault met an append; the test proves nothing";
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(All(**store, Series(t)), expected) << t;
  }
  auto store = TsdbStore::Open(env, clock_, options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(All(**store, Series(t)), expected) << "after restart, thread " << t;
  }
}

// Closed chunks reach SQLite on the persister thread while appends go on, and the
// log segments they pinned are deleted.
TEST_F(TsdbStoreTest, ThePersisterThreadWritesClosedChunksBesideAppends) {
  TsdbOptions options = Options();
  options.persist_chunks = 8;
  options.wal.segment_bytes = 2048;
  auto store = Open(options);
  std::vector<Sample> want;
  for (int i = 0; i < 2400; ++i) want.push_back({kT0 + i * 1000LL, 1.0 * i});
  for (size_t i = 0; i < want.size(); i += 40) {
    for (int s = 0; s < 4; ++s) {
      ASSERT_TRUE(store->Append(One(Series(s), {want.begin() + i, want.begin() + i + 40})).ok());
    }
  }
  for (int wait = 0; store->stats().persisted_chunks < 60 && wait < 500; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(store->stats().persisted_chunks, 60u);  // 4 series x 20 chunks, some still due
  for (int s = 0; s < 4; ++s) EXPECT_EQ(All(*store, Series(s)), want) << s;
  store.reset();
  store = Open(options);
  for (int s = 0; s < 4; ++s) EXPECT_EQ(All(*store, Series(s)), want) << "after restart " << s;
}

// A new series' labels are logged until the persister has written its row; after that
// a round of samples costs the log a few bytes a series, and a crash replays them by id.
TEST_F(TsdbStoreTest, TheLogNamesASeriesLabelsOnlyUntilItHasARow) {
  TsdbOptions options = Options();
  options.persist_chunks = 64;
  options.wal.segment_bytes = 16 << 10;  // a round of labels is ~40 KB
  constexpr int kSeries = 500;
  auto round = [](int r) {
    Batch batch;
    for (int s = 0; s < kSeries; ++s) {
      Labels labels = Labels::Of({{"__name__", "plant_temperature_celsius"},
                                  {"instance", "sensor-" + std::to_string(s) + ".plant.example"},
                                  {"job", "plant"}});
      batch.series.push_back({labels, {{kT0 + r * 10'000LL, 1.0 * s + r}}});
    }
    return batch;
  };
  uint64_t first_round_bytes = 0, later_round_bytes = 0;
  AppendAndDie(options, [&](TsdbStore& store) {
    const uint64_t before = store.stats().wal_bytes;
    if (!store.Append(round(0)).ok()) return false;
    first_round_bytes = store.stats().wal_bytes - before;
    for (int wait = 0; store.stats().series_without_row > 0 && wait < 500; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (store.stats().series_without_row > 0) return false;
    const uint64_t middle = store.stats().wal_bytes;
    for (int r = 1; r < 10; ++r) {
      if (!store.Append(round(r)).ok()) return false;
    }
    later_round_bytes = (store.stats().wal_bytes - middle) / 9;
    // The child's figures reach the parent through the exit code only: check them here.
    return later_round_bytes * 4 < first_round_bytes && later_round_bytes < kSeries * 24;
  });
  auto store = Open(options);
  for (int s = 0; s < kSeries; s += 37) {
    std::vector<Sample> got = All(*store, round(0).series[s].labels);
    ASSERT_EQ(got.size(), 10u) << s;
    EXPECT_EQ(got.back(), (Sample{kT0 + 90'000, 1.0 * s + 9}));
  }
  EXPECT_EQ(store->stats().series, static_cast<uint64_t>(kSeries));
}

// Past wal_max_bytes, the persister cuts the open chunks that pin old segments (a slice
// of series at a time) and the log shrinks back, with every sample kept.
TEST_F(TsdbStoreTest, AFullLogIsReleasedByCuttingTheChunksThatPinIt) {
  TsdbOptions options = Options();
  options.wal.segment_bytes = 4096;
  options.wal_max_bytes = 32 << 10;
  constexpr int kSeries = 300;
  auto store = Open(options);
  for (int r = 0; r < 60; ++r) {
    Batch batch;
    for (int s = 0; s < kSeries; ++s)
      batch.series.push_back({Series(s), {{kT0 + r * 1000LL, 1.0 * r}}});
    ASSERT_TRUE(store->Append(batch).ok());
  }
  for (int wait = 0; store->stats().wal_bytes > options.wal_max_bytes && wait < 500; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const TsdbStats stats = store->stats();
  EXPECT_LE(stats.wal_bytes, options.wal_max_bytes);
  EXPECT_GE(stats.persisted_chunks, static_cast<uint64_t>(kSeries));  // chunks cut short
  store.reset();
  store = Open(options);
  for (int s = 0; s < kSeries; s += 29) {
    std::vector<Sample> got = All(*store, Series(s));
    ASSERT_EQ(got.size(), 60u) << s;
    EXPECT_EQ(got.back(), (Sample{kT0 + 59'000, 59}));
  }
}

// Series that go quiet do not pin the log until its cap: at the next maintenance the open
// chunks that hold old segments are cut and persisted (a live series' too, as there are
// few), and the segments go.
TEST_F(TsdbStoreTest, QuietSeriesReleaseTheLogAtMaintenance) {
  TsdbOptions options = Options();
  options.wal.segment_bytes = 2048;
  options.maintenance_interval_ms = 60'000;
  auto store = Open(options);
  for (int q = 0; q < 20; ++q) {  // 20 series with a few samples each, then silence
    ASSERT_TRUE(store->Append(One(Series(100 + q), {{clock_.NowMillis(), 1}})).ok());
  }
  // One live series, a sample every 10 s for 33 minutes: a chunk of 120, then an open one.
  for (int i = 0; i < 200; ++i) {
    clock_.Advance(10'000);
    ASSERT_TRUE(store->Append(One(Series(1), {{clock_.NowMillis(), 1.0 * i}})).ok());
  }
  ASSERT_TRUE(store->Maintain().ok());  // it also ran every 6 appends
  for (int wait = 0; store->stats().persisted_chunks < 21 && wait < 500; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  TsdbStats stats = store->stats();
  EXPECT_GE(stats.persisted_chunks, 21u);                     // the quiet ones' and the live one's
  EXPECT_LE(stats.wal_bytes, 2 * options.wal.segment_bytes);  // of ~5 KB written
  store.reset();
  store = Open(options);
  EXPECT_EQ(All(*store, Series(1)).size(), 200u);
  EXPECT_EQ(All(*store, Series(119)).size(), 1u);
}

TEST_F(TsdbStoreTest, SelfMetricsCountAppendsAndDrops) {
  auto store = Open(Options());
  ASSERT_TRUE(store->Append(One(Series(1), {{kT0, 1}, {kT0 + 1, 2}, {kT0 + 1, 3}})).ok());
  ASSERT_TRUE(store->Maintain().ok());
  const std::string text = registry_.RenderText();
  EXPECT_NE(text.find("vigil_tsdb_samples_appended_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find("vigil_tsdb_samples_dropped_total{reason=\"duplicate\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("vigil_tsdb_series 1"), std::string::npos);
  EXPECT_NE(text.find("vigil_tsdb_head_chunks 1"), std::string::npos);
}

// Thousands of random appends (in order, out of order, duplicates, too old), restarts and
// queries, each answer compared with MemoryStore's.
TEST_F(TsdbStoreTest, RandomizedAgainstTheReferenceStore) {
  TsdbOptions options = Options();
  options.out_of_order_window_ms = 30'000;
  options.chunk_range_ms = 60'000;
  options.persist_chunks = 16;
  options.wal.segment_bytes = 8192;
  options.max_chunk_samples = 40;
  // Window queries aligned to a tier read its summaries where they hold a whole block.
  options.tiers = {{.resolution_ms = 10'000}, {.resolution_ms = 60'000}};
  store::MemoryStore reference({.out_of_order_window_ms = 30'000, .max_points = 1 << 30});
  auto store = Open(options);
  std::mt19937_64 rng(20261122);
  std::vector<int64_t> newest(12, kT0);
  std::vector<std::vector<Sample>> sent(12);
  uint64_t compacted = 0;
  auto compare = [&](const std::vector<Matcher>& matchers, int64_t start, int64_t end) {
    auto want = reference.Select(matchers, start, end);
    auto got = store->Select(matchers, start, end);
    ASSERT_TRUE(want.ok() && got.ok()) << got.status().ToString();
    ASSERT_EQ(got->series.size(), want->series.size());
    for (size_t i = 0; i < want->series.size(); ++i) {
      ASSERT_EQ(got->series[i].labels, want->series[i].labels);
      ASSERT_EQ(got->series[i].samples, want->series[i].samples)
          << want->series[i].labels.ToString();
    }
    EXPECT_TRUE(got->warnings.empty());
  };
  // An instant selector's read (store::StepPicks): each pick time still finds the sample
  // it finds among all of them (the last at or before it), and nothing else is made up.
  auto compare_picks = [&](const std::vector<Matcher>& matchers, int64_t start, int64_t end) {
    auto want = reference.Select(matchers, start, end);
    ASSERT_TRUE(want.ok());
    // Mostly up to the read's end, as a selector's; past it now and then (read whole).
    store::StepPicks picks{.first = start + static_cast<int64_t>(rng() % 20'000),
                           .step = 1 + static_cast<int64_t>(rng() % 60'000),
                           .count = static_cast<size_t>(rng() % 200)};
    if (rng() % 8 != 0 && picks.first <= end) {
      picks.count = std::min<size_t>(picks.count, (end - picks.first) / picks.step + 1);
    }
    std::vector<std::string> warnings;
    size_t seen = 0;
    Status read = store->ForEachSeries(
        matchers, start, end, &picks, &warnings, nullptr,
        [&](const model::Labels& labels, std::vector<Sample>& got) -> Status {
          const auto it = std::find_if(want->series.begin(), want->series.end(),
                                       [&](const auto& w) { return w.labels == labels; });
          EXPECT_NE(it, want->series.end()) << labels.ToString();
          if (it == want->series.end()) return OkStatus();
          ++seen;
          const std::vector<Sample>& all = it->samples;
          EXPECT_TRUE(std::includes(
              all.begin(), all.end(), got.begin(), got.end(),
              [](const Sample& a, const Sample& b) { return a.timestamp_ms < b.timestamp_ms; }));
          auto last_at = [](const std::vector<Sample>& samples, int64_t t) {
            auto after =
                std::upper_bound(samples.begin(), samples.end(), t,
                                 [](int64_t t, const Sample& x) { return t < x.timestamp_ms; });
            return after == samples.begin() ? Sample{-1, 0} : *(after - 1);
          };
          for (size_t i = 0; i < picks.count; ++i) {
            EXPECT_EQ(last_at(got, picks.At(i)), last_at(all, picks.At(i)))
                << labels.ToString() << " at " << picks.At(i);
          }
          return OkStatus();
        });
    ASSERT_TRUE(read.ok()) << read.ToString();
    EXPECT_EQ(seen, want->series.size());
  };
  for (int op = 0; op < 4000; ++op) {
    const int kind = static_cast<int>(rng() % 100);
    if (kind < 80) {
      Batch batch;
      const int series_count = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < series_count; ++k) {
        const int s = static_cast<int>(rng() % 12);
        std::vector<Sample> samples;
        const int n = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < n; ++i) {
          const int how = static_cast<int>(rng() % 10);
          int64_t ts;
          if (how < 6 || sent[s].empty()) {
            ts = newest[s] += 1 + static_cast<int64_t>(rng() % 3000);
          } else if (how < 8) {
            ts = newest[s] - static_cast<int64_t>(rng() % 45'000);  // in or out of the window
          } else {
            ts = sent[s][rng() % sent[s].size()].timestamp_ms;  // a redelivery
          }
          // Mostly short decimals (compacted as scaled integers), some values that are
          // not (kept verbatim as exceptions, or the whole block as XOR planes).
          const double value = rng() % 16 == 0 ? 1.0 / static_cast<double>(1 + rng() % 7)
                                               : static_cast<double>(rng() % 1000) / 8;
          samples.push_back({ts, value});
          sent[s].push_back(samples.back());
        }
        batch.series.push_back({Series(s), samples});
      }
      ASSERT_TRUE(reference.Append(batch).ok());
      ASSERT_TRUE(store->Append(batch).ok());
      // The clock follows the data, so the persister thread compacts blocks as they end.
      clock_.Set(std::max(clock_.NowMillis(), *std::max_element(newest.begin(), newest.end())));
    } else if (kind < 95) {
      std::vector<Matcher> matchers;
      if (rng() % 2)
        matchers.push_back(M(MatchType::kEqual, "__name__", rng() % 2 ? "cpu" : "mem"));
      if (rng() % 3 == 0) matchers.push_back(M(MatchType::kRegexMatch, "host", "h1.*"));
      const int64_t start = kT0 + static_cast<int64_t>(rng() % 2'000'000);
      const int64_t end = start + static_cast<int64_t>(rng() % 3'000'000);
      compare(matchers, start, end);
      compare_picks(matchers, start, end);
    } else if (kind < 97) {
      store::AggregateQuery q;
      q.start_ms = kT0 + static_cast<int64_t>(rng() % 1'000'000);
      q.end_ms = q.start_ms + 2'000'000;
      q.step_ms = 1 + static_cast<int64_t>(rng() % 200'000);
      q.window_ms = static_cast<int64_t>(rng() % 300'000);
      if (rng() % 2) {  // aligned to a tier: answered from its summaries
        const int64_t r = rng() % 2 ? 10'000 : 60'000;
        q.start_ms -= q.start_ms % r;
        q.step_ms = r * (1 + static_cast<int64_t>(rng() % 5));
        q.window_ms = r * static_cast<int64_t>(rng() % 6);
      }
      q.function = static_cast<store::Aggregation>(rng() % 9);
      auto want = reference.Aggregate(q);
      auto got = store->Aggregate(q);
      ASSERT_TRUE(want.ok() && got.ok());
      ASSERT_EQ(got->series.size(), want->series.size());
      for (size_t i = 0; i < want->series.size(); ++i) {
        const auto& w = want->series[i].samples;
        const auto& g = got->series[i].samples;
        ASSERT_EQ(g.size(), w.size());
        for (size_t j = 0; j < w.size(); ++j) {
          ASSERT_EQ(g[j].timestamp_ms, w[j].timestamp_ms);
          // Summaries add per window first: sums may differ in the last bits (values such
          // as 1/7 are inexact).
          ASSERT_NEAR(g[j].value, w[j].value, 1e-9 * std::max(1.0, std::fabs(w[j].value)))
              << static_cast<int>(q.function) << " at " << w[j].timestamp_ms;
        }
      }
    } else if (kind < 99) {
      compacted += store->stats().compacted_groups;
      store.reset();  // restart: replay the log
      store = Open(options);
    } else {
      ASSERT_TRUE(store->PersistAll().ok());  // compacts every block, the current one too
    }
  }
  compacted += store->stats().compacted_groups;
  EXPECT_GT(compacted, 50u);
  EXPECT_GT(store->stats().tier_blocks_read, 0u);
  compare({}, INT64_MIN / 2, INT64_MAX / 2);
  store.reset();
  store = Open(options);
  compare({}, INT64_MIN / 2, INT64_MAX / 2);
  EXPECT_EQ(store->stats().duplicates + store->stats().too_old, 0u);  // counts since Open
}

// Window queries aligned to a tier answer from its summaries as they would from the
// samples — with late data in a compacted block too — and go on answering once the raw
// retention has deleted the samples, until the tier's own retention; the series is kept
// until then.
TEST_F(TsdbStoreTest, TiersAnswerAlignedWindowsAndOutliveTheSamples) {
  TsdbOptions options = Options();
  options.retention_ms = 86'400'000;
  options.tiers = {{.resolution_ms = 300'000, .retention_ms = 3 * 86'400'000LL},
                   {.resolution_ms = 3'600'000, .retention_ms = 10 * 86'400'000LL}};
  store::MemoryStore reference({.out_of_order_window_ms = 0, .max_points = 1 << 30});
  auto store = Open(options);
  const int64_t t0 = (BlockOf(kT0) + 1) * kBlockMs;  // a block's start: a sample on the edge
  std::vector<Sample> samples;
  double counter = 0;
  for (int i = 0; i < 6 * 360; ++i) {
    counter = i == 1000 ? 3 : counter + static_cast<double>(i % 7);  // one counter reset
    samples.push_back({t0 + i * 10'000LL, counter});
  }
  samples.push_back({t0 + 3 * 3'600'000LL + 5'000, model::StaleMarker()});
  clock_.Set(t0 + 6 * 3'600'000LL);
  ASSERT_TRUE(store->Append(One(Series(1), samples)).ok());
  ASSERT_TRUE(reference.Append(One(Series(1), samples)).ok());
  ASSERT_TRUE(store->PersistAll().ok());

  auto compare = [&](int64_t step, int64_t window, uint64_t min_tier_blocks) {
    for (int f = 0; f < 9; ++f) {
      store::AggregateQuery q;
      q.start_ms = t0;
      q.end_ms = t0 + 6 * 3'600'000LL;
      q.step_ms = step;
      q.window_ms = window;
      q.function = static_cast<store::Aggregation>(f);
      const uint64_t before = store->stats().tier_blocks_read;
      auto want = reference.Aggregate(q);
      auto got = store->Aggregate(q);
      ASSERT_TRUE(want.ok() && got.ok());
      ASSERT_EQ(got->series.size(), 1u) << f;
      ASSERT_EQ(got->series[0].samples.size(), want->series[0].samples.size()) << f;
      for (size_t j = 0; j < want->series[0].samples.size(); ++j) {
        EXPECT_EQ(got->series[0].samples[j].timestamp_ms, want->series[0].samples[j].timestamp_ms);
        EXPECT_DOUBLE_EQ(got->series[0].samples[j].value, want->series[0].samples[j].value)
            << "function " << f << " step " << j;
      }
      EXPECT_GE(store->stats().tier_blocks_read - before, min_tier_blocks) << f;
    }
  };
  compare(3'600'000, 3'600'000, 3);  // the 1 h tier, 3 whole blocks
  compare(300'000, 900'000, 3);      // the 5 min tier
  compare(3'600'000, 7'200'000, 3);
  // A late sample in the second block: that block is read from its samples until the
  // compactor has merged it and rewritten its tier rows.
  const Batch late = One(Series(1), {{t0 + 2 * 3'600'000LL + 1, 1e6}});
  ASSERT_TRUE(store->Append(late).ok());
  ASSERT_TRUE(reference.Append(late).ok());
  compare(3'600'000, 3'600'000, 2);
  ASSERT_TRUE(store->PersistAll().ok());
  compare(3'600'000, 3'600'000, 3);

  // Past the raw retention: the samples are gone, the summaries answer.
  store::AggregateQuery max_per_hour{.start_ms = t0,
                                     .end_ms = t0 + 6 * 3'600'000LL,
                                     .step_ms = 3'600'000,
                                     .function = store::Aggregation::kMax};
  auto before_retention = store->Aggregate(max_per_hour);
  ASSERT_TRUE(before_retention.ok());
  clock_.Advance(2 * 86'400'000LL);
  ASSERT_TRUE(store->Maintain().ok());
  // Reads of the samples get the last of each window of the finest tier.
  std::map<int64_t, Sample> last_per_window;
  samples.push_back(late.series[0].samples[0]);
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.timestamp_ms < b.timestamp_ms; });
  for (const Sample& sample : samples) {
    if (!model::IsStaleMarker(sample.value)) {
      last_per_window[(sample.timestamp_ms + 299'999) / 300'000] = sample;
    }
  }
  std::vector<Sample> downsampled;
  for (const auto& [window, sample] : last_per_window) downsampled.push_back(sample);
  EXPECT_EQ(All(*store, Series(1)), downsampled);
  auto after = store->Aggregate(max_per_hour);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->series, before_retention->series);
  store.reset();  // and after a restart
  store = Open(options);
  after = store->Aggregate(max_per_hour);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->series, before_retention->series);
  max_per_hour.step_ms = max_per_hour.window_ms = 300'000;
  auto five_minutes = store->Aggregate(max_per_hour);
  ASSERT_TRUE(five_minutes.ok());
  EXPECT_EQ(five_minutes->series.size(), 1u);

  // Past the 5 min tier's retention, the 1 h tier still answers; past its own, the series
  // is forgotten.
  clock_.Advance(2 * 86'400'000LL);
  ASSERT_TRUE(store->Maintain().ok());
  five_minutes = store->Aggregate(max_per_hour);
  ASSERT_TRUE(five_minutes.ok());
  EXPECT_TRUE(five_minutes->series.empty());
  EXPECT_EQ(All(*store, Series(1)).size(), 6u + 1);  // an hour's last, and the first sample's
  max_per_hour.step_ms = max_per_hour.window_ms = 3'600'000;
  after = store->Aggregate(max_per_hour);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->series, before_retention->series);
  EXPECT_EQ(store->stats().series, 1u);
  clock_.Advance(7 * 86'400'000LL);
  ASSERT_TRUE(store->Maintain().ok());
  after = store->Aggregate(max_per_hour);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->series.empty());
  EXPECT_EQ(store->stats().series, 0u);
}

// Rows of the chunks table of one series: (block, encoding, count), in key order.
std::vector<std::tuple<int64_t, int, int>> ChunkRowsOf(const std::string& db_path, int series_id) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT block, encoding, count FROM chunks WHERE series_id = ? "
                               "ORDER BY block, min_t",
                               -1, &s, nullptr),
            SQLITE_OK);
  sqlite3_bind_int(s, 1, series_id);
  std::vector<std::tuple<int64_t, int, int>> rows;
  while (sqlite3_step(s) == SQLITE_ROW) {
    rows.emplace_back(sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1),
                      sqlite3_column_int(s, 2));
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rows;
}

// In-order chunks, out-of-order chunks and samples that arrive days late all end in one
// compacted row per series and block, read back as they were sent.
TEST_F(TsdbStoreTest, CompactionMergesEveryChunkOfABlockIntoOneRow) {
  TsdbOptions options = Options();
  auto store = Open(options);
  const int64_t start = (BlockOf(kT0) + 1) * kBlockMs;  // a block's first millisecond
  std::vector<Sample> want;
  for (int i = 0; i < 3 * 720; ++i) want.push_back({start + i * 10'000LL, 20 + (i % 13) * 0.25});
  std::vector<Sample> in_order, late;
  for (size_t i = 0; i < want.size(); ++i) (i % 5 == 2 ? late : in_order).push_back(want[i]);
  ASSERT_TRUE(store->Append(One(Series(1), in_order)).ok());
  clock_.Set(start + 3 * kBlockMs + 3 * 86'400'000LL);  // three days later
  ASSERT_TRUE(store->Append(One(Series(1), {{clock_.NowMillis(), 1}})).ok());
  ASSERT_TRUE(store->PersistAll().ok());
  ASSERT_TRUE(store->Append(One(Series(1), late)).ok());  // days late, in random order
  EXPECT_EQ(store->stats().too_old, 0u);
  ASSERT_TRUE(store->PersistAll().ok());
  want.push_back({clock_.NowMillis(), 1});
  EXPECT_EQ(All(*store, Series(1)), want);
  const auto rows = ChunkRowsOf(options.dir + "/chunks.db", 1);
  ASSERT_EQ(rows.size(), 4u);
  for (int b = 0; b < 3; ++b) {
    EXPECT_EQ(rows[b], std::make_tuple(BlockOf(start) + b, int{chunk::kBlockEncoding}, 720));
  }
  EXPECT_EQ(std::get<1>(rows[3]), chunk::kBlockEncoding);
  store.reset();
  store = Open(options);
  EXPECT_EQ(All(*store, Series(1)), want);
}

// A chunk row the compactor cannot read is kept as it was, out of later compactions, and
// reported by reads; the other rows of its block are compacted.
TEST_F(TsdbStoreTest, CompactionKeepsADamagedChunkAsItWas) {
  TsdbOptions options = Options();
  options.compact_groups_per_round = 0;  // a close persists, but does not compact
  auto store = Open(options);
  std::vector<Sample> samples;
  for (int i = 0; i < 360; ++i) samples.push_back({kT0 + i * 1000LL, static_cast<double>(i)});
  ASSERT_TRUE(store->Append(One(Series(1), samples)).ok());
  ASSERT_TRUE(store->Append(One(Series(1), {{kT0 + 360'000, 360}})).ok());
  store.reset();
  ASSERT_EQ(ChunkRowsOf(options.dir + "/chunks.db", 1).size(), 4u);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((options.dir + "/chunks.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE chunks SET data = X'0001' || substr(data, 3) WHERE min_t = "
                         "(SELECT MIN(min_t) FROM chunks)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);  // a count of 1 in the header: undecodable, but the checksum is stale
  sqlite3_close(db);
  store = Open(options);
  ASSERT_TRUE(store->PersistAll().ok());
  const auto rows = ChunkRowsOf(options.dir + "/chunks.db", 1);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(std::get<1>(rows[0]), 0);  // kept as it was
  EXPECT_EQ(std::get<1>(rows[1]), chunk::kBlockEncoding);
  EXPECT_EQ(std::get<2>(rows[1]), 241);
  auto r = store->Select({}, kT0, kT0 + 1'000'000);
  ASSERT_TRUE(r.ok());
  samples.push_back({kT0 + 360'000, 360});
  EXPECT_EQ(r->series[0].samples, std::vector<Sample>(samples.begin() + 120, samples.end()));
  EXPECT_EQ(r->warnings.size(), 1u);
  ASSERT_TRUE(store->PersistAll().ok());  // nothing more to do
  EXPECT_EQ(ChunkRowsOf(options.dir + "/chunks.db", 1), rows);
}

// A child appends across blocks while its persister compacts them (and PersistAll
// compacts the current one) and is killed with SIGKILL at a random moment. The reopened
// store holds every acknowledged sample, and after compaction each is stored once.
TEST_F(TsdbStoreTest, SigkillDuringCompactionLosesNothingAcknowledged) {
  std::mt19937 rng(27);
  constexpr int kSeries = 8;
  // Batch k: a sample at kT0 + k minutes; every 4th batch also one 30 s after minute k / 2,
  // in a block that has long been compacted.
  auto batch_samples = [](int32_t k) {
    std::vector<Sample> samples = {{kT0 + k * 60'000LL, static_cast<double>(k)}};
    if (k % 4 == 0) samples.push_back({kT0 + (k / 2) * 60'000LL + 30'000, -1.0 * k});
    return samples;
  };
  for (int round = 0; round < 6; ++round) {
    TsdbOptions options = Options();
    options.dir = dir_.Sub("compaction-crash" + std::to_string(round));
    options.persist_chunks = 8;
    options.max_chunk_samples = 30;
    options.tiers = {{.resolution_ms = 600'000}};  // written in the compaction's transaction
    // Killed a moment after a random number of acknowledged batches (several blocks'
    // worth, so that compactions ran): at any speed of the machine.
    const int32_t acked = AppendUntilKilled(
        options,
        [&](TsdbStore& store, testing::FakeClock& clock, int32_t k) {
          Batch batch;
          for (int s = 0; s < kSeries; ++s) batch.series.push_back({Series(s), batch_samples(k)});
          clock.Set(kT0 + k * 60'000LL);
          return store.Append(batch).ok() && (k % 97 != 0 || store.PersistAll().ok());
        },
        150 + static_cast<int32_t>(rng() % 1200), rng() % 30'000);
    ASSERT_GE(acked, 0) << "round " << round;

    auto store = Open(options);
    ASSERT_TRUE(store->PersistAll().ok());
    std::map<int64_t, double> want, in_flight;
    for (int32_t b = 0; b <= acked + 1; ++b) {
      for (const Sample& s : batch_samples(b))
        (b <= acked ? want : in_flight)[s.timestamp_ms] = s.value;
    }
    auto r = store->Select({}, INT64_MIN / 2, INT64_MAX / 2);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->series.size(), static_cast<size_t>(kSeries));
    for (const auto& series : r->series) {
      std::map<int64_t, double> got;
      for (const Sample& sample : series.samples) got[sample.timestamp_ms] = sample.value;
      for (const auto& [t, v] : want) {
        ASSERT_TRUE(got.contains(t) && got[t] == v) << "round " << round << ": lost " << t;
      }
      for (const auto& [t, v] : got) {
        ASSERT_TRUE(want.contains(t) || in_flight.contains(t)) << "round " << round;
      }
      int64_t stored = 0;  // every sample in one row only, after compaction
      // Series(i) was created (id i + 1) when batch 0 listed it.
      const int id = 1 + std::stoi(std::string(series.labels.Get("host").substr(1)));
      for (const auto& row : ChunkRowsOf(options.dir + "/chunks.db", id)) {
        EXPECT_EQ(std::get<1>(row), chunk::kBlockEncoding);
        stored += std::get<2>(row);
      }
      EXPECT_EQ(stored, static_cast<int64_t>(got.size())) << "round " << round;
      // The tier rows hold the same samples: counts and maxima per 10 minutes.
      std::map<int64_t, std::pair<double, double>> want_windows;  // end: count, max
      for (const auto& [t, v] : got) {
        auto& [count, max] = want_windows[(t + 599'999) / 600'000 * 600'000];
        max = count == 0 ? v : std::max(max, v);
        ++count;
      }
      for (auto function : {store::Aggregation::kCount, store::Aggregation::kMax}) {
        std::vector<Matcher> matchers;
        for (const auto& l : series.labels)
          matchers.push_back(M(MatchType::kEqual, l.name, l.value));
        auto windows = store->Aggregate({.matchers = matchers,
                                         .start_ms = kT0 / 600'000 * 600'000,
                                         .end_ms = kT0 + 2'000 * 60'000LL,
                                         .step_ms = 600'000,
                                         .function = function});
        ASSERT_TRUE(windows.ok() && windows->series.size() == 1) << "round " << round;
        ASSERT_EQ(windows->series[0].samples.size(), want_windows.size()) << "round " << round;
        for (const Sample& point : windows->series[0].samples) {
          const auto& [count, max] = want_windows[point.timestamp_ms];
          EXPECT_EQ(point.value, function == store::Aggregation::kCount ? count : max)
              << "round " << round << " at " << point.timestamp_ms;
        }
      }
    }
    EXPECT_GT(store->stats().tier_blocks_read, 0u);
  }
}

// A child process appends and reports each acknowledged batch through a pipe; it is
// killed with SIGKILL at a random moment. The reopened store must hold every
// acknowledged batch, and of the rest at most the one batch in flight, whole.
TEST_F(TsdbStoreTest, SigkillDuringIngestLosesNothingAcknowledged) {
  std::mt19937 rng(99);
  constexpr int kSeries = 20;
  for (int round = 0; round < 12; ++round) {
    TsdbOptions options = Options();
    options.dir = dir_.Sub("crash" + std::to_string(round));
    options.persist_chunks = 64;
    options.wal.segment_bytes = 64 << 10;
    const int32_t acked = AppendUntilKilled(
        options,
        [](TsdbStore& store, testing::FakeClock&, int32_t k) {
          Batch batch;
          for (int s = 0; s < kSeries; ++s) {
            batch.series.push_back({Series(s), {{kT0 + k * 1000LL, static_cast<double>(k)}}});
          }
          return store.Append(batch).ok();
        },
        /*wait_for=*/0, rng() % 300'000);
    ASSERT_GE(acked, 0) << "round " << round;

    auto store = Open(options);
    auto r = store->Select({}, kT0, kT0 + 1'000'000'000);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->series.size(), static_cast<size_t>(kSeries));
    std::set<int64_t> batches_found;
    for (const auto& s : r->series) {
      ASSERT_GE(s.samples.size(), static_cast<size_t>(acked + 1)) << "round " << round;
      ASSERT_LE(s.samples.size(), static_cast<size_t>(acked + 2)) << "round " << round;
      for (size_t i = 0; i < s.samples.size(); ++i) {
        ASSERT_EQ(s.samples[i], (Sample{kT0 + static_cast<int64_t>(i) * 1000, 1.0 * i}));
      }
      batches_found.insert(static_cast<int64_t>(s.samples.size()));
    }
    EXPECT_EQ(batches_found.size(), 1u) << "the batch in flight must be whole or absent";
  }
}

// A crash leaves a log whose samples are in chunk rows too (the persister writes closed
// chunks beside appends): the replay looks each series' rows up once and keeps them, or
// reads SQLite again for samples older than what it kept. Late samples, and a chunk's
// worth from an earlier block, come in between. Every sample is there once.
TEST_F(TsdbStoreTest, ReplayOfSamplesAlsoInChunkRowsKeepsEachOnce) {
  constexpr int kSeries = 5;
  auto batch_of = [](int32_t k) {
    Batch batch;
    for (int s = 0; s < kSeries; ++s) {
      batch.series.push_back({Series(s), {{kT0 + k * 1000LL, static_cast<double>(k)}}});
      if (k % 7 == 3) batch.series.push_back({Series(s), {{kT0 + k * 1000LL - 500, -1.0 * k}}});
      if (k == 100) {  // a chunk's worth, persisted as a row six hours before kT0
        std::vector<Sample> old;
        for (int i = 0; i < 8; ++i) old.push_back({kT0 - 6 * 3'600'000 + i * 1000LL, -0.5 * i});
        batch.series.push_back({Series(s), old});
      }
    }
    return batch;
  };
  auto expected = [&](int32_t last) {
    std::vector<Sample> want;
    for (int32_t k = 0; k <= last; ++k) {
      for (const model::Series& series : batch_of(k).series) {
        if (series.labels == Series(0))
          want.insert(want.end(), series.samples.begin(), series.samples.end());
      }
    }
    std::sort(want.begin(), want.end(),
              [](const Sample& a, const Sample& b) { return a.timestamp_ms < b.timestamp_ms; });
    return want;
  };
  TsdbOptions options = Options();
  options.dir = dir_.Sub("replay-stored");
  options.max_chunk_samples = 8;  // chunks close and are persisted all along
  options.persist_chunks = 1;
  const int32_t acked = AppendUntilKilled(
      options,
      [&](TsdbStore& store, testing::FakeClock&, int32_t k) {
        return store.Append(batch_of(k)).ok();
      },
      /*wait_for=*/250, /*delay_us=*/0);
  ASSERT_GE(acked, 250);
  auto store = Open(options);
  EXPECT_GT(store->stats().replayed_records, 250u);
  for (int s = 0; s < kSeries; ++s) {
    const std::vector<Sample> got = All(*store, Series(s));
    EXPECT_TRUE(got == expected(acked) || got == expected(acked + 1))
        << "series " << s << ": " << got.size() << " samples, " << expected(acked).size()
        << " expected";
  }
}

// The replay reads a series' chunk rows once, from its first logged sample that needs a
// look; a later logged sample older than that is looked up on its own. Both are already
// in SQLite here, so the replay leaves only the open chunk that the log alone held to
// persist. (A query would not tell: reads drop repeated timestamps.) Without the lookup,
// the older samples came back as a chunk of their own.
TEST_F(TsdbStoreTest, ReplayLooksUpALoggedSampleOlderThanTheRowsItKept) {
  TsdbOptions options = Options();
  options.dir = dir_.Sub("replay-older");
  options.max_chunk_samples = 4;  // each record below fills chunks exactly
  options.persist_chunks = 1;
  std::vector<Sample> in_order, older;
  for (int i = 1; i <= 8; ++i) in_order.push_back({kT0 + i * 1000LL, 1.0 * i});
  for (int i = 1; i <= 4; ++i) older.push_back({kT0 + i * 100LL, -1.0 * i});
  AppendAndDie(options, [&](TsdbStore& store) {
    // Logged in this order: the in-order samples, then older ones.
    if (!store.Append(One(Series(1), in_order)).ok() || !store.Append(One(Series(1), older)).ok()) {
      return false;
    }
    // Persisted: the first four in-order samples' chunk and the older ones'. The open
    // chunk (the last four) is in the log only.
    for (int wait = 0; store.stats().persisted_chunks < 2 && wait < 500; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return store.stats().persisted_chunks == 2 && store.stats().head_chunks == 1;
  });
  auto store = Open(options);
  EXPECT_EQ(store->stats().replayed_records, 2u);
  EXPECT_EQ(store->stats().head_chunks, 1u) << "the replay kept samples SQLite holds";
  ASSERT_TRUE(store->PersistAll().ok());
  EXPECT_EQ(store->stats().persisted_chunks, 1u);
  std::vector<Sample> want = older;
  want.insert(want.end(), in_order.begin(), in_order.end());
  EXPECT_EQ(All(*store, Series(1)), want);
}

// Two processes on one data folder would write the same log and SQLite file (issue #26):
// the second open is refused with the folder and the holder's pid, and succeeds once the
// first store is closed.
TEST(TsdbStoreLock, ASecondOpenOfTheFolderIsRefused) {
  testing::TempDir dir;
  testing::FakeClock clock;
  metrics::Registry registry;
  TsdbOptions options;
  options.dir = dir.Sub("tsdb");
  options.registry = &registry;
  auto first = TsdbStore::Open(Env::Default(), clock, options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = TsdbStore::Open(Env::Default(), clock, options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("is in use by another vigil process (pid " +
                                           std::to_string(getpid())),
            std::string::npos)
      << second.status().ToString();
  ASSERT_TRUE((*first)->Close().ok());
  auto third = TsdbStore::Open(Env::Default(), clock, options);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST(WalRecord, SamplesRecordRoundTrips) {
  const model::Labels a = model::Labels::Of({{"__name__", "up"}, {"job", "x\"y"}});
  std::vector<model::Sample> samples = {
      {-5, 1.5}, {10, std::bit_cast<double>(uint64_t{0x7FF8000000000123})}, {7, -0.0}};
  std::vector<NewSeries> series = {{42, a.view()}};
  std::vector<SampleGroup> groups = {{42, samples}, {7, std::span(samples).first(1)}};
  std::string bytes;
  EncodeSamplesRecord(series, groups, &bytes);
  DecodedRecord decoded;
  ASSERT_TRUE(DecodeSamplesRecord(bytes, &decoded).ok());
  ASSERT_EQ(decoded.new_series.size(), 1u);
  EXPECT_EQ(decoded.new_series[0].id, 42u);
  EXPECT_EQ(decoded.new_series[0].labels, a);
  ASSERT_EQ(decoded.groups.size(), 2u);
  ASSERT_EQ(decoded.groups[0].samples.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(decoded.groups[0].samples[i].timestamp_ms, samples[i].timestamp_ms);
    EXPECT_EQ(std::bit_cast<uint64_t>(decoded.groups[0].samples[i].value),
              std::bit_cast<uint64_t>(samples[i].value));
  }
  EXPECT_EQ(decoded.groups[1].id, 7u);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeSamplesRecord(std::string_view(bytes).substr(0, cut), &decoded).ok()) << cut;
  }
}

}  // namespace
}  // namespace vigil::tsdb

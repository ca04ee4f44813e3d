// The Store contract (store/store.h), one suite run against every store: MemoryStore (the
// reference), the embedded TSDB and PostgreSQL (a fresh database on the server that
// scripts/test-services started). Each case appends the same batches and expects the same
// answers; the randomized case compares every answer with MemoryStore's.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "core/env.h"
#include "store/memory_store.h"
#include "store/postgres/postgres_store.h"
#include "testing/fake_clock.h"
#include "testing/services.h"
#include "testing/temp_dir.h"
#include "tsdb/tsdb_store.h"

namespace vigil::store {
namespace {

using model::Batch;
using model::Labels;
using model::Matcher;
using model::MatchType;
using model::Sample;

// 2026-11-22T02:00:00Z: the data below spans midnight, so PostgreSQL uses two partitions.
constexpr int64_t kNow = 1'795'312'800'000;
constexpr int64_t kT0 = kNow - 4 * 3'600'000;
constexpr int64_t kMaxPoints = 5'000;

Matcher M(MatchType type, const std::string& name, const std::string& value) {
  return *Matcher::Create(type, name, value);
}

Labels Host(const std::string& metric, const std::string& host) {
  return Labels::Of({{"__name__", metric}, {"host", host}, {"dc", "eu"}});
}

class StoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& kind = GetParam();
    if (kind == "memory") {
      store_ = std::make_unique<MemoryStore>(MemoryStore::Options{.max_points = kMaxPoints});
    } else if (kind == "tsdb") {
      tsdb::TsdbOptions options;
      options.dir = dir_.Sub("tsdb");
      options.max_points = kMaxPoints;
      options.registry = &registry_;
      auto opened = tsdb::TsdbStore::Open(Env::Default(), clock_, options);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      store_ = std::move(*opened);
    } else {
      auto url = testing::NewPostgresDatabase();
      ASSERT_TRUE(url.ok()) << url.status().ToString();
      postgres::PostgresOptions options;
      options.url = *url;
      options.max_points = kMaxPoints;
      options.registry = &registry_;
      auto opened = postgres::PostgresStore::Open(clock_, options);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      store_ = std::move(*opened);
    }
  }

  void Append(const Batch& batch) {
    ASSERT_TRUE(store_->Append(batch).ok());
    ASSERT_TRUE(store_->Flush().ok());
  }

  // Every sample of every series, as the store returns them.
  std::vector<SeriesSamples> All() {
    auto r = store_->Select({}, kT0 - 86'400'000, kNow + 86'400'000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->series : std::vector<SeriesSamples>{};
  }

  testing::FakeClock clock_{kNow};
  testing::TempDir dir_;
  metrics::Registry registry_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformanceTest, SelectReturnsSeriesInLabelOrderWithinAnInclusiveRange) {
  Append({{{Host("cpu", "b"), {{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}}},
           {Host("cpu", "a"), {{kT0 + 500, 10}}},
           {Host("mem", "a"), {{kT0, 7}}}}});
  auto r = store_->Select({M(MatchType::kEqual, "__name__", "cpu")}, kT0 + 500, kT0 + 1000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->series.size(), 2u);
  EXPECT_EQ(r->series[0], (SeriesSamples{Host("cpu", "a"), {{kT0 + 500, 10}}}));
  EXPECT_EQ(r->series[1], (SeriesSamples{Host("cpu", "b"), {{kT0 + 1000, 2}}}));
  auto none = store_->Select({M(MatchType::kEqual, "__name__", "disk")}, kT0, kNow);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->series.empty());
  auto outside = store_->Select({}, kT0 + 3000, kNow);
  ASSERT_TRUE(outside.ok());
  EXPECT_TRUE(outside->series.empty());
}

TEST_P(StoreConformanceTest, AllFourMatchersAndTheAbsentLabel) {
  Append({{{Host("cpu", "web-1"), {{kT0, 1}}},
           {Host("cpu", "web-2"), {{kT0, 2}}},
           {Host("cpu", "db-1"), {{kT0, 3}}},
           {Labels::Of({{"__name__", "cpu"}}), {{kT0, 4}}}}});
  auto values = [&](std::vector<Matcher> matchers) {
    std::vector<double> out;
    auto r = store_->Select(matchers, kT0, kT0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    for (const auto& s : r->series) out.push_back(s.samples.at(0).value);
    return out;
  };
  EXPECT_EQ(values({M(MatchType::kEqual, "host", "web-1")}), (std::vector<double>{1}));
  EXPECT_EQ(values({M(MatchType::kNotEqual, "host", "web-1")}), (std::vector<double>{4, 3, 2}));
  EXPECT_EQ(values({M(MatchType::kRegexMatch, "host", "web-.*")}), (std::vector<double>{1, 2}));
  EXPECT_EQ(values({M(MatchType::kRegexNoMatch, "host", "web-.*")}), (std::vector<double>{4, 3}));
  EXPECT_EQ(values({M(MatchType::kEqual, "host", "")}), (std::vector<double>{4}));
  EXPECT_EQ(values({M(MatchType::kRegexMatch, "host", "web")}),
            (std::vector<double>{}));  // anchored
  EXPECT_EQ(values({M(MatchType::kEqual, "__name__", "cpu"), M(MatchType::kEqual, "dc", "eu"),
                    M(MatchType::kRegexMatch, "host", ".*-1")}),
            (std::vector<double>{3, 1}));
}

TEST_P(StoreConformanceTest, RedeliveredBatchesAndRepeatedSamplesAreStoredOnce) {
  const Batch batch{{{Host("cpu", "a"), {{kT0, 1}, {kT0 + 1000, 2}}}}};
  Append(batch);
  Append(batch);
  // Half new, half already stored; and one timestamp twice within a batch (the first wins).
  Append({{{Host("cpu", "a"),
            {{kT0 + 1000, 99}, {kT0 + 2000, 3}, {kT0 + 3000, 4}, {kT0 + 3000, 5}}}}});
  EXPECT_EQ(
      All(),
      (std::vector<SeriesSamples>{
          {Host("cpu", "a"), {{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}, {kT0 + 3000, 4}}}}));
}

TEST_P(StoreConformanceTest, SeriesLabelNamesAndLabelValues) {
  Append({{{Host("cpu", "a"), {{kT0, 1}}},
           {Host("mem", "b"), {{kT0, 1}}},
           {Labels::Of({{"__name__", "up"}, {"job", "node"}}), {{kT0, 1}}}}});
  auto series = store_->Series({M(MatchType::kRegexMatch, "__name__", "cpu|mem")});
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(*series, (std::vector<Labels>{Host("cpu", "a"), Host("mem", "b")}));
  auto names = store_->LabelNames({});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"__name__", "dc", "host", "job"}));
  auto some = store_->LabelNames({M(MatchType::kEqual, "job", "node")});
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(*some, (std::vector<std::string>{"__name__", "job"}));
  auto hosts = store_->LabelValues("host", {});
  ASSERT_TRUE(hosts.ok());
  EXPECT_EQ(*hosts, (std::vector<std::string>{"a", "b"}));
  auto metrics = store_->LabelValues("__name__", {M(MatchType::kNotEqual, "host", "a")});
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(*metrics, (std::vector<std::string>{"mem", "up"}));
}

TEST_P(StoreConformanceTest, AwkwardValuesAndLabelsComeBackExactly) {
  const double stale = std::bit_cast<double>(uint64_t{0x7ff0000000000002});  // a NaN payload
  const Labels odd = Labels::Of({{"__name__", "odd"},
                                 {"q", "it's \"quoted\" \\ and\nnew; DROP TABLE series; --"},
                                 {"u", "Kesselhaus Süd ☃"}});
  Append({{{odd,
            {{kT0, -0.0},
             {kT0 + 1, std::numeric_limits<double>::infinity()},
             {kT0 + 2, -std::numeric_limits<double>::infinity()},
             {kT0 + 3, std::numeric_limits<double>::denorm_min()},
             {kT0 + 4, 1.0 / 3.0},
             {kT0 + 5, stale}}}}});
  auto all = All();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].labels, odd);
  ASSERT_EQ(all[0].samples.size(), 6u);
  EXPECT_TRUE(std::signbit(all[0].samples[0].value));
  EXPECT_EQ(all[0].samples[1].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(all[0].samples[2].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(all[0].samples[3].value, std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(all[0].samples[4].value, 1.0 / 3.0);
  EXPECT_EQ(std::bit_cast<uint64_t>(all[0].samples[5].value), 0x7ff0000000000002u);
  auto by_label = store_->Select({M(MatchType::kEqual, "q", std::string(odd.Get("q")))}, kT0, kT0);
  ASSERT_TRUE(by_label.ok());
  EXPECT_EQ(by_label->series.size(), 1u);
}

TEST_P(StoreConformanceTest, TooManyPointsIsResourceExhausted) {
  Batch batch;
  for (int s = 0; s < 3; ++s) {
    model::Series series{Host("cpu", "h" + std::to_string(s)), {}};
    for (int i = 0; i < 2000; ++i) series.samples.push_back({kT0 + i * 1000, double(i)});
    batch.series.push_back(series);
  }
  Append(batch);
  auto r = store_->Select({}, kT0, kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  auto fits = store_->Select({M(MatchType::kEqual, "host", "h1")}, kT0, kNow);
  ASSERT_TRUE(fits.ok());
  EXPECT_EQ(fits->series.at(0).samples.size(), 2000u);
}

// Random series (gauges with NaNs, counters with resets; some samples on hour boundaries),
// each appended as two overlapping batches (a partial redelivery), and random queries of
// every function and window, a third of them in whole hours on hour boundaries (which
// PostgreSQL answers from its hourly rollup); every answer must equal MemoryStore's.
TEST_P(StoreConformanceTest, RandomizedAggregatesEqualTheReference) {
  MemoryStore reference(MemoryStore::Options{.max_points = 1 << 30});
  std::mt19937_64 rng(7);
  for (int s = 0; s < 6; ++s) {
    model::Series series{Host(s % 2 ? "requests_total" : "temperature", "h" + std::to_string(s)),
                         {}};
    int64_t t = kT0 + static_cast<int64_t>(rng() % 10'000);
    double counter = 0;
    while (t < kNow) {
      double v;
      if (s % 2) {
        counter = rng() % 50 == 0 ? 0 : counter + static_cast<double>(rng() % 100);
        v = counter;
      } else {
        v = rng() % 40 == 0 ? std::nan("") : static_cast<double>(rng() % 10'000) / 7.0;
      }
      series.samples.push_back({t, v});
      t += 5'000 + static_cast<int64_t>(rng() % 20'000);
      if (rng() % 200 == 0) t = (t / 3'600'000 + 1) * 3'600'000;
    }
    ASSERT_TRUE(reference.Append(Batch{{series}}).ok());
    const auto& all = series.samples;
    const size_t third = all.size() / 3;
    Append(Batch{{{series.labels, {all.begin(), all.end() - static_cast<ptrdiff_t>(third)}}}});
    Append(Batch{{{series.labels, {all.begin() + static_cast<ptrdiff_t>(third), all.end()}}}});
  }
  auto same = [](const std::vector<Sample>& got, const std::vector<Sample>& want) {
    if (got.size() != want.size()) return false;
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i].timestamp_ms != want[i].timestamp_ms) return false;
      if (std::isnan(want[i].value) ? !std::isnan(got[i].value) : got[i].value != want[i].value)
        return false;
    }
    return true;
  };
  for (int q = 0; q < 90; ++q) {
    AggregateQuery query;
    query.function = static_cast<Aggregation>(q % 8);
    query.start_ms = kT0 + static_cast<int64_t>(rng() % 3'600'000);
    query.end_ms = query.start_ms + static_cast<int64_t>(rng() % 10'800'000);
    const int64_t steps[] = {15'000, 60'000, 300'000, 3'600'000, 7'777};
    query.step_ms = steps[rng() % 5];
    query.window_ms = rng() % 2 ? 0 : query.step_ms * (1 + static_cast<int64_t>(rng() % 3));
    if (q % 3 == 0) {
      query.start_ms = kT0 + static_cast<int64_t>(rng() % 2) * 3'600'000;
      query.end_ms = kNow + 3'600'000;
      query.step_ms = 3'600'000 * (1 + static_cast<int64_t>(rng() % 2));
      query.window_ms = rng() % 2 ? 0 : query.step_ms;
    }
    if (rng() % 2) query.matchers.push_back(M(MatchType::kRegexMatch, "host", "h[0-3]"));
    auto want = reference.Aggregate(query);
    auto got = store_->Aggregate(query);
    ASSERT_TRUE(want.ok());
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->series.size(), want->series.size()) << "query " << q;
    for (size_t i = 0; i < want->series.size(); ++i) {
      EXPECT_EQ(got->series[i].labels, want->series[i].labels);
      EXPECT_TRUE(same(got->series[i].samples, want->series[i].samples))
          << "query " << q << " function " << q % 8 << " step " << query.step_ms << " window "
          << query.window_ms << " " << want->series[i].labels.ToString();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreConformanceTest,
                         ::testing::Values("memory", "tsdb", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vigil::store

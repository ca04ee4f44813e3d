#include "query/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "store/memory_store.h"

namespace vigil::query {
namespace {

using model::Labels;
using model::Sample;

constexpr int64_t kT0 = 1'700'000'000'000;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A counter on two servers every 10 s for 10 min (server b resets at 5 min), and a
    // gauge on the same servers.
    model::Batch batch;
    for (const char* server : {"a", "b"}) {
      model::Series counter{Labels::Of({{"__name__", "requests_total"}, {"server", server}}), {}};
      model::Series gauge{Labels::Of({{"__name__", "temp"}, {"server", server}, {"unit", "C"}}),
                          {}};
      for (int i = 0; i <= 60; ++i) {
        const int64_t t = kT0 + i * 10'000LL;
        double value = i * (server[0] == 'a' ? 1.0 : 2.0);
        if (server[0] == 'b' && i >= 30) value = (i - 30) * 2.0;  // reset
        counter.samples.push_back({t, value});
        gauge.samples.push_back({t, server[0] == 'a' ? 20.0 + i % 3 : 30.0});
      }
      batch.series.push_back(counter);
      batch.series.push_back(gauge);
    }
    ASSERT_TRUE(store_.Append(batch).ok());
  }

  QueryResult Instant(std::string_view q, int64_t t) {
    auto r = engine_.Instant(q, t);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().ToString();
    return r.ok() ? *r : QueryResult{};
  }

  store::MemoryStore store_;
  Engine engine_{store_};
};

TEST_F(EngineTest, ScalarArithmeticLikeGrafanasHealthCheck) {
  QueryResult r = Instant("1+1", kT0);
  EXPECT_EQ(r.type, ValueType::kScalar);
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].points[0], (Sample{kT0, 2}));
  EXPECT_EQ(Instant("2 * 3 ^ 2 - 10 / 4", kT0).series[0].points[0].value, 15.5);
  EXPECT_EQ(Instant("-2 ^ 2", kT0).series[0].points[0].value, -4);
  EXPECT_EQ(Instant("5 > bool 3", kT0).series[0].points[0].value, 1);
  EXPECT_FALSE(engine_.Instant("5 > 3", kT0).ok());
}

TEST_F(EngineTest, InstantSelectorTakesTheLatestSampleWithinFiveMinutes) {
  QueryResult r = Instant("temp{server=\"a\"}", kT0 + 95'000);
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].points[0], (Sample{kT0 + 95'000, 20.0 + 9 % 3}));  // the one at 90 s
  EXPECT_EQ(r.series[0].labels.MetricName(), "temp");
  // 10 min of data ends at kT0 + 600 s: still visible 4 min later, gone after 5.
  EXPECT_EQ(Instant("temp", kT0 + 600'000 + 240'000).series.size(), 2u);
  EXPECT_TRUE(Instant("temp", kT0 + 600'000 + 300'000).series.empty());
}

TEST_F(EngineTest, RateAndIncreaseHandleResetsAndDropTheName) {
  QueryResult r = Instant("rate(requests_total[1m])", kT0 + 295'000);
  ASSERT_EQ(r.series.size(), 2u);
  EXPECT_EQ(r.series[0].labels, Labels::Of({{"server", "a"}}));
  EXPECT_DOUBLE_EQ(r.series[0].points[0].value, 0.1);
  EXPECT_DOUBLE_EQ(r.series[1].points[0].value, 0.2);
  // Across b's reset at 300 s: 56, 58, 0, 2, 4, 6 at 280…330 s count 2+0+2+2+2 = 8,
  // extrapolated by 5 s at each end of the 50 s sampled: 8 * 60 / 50.
  QueryResult across = Instant("increase(requests_total{server=\"b\"}[1m])", kT0 + 335'000);
  ASSERT_EQ(across.series.size(), 1u);
  EXPECT_NEAR(across.series[0].points[0].value, 9.6, 1e-9);
}

TEST_F(EngineTest, AggregationsByAndWithout) {
  QueryResult by = Instant("sum by (server) (temp)", kT0 + 600'000);
  ASSERT_EQ(by.series.size(), 2u);
  EXPECT_EQ(by.series[1].labels, Labels::Of({{"server", "b"}}));
  EXPECT_EQ(by.series[1].points[0].value, 30);
  QueryResult without = Instant("max without (server) (temp)", kT0 + 600'000);
  ASSERT_EQ(without.series.size(), 1u);
  EXPECT_EQ(without.series[0].labels, Labels::Of({{"unit", "C"}}));
  EXPECT_EQ(without.series[0].points[0].value, 30);
  EXPECT_EQ(Instant("count(temp)", kT0).series[0].points[0].value, 2);
  EXPECT_EQ(Instant("avg(temp)", kT0).series[0].points[0].value, 25);
}

// A range aggregation large enough to be split between two threads (300 series x 1,000
// steps) gives, at every step, exactly what an instant query at that step gives, which
// one thread evaluates: the same sums, in the same order, bit for bit. One group appears
// only in the second half of the steps.
TEST(EngineAggregation, ASplitAggregationEqualsInstantOnesStepByStep) {
  store::MemoryStore store;
  model::Batch batch;
  constexpr int kSteps = 1000;
  for (int s = 0; s < 300; ++s) {
    const bool late = s == 299;
    model::Series series{Labels::Of({{"__name__", "load"},
                                     {"group", late ? "late" : std::to_string(s % 4)},
                                     {"host", "h" + std::to_string(s)}}),
                         {}};
    for (int i = late ? kSteps * 3 / 4 : 0; i < kSteps; ++i) {
      if ((i + s) % 97 == 0) continue;  // a gap now and then
      series.samples.push_back({kT0 + i * 10'000LL, std::sin(i * 0.37 + s) * 1e3 / 7});
    }
    batch.series.push_back(std::move(series));
  }
  ASSERT_TRUE(store.Append(batch).ok());
  Engine engine{store};
  for (const char* q : {"sum by (group) (load)", "avg(load)", "stddev by (group) (load)"}) {
    auto range = engine.Range(q, kT0, kT0 + (kSteps - 1) * 10'000LL, 10'000);
    ASSERT_TRUE(range.ok()) << q << ": " << range.status().ToString();
    size_t checked = 0;
    for (const SeriesResult& s : range->series) {
      for (size_t i = 0; i < s.points.size(); i += 37) {
        auto instant = engine.Instant(q, s.points[i].timestamp_ms);
        ASSERT_TRUE(instant.ok()) << q;
        const SeriesResult* same = nullptr;
        for (const SeriesResult& x : instant->series) {
          if (x.labels == s.labels) same = &x;
        }
        ASSERT_NE(same, nullptr) << q << " " << s.labels.ToString();
        EXPECT_EQ(std::bit_cast<uint64_t>(same->points[0].value),
                  std::bit_cast<uint64_t>(s.points[i].value))
            << q << " " << s.labels.ToString() << " at step " << i;
        ++checked;
      }
    }
    EXPECT_GT(checked, 20u) << q;
  }
  auto sum = engine.Range("sum by (group) (load)", kT0, kT0 + (kSteps - 1) * 10'000LL, 10'000);
  ASSERT_TRUE(sum.ok());
  ASSERT_EQ(sum->series.size(), 5u);  // 0, 1, 2, 3 and late
  for (const SeriesResult& s : sum->series) {
    EXPECT_EQ(s.points.size(), s.labels.Get("group") == "late" ? size_t{kSteps / 4} : kSteps)
        << s.labels.ToString();
  }
}

// An aggregation of a selector adds each series as the store hands it over (in label
// order), one of any other expression the series of its result (sorted by labels): the
// same values, bit for bit — also when the groups are too many to keep every step of at
// once, and the selector's result is aggregated after all (its samples counted once).
TEST(EngineAggregation, ASelectorAggregatedAsItIsReadEqualsItsResultAggregated) {
  std::mt19937_64 rng(5);
  // `series` series of `steps` samples of all magnitudes, appended against label order.
  auto fill = [&](store::MemoryStore& store, int series, int steps) {
    model::Batch batch;
    size_t samples = 0;
    for (int s = 0; s < series; ++s) {
      model::Series one{Labels::Of({{"__name__", "load"},
                                    {"group", std::to_string(s % 7)},
                                    {"host", "h" + std::to_string(series - 1 - s)}}),
                        {}};
      for (int i = 0; i < steps; ++i) {
        if (rng() % 50 == 0) continue;  // a gap now and then
        const double magnitude = std::ldexp(1.0, static_cast<int>(rng() % 80) - 20);
        one.samples.push_back(
            {kT0 + i * 10'000LL, (static_cast<double>(rng() % 2001) - 1000) * magnitude / 7});
      }
      samples += one.samples.size();
      batch.series.push_back(std::move(one));
    }
    EXPECT_TRUE(store.Append(batch).ok());
    return samples;
  };
  auto same = [](Engine& engine, const std::string& op, const std::string& grouping, int steps) {
    const std::string read = op + grouping + " (load)";
    const std::string after = op + grouping + " (load + 0)";
    auto a = engine.Range(read, kT0, kT0 + (steps - 1) * 10'000LL, 10'000);
    auto b = engine.Range(after, kT0, kT0 + (steps - 1) * 10'000LL, 10'000);
    ASSERT_TRUE(a.ok()) << read << ": " << a.status().ToString();
    ASSERT_TRUE(b.ok()) << after << ": " << b.status().ToString();
    ASSERT_EQ(a->series.size(), b->series.size()) << read;
    for (size_t i = 0; i < a->series.size(); ++i) {
      ASSERT_EQ(a->series[i].labels, b->series[i].labels) << read;
      ASSERT_EQ(a->series[i].points.size(), b->series[i].points.size()) << read;
      for (size_t k = 0; k < a->series[i].points.size(); ++k) {
        ASSERT_EQ(a->series[i].points[k].timestamp_ms, b->series[i].points[k].timestamp_ms);
        ASSERT_EQ(std::bit_cast<uint64_t>(a->series[i].points[k].value),
                  std::bit_cast<uint64_t>(b->series[i].points[k].value))
            << read << " " << a->series[i].labels.ToString() << " at step " << k;
      }
    }
  };
  store::MemoryStore small;
  fill(small, 120, 300);
  Engine engine{small};
  for (const char* op : {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"}) {
    same(engine, op, " by (group)", 300);
  }
  same(engine, "sum", " without (host)", 300);
  same(engine, "avg", "", 300);
  // 600 groups × 1,800 steps: past what is kept while reading.
  store::MemoryStore large;
  const size_t samples = fill(large, 600, 1800);
  EngineOptions options;
  options.max_samples = static_cast<int64_t>(samples * 5 / 4);  // one read, not two
  Engine limited{large, options};
  same(limited, "sum", " by (host)", 1800);
}

TEST_F(EngineTest, ComparisonWithANumberFilters) {
  QueryResult r = Instant("temp > 25", kT0 + 600'000);
  ASSERT_EQ(r.series.size(), 1u);
  EXPECT_EQ(r.series[0].labels.Get("server"), "b");
  EXPECT_EQ(r.series[0].labels.MetricName(), "temp");  // a filter keeps the name
  QueryResult as_bool = Instant("temp > bool 25", kT0 + 600'000);
  ASSERT_EQ(as_bool.series.size(), 2u);
  EXPECT_EQ(as_bool.series[0].points[0].value, 0);
  EXPECT_EQ(as_bool.series[0].labels.MetricName(), "");
}

TEST_F(EngineTest, RangeQueryAlignsStepsAndOverTimeFunctions) {
  auto r =
      engine_.Range("max_over_time(temp{server=\"a\"}[30s])", kT0 + 60'000, kT0 + 120'000, 30'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->type, ValueType::kMatrix);
  ASSERT_EQ(r->series.size(), 1u);
  ASSERT_EQ(r->series[0].points.size(), 3u);
  EXPECT_EQ(r->series[0].points[0], (Sample{kT0 + 60'000, 22}));  // 40 s, 50 s, 60 s: 21, 22, 20
  EXPECT_EQ(r->series[0].points[1].timestamp_ms, kT0 + 90'000);
  auto scalar = engine_.Range("1+1", kT0, kT0 + 20'000, 10'000);
  ASSERT_TRUE(scalar.ok());
  ASSERT_EQ(scalar->series.size(), 1u);
  EXPECT_EQ(scalar->series[0].points.size(), 3u);
}

TEST_F(EngineTest, LimitsAndBadRequestsAreErrors) {
  auto too_many = engine_.Range("temp", kT0, kT0 + 20'000'000, 1);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(engine_.Range("temp", kT0, kT0 - 1, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_.Instant("rate(temp[1m]) + ", kT0).status().message(),
            "1:18: parse error: unexpected end of input");
  auto raw = engine_.Instant("temp{server=\"a\"}[30s]", kT0 + 60'000);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->type, ValueType::kMatrix);
  EXPECT_EQ(raw->series[0].points.size(), 3u);
}

// The crafted queries of issue #26: each is answered or refused with InvalidArgument, never
// a stack overflow. Operator chains are evaluated without recursion.
TEST_F(EngineTest, HostileQueriesAreAnsweredOrRefused) {
  auto repeat = [](std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  QueryResult chain = Instant("1" + repeat("+1", 20000), kT0);
  ASSERT_EQ(chain.series.size(), 1u);
  EXPECT_EQ(chain.series[0].points[0].value, 20001);
  QueryResult negated = Instant(repeat("-", 30000) + "temp{server=\"b\"}", kT0);
  ASSERT_EQ(negated.series.size(), 1u);
  EXPECT_EQ(negated.series[0].points[0].value, 30);  // an even number of minuses
  EXPECT_EQ(negated.series[0].labels.MetricName(), "");
  QueryResult vectors = Instant("temp" + repeat(" + temp", 5000), kT0);
  ASSERT_EQ(vectors.series.size(), 2u);
  EXPECT_EQ(vectors.series[1].points[0].value, 30 * 5001);
  for (const std::string& q : {repeat("(", 10000) + "1" + repeat(")", 10000),
                               repeat("sum(", 6000) + "temp" + repeat(")", 6000)}) {
    auto r = engine_.Instant(q, kT0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("nested more than 200 levels"), std::string::npos);
  }
}

TEST_F(EngineTest, AQueryPastItsTimeoutStops) {
  Engine hasty(store_, EngineOptions{.timeout_ms = 20});
  std::string heavy = "temp";
  for (int i = 0; i < 3000; ++i) heavy += " + temp";
  auto r = hasty.Range(heavy, kT0, kT0 + 600'000, 1'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.status().message(), "query timed out in expression evaluation");
  EXPECT_TRUE(engine_.Range(heavy, kT0, kT0 + 60'000, 10'000).ok());  // 2 minutes are plenty
}

// A store whose reads of `slow` wait until the test lets them go, to hold one query in
// the middle of its evaluation while others run.
class HeldStore final : public store::Store {
 public:
  explicit HeldStore(store::Store& inner) : inner_(inner) {}
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool WaitUntilHolding() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return holding_; });
  }
  Result<store::SelectResult> Select(const std::vector<model::Matcher>& matchers, int64_t start,
                                     int64_t end) override {
    for (const auto& m : matchers) {
      if (m.name() != "__name__" || m.value() != "slow") continue;
      std::unique_lock lock(mu_);
      holding_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    ++reads;
    return inner_.Select(matchers, start, end);
  }
  Status Append(const model::Batch& b) override { return inner_.Append(b); }
  Status AppendAll(const model::Batch& b) override { return inner_.AppendAll(b); }
  Status Flush() override { return OkStatus(); }
  Result<store::SelectResult> Aggregate(const store::AggregateQuery& q) override {
    ++reads;
    return inner_.Aggregate(q);
  }

  std::atomic<int> reads = 0;  // Select and Aggregate calls
  Result<std::vector<Labels>> Series(const std::vector<model::Matcher>& m) override {
    return inner_.Series(m);
  }
  Result<std::vector<std::string>> LabelNames(const std::vector<model::Matcher>& m) override {
    return inner_.LabelNames(m);
  }
  Result<std::vector<std::string>> LabelValues(const std::string& name,
                                               const std::vector<model::Matcher>& m) override {
    return inner_.LabelValues(name, m);
  }

 private:
  store::Store& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_ = false;
  bool released_ = false;
};

// Issue #26: concurrent queries share one sample budget and a bounded number of slots.
TEST_F(EngineTest, ConcurrentQueriesShareTheSampleBudgetAndTheSlots) {
  const int64_t t = kT0 + 600'000;
  {
    HeldStore held(store_);
    Engine engine(held, {.max_samples_in_flight = 100});
    // Holds the samples of temp (~60) while it waits for slow.
    std::thread first([&] { EXPECT_TRUE(engine.Instant("count(temp) + count(slow)", t).ok()); });
    ASSERT_TRUE(held.WaitUntilHolding());
    auto second = engine.Instant("count(temp)", t);
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(second.status().message().find("query.max_samples_in_flight"), std::string::npos);
    held.Release();
    first.join();
    EXPECT_TRUE(engine.Instant("count(temp)", t).ok()) << "the first query's samples came back";
  }
  {
    HeldStore held(store_);
    Engine engine(held, {.timeout_ms = 300, .max_concurrency = 1});
    std::thread first([&] { (void)engine.Instant("count(slow)", t); });
    ASSERT_TRUE(held.WaitUntilHolding());
    auto waited = engine.Instant("1", t);
    EXPECT_EQ(waited.status().code(), StatusCode::kDeadlineExceeded);
    EXPECT_NE(waited.status().message().find("query slots"), std::string::npos);
    held.Release();
    first.join();
    EXPECT_TRUE(engine.Instant("1", t).ok());
  }
}

// A query refused for max_samples gives back to the shared budget what it took, no
// more: after many of them, two queries together are still held to the budget.
TEST_F(EngineTest, QueriesRefusedForMaxSamplesKeepTheSharedBudget) {
  const int64_t t = kT0 + 600'000;
  HeldStore held(store_);
  Engine engine(held, {.max_samples = 100, .max_samples_in_flight = 100});
  for (int i = 0; i < 10; ++i) {  // four series of ~31 samples: refused at the fourth
    auto refused = engine.Instant("count({__name__=~\"temp|requests_total\"})", t);
    ASSERT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  }
  std::thread first([&] { EXPECT_TRUE(engine.Instant("count(temp) + count(slow)", t).ok()); });
  ASSERT_TRUE(held.WaitUntilHolding());
  auto second = engine.Instant("count(temp)", t);
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().ToString();
  held.Release();
  first.join();
}

TEST_F(EngineTest, SampleLimitIsA422) {
  Engine small(store_, EngineOptions{.max_samples = 100});
  auto r = small.Range("temp", kT0, kT0 + 600'000, 10'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.status().message(),
            "query processing would load too many samples into memory in query execution");
  EXPECT_TRUE(small.Instant("temp", kT0).ok());
}

// A function the store can answer is pushed down to Store::Aggregate, and the answer is the
// engine's own to the bit: the same query through a subquery (which the engine evaluates)
// agrees.
TEST_F(EngineTest, PushedDownFunctionsAgreeWithTheEngine) {
  for (const char* f : {"rate", "increase", "delta", "avg_over_time", "sum_over_time",
                        "min_over_time", "max_over_time", "count_over_time", "last_over_time"}) {
    const std::string pushed = std::string(f) + "(requests_total[1m] offset 10s)";
    const std::string evaluated = std::string(f) + "(requests_total[1m:10s] offset 10s)";
    auto a = engine_.Range(pushed, kT0 + 60'000, kT0 + 600'000, 30'000);
    auto b = engine_.Range(evaluated, kT0 + 60'000, kT0 + 600'000, 30'000);
    ASSERT_TRUE(a.ok() && b.ok()) << f;
    ASSERT_EQ(a->series.size(), b->series.size()) << f;
    for (size_t i = 0; i < a->series.size(); ++i) {
      EXPECT_EQ(a->series[i].labels, b->series[i].labels) << f;
      EXPECT_EQ(a->series[i].points, b->series[i].points) << f;
    }
  }
}

// Issue #22: a selector, call or aggregation written twice in a query is read once per set
// of steps, and gives the same answer as when it is written once.
TEST_F(EngineTest, RepeatedExpressionsAreReadOnce) {
  HeldStore counting(store_);
  counting.Release();
  Engine engine(counting);
  const int64_t t = kT0 + 600'000;
  auto share = engine.Range(
      "temp / on(server) group_left sum by (server) (temp) + on(server) rate(requests_total[1m]) * "
      "0 "
      "+ on(server) rate(requests_total[1m]) * 0",
      t - 120'000, t, 10'000);
  ASSERT_TRUE(share.ok()) << share.status().ToString();
  EXPECT_EQ(counting.reads, 2);  // temp once, rate(requests_total[1m]) once
  ASSERT_EQ(share->series.size(), 2u);
  for (const SeriesResult& s : share->series) {
    ASSERT_EQ(s.points.size(), 13u);
    for (const Sample& p : s.points) EXPECT_EQ(p.value, 1) << s.labels.ToString();
  }
  // Inside a subquery the steps differ: read again there, once.
  counting.reads = 0;
  auto inner = engine.Instant("max_over_time(temp[1m:10s]) - temp", t);
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  EXPECT_EQ(counting.reads, 2);
}

}  // namespace
}  // namespace vigil::query

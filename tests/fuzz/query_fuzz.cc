// Feeds queries to the PromQL parser and engine over a MemoryStore holding a few series
// (a counter with a reset, a gauge with NaN and Inf, histogram buckets, a series ended by a
// stale marker), as a hostile client of /api/v1/query would. Half the inputs are parsed as
// raw text; the other half drive a grammar that writes well-formed-looking PromQL (every
// function, aggregation, operator and modifier, nesting beyond the limit), so the fuzzer
// reaches the evaluator and not only the lexer. Any query must be answered or refused with
// a message: never a crash, and never a series with two points at one time.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "query/engine.h"
#include "store/memory_store.h"

namespace {

using vigil::model::Labels;

vigil::store::MemoryStore& Store() {
  static vigil::store::MemoryStore* store = [] {
    auto* s = new vigil::store::MemoryStore();
    vigil::model::Batch batch;
    double stale;
    const uint64_t bits = vigil::model::kStaleNaNBits;
    std::memcpy(&stale, &bits, sizeof stale);
    for (const char* instance : {"a", "b"}) {
      vigil::model::Series counter{
          Labels::Of({{"__name__", "requests_total"}, {"instance", instance}, {"job", "api"}}), {}};
      vigil::model::Series gauge{Labels::Of({{"__name__", "temp"}, {"instance", instance}}), {}};
      for (int i = 0; i < 40; ++i) {
        const int64_t t = i * 15'000LL;
        counter.samples.push_back({t, i < 20 ? i * 3.0 : (i - 20) * 2.0});
        gauge.samples.push_back({t, i == 7 ? NAN : i == 9 ? INFINITY : 20.0 + i % 5});
      }
      batch.series.push_back(counter);
      batch.series.push_back(gauge);
    }
    for (const char* le : {"0.1", "1", "+Inf"}) {
      vigil::model::Series bucket{Labels::Of({{"__name__", "lat_bucket"}, {"le", le}}), {}};
      for (int i = 0; i < 40; ++i)
        bucket.samples.push_back(
            {i * 15'000LL, i * std::atof(le == std::string("+Inf") ? "9" : le) + i});
      batch.series.push_back(bucket);
    }
    vigil::model::Series ended{Labels::Of({{"__name__", "ended"}}),
                               {{0, 1}, {15'000, 2}, {30'000, stale}}};
    batch.series.push_back(ended);
    if (!s->Append(batch).ok()) std::abort();
    return s;
  }();
  return *store;
}

// Writes PromQL from the fuzzer's bytes: each byte picks a production.
class QueryWriter {
 public:
  QueryWriter(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  std::string Expression(int depth) {
    if (depth > 6) return Leaf();
    switch (Next() % 12) {
      case 0:
        return Leaf();
      case 1:
        return Selector() + Modifiers();
      case 2:
        return std::string(Pick(kRangeFunctions)) + "(" + RangeVector(depth) + ")";
      case 3:
        return std::string(Pick(kFunctions)) + "(" + Arguments(depth) + ")";
      case 4:
        return Aggregation(depth);
      case 5:
        return Expression(depth + 1) + " " + Pick(kOperators) + " " + Matching() + " " +
               Expression(depth + 1);
      case 6:
        return "-" + Expression(depth + 1);
      case 7:
        return std::string("(") + Expression(depth + 1) + ")";
      case 8:
        return std::string(Pick(kRangeFunctions)) + "((" + Expression(depth + 1) + ")[" +
               Pick(kDurations) + ":" + Pick(kSteps) + "]" + Modifiers() + ")";
      case 9:
        return Repeat("(", 190 + Next() % 20) + Leaf() + Repeat(")", 190 + Next() % 20);
      case 10:
        return Leaf() +
               Repeat(std::string(" ") + Pick(kOperators) + " " + Leaf(), 1 + Next() % 200);
      default:
        return "label_replace(" + Expression(depth + 1) + ", \"dst\", \"$1\", \"" +
               std::string(Pick(kLabels)) + "\", \"" + Pick(kRegexes) + "\")";
    }
  }

 private:
  static constexpr const char* kMetrics[] = {"requests_total", "temp",        "lat_bucket",
                                             "ended",          "nonexistent", "{__name__=~\".+\"}"};
  static constexpr const char* kLabels[] = {"instance", "job", "le", "__name__", "x"};
  static constexpr const char* kRegexes[] = {"(.*)", "a|b", "(", ".+", "", "(?P<n>.)"};
  static constexpr const char* kDurations[] = {"1m", "5m", "30s", "1h", "15s", "0s", "1ms", "2d"};
  static constexpr const char* kSteps[] = {"", "15s", "1m", "1ms", "7s"};
  static constexpr const char* kOperators[] = {
      "+", "-",  "*",  "/",   "%",  "^",      "==",    "!=",     ">",
      "<", ">=", "<=", "and", "or", "unless", "atan2", "> bool", "== bool"};
  static constexpr const char* kRangeFunctions[] = {"rate",
                                                    "irate",
                                                    "increase",
                                                    "delta",
                                                    "idelta",
                                                    "deriv",
                                                    "resets",
                                                    "changes",
                                                    "avg_over_time",
                                                    "min_over_time",
                                                    "max_over_time",
                                                    "sum_over_time",
                                                    "count_over_time",
                                                    "last_over_time",
                                                    "stddev_over_time",
                                                    "stdvar_over_time",
                                                    "present_over_time",
                                                    "absent_over_time",
                                                    "mad_over_time",
                                                    "first_over_time"};
  static constexpr const char* kFunctions[] = {"abs",
                                               "absent",
                                               "ceil",
                                               "clamp",
                                               "clamp_max",
                                               "clamp_min",
                                               "day_of_month",
                                               "exp",
                                               "histogram_quantile",
                                               "hour",
                                               "label_join",
                                               "ln",
                                               "predict_linear",
                                               "quantile_over_time",
                                               "round",
                                               "scalar",
                                               "sgn",
                                               "sort",
                                               "sort_desc",
                                               "sqrt",
                                               "time",
                                               "timestamp",
                                               "vector",
                                               "year",
                                               "double_exponential_smoothing",
                                               "sort_by_label",
                                               "nope"};
  static constexpr const char* kAggregations[] = {
      "sum",    "avg",  "min",     "max",      "count",        "group", "stddev",
      "stdvar", "topk", "bottomk", "quantile", "count_values", "limitk"};

  uint8_t Next() { return pos_ < size_ ? data_[pos_++] : 0; }
  template <size_t N>
  const char* Pick(const char* const (&list)[N]) {
    return list[Next() % N];
  }
  static std::string Repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  }

  std::string Leaf() {
    switch (Next() % 5) {
      case 0:
        return std::to_string(static_cast<int>(Next()) - 100);
      case 1:
        return Selector();
      case 2:
        return "time()";
      case 3:
        return Next() % 2 ? "NaN" : "Inf";
      default:
        return "\"text\"";
    }
  }

  std::string Selector() {
    std::string s = Pick(kMetrics);
    if (s[0] != '{' && Next() % 2) {
      s += "{" + std::string(Pick(kLabels)) + (Next() % 2 ? "=~\"" : "!=\"") + Pick(kRegexes) +
           "\"}";
    }
    return s;
  }

  std::string Modifiers() {
    std::string out;
    const uint8_t b = Next();
    if (b & 1) out += std::string(" offset ") + (b & 2 ? "-" : "") + Pick(kDurations);
    if (b & 4) out += b & 8 ? " @ start()" : " @ " + std::to_string(Next() * 10);
    return out;
  }

  std::string RangeVector(int depth) {
    if (Next() % 3 == 0) {
      return Expression(depth + 1) + "[" + Pick(kDurations) + ":" + Pick(kSteps) + "]";
    }
    return Selector() + "[" + Pick(kDurations) + "]" + Modifiers();
  }

  std::string Arguments(int depth) {
    std::string out = Expression(depth + 1);
    for (int n = Next() % 4; n > 0; --n) out += ", " + Expression(depth + 1);
    return out;
  }

  std::string Matching() {
    switch (Next() % 5) {
      case 0:
        return "on(" + std::string(Pick(kLabels)) + ")";
      case 1:
        return "ignoring(" + std::string(Pick(kLabels)) + ")";
      case 2:
        return "on(instance) group_left(" + std::string(Pick(kLabels)) + ")";
      case 3:
        return "ignoring(le) group_right";
      default:
        return "";
    }
  }

  std::string Aggregation(int depth) {
    const std::string op = Pick(kAggregations);
    std::string grouping = Next() % 2 ? std::string(" by (") + Pick(kLabels) + ")"
                                      : std::string(" without (") + Pick(kLabels) + ")";
    std::string param;
    if (op == "topk" || op == "bottomk" || op == "quantile" || op == "limitk") {
      param = std::to_string(static_cast<int>(Next()) - 10) + ", ";
    } else if (op == "count_values") {
      param = Next() % 2 ? "\"value\", " : "\"bad-label\", ";
    }
    return op + grouping + " (" + param + Expression(depth + 1) + ")";
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void CheckResult(const vigil::Result<vigil::query::QueryResult>& result) {
  if (!result.ok()) {
    if (result.status().message().empty()) std::abort();
    return;
  }
  for (const auto& series : result->series) {
    for (size_t i = 1; i < series.points.size(); ++i) {
      if (series.points[i].timestamp_ms <= series.points[i - 1].timestamp_ms) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string query;
  if (data[0] % 2 == 0) {
    query.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    QueryWriter writer(data + 1, size - 1);
    query = writer.Expression(0);
  }
  // QUERY_FUZZ_PRINT=1 query_fuzz <input> shows the query an input stands for.
  static const bool print = std::getenv("QUERY_FUZZ_PRINT") != nullptr;
  if (print) std::fprintf(stderr, "query: %s\n", query.c_str());
  vigil::query::EngineOptions options;
  options.max_samples = 200'000;  // keeps each input's work small
  options.timeout_ms = 1'000;     // and the time: nested subqueries cost range/step squared
  vigil::query::Engine engine(Store(), options);
  CheckResult(engine.Instant(query, 300'000));
  CheckResult(engine.Range(query, 0, 600'000, 15'000));
  return 0;
}

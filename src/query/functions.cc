#include "query/functions.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#include "store/aggregate.h"

namespace vigil::query {
namespace {

using model::Sample;
using store::KahanAdd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// --- range functions -------------------------------------------------------------------

// The functions every Store can answer itself (Store::Aggregate) share its arithmetic, so a
// pushed-down query and one the engine evaluates agree to the bit.
template <store::Aggregation kAggregation>
bool StoreFunction(const Window& w, double* out) {
  auto value = store::EvaluateWindow(kAggregation, w.samples, w.end_ms, w.end_ms - w.start_ms);
  if (!value) return false;
  *out = *value;
  return true;
}

// irate and idelta: the last two samples.
bool InstantValue(const Window& w, bool as_rate, double* out) {
  if (w.samples.size() < 2) return false;
  const Sample& last = w.samples[w.samples.size() - 1];
  const Sample& previous = w.samples[w.samples.size() - 2];
  const int64_t interval = last.timestamp_ms - previous.timestamp_ms;
  if (interval == 0) return false;
  double result = last.value;
  if (!as_rate || !(last.value < previous.value)) result = last.value - previous.value;
  if (as_rate) result /= static_cast<double>(interval) / 1000;
  *out = result;
  return true;
}
bool Irate(const Window& w, double* out) { return InstantValue(w, true, out); }
bool Idelta(const Window& w, double* out) { return InstantValue(w, false, out); }

// Least squares over the samples, x in seconds from `intercept_ms`.
void LinearRegression(std::span<const Sample> s, int64_t intercept_ms, double* slope,
                      double* intercept) {
  double n = 0, sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
  const double first = s[0].value;
  bool constant = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (constant && i > 0 && s[i].value != first) constant = false;
    n += 1;
    const double x = static_cast<double>(s[i].timestamp_ms - intercept_ms) / 1e3;
    KahanAdd(x, &sum_x, &c_x);
    KahanAdd(s[i].value, &sum_y, &c_y);
    KahanAdd(x * s[i].value, &sum_xy, &c_xy);
    KahanAdd(x * x, &sum_x2, &c_x2);
  }
  if (constant) {
    *slope = std::isinf(first) ? kNaN : 0;
    *intercept = std::isinf(first) ? kNaN : first;
    return;
  }
  sum_x += c_x;
  sum_y += c_y;
  sum_xy += c_xy;
  sum_x2 += c_x2;
  const double cov_xy = sum_xy - sum_x * sum_y / n;
  const double var_x = sum_x2 - sum_x * sum_x / n;
  *slope = cov_xy / var_x;
  *intercept = sum_y / n - *slope * sum_x / n;
}

bool Deriv(const Window& w, double* out) {
  if (w.samples.size() < 2) return false;
  double intercept;
  LinearRegression(w.samples, w.samples[0].timestamp_ms, out, &intercept);
  return true;
}

bool PredictLinear(const Window& w, double* out) {
  if (w.samples.size() < 2) return false;
  double slope, intercept;
  LinearRegression(w.samples, w.eval_ms, &slope, &intercept);
  *out = slope * w.params[0] + intercept;
  return true;
}

bool Resets(const Window& w, double* out) {
  int resets = 0;
  for (size_t i = 1; i < w.samples.size(); ++i) {
    if (w.samples[i].value < w.samples[i - 1].value) ++resets;
  }
  *out = resets;
  return true;
}

bool Changes(const Window& w, double* out) {
  int changes = 0;
  for (size_t i = 1; i < w.samples.size(); ++i) {
    const double a = w.samples[i - 1].value, b = w.samples[i].value;
    if (b != a && !(std::isnan(a) && std::isnan(b))) ++changes;
  }
  *out = changes;
  return true;
}

// ts_of_max_over_time and ts_of_min_over_time: when the extreme was last seen.
template <bool kMax>
bool TimeOfExtreme(const Window& w, double* out) {
  double best = w.samples[0].value;
  int64_t at = w.samples[0].timestamp_ms;
  for (const Sample& s : w.samples) {
    if ((kMax ? s.value >= best : s.value <= best) || std::isnan(best)) {
      best = s.value;
      at = s.timestamp_ms;
    }
  }
  *out = static_cast<double>(at) / 1000;
  return true;
}

bool FirstOverTime(const Window& w, double* out) {
  *out = w.samples.front().value;
  return true;
}
bool TsOfLastOverTime(const Window& w, double* out) {
  *out = static_cast<double>(w.samples.back().timestamp_ms) / 1000;
  return true;
}
bool TsOfFirstOverTime(const Window& w, double* out) {
  *out = static_cast<double>(w.samples.front().timestamp_ms) / 1000;
  return true;
}

bool PresentOverTime(const Window& /*window*/, double* out) {
  *out = 1;
  return true;
}

bool QuantileOverTime(const Window& w, double* out) {
  std::vector<double> values;
  values.reserve(w.samples.size());
  for (const Sample& s : w.samples) values.push_back(s.value);
  *out = Quantile(w.params[0], values);
  return true;
}

bool MadOverTime(const Window& w, double* out) {
  std::vector<double> values;
  values.reserve(w.samples.size());
  for (const Sample& s : w.samples) {
    if (std::isnan(s.value)) {
      *out = kNaN;
      return true;
    }
    values.push_back(s.value);
  }
  const double median = Quantile(0.5, values);
  for (double& v : values) v = std::fabs(v - median);
  *out = Quantile(0.5, values);
  return true;
}

template <bool kStddev>
bool VarianceOverTime(const Window& w, double* out) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const Sample& s : w.samples) {
    count += 1;
    const double delta = s.value - (mean + c_mean);
    KahanAdd(delta / count, &mean, &c_mean);
    KahanAdd(delta * (s.value - (mean + c_mean)), &aux, &c_aux);
  }
  const double variance = (aux + c_aux) / count;
  *out = kStddev ? std::sqrt(variance) : variance;
  return true;
}

// double_exponential_smoothing (Prometheus 2's holt_winters).
bool DoubleExponentialSmoothing(const Window& w, double* out) {
  const double sf = w.params[0], tf = w.params[1];
  if (!(sf > 0 && sf < 1)) {
    *w.error = "invalid smoothing factor. Expected: 0 < sf < 1, got: " + std::to_string(sf);
    return false;
  }
  if (!(tf > 0 && tf < 1)) {
    *w.error = "invalid trend factor. Expected: 0 < tf < 1, got: " + std::to_string(tf);
    return false;
  }
  const auto& s = w.samples;
  if (s.size() < 2) return false;
  double s0 = 0, s1 = s[0].value, b = s[1].value - s[0].value;
  for (size_t i = 1; i < s.size(); ++i) {
    const double x = sf * s[i].value;
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    const double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  *out = s1;
  return true;
}

// --- math ------------------------------------------------------------------------------

double Sgn(double v) { return v < 0 ? -1 : v > 0 ? 1 : v; }
double Rad(double v) { return v * std::numbers::pi / 180; }
double Deg(double v) { return v * 180 / std::numbers::pi; }
double Abs(double v) { return std::fabs(v); }
double Ceil(double v) { return std::ceil(v); }
double Floor(double v) { return std::floor(v); }
double Exp(double v) { return std::exp(v); }
double Sqrt(double v) { return std::sqrt(v); }
double Ln(double v) { return std::log(v); }
double Log2(double v) { return std::log2(v); }
double Log10(double v) { return std::log10(v); }
double Sin(double v) { return std::sin(v); }
double Cos(double v) { return std::cos(v); }
double Tan(double v) { return std::tan(v); }
double Asin(double v) { return std::asin(v); }
double Acos(double v) { return std::acos(v); }
double Atan(double v) { return std::atan(v); }
double Sinh(double v) { return std::sinh(v); }
double Cosh(double v) { return std::cosh(v); }
double Tanh(double v) { return std::tanh(v); }
double Asinh(double v) { return std::asinh(v); }
double Acosh(double v) { return std::acosh(v); }
double Atanh(double v) { return std::atanh(v); }

// --- dates (UTC, from seconds since the epoch) ---------------------------------------

struct CivilTime {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
  int hour, minute;
  int weekday;   // 0 = Sunday
  int year_day;  // 1..366
};

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Howard Hinnant's days-to-civil algorithm: exact for every int64 day count in range.
CivilTime ToCivil(int64_t seconds) {
  int64_t days = seconds / 86400;
  int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  CivilTime t{};
  t.hour = static_cast<int>(rest / 3600);
  t.minute = static_cast<int>(rest % 3600 / 60);
  t.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2 ? 1 : 0);
  static constexpr int kBefore[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  t.year_day = kBefore[t.month - 1] + t.day + (t.month > 2 && IsLeap(t.year) ? 1 : 0);
  return t;
}

double DayOfMonth(int64_t s) { return ToCivil(s).day; }
double DayOfWeek(int64_t s) { return ToCivil(s).weekday; }
double DayOfYear(int64_t s) { return ToCivil(s).year_day; }
double Hour(int64_t s) { return ToCivil(s).hour; }
double Minute(int64_t s) { return ToCivil(s).minute; }
double Month(int64_t s) { return ToCivil(s).month; }
double Year(int64_t s) { return static_cast<double>(ToCivil(s).year); }
double DaysInMonth(int64_t s) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const CivilTime t = ToCivil(s);
  return kDays[t.month - 1] + (t.month == 2 && IsLeap(t.year) ? 1 : 0);
}

// --- the table -------------------------------------------------------------------------

constexpr ValueType S = ValueType::kScalar;
constexpr ValueType V = ValueType::kVector;
constexpr ValueType M = ValueType::kMatrix;
constexpr ValueType T = ValueType::kString;

Function Range(std::string_view name, RangeFunction f, std::vector<ValueType> args = {M}) {
  return {.name = name, .arg_types = std::move(args), .klass = FunctionClass::kRange, .range = f};
}
template <store::Aggregation kAggregation>
Function Pushed(std::string_view name) {
  Function f = Range(name, StoreFunction<kAggregation>);
  f.pushdown = kAggregation;
  return f;
}
Function Math(std::string_view name, MathFunction f) {
  return {.name = name, .arg_types = {V}, .klass = FunctionClass::kMath, .math = f};
}
Function Date(std::string_view name, DateFunction f) {
  return {.name = name, .arg_types = {V}, .variadic = 1, .klass = FunctionClass::kDate, .date = f};
}
Function Special(std::string_view name, std::vector<ValueType> args, ValueType result = V,
                 int variadic = 0) {
  return {.name = name, .arg_types = std::move(args), .variadic = variadic, .return_type = result};
}

const std::vector<Function>& Table() {
  static const std::vector<Function> table = [] {
    std::vector<Function> t = {
        Pushed<store::Aggregation::kRate>("rate"),
        Pushed<store::Aggregation::kIncrease>("increase"),
        Pushed<store::Aggregation::kDelta>("delta"),
        Range("irate", Irate),
        Range("idelta", Idelta),
        Range("deriv", Deriv),
        Range("predict_linear", PredictLinear, {M, S}),
        Range("resets", Resets),
        Range("changes", Changes),
        Pushed<store::Aggregation::kAvg>("avg_over_time"),
        Pushed<store::Aggregation::kSum>("sum_over_time"),
        Pushed<store::Aggregation::kCount>("count_over_time"),
        Pushed<store::Aggregation::kMin>("min_over_time"),
        Pushed<store::Aggregation::kMax>("max_over_time"),
        Range("ts_of_min_over_time", TimeOfExtreme<false>),
        Range("ts_of_max_over_time", TimeOfExtreme<true>),
        Pushed<store::Aggregation::kLast>("last_over_time"),
        Range("first_over_time", FirstOverTime),
        Range("ts_of_last_over_time", TsOfLastOverTime),
        Range("ts_of_first_over_time", TsOfFirstOverTime),
        Range("present_over_time", PresentOverTime),
        Range("quantile_over_time", QuantileOverTime, {S, M}),
        Range("stddev_over_time", VarianceOverTime<true>),
        Range("stdvar_over_time", VarianceOverTime<false>),
        Range("mad_over_time", MadOverTime),
        Range("double_exponential_smoothing", DoubleExponentialSmoothing, {M, S, S}),
        Range("holt_winters", DoubleExponentialSmoothing, {M, S, S}),
        Special("absent_over_time", {M}),
        Math("abs", Abs),
        Math("ceil", Ceil),
        Math("floor", Floor),
        Math("exp", Exp),
        Math("sqrt", Sqrt),
        Math("ln", Ln),
        Math("log2", Log2),
        Math("log10", Log10),
        Math("sgn", Sgn),
        Math("sin", Sin),
        Math("cos", Cos),
        Math("tan", Tan),
        Math("asin", Asin),
        Math("acos", Acos),
        Math("atan", Atan),
        Math("sinh", Sinh),
        Math("cosh", Cosh),
        Math("tanh", Tanh),
        Math("asinh", Asinh),
        Math("acosh", Acosh),
        Math("atanh", Atanh),
        Math("rad", Rad),
        Math("deg", Deg),
        Date("day_of_month", DayOfMonth),
        Date("day_of_week", DayOfWeek),
        Date("day_of_year", DayOfYear),
        Date("days_in_month", DaysInMonth),
        Date("hour", Hour),
        Date("minute", Minute),
        Date("month", Month),
        Date("year", Year),
        Special("absent", {V}),
        Special("clamp", {V, S, S}),
        Special("clamp_max", {V, S}),
        Special("clamp_min", {V, S}),
        Special("round", {V, S}, V, 1),
        Special("scalar", {V}, S),
        Special("vector", {S}),
        Special("time", {}, S),
        Special("pi", {}, S),
        Special("timestamp", {V}),
        Special("sort", {V}),
        Special("sort_desc", {V}),
        Special("sort_by_label", {V, T}, V, -1),
        Special("sort_by_label_desc", {V, T}, V, -1),
        Special("label_replace", {V, T, T, T, T}),
        Special("label_join", {V, T, T, T}, V, -1),
        Special("histogram_quantile", {S, V}),
        // Native histograms only: over float samples these find nothing, as in Prometheus.
        Special("histogram_avg", {V}),
        Special("histogram_count", {V}),
        Special("histogram_sum", {V}),
        Special("histogram_stddev", {V}),
        Special("histogram_stdvar", {V}),
        Special("histogram_fraction", {S, S, V}),
    };
    for (Function& f : t) {
      if (f.name == "last_over_time" || f.name == "first_over_time") f.keeps_name = true;
    }
    return t;
  }();
  return table;
}

}  // namespace

const Function* FindFunction(std::string_view name) {
  for (const Function& f : Table()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

double Quantile(double q, std::vector<double>& values) {
  if (values.empty() || std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  // NaN sorts first, as Prometheus's vectorByValueHeap orders it.
  std::sort(values.begin(), values.end(), [](double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    return a < b;
  });
  const double n = static_cast<double>(values.size());
  const double rank = q * (n - 1);
  const double lower = std::max(0.0, std::floor(rank));
  const double upper = std::min(n - 1, lower + 1);
  const double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

namespace {
bool AlmostEqual(double a, double b, double epsilon) {
  constexpr double kMinNormal = 2.2250738585072014e-308;
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  const double abs_sum = std::fabs(a) + std::fabs(b);
  const double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < epsilon * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < epsilon;
}
}  // namespace

double BucketQuantile(double q, std::vector<Bucket>& buckets) {
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  std::stable_sort(buckets.begin(), buckets.end(),
                   [](const Bucket& a, const Bucket& b) { return a.upper_bound < b.upper_bound; });
  if (buckets.empty() || !std::isinf(buckets.back().upper_bound) || buckets.back().upper_bound < 0)
    return kNaN;
  // Merge buckets with the same bound.
  size_t kept = 0;
  for (size_t i = 1; i < buckets.size(); ++i) {
    if (buckets[i].upper_bound == buckets[kept].upper_bound) {
      buckets[kept].count += buckets[i].count;
    } else {
      buckets[++kept] = buckets[i];
    }
  }
  buckets.resize(kept + 1);
  // Force monotonic counts; ignore differences below 1e-12 (floating-point noise).
  double previous = buckets[0].count;
  for (size_t i = 1; i < buckets.size(); ++i) {
    const double current = buckets[i].count;
    if (current == previous) continue;
    if (AlmostEqual(previous, current, 1e-12) || current < previous) {
      buckets[i].count = previous;
      continue;
    }
    previous = current;
  }
  if (buckets.size() < 2) return kNaN;
  const double observations = buckets.back().count;
  if (observations == 0) return kNaN;
  double rank = q * observations;
  size_t b = 0;
  while (b < buckets.size() - 1 && !(buckets[b].count >= rank)) ++b;
  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].upper_bound;
  if (b == 0 && buckets[0].upper_bound <= 0) return buckets[0].upper_bound;
  double bucket_start = 0;
  const double bucket_end = buckets[b].upper_bound;
  double count = buckets[b].count;
  if (b > 0) {
    bucket_start = buckets[b - 1].upper_bound;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return bucket_start + (bucket_end - bucket_start) * (rank / count);
}

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kString:
      return "string";
  }
  return "unknown";
}

}  // namespace vigil::query

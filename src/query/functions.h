// PromQL's functions: one table of their signatures (what the parser checks) and the pure
// arithmetic of each (what the engine applies), with Prometheus 3's semantics and numeric
// care (promql/functions.go): Kahan summation, counter-reset handling, extrapolation.
// docs/http-api.md ("Query language") lists them.
//
// Thread safety: immutable tables and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/batch.h"
#include "query/ast.h"
#include "store/store.h"

namespace vigil::query {

// How the engine applies a function.
enum class FunctionClass {
  kRange,    // one value per series and window of a range vector: rate, *_over_time …
  kMath,     // one value per sample of an instant vector: abs, ln, sin …
  kDate,     // a calendar field of each sample's value (or of time()): hour, month …
  kSpecial,  // evaluated by the engine itself: label_replace, absent, scalar, sort …
};

// A window of one series for a range function: its samples in (start, end], ascending,
// stale markers removed, at least one, plus the function's scalar arguments at this step.
struct Window {
  std::span<const model::Sample> samples;
  int64_t start_ms = 0;  // exclusive
  int64_t end_ms = 0;
  int64_t range_ms = 0;            // the selector's range (rate divides by it)
  int64_t eval_ms = 0;             // the step's time (predict_linear's intercept)
  const double* params = nullptr;  // the scalar arguments, in signature order
  std::string* error = nullptr;    // set with a reason when the arguments are invalid
};

// True when the window yields a value; the value in *out.
using RangeFunction = bool (*)(const Window& window, double* out);
using MathFunction = double (*)(double);
using DateFunction = double (*)(int64_t seconds);

struct Function {
  std::string_view name;
  std::vector<ValueType> arg_types;
  // 0: exactly arg_types; n > 0: up to n more arguments of the last type may be left out
  // (day_of_month() …) — Prometheus's "variadic"; -1: any number more of the last type.
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
  FunctionClass klass = FunctionClass::kSpecial;
  RangeFunction range = nullptr;
  MathFunction math = nullptr;
  DateFunction date = nullptr;
  bool keeps_name = false;  // last_over_time and first_over_time act as offset does
  // The Store::Aggregate function that answers this one, when there is one: the engine then
  // lets the store evaluate it (PostgreSQL's hourly rollup, for one).
  std::optional<store::Aggregation> pushdown;
};

// The function called `name`, or nullptr.
const Function* FindFunction(std::string_view name);

// Prometheus's quantile over unsorted values (sorts them): linear interpolation between the
// closest ranks; NaN for no values or a NaN q; ±Inf beyond [0, 1].
double Quantile(double q, std::vector<double>& values);

// One classic-histogram bucket: its upper bound (`le`) and cumulative count.
struct Bucket {
  double upper_bound;
  double count;
};
// histogram_quantile over classic buckets (promql/quantile.go BucketQuantile): sorts and
// merges the buckets, forces monotonic counts, interpolates linearly within a bucket.
double BucketQuantile(double q, std::vector<Bucket>& buckets);

}  // namespace vigil::query

#include "query/engine.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "query/parser.h"

namespace vigil::query {
namespace {

using model::Labels;
using model::Sample;

struct Steps {
  int64_t start;
  int64_t end;
  int64_t step;
  size_t count() const { return static_cast<size_t>((end - start) / step + 1); }
  int64_t At(size_t i) const { return start + static_cast<int64_t>(i) * step; }
  size_t IndexOf(int64_t t) const { return static_cast<size_t>((t - start) / step); }
};

// An intermediate value: a scalar per step, or series with a point per step.
struct Value {
  bool scalar = false;
  std::vector<double> scalars;
  std::vector<SeriesResult> series;
};

Labels DropName(const Labels& labels) { return labels.With(model::kMetricNameLabel, ""); }

Result<store::Aggregation> FunctionAggregation(const std::string& name) {
  if (name == "rate") return store::Aggregation::kRate;
  if (name == "increase") return store::Aggregation::kIncrease;
  if (name == "avg_over_time") return store::Aggregation::kAvg;
  if (name == "min_over_time") return store::Aggregation::kMin;
  if (name == "max_over_time") return store::Aggregation::kMax;
  if (name == "sum_over_time") return store::Aggregation::kSum;
  if (name == "count_over_time") return store::Aggregation::kCount;
  if (name == "last_over_time") return store::Aggregation::kLast;
  return InvalidArgumentError("unsupported: function " + name + "()");
}

bool IsComparison(const std::string& op) {
  return op == "==" || op == "!=" || op == ">" || op == "<" || op == ">=" || op == "<=";
}

double Arithmetic(const std::string& op, double a, double b) {
  if (op == "+") return a + b;
  if (op == "-") return a - b;
  if (op == "*") return a * b;
  if (op == "/") return a / b;
  if (op == "%") return std::fmod(a, b);
  if (op == "^") return std::pow(a, b);
  if (op == "==") return a == b;
  if (op == "!=") return a != b;
  if (op == ">") return a > b;
  if (op == "<") return a < b;
  if (op == ">=") return a >= b;
  return a <= b;  // "<="
}

class Evaluator {
 public:
  Evaluator(store::Store& store, const EngineOptions& options, Steps steps,
            std::vector<std::string>* warnings)
      : store_(store), options_(options), steps_(steps), warnings_(warnings) {}

  Result<Value> Eval(const Node& node) {
    switch (node.kind) {
      case NodeKind::kNumber: {
        Value v;
        v.scalar = true;
        v.scalars.assign(steps_.count(), node.number);
        return v;
      }
      case NodeKind::kVectorSelector:
        return Selector(node);
      case NodeKind::kMatrixSelector:
        return InvalidArgumentError(
            "a range vector such as x[5m] must be the argument of a function like rate()");
      case NodeKind::kCall:
        return Call(node);
      case NodeKind::kAggregate:
        return Aggregate(node);
      case NodeKind::kBinary:
        return Binary(node);
    }
    return InternalError("unknown node");
  }

 private:
  Result<store::SelectResult> Read(const std::vector<model::Matcher>& matchers, int64_t start,
                                   int64_t end) {
    VIGIL_ASSIGN_OR_RETURN(store::SelectResult r, store_.Select(matchers, start, end));
    for (std::string& w : r.warnings) warnings_->push_back(std::move(w));
    return r;
  }

  Result<Value> Selector(const Node& node) {
    VIGIL_ASSIGN_OR_RETURN(
        store::SelectResult raw,
        Read(node.matchers, steps_.start - options_.lookback_ms + 1, steps_.end));
    Value v;
    for (store::SeriesSamples& s : raw.series) {
      SeriesResult out{std::move(s.labels), {}};
      size_t j = 0;
      for (size_t i = 0; i < steps_.count(); ++i) {
        const int64_t t = steps_.At(i);
        while (j + 1 < s.samples.size() && s.samples[j + 1].timestamp_ms <= t) ++j;
        if (j < s.samples.size() && s.samples[j].timestamp_ms <= t &&
            s.samples[j].timestamp_ms > t - options_.lookback_ms) {
          out.points.push_back({t, s.samples[j].value});
        }
      }
      if (!out.points.empty()) v.series.push_back(std::move(out));
    }
    return v;
  }

  // A range function is the store's per-step aggregate, so that a store can answer it
  // without reading every raw sample (PostgreSQL's hourly rollup, for one).
  Result<Value> Call(const Node& node) {
    VIGIL_ASSIGN_OR_RETURN(store::Aggregation function, FunctionAggregation(node.name));
    const Node& arg = *node.args[0];
    store::AggregateQuery query;
    query.matchers = arg.matchers;
    query.start_ms = steps_.start;
    query.end_ms = steps_.end;
    query.step_ms = steps_.step;
    query.window_ms = arg.range_ms;
    query.function = function;
    VIGIL_ASSIGN_OR_RETURN(store::SelectResult steps, store_.Aggregate(query));
    for (std::string& w : steps.warnings) warnings_->push_back(std::move(w));
    Value v;
    for (store::SeriesSamples& s : steps.series) {
      v.series.push_back({DropName(s.labels), std::move(s.samples)});
    }
    return v;
  }

  Result<Value> Aggregate(const Node& node) {
    VIGIL_ASSIGN_OR_RETURN(Value inner, Eval(*node.args[0]));
    if (inner.scalar) {
      return InvalidArgumentError(node.name + "() expects an instant vector, got a scalar");
    }
    struct Accumulator {
      double sum = 0, min = 0, max = 0;
      int64_t count = 0;
    };
    std::map<Labels, std::vector<Accumulator>> groups;
    for (const SeriesResult& s : inner.series) {
      std::vector<model::Label> kept;
      for (const model::LabelRef& l : s.labels) {
        const bool listed =
            std::find(node.grouping.begin(), node.grouping.end(), l.name) != node.grouping.end();
        if (node.without ? (!listed && l.name != model::kMetricNameLabel) : listed) {
          kept.push_back(l);
        }
      }
      auto key = Labels::FromPairs(std::move(kept));
      auto& accumulators = groups[*key];
      accumulators.resize(steps_.count());
      for (const Sample& p : s.points) {
        Accumulator& a = accumulators[steps_.IndexOf(p.timestamp_ms)];
        if (a.count == 0) {
          a.min = a.max = p.value;
        } else {
          if (p.value < a.min || std::isnan(a.min)) a.min = p.value;
          if (p.value > a.max || std::isnan(a.max)) a.max = p.value;
        }
        a.sum += p.value;
        ++a.count;
      }
    }
    Value v;
    for (auto& [labels, accumulators] : groups) {
      SeriesResult out{labels, {}};
      for (size_t i = 0; i < accumulators.size(); ++i) {
        const Accumulator& a = accumulators[i];
        if (a.count == 0) continue;
        double value = a.sum;
        if (node.name == "avg") value = a.sum / static_cast<double>(a.count);
        if (node.name == "min") value = a.min;
        if (node.name == "max") value = a.max;
        if (node.name == "count") value = static_cast<double>(a.count);
        out.points.push_back({steps_.At(i), value});
      }
      if (!out.points.empty()) v.series.push_back(std::move(out));
    }
    return v;
  }

  Result<Value> Binary(const Node& node) {
    VIGIL_ASSIGN_OR_RETURN(Value left, Eval(*node.args[0]));
    VIGIL_ASSIGN_OR_RETURN(Value right, Eval(*node.args[1]));
    const std::string& op = node.name;
    const bool comparison = IsComparison(op);
    if (left.scalar && right.scalar) {
      if (comparison && !node.return_bool) {
        return InvalidArgumentError("comparisons between scalars must use the bool modifier");
      }
      for (size_t i = 0; i < left.scalars.size(); ++i) {
        left.scalars[i] = Arithmetic(op, left.scalars[i], right.scalars[i]);
      }
      return left;
    }
    if (!left.scalar && !right.scalar) {
      return InvalidArgumentError("unsupported: operator " + op +
                                  " between two vectors (only vector-scalar)");
    }
    const bool vector_left = !left.scalar;
    Value& vector = vector_left ? left : right;
    const std::vector<double>& scalars = vector_left ? right.scalars : left.scalars;
    Value v;
    for (SeriesResult& s : vector.series) {
      SeriesResult out{comparison && !node.return_bool ? s.labels : DropName(s.labels), {}};
      for (const Sample& p : s.points) {
        const double k = scalars[steps_.IndexOf(p.timestamp_ms)];
        const double result = vector_left ? Arithmetic(op, p.value, k) : Arithmetic(op, k, p.value);
        if (!comparison || node.return_bool) {
          out.points.push_back({p.timestamp_ms, result});
        } else if (result != 0) {
          out.points.push_back(p);  // a filter keeps the vector's own value
        }
      }
      if (!out.points.empty()) v.series.push_back(std::move(out));
    }
    return v;
  }

  store::Store& store_;
  const EngineOptions& options_;
  Steps steps_;
  std::vector<std::string>* warnings_;
};

void SortSeries(std::vector<SeriesResult>* series) {
  std::sort(series->begin(), series->end(),
            [](const SeriesResult& a, const SeriesResult& b) { return a.labels < b.labels; });
}

}  // namespace

Result<QueryResult> Engine::Instant(std::string_view text, int64_t time_ms) {
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> node, Parse(text));
  QueryResult result;
  if (node->kind == NodeKind::kMatrixSelector) {
    VIGIL_ASSIGN_OR_RETURN(store::SelectResult raw,
                           store_.Select(node->matchers, time_ms - node->range_ms + 1, time_ms));
    result.type = ValueType::kMatrix;
    for (store::SeriesSamples& s : raw.series) {
      result.series.push_back({std::move(s.labels), std::move(s.samples)});
    }
    result.warnings = std::move(raw.warnings);
    return result;
  }
  Evaluator evaluator(store_, options_, Steps{time_ms, time_ms, 1}, &result.warnings);
  VIGIL_ASSIGN_OR_RETURN(Value value, evaluator.Eval(*node));
  if (value.scalar) {
    result.type = ValueType::kScalar;
    result.series.push_back({Labels(), {{time_ms, value.scalars[0]}}});
    return result;
  }
  result.type = ValueType::kVector;
  result.series = std::move(value.series);
  SortSeries(&result.series);
  return result;
}

Result<QueryResult> Engine::Range(std::string_view text, int64_t start_ms, int64_t end_ms,
                                  int64_t step_ms) {
  if (step_ms <= 0)
    return InvalidArgumentError("zero or negative query resolution step widths are not accepted");
  if (end_ms < start_ms) return InvalidArgumentError("end timestamp must not be before start time");
  if ((end_ms - start_ms) / step_ms + 1 > options_.max_steps) {
    return ResourceExhaustedError(
        "exceeded maximum resolution of " + std::to_string(options_.max_steps) +
        " points per timeseries; try decreasing the query resolution (?step=XX)");
  }
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> node, Parse(text));
  if (node->kind == NodeKind::kMatrixSelector) {
    return InvalidArgumentError("a range vector such as x[5m] cannot be a range query's result");
  }
  QueryResult result;
  result.type = ValueType::kMatrix;
  Steps steps{start_ms, end_ms, step_ms};
  Evaluator evaluator(store_, options_, steps, &result.warnings);
  VIGIL_ASSIGN_OR_RETURN(Value value, evaluator.Eval(*node));
  if (value.scalar) {
    SeriesResult only{Labels(), {}};
    for (size_t i = 0; i < value.scalars.size(); ++i)
      only.points.push_back({steps.At(i), value.scalars[i]});
    result.series.push_back(std::move(only));
    return result;
  }
  result.series = std::move(value.series);
  SortSeries(&result.series);
  return result;
}

}  // namespace vigil::query

#include "query/engine.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <unordered_map>
#include <unordered_set>

#include "core/format_float.h"
#include "core/helper_thread.h"
#include "core/names.h"
#include "query/functions.h"
#include "query/parser.h"
#include "query/printer.h"
#include "store/aggregate.h"

namespace vigil::query {
namespace {

using model::Labels;
using model::Sample;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Steps {
  int64_t start;
  int64_t end;
  int64_t step;
  size_t count() const { return static_cast<size_t>((end - start) / step + 1); }
  int64_t At(size_t i) const { return start + static_cast<int64_t>(i) * step; }
};

// An intermediate value over the evaluation's steps.
struct Value {
  ValueType type = ValueType::kVector;
  std::vector<double> scalars;       // kScalar: one per step
  std::vector<SeriesResult> series;  // kVector: points at step times
  std::string text;                  // kString
  bool ordered = false;              // kVector: keep this order in an instant result
};

Status ExecutionError(std::string message) { return FailedPreconditionError(std::move(message)); }

Status DuplicateLabelsetError() {
  return ExecutionError("vector cannot contain metrics with the same labelset");
}

Labels DropName(const Labels& labels) {
  if (labels.MetricName().empty()) return labels;
  return labels.With(model::kMetricNameLabel, "");
}

// Labels from pairs the engine built out of valid labels; a bad pair is a bug.
Labels BuildLabels(std::vector<model::Label> pairs) {
  auto labels = Labels::FromPairs(std::move(pairs));
  VIGIL_CHECK(labels.ok(), "query engine built invalid labels: " + labels.status().ToString());
  return *std::move(labels);
}

// Gathers output points by label set. Points of one label set may come from several
// inputs (two series that differ only in the name a function dropped); Finish merges them
// and fails when two fall on one step, as Prometheus does.
class SeriesCollector {
 public:
  void Add(const Labels& labels, int64_t t, double v) {
    auto [it, inserted] = index_.try_emplace(labels, series_.size());
    if (inserted) series_.push_back({labels, {}});
    series_[it->second].points.push_back({t, v});
  }
  void AddSeries(SeriesResult s) {
    auto [it, inserted] = index_.try_emplace(s.labels, series_.size());
    if (inserted) {
      series_.push_back(std::move(s));
      return;
    }
    auto& points = series_[it->second].points;
    points.insert(points.end(), s.points.begin(), s.points.end());
  }
  Result<std::vector<SeriesResult>> Finish() {
    for (SeriesResult& s : series_) {
      auto& p = s.points;
      if (!std::is_sorted(p.begin(), p.end(), ByTime)) std::stable_sort(p.begin(), p.end(), ByTime);
      for (size_t i = 1; i < p.size(); ++i) {
        if (p[i].timestamp_ms == p[i - 1].timestamp_ms) return DuplicateLabelsetError();
      }
    }
    return std::move(series_);
  }

 private:
  static bool ByTime(const Sample& a, const Sample& b) { return a.timestamp_ms < b.timestamp_ms; }
  std::unordered_map<Labels, size_t, model::LabelsHash> index_;
  std::vector<SeriesResult> series_;
};

// Walks series step by step: at each step (ascending), the series with a point there.
class StepWalker {
 public:
  struct Item {
    size_t series;
    double value;
  };
  explicit StepWalker(const std::vector<SeriesResult>& series)
      : series_(series), cursor_(series.size(), 0) {}
  const std::vector<Item>& At(int64_t t) {
    items_.clear();
    for (size_t i = 0; i < series_.size(); ++i) {
      const auto& points = series_[i].points;
      size_t& c = cursor_[i];
      while (c < points.size() && points[c].timestamp_ms < t) ++c;
      if (c < points.size() && points[c].timestamp_ms == t) items_.push_back({i, points[c].value});
    }
    return items_;
  }

 private:
  const std::vector<SeriesResult>& series_;
  std::vector<size_t> cursor_;
  std::vector<Item> items_;
};

bool IsComparison(const std::string& op) {
  return op == "==" || op == "!=" || op == ">" || op == "<" || op == ">=" || op == "<=";
}
bool IsArithmetic(const std::string& op) {
  return op == "+" || op == "-" || op == "*" || op == "/" || op == "%" || op == "^" ||
         op == "atan2";
}

// The value of `a op b` and whether a comparison holds (arithmetic always "holds").
double ApplyOperator(const std::string& op, double a, double b, bool* keep) {
  *keep = true;
  switch (op[0]) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      return std::fmod(a, b);
    case '^':
      return std::pow(a, b);
    case 'a':
      return std::atan2(a, b);  // atan2
    default:
      break;
  }
  if (op == "==")
    *keep = a == b;
  else if (op == "!=")
    *keep = a != b;
  else if (op == ">")
    *keep = a > b;
  else if (op == "<")
    *keep = a < b;
  else if (op == ">=")
    *keep = a >= b;
  else if (op == "<=")
    *keep = a <= b;
  return a;
}

// The labels absent() and absent_over_time() report for a missing selector.
Labels AbsentLabels(const Node& arg) {
  if (arg.kind != NodeKind::kVectorSelector && arg.kind != NodeKind::kMatrixSelector) return {};
  std::vector<model::Label> pairs;
  std::unordered_set<std::string> seen;
  for (const model::Matcher& m : arg.matchers) {
    if (m.name() == model::kMetricNameLabel) continue;
    auto existing = std::find_if(pairs.begin(), pairs.end(),
                                 [&](const model::Label& l) { return l.name == m.name(); });
    if (m.type() == model::MatchType::kEqual && !seen.count(m.name())) {
      if (existing != pairs.end()) pairs.erase(existing);
      pairs.push_back({m.name(), m.value()});
      seen.insert(m.name());
    } else if (existing != pairs.end()) {
      pairs.erase(existing);
    }
  }
  return BuildLabels(std::move(pairs));
}

const Node& Unwrap(const Node& node) {
  const Node* n = &node;
  while (n->kind == NodeKind::kParen) n = n->args[0].get();
  return *n;
}

// The matching signature of a series: the labels of on(…), or all but ignoring(…) and the
// name.
std::string Signature(const Labels& labels, bool on, const std::vector<std::string>& names) {
  std::string out;
  for (const model::LabelRef& l : labels) {
    const bool listed = std::find(names.begin(), names.end(), l.name) != names.end();
    if (on ? listed : (!listed && l.name != model::kMetricNameLabel)) {
      out.append(l.name);
      out.push_back('\xff');
      out.append(l.value);
      out.push_back('\xff');
    }
  }
  return out;
}

// Go's Regexp.Expand for label_replace's replacement: $1, ${1}, $name, ${name}, $$.
std::string ExpandReplacement(const std::string& replacement, const RE2& re,
                              const std::vector<re2::StringPiece>& groups) {
  std::string out;
  const auto& named = re.NamedCapturingGroups();
  for (size_t i = 0; i < replacement.size(); ++i) {
    const char c = replacement[i];
    if (c != '$' || i + 1 >= replacement.size()) {
      out += c;
      continue;
    }
    if (replacement[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string name;
    size_t next = i + 1;
    if (replacement[next] == '{') {
      const size_t close = replacement.find('}', next);
      if (close == std::string::npos) {
        out += c;
        continue;
      }
      name = replacement.substr(next + 1, close - next - 1);
      next = close + 1;
    } else {
      while (next < replacement.size() &&
             (std::isalnum(static_cast<unsigned char>(replacement[next])) ||
              replacement[next] == '_')) {
        name += replacement[next++];
      }
    }
    if (name.empty()) {
      out += c;
      continue;
    }
    int index = -1;
    if (std::all_of(name.begin(), name.end(), [](char ch) { return std::isdigit(ch); })) {
      index = name.size() > 9 ? -1 : std::stoi(name);
    } else if (auto it = named.find(name); it != named.end()) {
      index = it->second;
    }
    if (index >= 0 && static_cast<size_t>(index) < groups.size() && groups[index].data()) {
      out.append(groups[index].data(), groups[index].size());
    }
    i = next - 1;
  }
  return out;
}

// The selectors, calls and aggregations of `root` whose text occurs more than once, with
// that text.
std::unordered_map<const Node*, std::string> RepeatedExpressions(const Node& root) {
  std::unordered_map<std::string, std::vector<const Node*>> by_text;
  std::vector<const Node*> stack = {&root};
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    if (node->kind == NodeKind::kVectorSelector || node->kind == NodeKind::kCall ||
        node->kind == NodeKind::kAggregate) {
      by_text[Format(*node)].push_back(node);
    }
    for (const auto& arg : node->args) stack.push_back(arg.get());
  }
  std::unordered_map<const Node*, std::string> repeated;
  for (auto& [text, nodes] : by_text) {
    if (nodes.size() < 2) continue;
    for (const Node* node : nodes) repeated.emplace(node, text);
  }
  return repeated;
}

// Everything one query shares across its nested evaluations.
struct QueryContext {
  store::Store& store;
  const EngineOptions& options;
  int64_t query_start_ms;  // for @ start()
  int64_t query_end_ms;    // for @ end()
  std::vector<std::string>* warnings;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::atomic<int64_t>* samples_in_flight = nullptr;  // the engine's, across its queries
  std::atomic<int64_t> samples = 0;  // counted from the store's reading threads too
  // Selectors, calls and aggregations written more than once in the query (by their text,
  // RepeatedExpressions), and their values once evaluated over a set of steps: in
  // `a / on() group_left sum(a)` the series of `a` are read once.
  std::unordered_map<const Node*, std::string> repeated;
  std::map<std::tuple<std::string, int64_t, int64_t, int64_t>, Value> shared;

  ~QueryContext() {
    if (samples_in_flight != nullptr) samples_in_flight->fetch_sub(samples.load());
  }
  void UncountSamples(int64_t n) {
    samples -= n;
    if (samples_in_flight != nullptr) *samples_in_flight -= n;
  }

  // DeadlineExceeded once the query's time is up; called between units of work.
  Status CheckDeadline() const {
    if (std::chrono::steady_clock::now() > deadline) {
      return DeadlineExceededError("query timed out in expression evaluation");
    }
    return OkStatus();
  }

  // Counts n samples as loaded by this query and by the engine's queries together (the
  // destructor gives the latter back); an error past either limit.
  Status CountSamples(size_t n) {
    const int64_t in_flight =
        samples_in_flight == nullptr
            ? 0
            : samples_in_flight->fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    if (samples.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n) >
        options.max_samples) {
      return ResourceExhaustedError(
          "query processing would load too many samples into memory in query execution");
    }
    if (options.max_samples_in_flight > 0 && in_flight > options.max_samples_in_flight) {
      return UnavailableError(
          "the queries running now hold more than " +
          std::to_string(options.max_samples_in_flight) +
          " samples between them (query.max_samples_in_flight); try again shortly");
    }
    return OkStatus();
  }
};

// A range vector's series: raw samples, ascending, stale markers removed.
struct RangeSeries {
  Labels labels;
  std::vector<Sample> samples;
};

// Label order: the order of Prometheus's answers, and of ties in topk and sort.
void SortSeries(std::vector<SeriesResult>* series) {
  auto by_labels = [](const SeriesResult& a, const SeriesResult& b) { return a.labels < b.labels; };
  if (!std::is_sorted(series->begin(), series->end(), by_labels)) {
    std::sort(series->begin(), series->end(), by_labels);
  }
}

class Evaluator {
 public:
  Evaluator(QueryContext& context, Steps steps) : context_(context), steps_(steps) {}

  Result<Value> Eval(const Node& node) {
    if (++depth_ > kMaxNesting * 2) {
      return InvalidArgumentError("expression nested too deeply to evaluate");
    }
    VIGIL_RETURN_IF_ERROR(context_.CheckDeadline());
    Result<Value> result = EvalOnce(node);
    --depth_;
    return result;
  }

  // EvalNode, or a copy of the value of an equal expression already evaluated over these
  // steps (QueryContext::shared).
  Result<Value> EvalOnce(const Node& node) {
    auto repeated = context_.repeated.find(&node);
    if (repeated == context_.repeated.end()) return EvalNode(node);
    const auto key = std::tuple(repeated->second, steps_.start, steps_.end, steps_.step);
    auto shared = context_.shared.find(key);
    if (shared == context_.shared.end()) {
      VIGIL_ASSIGN_OR_RETURN(Value value, EvalNode(node));
      shared = context_.shared.emplace(key, std::move(value)).first;
    }
    return shared->second;
  }

  // The samples of a range vector (a range selector or a subquery) at one time `eval_ms`,
  // each series' window (eval - range, eval]; for an instant query's matrix result.
  Result<std::vector<RangeSeries>> RangeVector(const Node& node) {
    std::vector<RangeSeries> out;
    VIGIL_RETURN_IF_ERROR(ForEachRangeSeries(
        Unwrap(node), [&](const Labels& labels, std::vector<Sample>& samples) -> Status {
          out.push_back({labels, std::move(samples)});
          return OkStatus();
        }));
    return out;
  }

  int64_t EffectiveTime(const Node& node, int64_t t) const {
    int64_t base = t;
    switch (node.at) {
      case AtModifier::kTimestamp:
        base = node.at_ms;
        break;
      case AtModifier::kStart:
        base = context_.query_start_ms;
        break;
      case AtModifier::kEnd:
        base = context_.query_end_ms;
        break;
      case AtModifier::kNone:
        break;
    }
    return base - node.offset_ms;
  }

 private:
  Result<Value> EvalNode(const Node& node) {
    switch (node.kind) {
      case NodeKind::kNumber: {
        Value v;
        v.type = ValueType::kScalar;
        v.scalars.assign(steps_.count(), node.number);
        return v;
      }
      case NodeKind::kString: {
        Value v;
        v.type = ValueType::kString;
        v.text = node.text;
        return v;
      }
      case NodeKind::kVectorSelector:
        return Selector(node, /*sample_time=*/false);
      case NodeKind::kMatrixSelector:
      case NodeKind::kSubquery:
        return InvalidArgumentError("a range vector cannot be evaluated here");
      case NodeKind::kCall:
        return Call(node);
      case NodeKind::kAggregate:
        return Aggregate(node);
      case NodeKind::kBinary:
      case NodeKind::kUnary:
      case NodeKind::kParen:
        return Operators(node);
    }
    return InternalError("unknown node");
  }

  // The store's series (store::Store::ForEachSeries), each counted against the query's
  // sample limits, then given to `transform` — in the store's reading threads, several
  // at once, so it may only touch its arguments and read the evaluator — then, unless
  // that left it empty, to fn, one at a time.
  Status ReadEach(const std::vector<model::Matcher>& matchers, int64_t start, int64_t end,
                  const store::StepPicks* picks, const store::Store::SeriesFn& transform,
                  const store::Store::SeriesFn& fn) {
    return context_.store.ForEachSeries(
        matchers, start, end, picks, context_.warnings,
        [&](const Labels& labels, std::vector<Sample>& samples) -> Status {
          VIGIL_RETURN_IF_ERROR(context_.CountSamples(samples.size()));
          VIGIL_RETURN_IF_ERROR(context_.CheckDeadline());
          return transform(labels, samples);
        },
        fn);
  }

  Value Scalars(std::vector<double> values) {
    Value v;
    v.type = ValueType::kScalar;
    v.scalars = std::move(values);
    return v;
  }

  // --- selectors ------------------------------------------------------------------------

  // An instant selector at every step; `sample_time` gives each point the time of the
  // sample it took (in seconds) instead of its value, for timestamp().
  Result<Value> Selector(const Node& node, bool sample_time) {
    Value v;
    VIGIL_RETURN_IF_ERROR(ReadStepValues(
        node, sample_time, [&](const Labels& labels, std::vector<Sample>& points) -> Status {
          v.series.push_back({labels, points});
          return OkStatus();
        }));
    SortSeries(&v.series);  // sorted already (the store hands them over in label order)
    return v;
  }

  // Reads an instant selector's series as their points at the steps (Selector's), handing
  // each to fn in the order of their labels.
  Status ReadStepValues(const Node& node, bool sample_time, const store::Store::SeriesFn& fn) {
    const int64_t lookback = context_.options.lookback_ms;
    const int64_t first = EffectiveTime(node, steps_.start);
    const int64_t last = EffectiveTime(node, steps_.end);
    // Each step takes the last sample at or before its effective time: the store need
    // give no other.
    store::StepPicks picks{.first = first, .step = 1, .count = 1};
    if (node.at == AtModifier::kNone && steps_.step > 0) {
      picks.step = steps_.step;
      picks.count = steps_.count();
    }
    return ReadEach(
        node.matchers, first - lookback + 1, last, &picks,
        [&](const Labels&, std::vector<Sample>& samples) -> Status {
          // The series' value at each step, in room each reading thread keeps (swapped
          // with the samples' own, so both keep theirs). Effective times go up by the
          // picks' step (0 under @).
          thread_local std::vector<Sample> points;
          points.clear();
          // Counted once: steps_.count() divides, and the loop cannot know it is constant.
          const size_t steps = steps_.count();
          points.reserve(steps);
          const int64_t effective_step = picks.count > 1 ? picks.step : 0;
          int64_t t = steps_.start, effective = first;
          size_t j = 0;  // samples[0, j) are at or before the effective time
          for (size_t i = 0; i < steps; ++i, t += steps_.step, effective += effective_step) {
            while (j < samples.size() && samples[j].timestamp_ms <= effective) ++j;
            if (j == 0) continue;
            const Sample& sample = samples[j - 1];
            if (sample.timestamp_ms <= effective - lookback || model::IsStaleMarker(sample.value))
              continue;
            points.push_back(
                {t, sample_time ? static_cast<double>(sample.timestamp_ms) / 1000 : sample.value});
          }
          samples.swap(points);
          return OkStatus();
        },
        fn);
  }

  // Calls fn(labels, samples) for each series of a range selector or subquery with every
  // sample any step's window needs (ascending, stale markers removed, never empty), a
  // series at a time and in no particular order.
  Status ForEachRangeSeries(const Node& node, const store::Store::SeriesFn& fn) {
    const int64_t first = EffectiveTime(node, steps_.start);
    const int64_t last = EffectiveTime(node, steps_.end);
    if (node.kind == NodeKind::kMatrixSelector) {
      return ReadEach(
          node.matchers, first - node.range_ms + 1, last, /*picks=*/nullptr,
          [](const Labels&, std::vector<Sample>& samples) -> Status {
            std::erase_if(samples, [](const Sample& x) { return model::IsStaleMarker(x.value); });
            return OkStatus();
          },
          fn);
    }
    // A subquery: its expression evaluated at every multiple of its step inside the windows.
    const int64_t step = node.step_ms > 0 ? node.step_ms : context_.options.subquery_step_ms;
    const int64_t low = first - node.range_ms;
    int64_t start = step * (low / step);
    if (low < 0 && low % step != 0) start -= step;
    if (start <= low) start += step;
    if (start > last) return OkStatus();
    VIGIL_RETURN_IF_ERROR(context_.CountSamples(static_cast<size_t>((last - start) / step + 1)));
    Evaluator inner(context_, Steps{start, last, step});
    inner.depth_ = depth_;
    VIGIL_ASSIGN_OR_RETURN(Value value, inner.Eval(*node.args[0]));
    for (SeriesResult& s : value.series) VIGIL_RETURN_IF_ERROR(fn(s.labels, s.points));
    return OkStatus();
  }

  // --- functions ------------------------------------------------------------------------

  Result<Value> Call(const Node& node) {
    const Function& f = *node.function;
    switch (f.klass) {
      case FunctionClass::kRange:
        return RangeCall(node);
      case FunctionClass::kMath: {
        VIGIL_ASSIGN_OR_RETURN(Value arg, Eval(*node.args[0]));
        for (SeriesResult& s : arg.series) {
          for (Sample& p : s.points) p.value = f.math(p.value);
        }
        return DroppingName(std::move(arg));
      }
      case FunctionClass::kDate:
        return DateCall(node);
      case FunctionClass::kSpecial:
        break;
    }
    const std::string_view name = f.name;
    if (name == "time" || name == "pi") {
      std::vector<double> values(steps_.count());
      for (size_t i = 0; i < values.size(); ++i) {
        values[i] = name == "pi" ? std::numbers::pi : static_cast<double>(steps_.At(i)) / 1000;
      }
      return Scalars(std::move(values));
    }
    if (name == "vector") {
      VIGIL_ASSIGN_OR_RETURN(Value arg, Eval(*node.args[0]));
      SeriesResult only{Labels(), {}};
      for (size_t i = 0; i < arg.scalars.size(); ++i)
        only.points.push_back({steps_.At(i), arg.scalars[i]});
      Value v;
      v.series.push_back(std::move(only));
      return v;
    }
    if (name == "scalar") {
      VIGIL_ASSIGN_OR_RETURN(Value arg, Eval(*node.args[0]));
      std::vector<double> values(steps_.count(), kNaN);
      std::vector<int> found(steps_.count(), 0);
      for (const SeriesResult& s : arg.series) {
        for (const Sample& p : s.points) {
          const size_t i = StepIndex(p.timestamp_ms);
          values[i] = ++found[i] == 1 ? p.value : kNaN;
        }
      }
      return Scalars(std::move(values));
    }
    if (name == "timestamp") {
      const Node& arg = Unwrap(*node.args[0]);
      Value v;
      if (arg.kind == NodeKind::kVectorSelector) {
        VIGIL_ASSIGN_OR_RETURN(v, Selector(arg, /*sample_time=*/true));
      } else {
        VIGIL_ASSIGN_OR_RETURN(v, Eval(*node.args[0]));
        for (SeriesResult& s : v.series) {
          for (Sample& p : s.points) p.value = static_cast<double>(p.timestamp_ms) / 1000;
        }
      }
      return DroppingName(std::move(v));
    }
    if (name == "absent") {
      VIGIL_ASSIGN_OR_RETURN(Value arg, Eval(*node.args[0]));
      return Absent(Unwrap(*node.args[0]), StepsWithPoints(arg.series));
    }
    if (name == "absent_over_time") {
      const Node& arg = Unwrap(*node.args[0]);
      std::vector<bool> present(steps_.count(), false);
      VIGIL_RETURN_IF_ERROR(
          ForEachRangeSeries(arg, [&](const Labels&, std::vector<Sample>& samples) -> Status {
            return ForEachWindow(arg, samples, [&](size_t i, std::span<const Sample> window) {
              if (!window.empty()) present[i] = true;
            });
          }));
      return Absent(arg, present);
    }
    if (name == "clamp" || name == "clamp_min" || name == "clamp_max" || name == "round") {
      return ClampOrRound(node);
    }
    if (name == "sort" || name == "sort_desc" || name == "sort_by_label" ||
        name == "sort_by_label_desc") {
      return Sort(node);
    }
    if (name == "label_replace") return LabelReplace(node);
    if (name == "label_join") return LabelJoin(node);
    if (name == "histogram_quantile") return HistogramQuantile(node);
    if (name.rfind("histogram_", 0) == 0) {
      // Native histograms only: nothing over float samples. Evaluate the argument anyway,
      // so its errors are reported.
      for (const auto& arg : node.args) VIGIL_RETURN_IF_ERROR(Eval(*arg).status());
      return Value{};
    }
    return InvalidArgumentError(fmt::format("function \"{}\" is not implemented", name));
  }

  size_t StepIndex(int64_t t) const {
    return static_cast<size_t>((t - steps_.start) / steps_.step);
  }

  std::vector<bool> StepsWithPoints(const std::vector<SeriesResult>& series) const {
    std::vector<bool> present(steps_.count(), false);
    for (const SeriesResult& s : series) {
      for (const Sample& p : s.points) present[StepIndex(p.timestamp_ms)] = true;
    }
    return present;
  }

  Value Absent(const Node& arg, const std::vector<bool>& present) {
    SeriesResult out{AbsentLabels(arg), {}};
    for (size_t i = 0; i < present.size(); ++i) {
      if (!present[i]) out.points.push_back({steps_.At(i), 1});
    }
    Value v;
    if (!out.points.empty()) v.series.push_back(std::move(out));
    return v;
  }

  // Drops __name__ from every series and merges those that then share labels.
  Result<Value> DroppingName(Value v) {
    SeriesCollector collector;
    for (SeriesResult& s : v.series) {
      s.labels = DropName(s.labels);
      collector.AddSeries(std::move(s));
    }
    VIGIL_ASSIGN_OR_RETURN(v.series, collector.Finish());
    return v;
  }

  // Calls `fn(step index, window)` for each step with the samples of (eff - range, eff].
  // Windows may overlap, so the work grows with range/step; the deadline is checked as it
  // goes (DeadlineExceeded).
  template <typename Fn>
  Status ForEachWindow(const Node& range_node, const std::vector<Sample>& samples, Fn&& fn) {
    size_t low = 0, high = 0, work = 0;
    const size_t steps = steps_.count();
    for (size_t i = 0; i < steps; ++i) {
      const int64_t end = EffectiveTime(range_node, steps_.At(i));
      const int64_t start = end - range_node.range_ms;
      while (high < samples.size() && samples[high].timestamp_ms <= end) ++high;
      while (low < high && samples[low].timestamp_ms <= start) ++low;
      if (low > high) low = high;
      work += high - low + 1;
      if (work > (1 << 16)) {
        work = 0;
        VIGIL_RETURN_IF_ERROR(context_.CheckDeadline());
      }
      fn(i, std::span<const Sample>(samples.data() + low, high - low));
    }
    return OkStatus();
  }

  Result<Value> RangeCall(const Node& node) {
    const Function& f = *node.function;
    // The range vector and the scalar arguments (per step), in signature order.
    size_t range_index = 0;
    std::vector<std::vector<double>> scalar_args;
    for (size_t i = 0; i < node.args.size(); ++i) {
      if (node.args[i]->type == ValueType::kMatrix) {
        range_index = i;
        continue;
      }
      VIGIL_ASSIGN_OR_RETURN(Value arg, Eval(*node.args[i]));
      scalar_args.push_back(std::move(arg.scalars));
    }
    const Node& range_node = Unwrap(*node.args[range_index]);
    if (f.pushdown && range_node.kind == NodeKind::kMatrixSelector &&
        range_node.at == AtModifier::kNone) {
      return PushedDown(node, range_node);
    }
    SeriesCollector collector;
    std::vector<double> params(scalar_args.size());
    std::string error;
    VIGIL_RETURN_IF_ERROR(ForEachRangeSeries(
        range_node, [&](const Labels& labels, std::vector<Sample>& samples) -> Status {
          SeriesResult out{f.keeps_name ? labels : DropName(labels), {}};
          VIGIL_RETURN_IF_ERROR(
              ForEachWindow(range_node, samples, [&](size_t i, std::span<const Sample> window) {
                if (!error.empty() || window.empty()) return;
                for (size_t a = 0; a < scalar_args.size(); ++a) params[a] = scalar_args[a][i];
                const int64_t end = EffectiveTime(range_node, steps_.At(i));
                Window w{.samples = window,
                         .start_ms = end - range_node.range_ms,
                         .end_ms = end,
                         .range_ms = range_node.range_ms,
                         .eval_ms = steps_.At(i),
                         .params = params.data(),
                         .error = &error};
                double value;
                if (f.range(w, &value)) out.points.push_back({steps_.At(i), value});
              }));
          if (!error.empty()) return ExecutionError(error);
          if (!out.points.empty()) collector.AddSeries(std::move(out));
          return OkStatus();
        }));
    Value v;
    VIGIL_ASSIGN_OR_RETURN(v.series, collector.Finish());
    SortSeries(&v.series);
    return v;
  }

  // A function the store evaluates itself over a plain range selector.
  Result<Value> PushedDown(const Node& node, const Node& selector) {
    const Function& f = *node.function;
    store::AggregateQuery query;
    query.matchers = selector.matchers;
    query.start_ms = steps_.start - selector.offset_ms;
    query.end_ms = steps_.end - selector.offset_ms;
    query.step_ms = steps_.step;
    query.window_ms = selector.range_ms;
    query.function = *f.pushdown;
    VIGIL_ASSIGN_OR_RETURN(store::SelectResult result, context_.store.Aggregate(query));
    for (std::string& w : result.warnings) context_.warnings->push_back(std::move(w));
    SeriesCollector collector;
    size_t points = 0;
    for (store::SeriesSamples& s : result.series) {
      for (Sample& p : s.samples) p.timestamp_ms += selector.offset_ms;
      points += s.samples.size();
      collector.AddSeries(
          {f.keeps_name ? std::move(s.labels) : DropName(s.labels), std::move(s.samples)});
    }
    VIGIL_RETURN_IF_ERROR(context_.CountSamples(points));
    Value v;
    VIGIL_ASSIGN_OR_RETURN(v.series, collector.Finish());
    return v;
  }

  Result<Value> DateCall(const Node& node) {
    const Function& f = *node.function;
    if (node.args.empty()) {
      SeriesResult only{Labels(), {}};
      for (size_t i = 0; i < steps_.count(); ++i) {
        only.points.push_back({steps_.At(i), f.date(steps_.At(i) / 1000)});
      }
      Value v;
      v.series.push_back(std::move(only));
      return v;
    }
    VIGIL_ASSIGN_OR_RETURN(Value arg, Eval(*node.args[0]));
    for (SeriesResult& s : arg.series) {
      for (Sample& p : s.points) {
        // Go's int64(NaN or ±Inf) on amd64 is the smallest int64.
        const int64_t seconds = std::isfinite(p.value) && std::fabs(p.value) < 9.2e18
                                    ? static_cast<int64_t>(p.value)
                                    : std::numeric_limits<int64_t>::min();
        p.value = f.date(seconds);
      }
    }
    return DroppingName(std::move(arg));
  }

  Result<Value> ClampOrRound(const Node& node) {
    const std::string_view name = node.function->name;
    VIGIL_ASSIGN_OR_RETURN(Value arg, Eval(*node.args[0]));
    std::vector<std::vector<double>> params;
    for (size_t i = 1; i < node.args.size(); ++i) {
      VIGIL_ASSIGN_OR_RETURN(Value p, Eval(*node.args[i]));
      params.push_back(std::move(p.scalars));
    }
    for (SeriesResult& s : arg.series) {
      std::vector<Sample> kept;
      for (const Sample& p : s.points) {
        const size_t i = StepIndex(p.timestamp_ms);
        double low = -std::numeric_limits<double>::infinity();
        double high = std::numeric_limits<double>::infinity();
        if (name == "round") {
          const double inverse = 1.0 / (params.empty() ? 1.0 : params[0][i]);
          kept.push_back({p.timestamp_ms, std::floor(p.value * inverse + 0.5) / inverse});
          continue;
        }
        if (name == "clamp") {
          low = params[0][i];
          high = params[1][i];
        } else if (name == "clamp_min") {
          low = params[0][i];
        } else {
          high = params[0][i];
        }
        if (high < low) continue;
        kept.push_back({p.timestamp_ms, std::fmax(low, std::fmin(high, p.value))});
      }
      s.points = std::move(kept);
    }
    std::erase_if(arg.series, [](const SeriesResult& s) { return s.points.empty(); });
    return DroppingName(std::move(arg));
  }

  Result<Value> Sort(const Node& node) {
    const std::string_view name = node.function->name;
    VIGIL_ASSIGN_OR_RETURN(Value v, Eval(*node.args[0]));
    std::vector<std::string> by;
    for (size_t i = 1; i < node.args.size(); ++i) by.push_back(node.args[i]->text);
    if (steps_.count() == 1) {  // the order shows only in an instant result
      auto value = [](const SeriesResult& s) { return s.points[0].value; };
      if (name == "sort" || name == "sort_desc") {
        const bool descending = name == "sort_desc";
        std::stable_sort(v.series.begin(), v.series.end(),
                         [&](const SeriesResult& a, const SeriesResult& b) {
                           const double x = value(a), y = value(b);
                           if (std::isnan(x)) return false;  // NaN last either way
                           if (std::isnan(y)) return true;
                           return descending ? x > y : x < y;
                         });
      } else {
        const bool descending = name == "sort_by_label_desc";
        std::stable_sort(v.series.begin(), v.series.end(),
                         [&](const SeriesResult& a, const SeriesResult& b) {
                           for (const std::string& l : by) {
                             const auto x = a.labels.Get(l), y = b.labels.Get(l);
                             if (x != y) return descending ? x > y : x < y;
                           }
                           return descending ? b.labels < a.labels : a.labels < b.labels;
                         });
      }
      v.ordered = true;
    }
    return v;
  }

  Result<Value> LabelReplace(const Node& node) {
    const std::string& destination = node.args[1]->text;
    const std::string& replacement = node.args[2]->text;
    const std::string& source = node.args[3]->text;
    const std::string& pattern = node.args[4]->text;
    RE2::Options options;
    options.set_log_errors(false);
    options.set_dot_nl(true);
    RE2 re("^(?:" + pattern + ")$", options);
    if (!re.ok()) {
      return ExecutionError("invalid regular expression in label_replace(): " + pattern);
    }
    if (!IsValidLabelName(destination)) {
      return ExecutionError("invalid destination label name in label_replace(): " + destination);
    }
    VIGIL_ASSIGN_OR_RETURN(Value v, Eval(*node.args[0]));
    std::vector<re2::StringPiece> groups(static_cast<size_t>(re.NumberOfCapturingGroups()) + 1);
    return SetLabel(
        std::move(v), destination, "label_replace",
        [&](const Labels& labels) -> std::optional<std::string> {
          const std::string_view value = labels.Get(source);
          if (!re.Match(re2::StringPiece(value.data(), value.size()), 0, value.size(),
                        RE2::ANCHOR_BOTH, groups.data(), static_cast<int>(groups.size()))) {
            return std::nullopt;  // no match: the series is left as it is
          }
          return ExpandReplacement(replacement, re, groups);
        });
  }

  // Sets `destination` on every series to what `value_of` gives (nullopt leaves the series
  // alone, "" removes the label), then merges series that now share labels.
  template <typename ValueOf>
  Result<Value> SetLabel(Value v, const std::string& destination, const char* function,
                         ValueOf&& value_of) {
    SeriesCollector collector;
    for (SeriesResult& s : v.series) {
      if (std::optional<std::string> value = value_of(s.labels)) {
        if (destination == model::kMetricNameLabel && !value->empty() &&
            !IsValidMetricName(*value)) {
          return ExecutionError(fmt::format("invalid metric name in {}(): {}", function, *value));
        }
        s.labels.Set(destination, *value);
      }
      collector.AddSeries(std::move(s));
    }
    VIGIL_ASSIGN_OR_RETURN(v.series, collector.Finish());
    return v;
  }

  Result<Value> LabelJoin(const Node& node) {
    const std::string& destination = node.args[1]->text;
    const std::string& separator = node.args[2]->text;
    std::vector<std::string> sources;
    for (size_t i = 3; i < node.args.size(); ++i) {
      if (!IsValidLabelName(node.args[i]->text)) {
        return ExecutionError("invalid source label name in label_join(): " + node.args[i]->text);
      }
      sources.push_back(node.args[i]->text);
    }
    if (!IsValidLabelName(destination)) {
      return ExecutionError("invalid destination label name in label_join(): " + destination);
    }
    VIGIL_ASSIGN_OR_RETURN(Value v, Eval(*node.args[0]));
    return SetLabel(std::move(v), destination, "label_join",
                    [&](const Labels& labels) -> std::optional<std::string> {
                      std::string joined;
                      for (size_t i = 0; i < sources.size(); ++i) {
                        if (i) joined += separator;
                        joined += labels.Get(sources[i]);
                      }
                      return joined;
                    });
  }

  Result<Value> HistogramQuantile(const Node& node) {
    VIGIL_ASSIGN_OR_RETURN(Value q, Eval(*node.args[0]));
    VIGIL_ASSIGN_OR_RETURN(Value v, Eval(*node.args[1]));
    // Per series: its bucket bound and its group (the labels without `le`, name included).
    std::unordered_map<std::string, size_t> group_index;
    std::vector<Labels> group_labels;
    std::vector<int64_t> series_group(v.series.size(), -1);
    std::vector<double> bound(v.series.size());
    bool bad_bucket = false;
    for (size_t i = 0; i < v.series.size(); ++i) {
      const std::string le(v.series[i].labels.Get("le"));
      char* end = nullptr;
      const double upper = std::strtod(le.c_str(), &end);
      if (le.empty() || end != le.c_str() + le.size()) {
        bad_bucket = true;
        continue;
      }
      bound[i] = upper;
      const Labels without_le = v.series[i].labels.With("le", "");
      auto [it, inserted] = group_index.try_emplace(without_le.ToString(), group_labels.size());
      if (inserted) group_labels.push_back(DropName(without_le));
      series_group[i] = static_cast<int64_t>(it->second);
    }
    if (bad_bucket) {
      context_.warnings->push_back(
          "PromQL warning: bucket label \"le\" is missing or has a "
          "malformed value");
    }
    SeriesCollector collector;
    StepWalker walker(v.series);
    std::vector<std::vector<Bucket>> buckets(group_labels.size());
    for (size_t i = 0; i < steps_.count(); ++i) {
      VIGIL_RETURN_IF_ERROR(context_.CheckDeadline());
      const int64_t t = steps_.At(i);
      for (auto& b : buckets) b.clear();
      for (const StepWalker::Item& item : walker.At(t)) {
        if (series_group[item.series] < 0) continue;
        buckets[static_cast<size_t>(series_group[item.series])].push_back(
            {bound[item.series], item.value});
      }
      for (size_t g = 0; g < buckets.size(); ++g) {
        if (buckets[g].empty()) continue;
        collector.Add(group_labels[g], t, BucketQuantile(q.scalars[i], buckets[g]));
      }
    }
    Value out;
    VIGIL_ASSIGN_OR_RETURN(out.series, collector.Finish());
    return out;
  }

  // --- aggregations ---------------------------------------------------------------------

  // The aggregation operators, named once so that the per-sample work compares no strings.
  enum class AggregateOp {
    kSum,
    kAvg,
    kMin,
    kMax,
    kCount,
    kGroup,
    kStddev,
    kStdvar,
    kQuantile,
    kCountValues,
    kTopk,
    kBottomk,
    kLimitk,
    kLimitRatio
  };

  static AggregateOp AggregateOpOf(const std::string& op) {
    static const std::unordered_map<std::string, AggregateOp> ops = {
        {"sum", AggregateOp::kSum},           {"avg", AggregateOp::kAvg},
        {"min", AggregateOp::kMin},           {"max", AggregateOp::kMax},
        {"count", AggregateOp::kCount},       {"group", AggregateOp::kGroup},
        {"stddev", AggregateOp::kStddev},     {"stdvar", AggregateOp::kStdvar},
        {"quantile", AggregateOp::kQuantile}, {"count_values", AggregateOp::kCountValues},
        {"topk", AggregateOp::kTopk},         {"bottomk", AggregateOp::kBottomk},
        {"limitk", AggregateOp::kLimitk},     {"limit_ratio", AggregateOp::kLimitRatio}};
    auto it = ops.find(op);
    VIGIL_CHECK(it != ops.end(), "parser let through an unknown aggregation: " + op);
    return it->second;
  }

  // What a group keeps at one step for the operators AggregateBySeries takes.
  struct Moments {
    bool seen = false;
    bool incremental_mean = false;
    double value = 0, compensation = 0, mean = 0, count = 0;
  };
  struct Accumulator : Moments {
    std::vector<double> values;                      // quantile
    std::vector<StepWalker::Item> items;             // topk, bottomk, limitk, limit_ratio
    std::unordered_map<std::string, double> counts;  // count_values
  };

  Result<Value> Aggregate(const Node& node) {
    const AggregateOp op = AggregateOpOf(node.text);
    Value param;
    if (const Node* p = node.AggregateParameter()) {
      VIGIL_ASSIGN_OR_RETURN(param, Eval(*p));
    }
    const Node& expression = node.AggregateExpression();
    if (expression.kind == NodeKind::kVectorSelector && !context_.repeated.contains(&expression)) {
      VIGIL_ASSIGN_OR_RETURN(std::optional<Value> v, AggregateSelector(node, op, expression));
      if (v.has_value()) return *std::move(v);
    }
    VIGIL_ASSIGN_OR_RETURN(Value input, Eval(expression));
    if (op == AggregateOp::kCountValues && !IsValidLabelName(param.text)) {
      return ExecutionError(fmt::format("invalid label name \"{}\"", param.text));
    }
    // Each input series' group, by the labels it keeps.
    std::unordered_map<Labels, size_t, model::LabelsHash> group_index;
    std::vector<Labels> groups;
    std::vector<size_t> series_group(input.series.size());
    for (size_t i = 0; i < input.series.size(); ++i) {
      Labels key = GroupKey(node, input.series[i].labels);
      auto [it, inserted] = group_index.try_emplace(key, groups.size());
      if (inserted) groups.push_back(std::move(key));
      series_group[i] = it->second;
    }
    const bool selects = op == AggregateOp::kTopk || op == AggregateOp::kBottomk ||
                         op == AggregateOp::kLimitk || op == AggregateOp::kLimitRatio;
    if (!selects && op != AggregateOp::kCountValues && op != AggregateOp::kQuantile &&
        groups.size() <= kGroupsBySeries) {
      return AggregateBySeries(op, input, series_group, groups);
    }
    SeriesCollector collector;
    StepWalker walker(input.series);
    std::vector<Accumulator> acc(groups.size());
    for (size_t i = 0; i < steps_.count(); ++i) {
      VIGIL_RETURN_IF_ERROR(context_.CheckDeadline());
      const int64_t t = steps_.At(i);
      const auto& items = walker.At(t);
      if (items.empty()) continue;
      for (Accumulator& a : acc) {
        a.seen = false;
        a.values.clear();
        a.items.clear();
        a.counts.clear();
      }
      int64_t k = 0;
      if (selects && op != AggregateOp::kLimitRatio) {
        const double p = param.scalars[i];
        if (!(p >= -9.2e18 && p <= 9.2e18)) {
          return ExecutionError(
              fmt::format("Scalar value {} overflows int64", FormatFloat(p, FloatStyle::kFixed)));
        }
        k = static_cast<int64_t>(p);
        if (k < 1) continue;
      }
      for (const StepWalker::Item& item : items) {
        Accumulate(op, acc[series_group[item.series]], item);
      }
      for (size_t g = 0; g < groups.size(); ++g) {
        Accumulator& a = acc[g];
        if (!a.seen) continue;
        if (selects) {
          EmitSelected(op, a.items, k, i, input, param, t, &collector);
          continue;
        }
        if (op == AggregateOp::kCountValues) {
          for (const auto& [text, count] : a.counts) {
            collector.Add(groups[g].With(param.text, text), t, count);
          }
          continue;
        }
        collector.Add(groups[g], t,
                      GroupValue(op, a, param.scalars.empty() ? 0 : param.scalars[i]));
      }
    }
    Value v;
    VIGIL_ASSIGN_OR_RETURN(v.series, collector.Finish());
    if (selects && steps_.count() == 1) {
      // An instant topk/bottomk lists its series best first, as Prometheus does.
      const bool bottom = op == AggregateOp::kBottomk;
      std::stable_sort(v.series.begin(), v.series.end(),
                       [&](const SeriesResult& a, const SeriesResult& b) {
                         const double x = a.points[0].value, y = b.points[0].value;
                         if (std::isnan(x)) return false;
                         if (std::isnan(y)) return true;
                         return bottom ? x < y : x > y;
                       });
      v.ordered = op == AggregateOp::kTopk || op == AggregateOp::kBottomk;
    }
    return v;
  }

  // The labels an aggregation's group of `labels` is known by (`by`, `without`).
  static Labels GroupKey(const Node& node, const Labels& labels) {
    std::vector<model::Label> kept;
    for (const model::LabelRef& l : labels) {
      const bool listed =
          std::find(node.grouping.begin(), node.grouping.end(), l.name) != node.grouping.end();
      if (node.without ? (!listed && l.name != model::kMetricNameLabel) : listed) {
        kept.push_back(l);
      }
    }
    return BuildLabels(std::move(kept));
  }

  // An aggregation by AggregateBySeries's operators of an instant selector, each series
  // added to its group's moments as the store hands it over rather than all of them kept
  // first (a day of 1,000 series at a 60 s step: 23 MB of points written, then read back).
  // The store hands series over in label order, so each step adds them in the order
  // AggregateBySeries does: the same values. nullopt when the operator is not one of
  // those, or when the groups would keep more than kSelectorMoments moments (they keep
  // every step at once); then the caller aggregates the selector's result instead, and
  // the samples read so far are not counted twice.
  static constexpr size_t kSelectorMoments = size_t{1} << 20;  // 40 MB
  Result<std::optional<Value>> AggregateSelector(const Node& node, AggregateOp op,
                                                 const Node& selector) {
    if (!WithMomentsOperator(op, [](auto) {})) return std::optional<Value>();
    const size_t steps = steps_.count();
    std::unordered_map<Labels, size_t, model::LabelsHash> group_index;
    std::vector<Labels> groups;
    std::vector<std::vector<Moments>> moments;  // [group][step]
    bool too_many = false;
    const int64_t counted_before = context_.samples.load();
    Status read = ReadStepValues(
        selector, /*sample_time=*/false,
        [&](const Labels& labels, std::vector<Sample>& points) -> Status {
          auto [it, inserted] = group_index.try_emplace(GroupKey(node, labels), groups.size());
          if (inserted) {
            if (groups.size() >= kGroupsBySeries ||
                (groups.size() + 1) * steps > kSelectorMoments) {
              too_many = true;
              return ResourceExhaustedError("too many groups to aggregate while reading");
            }
            groups.push_back(it->first);
            moments.emplace_back(steps);
          }
          Moments* group = moments[it->second].data();
          WithMomentsOperator(op, [&](auto kOp) {
            size_t k = 0;  // the points are at step times: their index counted on, not divided
            int64_t t = steps_.start;
            for (const Sample& p : points) {
              for (; t < p.timestamp_ms; t += steps_.step) ++k;
              AddMoment<decltype(kOp)::value>(group[k], p.value);
            }
          });
          return OkStatus();
        });
    if (too_many) {
      context_.UncountSamples(context_.samples.load() - counted_before);
      return std::optional<Value>();
    }
    VIGIL_RETURN_IF_ERROR(read);
    SeriesCollector collector;
    for (size_t k = 0; k < steps; ++k) {
      for (size_t g = 0; g < groups.size(); ++g) {
        const Moments& a = moments[g][k];
        if (a.seen) collector.Add(groups[g], steps_.At(k), MomentsValue(op, a));
      }
    }
    Value v;
    VIGIL_ASSIGN_OR_RETURN(v.series, collector.Finish());
    return std::optional<Value>(std::move(v));
  }

  // The operators whose groups keep a few numbers a step (sum, avg, count, min, max,
  // group, stddev, stdvar), series by series over a stretch of steps at a time rather than
  // step by step across every series: the same values, accumulated in the same order
  // (series order within a step), without walking a thousand series' cursors per step.
  // A large one is split in two halves of the steps, the second on a thread of its own:
  // each step is still accumulated whole, in series order, by one thread.
  static constexpr size_t kGroupsBySeries = 4096;
  static constexpr size_t kParallelAggregatePoints = size_t{1} << 18;
  Result<Value> AggregateBySeries(AggregateOp op, const Value& input,
                                  const std::vector<size_t>& series_group,
                                  const std::vector<Labels>& groups) {
    const size_t steps = steps_.count();
    size_t points = 0;
    for (const SeriesResult& s : input.series) points += s.points.size();
    const size_t half = points >= kParallelAggregatePoints ? steps / 2 : steps;
    SeriesCollector collector, second_collector;
    Status second_status;
    HelperThread second;
    if (half < steps) {
      second = HelperThread([&] {
        second_status =
            AggregateSteps(op, input, series_group, groups, half, steps, &second_collector);
      });
    }
    Status first_status = AggregateSteps(op, input, series_group, groups, 0, half, &collector);
    if (second.joinable()) second.join();
    VIGIL_RETURN_IF_ERROR(first_status);
    VIGIL_RETURN_IF_ERROR(second_status);
    if (half < steps) {
      VIGIL_ASSIGN_OR_RETURN(std::vector<SeriesResult> later, second_collector.Finish());
      for (SeriesResult& s : later) collector.AddSeries(std::move(s));
    }
    Value v;
    VIGIL_ASSIGN_OR_RETURN(v.series, collector.Finish());
    return v;
  }

  // AggregateBySeries over steps [from, to), into `collector`.
  Status AggregateSteps(AggregateOp op, const Value& input, const std::vector<size_t>& series_group,
                        const std::vector<Labels>& groups, size_t from, size_t to,
                        SeriesCollector* collector) const {
    if (from >= to) return OkStatus();
    const size_t stretch =
        std::min(to - from, std::max<size_t>(1, 65'536 / std::max<size_t>(1, groups.size())));
    std::vector<Moments> acc(groups.size() * stretch);   // [group][step in the stretch]
    std::vector<size_t> cursor(input.series.size(), 0);  // each series' first point from `from`
    for (size_t i = 0; i < input.series.size(); ++i) {
      const std::vector<Sample>& points = input.series[i].points;
      cursor[i] = static_cast<size_t>(
          std::lower_bound(points.begin(), points.end(), steps_.At(from),
                           [](const Sample& p, int64_t t) { return p.timestamp_ms < t; }) -
          points.begin());
    }
    for (size_t first = from; first < to; first += stretch) {
      VIGIL_RETURN_IF_ERROR(context_.CheckDeadline());
      const size_t n = std::min(stretch, to - first);
      for (Moments& a : acc) a.seen = false;
      const bool added = WithMomentsOperator(op, [&](auto kOp) {  // the loop made per operator
        AddStretch<decltype(kOp)::value>(input, series_group, first, n, cursor, acc.data());
      });
      if (!added) return InternalError("operator not aggregated by series");
      for (size_t k = 0; k < n; ++k) {
        for (size_t g = 0; g < groups.size(); ++g) {
          Moments& a = acc[g * n + k];
          if (a.seen) collector->Add(groups[g], steps_.At(first + k), MomentsValue(op, a));
        }
      }
    }
    return OkStatus();
  }

  // Adds each series' points at steps [first, first + n) to its group's moments at
  // acc[group × n + step − first], series after series; `cursor` is each series' next point.
  template <AggregateOp kOp>
  void AddStretch(const Value& input, const std::vector<size_t>& series_group, size_t first,
                  size_t n, std::vector<size_t>& cursor, Moments* acc) const {
    const int64_t last = steps_.At(first + n - 1);
    for (size_t i = 0; i < input.series.size(); ++i) {
      const std::vector<Sample>& points = input.series[i].points;  // at step times
      Moments* group = acc + series_group[i] * n - first;
      size_t& c = cursor[i];
      if (c >= points.size() || points[c].timestamp_ms > last) continue;
      size_t k = StepIndex(points[c].timestamp_ms);  // then counted on, not divided again
      int64_t t = steps_.At(k);
      for (; c < points.size() && points[c].timestamp_ms <= last; ++c) {
        for (; t < points[c].timestamp_ms; t += steps_.step) ++k;
        AddMoment<kOp>(group[k], points[c].value);
      }
    }
  }

  // Calls fn(kOp) with `op` as a constant (std::integral_constant) when it is one of the
  // operators Moments serve (sum, avg, min, max, count, group, stddev, stdvar), so that
  // the code fn makes is specialized for it; false for the others.
  template <typename Fn>
  static bool WithMomentsOperator(AggregateOp op, Fn&& fn) {
    using enum AggregateOp;
    auto as = [&]<AggregateOp kOp>() {
      fn(std::integral_constant<AggregateOp, kOp>{});
      return true;
    };
    switch (op) {
      case kSum:
        return as.template operator()<kSum>();
      case kAvg:
        return as.template operator()<kAvg>();
      case kMin:
        return as.template operator()<kMin>();
      case kMax:
        return as.template operator()<kMax>();
      case kCount:
        return as.template operator()<kCount>();
      case kGroup:
        return as.template operator()<kGroup>();
      case kStddev:
        return as.template operator()<kStddev>();
      case kStdvar:
        return as.template operator()<kStdvar>();
      default:
        return false;
    }
  }

  // Adds f to a group's moments for operator kOp (one of AggregateBySeries's).
  template <AggregateOp kOp>
  static void AddMoment(Moments& a, double f) {
    if (!a.seen) {
      a.seen = true;
      a.value = f;
      a.mean = f;
      a.count = 1;
      a.compensation = 0;
      a.incremental_mean = false;
      if constexpr (kOp == AggregateOp::kStddev || kOp == AggregateOp::kStdvar) {
        a.value = std::isfinite(f) ? 0 : kNaN;
      } else if constexpr (kOp == AggregateOp::kSum) {
        a.value = 0;
        store::KahanAdd(f, &a.value, &a.compensation);
      }
      return;
    }
    if constexpr (kOp == AggregateOp::kSum) {
      store::KahanAdd(f, &a.value, &a.compensation);
    } else if constexpr (kOp == AggregateOp::kAvg) {
      a.count += 1;
      if (!a.incremental_mean) {
        double sum = a.value, c = a.compensation;
        store::KahanAdd(f, &sum, &c);
        if (!std::isinf(sum)) {
          a.value = sum;
          a.compensation = c;
          return;
        }
        a.incremental_mean = true;
        a.mean = a.value / (a.count - 1);
        a.compensation /= a.count - 1;
      }
      const double q = (a.count - 1) / a.count;
      a.mean *= q;
      a.compensation *= q;
      store::KahanAdd(f / a.count, &a.mean, &a.compensation);
    } else if constexpr (kOp == AggregateOp::kMax) {
      if (a.value < f || std::isnan(a.value)) a.value = f;
    } else if constexpr (kOp == AggregateOp::kMin) {
      if (a.value > f || std::isnan(a.value)) a.value = f;
    } else if constexpr (kOp == AggregateOp::kCount) {
      a.count += 1;
    } else if constexpr (kOp == AggregateOp::kStddev || kOp == AggregateOp::kStdvar) {
      a.count += 1;
      const double delta = f - a.mean;
      a.mean += delta / a.count;
      a.value += delta * (f - a.mean);
    }
  }

  // A group's value at one step for the operators of AggregateBySeries.
  static double MomentsValue(AggregateOp op, const Moments& a) {
    switch (op) {
      case AggregateOp::kSum:
        return a.value + a.compensation;
      case AggregateOp::kAvg:
        return a.incremental_mean ? a.mean + a.compensation
                                  : a.value / a.count + a.compensation / a.count;
      case AggregateOp::kCount:
        return a.count;
      case AggregateOp::kGroup:
        return 1;
      case AggregateOp::kStdvar:
        return a.value / a.count;
      case AggregateOp::kStddev:
        return std::sqrt(a.value / a.count);
      default:
        return a.value;  // min, max
    }
  }

  // A group's value at one step, once every item is accumulated.
  static double GroupValue(AggregateOp op, Accumulator& a, double param) {
    if (op == AggregateOp::kQuantile) return Quantile(param, a.values);
    return MomentsValue(op, a);
  }

  static void Accumulate(AggregateOp op, Accumulator& a, const StepWalker::Item& item) {
    if (WithMomentsOperator(op, [&](auto kOp) { AddMoment<decltype(kOp)::value>(a, item.value); }))
      return;
    switch (op) {
      case AggregateOp::kQuantile:
        a.seen = true;
        a.values.push_back(item.value);
        return;
      case AggregateOp::kCountValues:
        a.seen = true;
        a.counts[FormatFloat(item.value, FloatStyle::kFixed)] += 1;
        return;
      case AggregateOp::kTopk:
      case AggregateOp::kBottomk:
      case AggregateOp::kLimitk:
      case AggregateOp::kLimitRatio:
        a.seen = true;
        a.items.push_back(item);
        return;
      default:
        return;  // the moments' operators, above
    }
  }

  void EmitSelected(AggregateOp op, std::vector<StepWalker::Item>& items, int64_t k, size_t step,
                    const Value& input, const Value& param, int64_t t, SeriesCollector* collector) {
    if (op == AggregateOp::kLimitRatio) {
      const double ratio = std::clamp(param.scalars[step], -1.0, 1.0);
      for (const StepWalker::Item& item : items) {
        // Prometheus's ratio sampler: a stable pick by the series' label hash.
        const double sample =
            static_cast<double>(input.series[item.series].labels.Hash()) / 18446744073709551616.0;
        if ((ratio >= 0 && sample < ratio) || (ratio < 0 && sample >= 1.0 + ratio)) {
          collector->Add(input.series[item.series].labels, t, item.value);
        }
      }
      return;
    }
    const size_t n = std::min(items.size(), static_cast<size_t>(k));
    if (op == AggregateOp::kTopk || op == AggregateOp::kBottomk) {
      // The best n, NaN last, ties in series order: only those n are put in order.
      const bool top = op == AggregateOp::kTopk;
      std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(n), items.end(),
                        [&](const StepWalker::Item& a, const StepWalker::Item& b) {
                          const bool a_nan = std::isnan(a.value), b_nan = std::isnan(b.value);
                          if (a_nan || b_nan || a.value == b.value) {
                            if (a_nan != b_nan) return b_nan;
                            return a.series < b.series;
                          }
                          return top ? a.value > b.value : a.value < b.value;
                        });
    }
    for (size_t j = 0; j < n; ++j) {
      collector->Add(input.series[items[j].series].labels, t, items[j].value);
    }
  }

  // --- operators --------------------------------------------------------------------------

  static bool IsOperatorNode(const Node& n) {
    return n.kind == NodeKind::kBinary || n.kind == NodeKind::kUnary || n.kind == NodeKind::kParen;
  }

  // Evaluates a tree of operators without recursing along it: its other operands are
  // evaluated by Eval, the operators themselves from an explicit stack.
  Result<Value> Operators(const Node& root) {
    struct Frame {
      const Node* node;
      size_t next = 0;
      std::vector<Value> operands;
    };
    std::vector<Frame> frames;
    frames.push_back({&root});
    while (true) {
      Frame& frame = frames.back();
      if (frame.next < frame.node->args.size()) {
        const Node& child = *frame.node->args[frame.next++];
        if (IsOperatorNode(child)) {
          frames.push_back({&child});
        } else {
          VIGIL_ASSIGN_OR_RETURN(Value v, Eval(child));
          frame.operands.push_back(std::move(v));
        }
        continue;
      }
      Value result;
      if (frame.node->kind == NodeKind::kParen) {
        result = std::move(frame.operands[0]);
      } else if (frame.node->kind == NodeKind::kUnary) {
        VIGIL_ASSIGN_OR_RETURN(result, Unary(*frame.node, std::move(frame.operands[0])));
      } else {
        VIGIL_ASSIGN_OR_RETURN(result, Binary(*frame.node, std::move(frame.operands[0]),
                                              std::move(frame.operands[1])));
      }
      frames.pop_back();
      if (frames.empty()) return result;
      frames.back().operands.push_back(std::move(result));
    }
  }

  Result<Value> Unary(const Node& node, Value operand) {
    if (node.text != "-") return operand;
    if (operand.type == ValueType::kScalar) {
      for (double& x : operand.scalars) x = -x;
      return operand;
    }
    for (SeriesResult& s : operand.series) {
      for (Sample& p : s.points) p.value = -p.value;
    }
    return DroppingName(std::move(operand));
  }

  Result<Value> Binary(const Node& node, Value left, Value right) {
    const std::string& op = node.text;
    const bool comparison = IsComparison(op);
    if (left.type == ValueType::kScalar && right.type == ValueType::kScalar) {
      for (size_t i = 0; i < left.scalars.size(); ++i) {
        bool keep;
        const double value = ApplyOperator(op, left.scalars[i], right.scalars[i], &keep);
        left.scalars[i] = comparison ? (keep ? 1 : 0) : value;
      }
      return left;
    }
    if (left.type == ValueType::kScalar || right.type == ValueType::kScalar) {
      const bool vector_left = right.type == ValueType::kScalar;
      Value& vector = vector_left ? left : right;
      const std::vector<double>& scalars = vector_left ? right.scalars : left.scalars;
      const bool drop_name = IsArithmetic(op) || node.return_bool;
      for (SeriesResult& s : vector.series) {
        std::vector<Sample> kept;
        for (const Sample& p : s.points) {
          const double k = scalars[StepIndex(p.timestamp_ms)];
          bool keep;
          double value = vector_left ? ApplyOperator(op, p.value, k, &keep)
                                     : ApplyOperator(op, k, p.value, &keep);
          if (comparison) value = p.value;  // a filter keeps the vector's own value
          if (node.return_bool) {
            value = keep ? 1 : 0;
            keep = true;
          }
          if (keep) kept.push_back({p.timestamp_ms, value});
        }
        s.points = std::move(kept);
      }
      std::erase_if(vector.series, [](const SeriesResult& s) { return s.points.empty(); });
      vector.ordered = false;
      if (drop_name) return DroppingName(std::move(vector));
      return std::move(vector);
    }
    const VectorMatching& matching = *node.matching;
    if (op == "and" || op == "or" || op == "unless") {
      return SetOperator(op, matching, std::move(left), std::move(right));
    }
    return VectorBinary(node, matching, std::move(left), std::move(right));
  }

  Result<Value> SetOperator(const std::string& op, const VectorMatching& matching, Value left,
                            Value right) {
    std::vector<std::string> left_sig, right_sig;
    for (const auto& s : left.series)
      left_sig.push_back(Signature(s.labels, matching.on, matching.labels));
    for (const auto& s : right.series)
      right_sig.push_back(Signature(s.labels, matching.on, matching.labels));
    SeriesCollector collector;
    StepWalker left_walker(left.series), right_walker(right.series);
    std::unordered_set<std::string> sigs;
    for (size_t i = 0; i < steps_.count(); ++i) {
      VIGIL_RETURN_IF_ERROR(context_.CheckDeadline());
      const int64_t t = steps_.At(i);
      const auto& l = left_walker.At(t);
      const auto& r = right_walker.At(t);
      sigs.clear();
      if (op == "or") {
        for (const auto& item : l) {
          sigs.insert(left_sig[item.series]);
          collector.Add(left.series[item.series].labels, t, item.value);
        }
        for (const auto& item : r) {
          if (!sigs.count(right_sig[item.series]))
            collector.Add(right.series[item.series].labels, t, item.value);
        }
        continue;
      }
      for (const auto& item : r) sigs.insert(right_sig[item.series]);
      for (const auto& item : l) {
        const bool matched = sigs.count(left_sig[item.series]) > 0;
        if (matched == (op == "and")) collector.Add(left.series[item.series].labels, t, item.value);
      }
    }
    Value v;
    VIGIL_ASSIGN_OR_RETURN(v.series, collector.Finish());
    return v;
  }

  // One-to-one and many-to-one matching (one-to-many by swapping sides), as Prometheus's
  // VectorBinop, per step.
  Result<Value> VectorBinary(const Node& node, const VectorMatching& matching, Value left,
                             Value right) {
    const std::string& op = node.text;
    const bool one_to_many = matching.card == Cardinality::kOneToMany;
    Value& many = one_to_many ? right : left;
    Value& one = one_to_many ? left : right;
    std::vector<std::string> many_sig, one_sig;
    for (const auto& s : many.series)
      many_sig.push_back(Signature(s.labels, matching.on, matching.labels));
    for (const auto& s : one.series)
      one_sig.push_back(Signature(s.labels, matching.on, matching.labels));
    const bool drop_name = IsArithmetic(op) || node.return_bool;
    const bool comparison = IsComparison(op);
    // The result labels of a (many, one) pair, cached: they are the same at every step.
    std::unordered_map<uint64_t, Labels> result_labels;
    auto result_metric = [&](size_t m, size_t o) -> const Labels& {
      const uint64_t key = (static_cast<uint64_t>(m) << 32) | o;
      auto it = result_labels.find(key);
      if (it != result_labels.end()) return it->second;
      Labels labels = many.series[m].labels;
      if (drop_name) labels = DropName(labels);
      if (matching.card == Cardinality::kOneToOne) {
        std::vector<model::Label> kept;
        for (const model::LabelRef& l : labels) {
          const bool listed = std::find(matching.labels.begin(), matching.labels.end(), l.name) !=
                              matching.labels.end();
          if (matching.on == listed) kept.push_back(l);
        }
        labels = BuildLabels(std::move(kept));
      }
      for (const std::string& name : matching.include) {
        labels.Set(name, one.series[o].labels.Get(name));
      }
      return result_labels.emplace(key, std::move(labels)).first->second;
    };
    SeriesCollector collector;
    StepWalker many_walker(many.series), one_walker(one.series);
    std::unordered_map<std::string_view, StepWalker::Item> one_by_sig;
    std::unordered_map<std::string_view, std::unordered_set<uint64_t>> matched;
    for (size_t i = 0; i < steps_.count(); ++i) {
      VIGIL_RETURN_IF_ERROR(context_.CheckDeadline());
      const int64_t t = steps_.At(i);
      one_by_sig.clear();
      matched.clear();
      for (const auto& item : one_walker.At(t)) {
        auto [it, inserted] = one_by_sig.try_emplace(one_sig[item.series], item);
        if (!inserted) {
          return ExecutionError(fmt::format(
              "found duplicate series for the match group {} on the {} hand-side of the "
              "operation: [{}, {}];many-to-many matching not allowed: matching labels must be "
              "unique on one side",
              MatchGroup(one.series[item.series].labels, matching), one_to_many ? "left" : "right",
              one.series[item.series].labels.ToString(),
              one.series[it->second.series].labels.ToString()));
        }
      }
      for (const auto& item : many_walker.At(t)) {
        auto found = one_by_sig.find(many_sig[item.series]);
        if (found == one_by_sig.end()) continue;
        double lhs = item.value, rhs = found->second.value;
        if (one_to_many) std::swap(lhs, rhs);
        bool keep;
        double value = ApplyOperator(op, lhs, rhs, &keep);
        if (node.return_bool) {
          value = keep ? 1 : 0;
        } else if (!keep) {
          continue;
        }
        (void)comparison;
        const Labels& labels = result_metric(item.series, found->second.series);
        auto& seen = matched[many_sig[item.series]];
        if (matching.card == Cardinality::kOneToOne) {
          if (!seen.empty()) {
            return ExecutionError(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)");
          }
          seen.insert(0);
        } else if (!seen.insert(labels.Hash()).second) {
          return ExecutionError(
              "multiple matches for labels: grouping labels must ensure unique matches");
        }
        collector.Add(labels, t, value);
      }
    }
    Value v;
    VIGIL_ASSIGN_OR_RETURN(v.series, collector.Finish());
    return v;
  }

  static std::string MatchGroup(const Labels& labels, const VectorMatching& matching) {
    std::vector<model::Label> kept;
    for (const model::LabelRef& l : labels) {
      const bool listed = std::find(matching.labels.begin(), matching.labels.end(), l.name) !=
                          matching.labels.end();
      if (matching.on ? listed : (!listed && l.name != model::kMetricNameLabel)) kept.push_back(l);
    }
    return BuildLabels(std::move(kept)).ToString();
  }

  QueryContext& context_;
  Steps steps_;
  int depth_ = 0;
};

}  // namespace

std::chrono::steady_clock::time_point Engine::Deadline() const {
  if (options_.timeout_ms <= 0) return std::chrono::steady_clock::time_point::max();
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
}

Result<std::shared_ptr<void>> Engine::Admit(std::chrono::steady_clock::time_point deadline) {
  if (options_.max_concurrency <= 0) return std::shared_ptr<void>();
  MutexLock lock(gate_mu_);
  if (!gate_freed_.wait_until(lock, deadline, [&]() VIGIL_REQUIRES(gate_mu_) {
        return running_ < options_.max_concurrency;
      })) {
    return DeadlineExceededError("query timed out waiting for one of " +
                                 std::to_string(options_.max_concurrency) +
                                 " query slots (query.max_concurrency)");
  }
  ++running_;
  return std::shared_ptr<void>(nullptr, [this](void*) {
    {
      MutexLock released(gate_mu_);
      --running_;
    }
    gate_freed_.notify_one();
  });
}

Result<QueryResult> Engine::Instant(std::string_view text, int64_t time_ms) {
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> node, Parse(text));
  const auto deadline = Deadline();
  VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<void> slot, Admit(deadline));
  QueryResult result;
  QueryContext context{store_,   options_,           time_ms, time_ms, &result.warnings,
                       deadline, &samples_in_flight_};
  context.repeated = RepeatedExpressions(*node);
  Evaluator evaluator(context, Steps{time_ms, time_ms, 1});
  if (node->type == ValueType::kMatrix) {
    const Node& range = Unwrap(*node);
    VIGIL_ASSIGN_OR_RETURN(std::vector<RangeSeries> input, evaluator.RangeVector(range));
    const int64_t end = evaluator.EffectiveTime(range, time_ms);
    result.type = ValueType::kMatrix;
    for (RangeSeries& s : input) {
      std::erase_if(s.samples, [&](const Sample& x) {
        return x.timestamp_ms <= end - range.range_ms || x.timestamp_ms > end;
      });
      if (!s.samples.empty()) result.series.push_back({std::move(s.labels), std::move(s.samples)});
    }
    SortSeries(&result.series);
    return result;
  }
  VIGIL_ASSIGN_OR_RETURN(Value value, evaluator.Eval(*node));
  result.type = value.type;
  switch (value.type) {
    case ValueType::kScalar:
      result.series.push_back({Labels(), {{time_ms, value.scalars[0]}}});
      break;
    case ValueType::kString:
      result.string_value = std::move(value.text);
      result.series.push_back({Labels(), {{time_ms, 0}}});  // the time it was asked at
      break;
    default:
      result.series = std::move(value.series);
      if (!value.ordered) SortSeries(&result.series);
      break;
  }
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
  if (node->type != ValueType::kScalar && node->type != ValueType::kVector) {
    return InvalidArgumentError(
        fmt::format("invalid expression type \"{}\" for range query, must be Scalar or instant "
                    "Vector",
                    ValueTypeName(node->type)));
  }
  const auto deadline = Deadline();
  VIGIL_ASSIGN_OR_RETURN(std::shared_ptr<void> slot, Admit(deadline));
  QueryResult result;
  result.type = ValueType::kMatrix;
  QueryContext context{store_,           options_, start_ms,           end_ms,
                       &result.warnings, deadline, &samples_in_flight_};
  context.repeated = RepeatedExpressions(*node);
  Steps steps{start_ms, end_ms, step_ms};
  Evaluator evaluator(context, steps);
  VIGIL_ASSIGN_OR_RETURN(Value value, evaluator.Eval(*node));
  if (value.type == ValueType::kScalar) {
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

config::SectionMap<EngineOptions> EngineOptionsSection() {
  config::SectionMap<EngineOptions> s(
      "query", "PromQL evaluation by the web servers (Prometheus's --query.* flags).");
  s.DurationMs("timeout", &EngineOptions::timeout_ms,
               "A query running (or waiting for a query thread) longer fails with 503 "
               "\"timeout\".")
      .Range(0.001, 86'400.0);
  s.Option("max_concurrency", &EngineOptions::max_concurrency,
           "Queries evaluated at once per web server; more wait, up to the timeout. Writes, the "
           "dashboard and health probes have threads of their own.")
      .Range(1.0, 1024.0);
  s.Option("max_samples", &EngineOptions::max_samples,
           "Samples one query may load; beyond it the query fails with 422.")
      .Range(1.0, 1e12);
  s.Option("max_samples_in_flight", &EngineOptions::max_samples_in_flight,
           "Samples all running queries together may load, bounding their memory; a query "
           "beyond it fails with 503 (try again).")
      .Range(1.0, 1e12);
  s.DurationMs("lookback_delta", &EngineOptions::lookback_ms,
               "How far back an instant selector looks for a series' latest sample.")
      .Range(0.001, 86'400.0);
  return s;
}

}  // namespace vigil::query

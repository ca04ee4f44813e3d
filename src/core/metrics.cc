#include "core/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/format_float.h"
#include "core/names.h"

namespace vigil::metrics {

void Counter::Inc(double amount) {
  VIGIL_CHECK(amount >= 0, "counter decreased");
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  VIGIL_CHECK(std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()),
              "histogram bounds not ascending");
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) bucket_counts_[i] = 0;
}

void Histogram::Observe(double value) {
  size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> counts(upper_bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    total += bucket_counts_[i].load(std::memory_order_relaxed);
    counts[i] = total;
  }
  return counts;
}

std::vector<double> DefaultDurationBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(const std::vector<std::string>& values) {
  VIGIL_CHECK(values.size() == label_names_.size(), "wrong number of label values");
  MutexLock lock(mu_);
  auto& slot = children_[values];
  if (!slot) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      slot = std::make_unique<Histogram>(buckets_);
    } else {
      slot = std::make_unique<Metric>();
    }
  }
  return *slot;
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(std::initializer_list<std::string_view> values) {
  return WithLabels(std::vector<std::string>(values.begin(), values.end()));
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Entry& Registry::Register(std::string_view name, std::string_view help, MetricType type,
                                    const std::vector<std::string>& label_names,
                                    std::vector<double> buckets) {
  VIGIL_CHECK(IsValidMetricName(name), "invalid metric name " + std::string(name));
  for (const auto& label : label_names) {
    VIGIL_CHECK(IsValidLabelName(label) && label != "le", "invalid label name " + label);
  }
  MutexLock lock(mu_);
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    Entry& entry = it->second;
    VIGIL_CHECK(entry.type == type, "metric registered with two types: " + std::string(name));
    const std::vector<std::string>* existing =
        type == MetricType::kCounter ? &entry.counters->label_names()
        : type == MetricType::kGauge ? &entry.gauges->label_names()
                                     : &entry.histograms->label_names();
    VIGIL_CHECK(*existing == label_names,
                "metric registered with two label sets: " + std::string(name));
    return entry;
  }
  Entry entry{type, std::string(help), nullptr, nullptr, nullptr};
  switch (type) {
    case MetricType::kCounter:
      entry.counters = std::make_unique<Family<Counter>>(label_names, std::vector<double>{});
      break;
    case MetricType::kGauge:
      entry.gauges = std::make_unique<Family<Gauge>>(label_names, std::vector<double>{});
      break;
    case MetricType::kHistogram:
      entry.histograms = std::make_unique<Family<Histogram>>(label_names, std::move(buckets));
      break;
  }
  return entries_.emplace(std::string(name), std::move(entry)).first->second;
}

Family<Counter>& Registry::AddCounter(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names) {
  return *Register(name, help, MetricType::kCounter, label_names, {}).counters;
}

Family<Gauge>& Registry::AddGauge(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names) {
  return *Register(name, help, MetricType::kGauge, label_names, {}).gauges;
}

Family<Histogram>& Registry::AddHistogram(std::string_view name, std::string_view help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> buckets) {
  return *Register(name, help, MetricType::kHistogram, label_names, std::move(buckets)).histograms;
}

namespace {

void AppendEscaped(std::string& out, std::string_view text, bool escape_quotes) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `{a="x",b="y"}`; empty when there are no labels.
std::string LabelText(const std::vector<std::pair<std::string, std::string>>& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    AppendEscaped(out, labels[i].second, true);
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::vector<Registry::FamilySnapshot> Registry::Snapshot() const {
  std::vector<FamilySnapshot> out;
  MutexLock lock(mu_);
  for (const auto& item : entries_) {
    // Plain references: clang 14 cannot capture structured bindings in the lambdas below.
    const std::string& name = item.first;
    const Entry& entry = item.second;
    FamilySnapshot family{name, entry.type, entry.help, {}};
    auto labels = [](const std::vector<std::string>& names,
                     const std::vector<std::string>& values) {
      std::vector<std::pair<std::string, std::string>> pairs;
      for (size_t i = 0; i < names.size(); ++i) pairs.emplace_back(names[i], values[i]);
      return pairs;
    };
    switch (entry.type) {
      case MetricType::kCounter:
        entry.counters->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
          family.samples.push_back(
              {name, labels(entry.counters->label_names(), values), c.Value()});
        });
        break;
      case MetricType::kGauge:
        entry.gauges->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
          family.samples.push_back({name, labels(entry.gauges->label_names(), values), g.Value()});
        });
        break;
      case MetricType::kHistogram:
        entry.histograms->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
          const auto pairs = labels(entry.histograms->label_names(), values);
          std::vector<uint64_t> counts = h.CumulativeCounts();
          for (size_t i = 0; i < counts.size(); ++i) {
            auto with_le = pairs;
            with_le.emplace_back("le", i < h.UpperBounds().size()
                                           ? FormatFloat(h.UpperBounds()[i], FloatStyle::kShortest)
                                           : "+Inf");
            family.samples.push_back(
                {name + "_bucket", std::move(with_le), static_cast<double>(counts[i])});
          }
          family.samples.push_back({name + "_sum", pairs, h.Sum()});
          family.samples.push_back({name + "_count", pairs, static_cast<double>(h.Count())});
        });
        break;
    }
    out.push_back(std::move(family));
  }
  return out;
}

std::string Registry::RenderText() const {
  std::string out;
  for (const FamilySnapshot& family : Snapshot()) {
    out += "# HELP " + family.name + " ";
    AppendEscaped(out, family.help, false);
    out += "\n# TYPE " + family.name + " ";
    out += TypeName(family.type);
    out += '\n';
    for (const Sample& sample : family.samples) {
      out += sample.name + LabelText(sample.labels) + " ";
      // Counts are integers; the text format writes them without an exponent.
      if (family.type == MetricType::kHistogram && !sample.name.ends_with("_sum"))
        out += std::to_string(static_cast<uint64_t>(sample.value));
      else
        out += FormatFloat(sample.value, FloatStyle::kShortest);
      out += '\n';
    }
  }
  return out;
}

Registry& Registry::Default() {
  static Registry registry;
  return registry;
}

}  // namespace vigil::metrics

// The self-metrics registry: counters, gauges and histograms with labels that every
// component registers into, rendered in the Prometheus text exposition format 0.0.4
// (served at /metrics by the web role). Register a family once, keep the reference to
// a child (WithLabels) on hot paths: an update is then one atomic operation.
//
// Thread safety: everything here may be called from any thread. Families and children
// live as long as their registry; references to them stay valid.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"

namespace vigil::metrics {

class Counter {
 public:
  // Counters only go up; a negative amount is a bug.
  void Inc(double amount = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `upper_bounds` ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& UpperBounds() const { return upper_bounds_; }
  // Cumulative count of observations <= UpperBounds()[i]; the last entry is +Inf.
  std::vector<uint64_t> CumulativeCounts() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;  // one per bound, then +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Buckets for durations in seconds, 1 ms to 10 s.
std::vector<double> DefaultDurationBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };
// "counter", "gauge", "histogram": the text format's TYPE.
std::string_view TypeName(MetricType type);

// All the children of one metric name, told apart by their label values.
template <typename Metric>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::vector<double> buckets)
      : label_names_(std::move(label_names)), buckets_(std::move(buckets)) {}

  // The child with these label values (as many as label names), created on first use.
  Metric& WithLabels(std::initializer_list<std::string_view> values);
  Metric& WithLabels(const std::vector<std::string>& values);

  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls fn(label_values, metric) for each child, in label-value order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    MutexLock lock(mu_);
    for (const auto& [values, metric] : children_) fn(values, *metric);
  }

 private:
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
  mutable Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_ VIGIL_GUARDED_BY(mu_);
};

class Registry {
 public:
  // Registering a name again with the same type and label names returns the same family;
  // anything else is a bug. Names and label names must be valid Prometheus names.
  Family<Counter>& AddCounter(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string_view name, std::string_view help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> buckets = DefaultDurationBuckets());

  // One sample as the text format lists it: a histogram's series are name_bucket (with
  // `le` last), name_sum and name_count.
  struct Sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
  };
  struct FamilySnapshot {
    std::string name;
    MetricType type;
    std::string help;
    std::vector<Sample> samples;
  };
  // Every family's samples now, in name order: what RenderText writes, as values (the self
  // sensor reads them without a round trip through text).
  std::vector<FamilySnapshot> Snapshot() const;
  // The Prometheus text format, families in name order.
  std::string RenderText() const;

  // The process-wide registry.
  static Registry& Default();

 private:
  struct Entry {
    MetricType type;
    std::string help;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
  };
  Entry& Register(std::string_view name, std::string_view help, MetricType type,
                  const std::vector<std::string>& label_names, std::vector<double> buckets);

  mutable Mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_ VIGIL_GUARDED_BY(mu_);
};

}  // namespace vigil::metrics

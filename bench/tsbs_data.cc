#include "tsbs_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace vigil::bench {
namespace {

constexpr const char* kMetrics[] = {
    "usage_user", "usage_system",  "usage_idle",  "usage_nice",  "usage_iowait",
    "usage_irq",  "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};
constexpr const char* kRegions[] = {"us-east-1", "us-west-1", "eu-west-1", "ap-south-1"};

}  // namespace

TsbsData::TsbsData(TsbsOptions options) : options_(options) {
  std::mt19937_64 rng(options.seed);
  for (int h = 0; h < options.hosts; ++h) {
    const std::string host = "host_" + std::to_string(h);
    const std::string region = kRegions[h % 4];
    const std::string rack = std::to_string(h % 50);
    const std::string os = h % 3 == 0 ? "Ubuntu16.04LTS" : "Ubuntu15.10";
    for (const char* metric : kMetrics) {
      series_.push_back(model::Labels::Of({{"__name__", std::string("cpu_") + metric},
                                           {"hostname", host},
                                           {"region", region},
                                           {"datacenter", region + "a"},
                                           {"rack", rack},
                                           {"os", os},
                                           {"arch", h % 2 ? "x64" : "x86"}}));
    }
  }
  const size_t n = series_.size();
  values_.resize(n * static_cast<size_t>(options.steps));
  std::vector<double> current(n);
  std::uniform_real_distribution<double> start(0, 100);
  for (double& v : current) v = options.floats ? 15 + start(rng) / 200 : std::round(start(rng));
  std::normal_distribution<double> step(0, 1);
  std::uniform_real_distribution<double> plant_step(-0.05, 0.05);
  for (int s = 0; s < options.steps; ++s) {
    for (size_t i = 0; i < n; ++i) {
      double& v = current[i];
      if (options.floats) {
        v = std::clamp(v + plant_step(rng), 15.0, 15.5);  // boiler_pressure_out's walk
      } else {
        v = std::clamp(std::round(v + step(rng)), 0.0, 100.0);
      }
      values_[static_cast<size_t>(s) * n + i] = v;
    }
  }
}

model::Batch TsbsData::Batch(int first, int count, int64_t offset_ms) const {
  model::Batch batch;
  batch.series.resize(series_.size());
  for (size_t i = 0; i < series_.size(); ++i) {
    batch.series[i].labels = series_[i];
    for (int s = first; s < first + count && s < options_.steps; ++s) {
      batch.series[i].samples.push_back({TimeOf(s) + offset_ms, Value(i, s)});
    }
  }
  return batch;
}

std::string TsbsData::Exposition(bool openmetrics) const {
  std::string out;
  // OpenMetrics wants each metric family's samples together after its TYPE line.
  for (size_t metric = 0; metric < 10; ++metric) {
    out += fmt::format("# TYPE {} gauge\n", series_[metric].MetricName());
    for (size_t i = metric; i < series_.size(); i += 10) {
      std::string labels;
      for (const auto& l : series_[i]) {
        if (l.name == "__name__") continue;
        labels += fmt::format("{}{}=\"{}\"", labels.empty() ? "" : ",", l.name, l.value);
      }
      const std::string prefix = fmt::format("{}{{{}}} ", series_[i].MetricName(), labels);
      for (int s = 0; s < options_.steps; ++s) {
        const int64_t t = openmetrics ? TimeOf(s) / 1000 : TimeOf(s);  // OpenMetrics: seconds
        out += fmt::format("{}{} {}\n", prefix, Value(i, s), t);
      }
    }
  }
  if (openmetrics) out += "# EOF\n";
  return out;
}

}  // namespace vigil::bench

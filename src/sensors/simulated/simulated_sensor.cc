#include "sensors/simulated/simulated_sensor.h"

#include <fmt/format.h>

#include <cmath>

namespace vigil::sensors::simulated {

using config::OptionSpec;
using config::OptionType;

SensorDescriptor Descriptor() {
  SensorDescriptor d;
  d.type = "simulated";
  d.description = "A plant instrument: a bounded random walk between min and max.";
  d.options = {
      OptionSpec{"min", OptionType::kFloat, "Lowest value the walk takes.", std::nullopt},
      OptionSpec{"max", OptionType::kFloat, "Highest value the walk takes.", std::nullopt},
      OptionSpec{"step", OptionType::kFloat, "Largest change between two readings.", 0.1, 0.0},
      OptionSpec{"freq", OptionType::kFloat, "Readings per second (Hz).", 1.0, 0.001, 1000.0},
      OptionSpec{"seed", OptionType::kInt, "Random seed; 0 seeds from the system's entropy.",
                 int64_t{0}, 0.0},
      OptionSpec{"servers", OptionType::kInt,
                 "Simulate this many servers, each its own walk labelled server=\"server-N\"; 0: "
                 "one series without the label.",
                 int64_t{0}, 0.0, 100000.0},
  };
  d.create = [](const SensorSpec& spec) -> Result<std::unique_ptr<Sensor>> {
    std::vector<model::Label> pairs = {{"__name__", spec.name}};
    for (const auto& [name, value] : spec.labels) pairs.push_back({name, value});
    VIGIL_ASSIGN_OR_RETURN(model::Labels labels, model::Labels::FromPairs(std::move(pairs)));
    SimulatedSensor::Options options;
    options.min = spec.options.Float("min");
    options.max = spec.options.Float("max");
    options.step = spec.options.Float("step");
    options.freq_hz = spec.options.Float("freq");
    options.seed = static_cast<uint64_t>(spec.options.Int("seed"));
    options.servers = spec.options.Int("servers");
    VIGIL_ASSIGN_OR_RETURN(auto sensor, SimulatedSensor::Create(std::move(labels), options));
    return std::unique_ptr<Sensor>(std::move(sensor));
  };
  return d;
}

Result<std::unique_ptr<SimulatedSensor>> SimulatedSensor::Create(model::Labels labels,
                                                                 Options options) {
  config::OptionProblems problems;
  if (!(options.min < options.max)) {
    problems.Add("max", fmt::format("must be above min ({})", options.min));
  } else if (!(options.step > 0 && options.step <= options.max - options.min)) {
    problems.Add("step", fmt::format("must be above 0 and at most max - min ({})",
                                     options.max - options.min));
  }
  if (!(options.freq_hz > 0)) problems.Add("freq", "must be above 0");
  if (options.servers < 0) problems.Add("servers", "must not be negative");
  if (options.servers > 0 && !labels.Get("server").empty())
    problems.Add("servers", "the labels have a server label already");
  VIGIL_RETURN_IF_ERROR(problems.ToStatus());
  return std::unique_ptr<SimulatedSensor>(new SimulatedSensor(labels, options));
}

SimulatedSensor::SimulatedSensor(const model::Labels& labels, Options options)
    : options_(options), rng_(options.seed != 0 ? options.seed : std::random_device()()) {
  std::uniform_real_distribution<double> start(options.min, options.max);
  if (options.servers == 0) {
    walks_.push_back({labels, start(rng_)});
    return;
  }
  for (int64_t i = 1; i <= options.servers; ++i) {
    walks_.push_back({labels.With("server", "server-" + std::to_string(i)), start(rng_)});
  }
}

std::vector<model::MetricMetadata> SimulatedSensor::Metadata() const {
  const model::Labels& labels = walks_[0].labels;
  return {{std::string(labels.MetricName()), "gauge",
           "Simulated plant instrument: a bounded random walk between " +
               fmt::format("{:g} and {:g}", options_.min, options_.max),
           std::string(labels.Get("unit"))}};
}

int64_t SimulatedSensor::interval_ms() const {
  return std::max<int64_t>(1, std::llround(1000.0 / options_.freq_hz));
}

Status SimulatedSensor::Collect(int64_t now_ms, model::BatchBuilder& out) {
  std::uniform_real_distribution<double> step(-options_.step, options_.step);
  for (Walk& walk : walks_) {
    double next = walk.value + step(rng_);
    if (next > options_.max) next = 2 * options_.max - next;
    if (next < options_.min) next = 2 * options_.min - next;
    walk.value = std::clamp(next, options_.min, options_.max);
    out.Add(walk.labels, {now_ms, walk.value});
  }
  return OkStatus();
}

}  // namespace vigil::sensors::simulated

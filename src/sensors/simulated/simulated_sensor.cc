#include "sensors/simulated/simulated_sensor.h"

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
    VIGIL_ASSIGN_OR_RETURN(auto sensor, SimulatedSensor::Create(std::move(labels), options));
    return std::unique_ptr<Sensor>(std::move(sensor));
  };
  return d;
}

Result<std::unique_ptr<SimulatedSensor>> SimulatedSensor::Create(model::Labels labels,
                                                                 Options options) {
  if (!(options.min < options.max)) return InvalidArgumentError("min must be below max");
  if (!(options.step > 0 && options.step <= options.max - options.min)) {
    return InvalidArgumentError("step must be above 0 and at most max - min");
  }
  if (!(options.freq_hz > 0)) return InvalidArgumentError("freq must be above 0");
  return std::unique_ptr<SimulatedSensor>(new SimulatedSensor(std::move(labels), options));
}

SimulatedSensor::SimulatedSensor(model::Labels labels, Options options)
    : labels_(std::move(labels)),
      options_(options),
      rng_(options.seed != 0 ? options.seed : std::random_device()()),
      value_(std::uniform_real_distribution<double>(options.min, options.max)(rng_)) {}

int64_t SimulatedSensor::interval_ms() const {
  return std::max<int64_t>(1, std::llround(1000.0 / options_.freq_hz));
}

Status SimulatedSensor::Collect(int64_t now_ms, model::BatchBuilder& out) {
  double next =
      value_ + std::uniform_real_distribution<double>(-options_.step, options_.step)(rng_);
  if (next > options_.max) next = 2 * options_.max - next;
  if (next < options_.min) next = 2 * options_.min - next;
  value_ = std::clamp(next, options_.min, options_.max);
  out.Add(labels_, {now_ms, value_});
  return OkStatus();
}

}  // namespace vigil::sensors::simulated

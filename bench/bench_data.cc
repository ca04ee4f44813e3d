#include "bench_data.h"

#include <random>
#include <string>

namespace vigil::bench {

model::Batch MakeBatch(int series, int samples, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> step(-0.05, 0.05);
  static const char* kNames[] = {"boiler_pressure_out", "boiler_temperature_out", "turbine_speed",
                                 "generator_output", "coolant_flow"};
  model::Batch batch;
  for (int s = 0; s < series; ++s) {
    model::Series one{model::Labels::Of({{"__name__", kNames[s % 5]},
                                         {"agent", "plant-1"},
                                         {"server", "server-" + std::to_string(s / 5)},
                                         {"unit", "bar"}}),
                      {}};
    double value = 15.0;
    for (int i = 0; i < samples; ++i) {
      value += step(rng);
      one.samples.push_back({1'700'000'000'000 + i * 1000, value});
    }
    batch.series.push_back(std::move(one));
  }
  return batch;
}

}  // namespace vigil::bench

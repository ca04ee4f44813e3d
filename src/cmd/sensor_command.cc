#include <spdlog/spdlog.h>

#include <iostream>

#include "cmd/commands.h"
#include "roles/parts.h"
#include "sensors/registry.h"

namespace vigil::cmd {
namespace {

// The seed-compatible shortcut: one simulated sensor from flags, one process per
// instrument.
struct SeedSensorFlags {
  std::string name;
  double min = 0, max = 0, step = 0.1, freq = 1;
  int64_t seed = 0;
  int64_t servers = 0;
  std::vector<std::string> labels;  // "k=v"
  std::string unit;
};

void PrintSensorTypes() {
  for (const auto& d : sensors::SensorTypes()) {
    std::cout << d.type << ": " << d.description << "\n";
    for (const auto& o : d.options) {
      std::cout << "  " << o.name << " (" << config::TypeName(o.type) << ", "
                << (o.default_value ? "default " + config::FormatValue(*o.default_value)
                                    : std::string("required"))
                << "): " << o.help << "\n";
    }
  }
}

int RunSensor(const CommonFlags& flags, const SeedSensorFlags& seed, bool list) {
  if (list) {
    PrintSensorTypes();
    return kExitOk;
  }
  std::vector<sensors::SensorSpec> extra;
  if (!seed.name.empty()) {
    // Validated by ValidateVigilConfig through the simulated descriptor, as from a file.
    const sensors::SensorDescriptor* simulated = sensors::FindSensorType("simulated");
    sensors::SensorSpec spec{seed.name, "simulated", {}, config::Defaults(simulated->options)};
    spec.options.Set("min", seed.min);
    spec.options.Set("max", seed.max);
    spec.options.Set("step", seed.step);
    spec.options.Set("freq", seed.freq);
    spec.options.Set("seed", seed.seed);
    spec.options.Set("servers", seed.servers);
    for (const auto& option : simulated->options) {
      if (auto reason = config::CheckValue(option, *spec.options.Find(option.name))) {
        std::cerr << "vigil sensor: --" << option.name << ": " << *reason << "\n";
        return kExitConfigError;
      }
    }
    for (const std::string& label : seed.labels) {
      const size_t eq = label.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "vigil sensor: --label " << label << ": expected name=value\n";
        return kExitConfigError;
      }
      spec.labels[label.substr(0, eq)] = label.substr(eq + 1);
    }
    if (!seed.unit.empty()) spec.labels["unit"] = seed.unit;
    extra.push_back(std::move(spec));
  }
  roles::VigilConfig config;
  if (int code = LoadConfig(flags, config, std::move(extra)); code != kExitOk) return code;
  // One process per instrument, as in the seed: each its own agent (and queue and spool),
  // named after the host and the instrument unless an id is given.
  if (!seed.name.empty() && config.agent.id.empty()) {
    config.agent.id = roles::DefaultAgentId() + "-";
    for (char c : seed.name) config.agent.id += roles::IsAgentIdChar(c) ? c : '_';
  }
  if (config.sensors.empty()) {
    spdlog::error("sensor: no [[sensors]] in the config and no --name; nothing to run");
    return kExitConfigError;
  }
  return RunDistributedRole("sensor", config);
}

}  // namespace

void AddSensorCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CommonFlags>();
  auto seed = std::make_shared<SeedSensorFlags>();
  auto list = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand(
      "sensor",
      "Run the sensor agent: the [[sensors]] of the config, and/or one simulated sensor given "
      "by --name/--min/--max/--step/--freq (then the agent is <host>-<name> unless --agent-id "
      "or [agent] id says otherwise), publishing to RabbitMQ.");
  AddCommonFlags(*command, *flags, /*listen=*/false, /*data_dir=*/true, /*broker=*/true,
                 /*store=*/false);
  AddMetricsListenFlag(*command, *flags);
  command->add_option("--agent-id", flags->agent_id,
                      "Name of this agent; its data queue is vigil.data.<id> [agent.id]");
  command->add_flag("--list", *list, "List the sensor types and their options, then exit");
  auto* name =
      command->add_option("--name", seed->name, "Name (and metric name) of one simulated sensor");
  command->add_option("--min", seed->min, "Lowest value of the walk")->needs(name);
  command->add_option("--max", seed->max, "Highest value of the walk")->needs(name);
  command->add_option("--step", seed->step, "Largest change between readings")->needs(name);
  command->add_option("--freq", seed->freq, "Readings per second (Hz)")->needs(name);
  command->add_option("--seed", seed->seed, "Random seed (0: from entropy)")->needs(name);
  command
      ->add_option("--servers", seed->servers,
                   "N independent walks labelled server=\"server-1\" … (a fleet)")
      ->needs(name);
  command
      ->add_option("--label", seed->labels,
                   "A label of the sensor's series, name=value "
                   "(repeatable)")
      ->needs(name);
  command->add_option("--unit", seed->unit, "The unit: the series' unit label and metadata unit")
      ->needs(name);
  command->callback(
      [flags, seed, list, &exit_code] { exit_code = RunSensor(*flags, *seed, *list); });
}

}  // namespace vigil::cmd

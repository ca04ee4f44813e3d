#include "sensors/registry.h"

#include "sensors/http/http_probe.h"
#include "sensors/proc/proc_sensor.h"
#include "sensors/scrape/scrape_sensor.h"
#include "sensors/self/self_sensor.h"
#include "sensors/simulated/simulated_sensor.h"

namespace vigil::sensors {

const std::vector<SensorDescriptor>& SensorTypes() {
  static const std::vector<SensorDescriptor> types = {
      simulated::Descriptor(), proc::Descriptor(), http::Descriptor(),
      scrape::Descriptor(),    self::Descriptor(),
  };
  return types;
}

const SensorDescriptor* FindSensorType(std::string_view type) {
  for (const auto& descriptor : SensorTypes()) {
    if (descriptor.type == type) return &descriptor;
  }
  return nullptr;
}

Result<std::unique_ptr<Sensor>> CreateSensor(const SensorSpec& spec) {
  const SensorDescriptor* descriptor = FindSensorType(spec.type);
  if (descriptor == nullptr)
    return InvalidArgumentError("unknown sensor type \"" + spec.type + "\"");
  return descriptor->create(spec);
}

}  // namespace vigil::sensors

// The list of sensor types vigil knows, explicitly (no static-init magic). Add a new type
// here and it appears in config validation, `vigil sensor --list` and docs/sensors.md.
//
// Thread safety: immutable after first use.
#pragma once

#include <vector>

#include "sensors/sensor.h"

namespace vigil::sensors {

const std::vector<SensorDescriptor>& SensorTypes();
// nullptr for an unknown type.
const SensorDescriptor* FindSensorType(std::string_view type);
// Builds a sensor from a spec; InvalidArgument for an unknown type or bad options.
Result<std::unique_ptr<Sensor>> CreateSensor(const SensorSpec& spec);

}  // namespace vigil::sensors

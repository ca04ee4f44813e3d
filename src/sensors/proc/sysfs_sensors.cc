// The proc sensor's hardware sensors, read from sysfs as node_exporter 1.5 reads them: the
// hwmon chips of /sys/class/hwmon (its hwmon collector: temperatures, fans, voltages,
// currents, power, energy, humidity, intrusion, pwm, with the same names, labels and
// units, quirks included) and the thermal zones and cooling devices of /sys/class/thermal
// (its thermal_zone collector, through procfs's sysfs reader). A host without them (a VM,
// a container) yields nothing and no error.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "core/names.h"
#include "sensors/proc/numbers.h"
#include "sensors/proc/proc_sensor.h"

namespace vigil::sensors::proc {
namespace {

namespace fs = std::filesystem;

// The sensor types node_exporter 1.5 reads from a hwmon directory.
constexpr std::string_view kHwmonSensorTypes[] = {
    "vrm",  "beep_enable", "update_interval", "in",     "cpu",      "fan",      "pwm",
    "temp", "curr",        "power",           "energy", "humidity", "intrusion"};

// Up to 128 bytes of a sysfs file (a broken driver may never end a larger read), or the
// errno of the failure.
struct SysRead {
  std::string text;
  int error = 0;
};
SysRead ReadSysFile(const std::string& path) {
  SysRead result;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    result.error = errno;
    return result;
  }
  char buffer[128];
  ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0) result.error = errno;
  ::close(fd);
  if (n > 0) result.text.assign(buffer, static_cast<size_t>(n));
  return result;
}

std::string_view Trim(std::string_view text, std::string_view characters) {
  size_t begin = text.find_first_not_of(characters);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(characters) - begin + 1);
}

// node_exporter's cleanMetricName: lower case, [^a-z0-9:_] to '_', no '_' at either end.
std::string CleanName(std::string_view name) {
  std::string out;
  for (char c : name) {
    char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool keep = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') || lower == ':' ||
                lower == '_';
    out += keep ? lower : '_';
  }
  return std::string(Trim(out, "_"));
}

// A hwmon file name as <type><number>_<property> (number and property optional), the way
// node_exporter's pattern ^([^0-9]+)([0-9]*)?(_(.+))?$ splits it; nullopt when it does not
// fit. The type takes every character up to the first digit.
struct HwmonFile {
  std::string type;
  int number = 0;
  std::string property;
};
std::optional<HwmonFile> SplitHwmonFile(std::string_view name) {
  size_t digits = name.find_first_of("0123456789");
  HwmonFile file;
  file.type = std::string(name.substr(0, digits));
  if (file.type.empty()) return std::nullopt;
  if (digits == std::string_view::npos) return file;
  size_t end = name.find_first_not_of("0123456789", digits);
  std::string_view number = name.substr(digits, end - digits);
  if (std::from_chars(number.data(), number.data() + number.size(), file.number).ec !=
      std::errc()) {
    return std::nullopt;
  }
  if (end == std::string_view::npos) return file;
  if (name[end] != '_' || end + 1 == name.size()) return std::nullopt;
  file.property = std::string(name.substr(end + 1));
  return file;
}

using HwmonData = std::map<std::string, std::map<std::string, std::string>>;  // sensor → prop

// Every sensor file of `dir` into `data`; false when the directory cannot be listed.
bool ReadHwmonDirectory(const std::string& dir, HwmonData& data) {
  std::error_code error;
  fs::directory_iterator it(dir, error);
  if (error) return false;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    std::optional<HwmonFile> file = SplitHwmonFile(name);
    if (!file || std::find(std::begin(kHwmonSensorTypes), std::end(kHwmonSensorTypes),
                           file->type) == std::end(kHwmonSensorTypes)) {
      continue;
    }
    SysRead read = ReadSysFile(dir + "/" + name);
    if (read.error != 0) continue;
    data[file->type + std::to_string(file->number)][file->property] =
        std::string(Trim(read.text, "\n"));
  }
  return true;
}

// The chip label: the device's bus and name (platform_coretemp_0), else the name file,
// else the hwmonN directory, as node_exporter's hwmonName derives it.
std::string HwmonChip(const std::string& dir) {
  std::error_code error;
  fs::path device = fs::canonical(dir + "/device", error);
  if (!error) {
    std::string name = CleanName(device.filename().string());
    std::string bus = CleanName(device.parent_path().filename().string());
    if (!bus.empty() && !name.empty()) return bus + "_" + name;
    if (!name.empty()) return name;
  }
  SysRead name = ReadSysFile(dir + "/name");
  if (name.error == 0) {
    if (std::string clean = CleanName(name.text); !clean.empty()) return clean;
  }
  fs::path real = fs::canonical(dir, error);
  return CleanName(error ? fs::path(dir).filename().string() : real.filename().string());
}

}  // namespace

Status ProcSensor::CollectHwmon(int64_t now_ms, model::BatchBuilder& out) {
  const std::string class_dir = options_.root + "/sys/class/hwmon";
  std::error_code error;
  std::vector<std::string> chips;
  for (const auto& entry : fs::directory_iterator(class_dir, error)) {
    if (entry.is_directory()) chips.push_back(entry.path().string());  // follows the link
  }
  if (error) return OkStatus();  // no hwmon here (a VM, a container, a captured tree)
  std::sort(chips.begin(), chips.end());
  std::string failures;
  for (const std::string& dir : chips) {
    HwmonData data;
    if (!ReadHwmonDirectory(dir, data)) {
      failures += (failures.empty() ? "" : "; ") + std::string("cannot list ") + dir;
      continue;
    }
    if (fs::exists(dir + "/device", error)) ReadHwmonDirectory(dir + "/device", data);
    const std::string chip = HwmonChip(dir);
    if (SysRead name = ReadSysFile(dir + "/name"); name.error == 0) {
      if (std::string chip_name = CleanName(name.text); !chip_name.empty())
        Add(out, now_ms, 1, "node_hwmon_chip_names", {{"chip", chip}, {"chip_name", chip_name}});
    }
    for (const auto& entry : data) {
      const std::string& sensor = entry.first;
      const std::map<std::string, std::string>& properties = entry.second;
      if (auto label = properties.find("label"); label != properties.end()) {
        if (IsValidUtf8(label->second)) {
          Add(out, now_ms, 1, "node_hwmon_sensor_label",
              {{"chip", chip}, {"sensor", sensor}, {"label", label->second}});
        }
      }
      const std::string type = SplitHwmonFile(sensor)->type;
      auto own_value = [&]() -> std::optional<double> {
        auto it = properties.find("");
        return it == properties.end() ? std::nullopt : Number(it->second);
      };
      const SeriesCache::Extra labels = {{"chip", chip}, {"sensor", sensor}};
      if (type == "beep_enable") {
        auto it = properties.find("");
        Add(out, now_ms, it != properties.end() && it->second == "1" ? 1 : 0,
            "node_hwmon_beep_enabled", labels);
        continue;
      }
      if (type == "vrm" || type == "update_interval") {
        if (std::optional<double> value = own_value()) {
          if (type == "vrm") {
            Add(out, now_ms, *value, "node_hwmon_voltage_regulator_version", labels);
          } else {
            Add(out, now_ms, *value * 0.001, "node_hwmon_update_interval_seconds", labels);
          }
        }
        continue;
      }
      for (const auto& [element, text] : properties) {
        if (element == "label") continue;
        std::optional<double> value = Number(text);
        if (!value) continue;
        metric_ = "node_hwmon_" + type;
        if (element == "input") {
          if (properties.contains("")) metric_ += "_input";  // "temp1" holds the value
        } else if (!element.empty()) {
          metric_ += "_" + CleanName(element);
        }
        double v = *value;
        const char* unit = "";
        if (element == "fault" || element == "alarm") {
        } else if (element == "beep") {
          unit = "_enabled";
        } else if (type == "in" || type == "cpu") {
          unit = "_volts", v *= 0.001;
        } else if (type == "temp" && element != "type") {
          unit = "_celsius", v *= 0.001;
        } else if (type == "curr") {
          unit = "_amps", v *= 0.001;
        } else if (type == "energy") {
          unit = "_joule_total", v /= 1e6;
        } else if (type == "power" && element == "accuracy") {
          v /= 1e6;
        } else if (type == "power" &&
                   (element == "average_interval" || element == "average_interval_min" ||
                    element == "average_interval_max")) {
          unit = "_seconds", v *= 0.001;
        } else if (type == "power") {
          unit = "_watt", v /= 1e6;
        } else if (type == "humidity") {
          v /= 1e6;
        } else if (type == "fan" && (element == "input" || element == "min" || element == "max" ||
                                     element == "target")) {
          unit = "_rpm";
        }
        metric_ += unit;
        Add(out, now_ms, v, metric_, labels);
      }
    }
  }
  if (!failures.empty()) return UnavailableError("hwmon: " + failures);
  return OkStatus();
}

Status ProcSensor::CollectThermalZone(int64_t now_ms, model::BatchBuilder& out) {
  // procfs reads every zone and device before node_exporter emits any: one that cannot be
  // read fails the whole collector (a zone answering ENODATA is skipped).
  const std::string class_dir = options_.root + "/sys/class/thermal/";
  std::vector<std::string> zones, devices;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(class_dir, error)) {
    const std::string name = entry.path().filename().string();
    auto numbered = [&](std::string_view prefix) {
      return name.starts_with(prefix) && name.size() > prefix.size() &&
             std::isdigit(static_cast<unsigned char>(name[prefix.size()]));
    };
    if (numbered("thermal_zone")) zones.push_back(name);
    if (numbered("cooling_device")) devices.push_back(name);
  }
  if (error) return OkStatus();
  std::sort(zones.begin(), zones.end());
  std::sort(devices.begin(), devices.end());
  auto read = [&](const std::string& entry, const char* file) {
    SysRead r = ReadSysFile(class_dir + entry + "/" + file);
    r.text = std::string(Trim(r.text, " \t\n\r"));
    return r;
  };
  auto fail = [&](const std::string& entry, const char* file, const SysRead& r) {
    return UnavailableError("thermal_zone: " + class_dir + entry + "/" + file + ": " +
                            (r.error != 0 ? std::strerror(r.error) : "not a number"));
  };
  struct Reading {
    std::string_view metric;
    double value;
    std::string id, type;
  };
  std::vector<Reading> readings;
  for (const std::string& zone : zones) {
    SysRead type = read(zone, "type"), policy = read(zone, "policy"), temp = read(zone, "temp"),
            mode = read(zone, "mode"), passive = read(zone, "passive");
    bool no_data = false;
    for (const SysRead* r : {&type, &policy, &temp, &mode, &passive})
      no_data |= r->error == ENODATA;
    if (no_data) continue;
    if (type.error != 0) return fail(zone, "type", type);
    if (policy.error != 0) return fail(zone, "policy", policy);
    std::optional<int64_t> millidegrees = Integer(temp.text);
    if (temp.error != 0 || !millidegrees) return fail(zone, "temp", temp);
    // mode and passive may be absent or unreadable; passive, when read, is an unsigned number.
    if (mode.error != 0 && mode.error != ENOENT && mode.error != EACCES)
      return fail(zone, "mode", mode);
    if (passive.error != 0 && passive.error != ENOENT && passive.error != EACCES)
      return fail(zone, "passive", passive);
    if (passive.error == 0 && (!Integer(passive.text) || passive.text.starts_with('-')))
      return fail(zone, "passive", passive);
    readings.push_back({"node_thermal_zone_temp", static_cast<double>(*millidegrees) / 1000.0,
                        zone.substr(std::string_view("thermal_zone").size()), type.text});
  }
  for (const std::string& device : devices) {
    SysRead type = read(device, "type"), max = read(device, "max_state"),
            cur = read(device, "cur_state");
    if (type.error != 0) return fail(device, "type", type);
    std::optional<int64_t> max_state = Integer(max.text), cur_state = Integer(cur.text);
    if (max.error != 0 || !max_state) return fail(device, "max_state", max);
    if (cur.error != 0 || !cur_state) return fail(device, "cur_state", cur);
    std::string id = device.substr(std::string_view("cooling_device").size());
    readings.push_back(
        {"node_cooling_device_cur_state", static_cast<double>(*cur_state), id, type.text});
    readings.push_back(
        {"node_cooling_device_max_state", static_cast<double>(*max_state), id, type.text});
  }
  for (const Reading& r : readings) {
    if (r.metric == "node_thermal_zone_temp") {
      Add(out, now_ms, r.value, r.metric, {{"type", r.type}, {"zone", r.id}});
    } else {
      Add(out, now_ms, r.value, r.metric, {{"name", r.id}, {"type", r.type}});
    }
  }
  return OkStatus();
}

}  // namespace vigil::sensors::proc

#include "sensors/self/self_sensor.h"

namespace vigil::sensors::self {

using config::OptionSpec;
using config::OptionType;

SensorDescriptor Descriptor() {
  SensorDescriptor d;
  d.type = "self";
  d.description = "vigil's own metrics (its /metrics) as readings.";
  d.options = {
      OptionSpec{"interval", OptionType::kDuration, "How often to read.",
                 std::chrono::milliseconds(15'000), 0.001, 86400.0},
      OptionSpec{"prefix", OptionType::kString, "Only metrics whose name starts with this.",
                 std::string("vigil_")},
  };
  d.create = [](const SensorSpec& spec) -> Result<std::unique_ptr<Sensor>> {
    for (const auto& [name, value] : spec.labels) {
      if (!model::Labels::FromPairs({{name, value}}).ok())
        return InvalidArgumentError("labels: " + name + " is not a valid label");
    }
    return std::unique_ptr<Sensor>(std::make_unique<SelfSensor>(
        spec.labels, spec.options.Duration("interval").count(), spec.options.String("prefix")));
  };
  return d;
}

Status SelfSensor::Collect(int64_t now_ms, model::BatchBuilder& out) {
  std::vector<model::MetricMetadata> metadata;
  for (const auto& family : registry_.Snapshot()) {
    if (family.name.rfind(prefix_, 0) != 0) continue;
    metadata.push_back({family.name, std::string(metrics::TypeName(family.type)), family.help, ""});
    for (const auto& sample : family.samples) {
      std::vector<model::Label> pairs{{"__name__", sample.name}};
      for (const auto& [name, value] : sample.labels) pairs.push_back({name, value});
      VIGIL_ASSIGN_OR_RETURN(model::Labels labels, model::Labels::FromPairs(std::move(pairs)));
      // The sensor's labels win over the metric's own.
      for (const auto& [name, value] : labels_) labels = labels.With(name, value);
      out.Add(labels, {now_ms, sample.value});
    }
  }
  MutexLock lock(metadata_mu_);
  metadata_ = std::move(metadata);
  return OkStatus();
}

std::vector<model::MetricMetadata> SelfSensor::Metadata() const {
  MutexLock lock(metadata_mu_);
  return metadata_;
}

}  // namespace vigil::sensors::self

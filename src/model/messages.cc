#include "model/messages.h"

#include <nlohmann/json.hpp>

#include "model/batch_codec.h"
#include "model/json_values.h"
#include "vigil.pb.h"

namespace vigil::model {
namespace {

using nlohmann::json;

template <typename RepeatedLabels>
void PutLabels(const Labels& labels, RepeatedLabels* out) {
  for (const auto& l : labels) {
    auto* p = out->Add();
    p->mutable_name()->assign(l.name);
    p->mutable_value()->assign(l.value);
  }
}

template <typename RepeatedLabels>
Result<Labels> GetLabels(const RepeatedLabels& in) {
  std::vector<Label> pairs;
  for (const auto& p : in) pairs.push_back({p.name(), p.value()});
  return Labels::FromPairs(std::move(pairs));
}

template <typename Proto>
Status ParseProto(std::string_view bytes, Proto* proto, const char* what) {
  if (bytes.size() > INT32_MAX ||
      !proto->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgumentError(std::string("decode ") + what + ": invalid protobuf");
  }
  if (proto->version() == 0) {
    return InvalidArgumentError(std::string("decode ") + what + ": version is missing");
  }
  return OkStatus();
}

Result<json> ParseJson(std::string_view text, const char* what) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidArgumentError(std::string("decode ") + what + ": expected a JSON object");
  }
  auto version = doc.contains("version") ? Int64FromJson(doc["version"]) : Result<int64_t>(0);
  if (!version.ok() || *version < 1 || *version > UINT32_MAX) {
    return InvalidArgumentError(std::string("decode ") + what + ": version is missing");
  }
  return doc;
}

// Typed field readers for JSON objects; a missing field is its zero value, as in proto3.
Result<std::string> StringField(const json& doc, const char* key) {
  if (!doc.contains(key)) return std::string();
  if (!doc[key].is_string()) return InvalidArgumentError(std::string(key) + " must be a string");
  return doc[key].get<std::string>();
}
Result<int64_t> IntField(const json& doc, const char* key) {
  if (!doc.contains(key)) return int64_t{0};
  auto value = Int64FromJson(doc[key]);
  if (!value.ok()) return value.status().Annotate(key);
  return value;
}
Result<Labels> LabelsField(const json& doc, const char* key) {
  if (!doc.contains(key)) return Labels();
  return LabelsFromJson(doc[key]);
}

Result<double> DoubleField(const json& doc, const char* key) {
  if (!doc.contains(key)) return 0.0;
  if (!doc[key].is_number()) return InvalidArgumentError(std::string(key) + " must be a number");
  return doc[key].get<double>();
}

// A sensor's optional "metadata" and "targets" arrays (docs/protocol/amqp.md).
Status MetadataAndTargetsFromJson(const json& doc, SensorInfo* sensor) {
  for (const char* key : {"metadata", "targets"}) {
    if (doc.contains(key) && !doc[key].is_array()) {
      return InvalidArgumentError(std::string(key) + " must be an array");
    }
  }
  for (const auto& md : doc.value("metadata", json::array())) {
    if (!md.is_object()) return InvalidArgumentError("metadata entries must be objects");
    auto metric = StringField(md, "metric");
    auto type = StringField(md, "type");
    auto help = StringField(md, "help");
    auto unit = StringField(md, "unit");
    for (const auto* r : {&metric.status(), &type.status(), &help.status(), &unit.status()}) {
      if (!r->ok()) return *r;
    }
    sensor->metadata.push_back({*metric, type->empty() ? "unknown" : *type, *help, *unit});
  }
  for (const auto& t : doc.value("targets", json::array())) {
    if (!t.is_object()) return InvalidArgumentError("target entries must be objects");
    auto url = StringField(t, "url");
    auto labels = LabelsField(t, "labels");
    auto health = StringField(t, "health");
    auto error = StringField(t, "last_error");
    auto last = IntField(t, "last_scrape_ms");
    auto duration = DoubleField(t, "last_scrape_duration_seconds");
    for (const auto* r : {&url.status(), &labels.status(), &health.status(), &error.status(),
                          &last.status(), &duration.status()}) {
      if (!r->ok()) return *r;
    }
    sensor->targets.push_back(
        {*url, *labels, health->empty() ? "unknown" : *health, *error, *last, *duration});
  }
  return OkStatus();
}

constexpr std::pair<AlertState, std::string_view> kAlertStates[] = {
    {AlertState::kPending, "pending"},
    {AlertState::kFiring, "firing"},
    {AlertState::kResolved, "resolved"}};

}  // namespace

std::string_view AlertStateName(AlertState state) {
  for (const auto& [s, name] : kAlertStates) {
    if (s == state) return name;
  }
  return "unknown";
}

std::string EncodeAnnouncement(const RouteAnnouncement& m) {
  proto::RouteAnnouncement p;
  p.set_version(m.version);
  p.set_agent(m.agent);
  p.set_queue(m.queue);
  p.set_timestamp_ms(m.timestamp_ms);
  p.set_leaving(m.leaving);
  p.set_retired(m.retired);
  for (const auto& s : m.sensors) {
    auto* info = p.add_sensors();
    info->set_name(s.name);
    info->set_type(s.type);
    info->set_interval_ms(s.interval_ms);
    PutLabels(s.labels, info->mutable_labels());
    for (const MetricMetadata& md : s.metadata) {
      auto* out = info->add_metadata();
      out->set_metric(md.metric);
      out->set_type(md.type);
      out->set_help(md.help);
      out->set_unit(md.unit);
    }
    for (const TargetState& t : s.targets) {
      auto* out = info->add_targets();
      out->set_url(t.url);
      PutLabels(t.labels, out->mutable_labels());
      out->set_health(t.health);
      out->set_last_error(t.last_error);
      out->set_last_scrape_ms(t.last_scrape_ms);
      out->set_last_scrape_duration_seconds(t.last_scrape_duration_seconds);
    }
  }
  return p.SerializeAsString();
}

Result<RouteAnnouncement> DecodeAnnouncement(std::string_view bytes) {
  proto::RouteAnnouncement p;
  VIGIL_RETURN_IF_ERROR(ParseProto(bytes, &p, "announcement"));
  RouteAnnouncement m{p.version(),      p.agent(),   p.queue(),  {},
                      p.timestamp_ms(), p.leaving(), p.retired()};
  for (const auto& info : p.sensors()) {
    auto labels = GetLabels(info.labels());
    if (!labels.ok()) return labels.status().Annotate("decode announcement: sensor " + info.name());
    SensorInfo sensor{info.name(), info.type(), std::move(labels).value(), info.interval_ms()};
    for (const auto& md : info.metadata()) {
      sensor.metadata.push_back({md.metric(), md.type(), md.help(), md.unit()});
    }
    for (const auto& t : info.targets()) {
      auto target_labels = GetLabels(t.labels());
      if (!target_labels.ok()) {
        return target_labels.status().Annotate("decode announcement: target " + t.url());
      }
      sensor.targets.push_back({t.url(), std::move(target_labels).value(), t.health(),
                                t.last_error(), t.last_scrape_ms(),
                                t.last_scrape_duration_seconds()});
    }
    m.sensors.push_back(std::move(sensor));
  }
  return m;
}

std::string EncodeDiscoveryRequest(const DiscoveryRequest& m) {
  proto::DiscoveryRequest p;
  p.set_version(m.version);
  p.set_coordinator(m.coordinator);
  p.set_timestamp_ms(m.timestamp_ms);
  return p.SerializeAsString();
}

Result<DiscoveryRequest> DecodeDiscoveryRequest(std::string_view bytes) {
  proto::DiscoveryRequest p;
  VIGIL_RETURN_IF_ERROR(ParseProto(bytes, &p, "discovery request"));
  return DiscoveryRequest{p.version(), p.coordinator(), p.timestamp_ms()};
}

std::string EncodeAlert(const Alert& m) {
  proto::Alert p;
  p.set_version(m.version);
  p.set_name(m.name);
  p.set_severity(m.severity);
  p.set_state(static_cast<proto::Alert::State>(static_cast<int>(m.state) + 1));
  PutLabels(m.labels, p.mutable_labels());
  for (const auto& [k, v] : m.annotations) {
    auto* a = p.add_annotations();
    a->set_name(k);
    a->set_value(v);
  }
  p.set_value(m.value);
  p.set_active_since_ms(m.active_since_ms);
  p.set_timestamp_ms(m.timestamp_ms);
  return p.SerializeAsString();
}

Result<Alert> DecodeAlert(std::string_view bytes) {
  proto::Alert p;
  VIGIL_RETURN_IF_ERROR(ParseProto(bytes, &p, "alert"));
  if (p.state() < proto::Alert::PENDING || p.state() > proto::Alert::RESOLVED) {
    return InvalidArgumentError("decode alert: unknown state");
  }
  auto labels = GetLabels(p.labels());
  if (!labels.ok()) return labels.status().Annotate("decode alert");
  Alert m;
  m.version = p.version();
  m.name = p.name();
  m.severity = p.severity();
  m.state = static_cast<AlertState>(static_cast<int>(p.state()) - 1);
  m.labels = std::move(labels).value();
  for (const auto& a : p.annotations()) m.annotations[a.name()] = a.value();
  m.value = p.value();
  m.active_since_ms = p.active_since_ms();
  m.timestamp_ms = p.timestamp_ms();
  return m;
}

std::string EncodeAnnouncementJson(const RouteAnnouncement& m) {
  json sensors = json::array();
  for (const auto& s : m.sensors) {
    json metadata = json::array();
    for (const MetricMetadata& md : s.metadata) {
      metadata.push_back(
          {{"metric", md.metric}, {"type", md.type}, {"help", md.help}, {"unit", md.unit}});
    }
    json targets = json::array();
    for (const TargetState& t : s.targets) {
      targets.push_back({{"url", t.url},
                         {"labels", JsonFromLabels(t.labels)},
                         {"health", t.health},
                         {"last_error", t.last_error},
                         {"last_scrape_ms", t.last_scrape_ms},
                         {"last_scrape_duration_seconds", t.last_scrape_duration_seconds}});
    }
    sensors.push_back({{"name", s.name},
                       {"type", s.type},
                       {"labels", JsonFromLabels(s.labels)},
                       {"interval_ms", s.interval_ms},
                       {"metadata", std::move(metadata)},
                       {"targets", std::move(targets)}});
  }
  return json{{"version", m.version},
              {"agent", m.agent},
              {"queue", m.queue},
              {"sensors", std::move(sensors)},
              {"timestamp_ms", m.timestamp_ms},
              {"leaving", m.leaving},
              {"retired", m.retired}}
      .dump();
}

Result<RouteAnnouncement> DecodeAnnouncementJson(std::string_view text) {
  VIGIL_ASSIGN_OR_RETURN(json doc, ParseJson(text, "announcement"));
  RouteAnnouncement m;
  m.version = doc["version"].get<uint32_t>();
  auto fail = [](const Status& s) { return s.Annotate("decode announcement"); };
  auto agent = StringField(doc, "agent");
  auto queue = StringField(doc, "queue");
  auto timestamp = IntField(doc, "timestamp_ms");
  for (const auto* r : {&agent.status(), &queue.status(), &timestamp.status()}) {
    if (!r->ok()) return fail(*r);
  }
  m.agent = *agent;
  m.queue = *queue;
  m.timestamp_ms = *timestamp;
  for (auto [key, field] : {std::pair{"leaving", &m.leaving}, std::pair{"retired", &m.retired}}) {
    if (!doc.contains(key)) continue;
    if (!doc[key].is_boolean()) {
      return fail(InvalidArgumentError(std::string(key) + " must be a boolean"));
    }
    *field = doc[key].get<bool>();
  }
  if (doc.contains("sensors")) {
    if (!doc["sensors"].is_array()) return fail(InvalidArgumentError("sensors must be an array"));
    for (const auto& s : doc["sensors"]) {
      if (!s.is_object()) return fail(InvalidArgumentError("a sensor must be an object"));
      auto name = StringField(s, "name");
      auto type = StringField(s, "type");
      auto labels = LabelsField(s, "labels");
      auto interval = IntField(s, "interval_ms");
      for (const auto* r : {&name.status(), &type.status(), &labels.status(), &interval.status()}) {
        if (!r->ok()) return fail(*r);
      }
      SensorInfo sensor{*name, *type, *labels, *interval};
      if (Status status = MetadataAndTargetsFromJson(s, &sensor); !status.ok()) {
        return fail(status.Annotate("sensor " + *name));
      }
      m.sensors.push_back(std::move(sensor));
    }
  }
  return m;
}

Result<RouteAnnouncement> DecodeAnnouncementAs(std::string_view content_type,
                                               std::string_view body) {
  return content_type == kJsonContentType ? DecodeAnnouncementJson(body) : DecodeAnnouncement(body);
}

std::string EncodeDiscoveryRequestJson(const DiscoveryRequest& m) {
  return json{
      {"version", m.version}, {"coordinator", m.coordinator}, {"timestamp_ms", m.timestamp_ms}}
      .dump();
}

Result<DiscoveryRequest> DecodeDiscoveryRequestJson(std::string_view text) {
  VIGIL_ASSIGN_OR_RETURN(json doc, ParseJson(text, "discovery request"));
  auto coordinator = StringField(doc, "coordinator");
  auto timestamp = IntField(doc, "timestamp_ms");
  if (!coordinator.ok()) return coordinator.status().Annotate("decode discovery request");
  if (!timestamp.ok()) return timestamp.status().Annotate("decode discovery request");
  return DiscoveryRequest{doc["version"].get<uint32_t>(), *coordinator, *timestamp};
}

std::string EncodeAlertJson(const Alert& m) {
  json annotations = json::object();
  for (const auto& [k, v] : m.annotations) annotations[k] = v;
  std::string_view state;
  for (const auto& [s, name] : kAlertStates) {
    if (s == m.state) state = name;
  }
  return json{{"version", m.version},
              {"name", m.name},
              {"severity", m.severity},
              {"state", state},
              {"labels", JsonFromLabels(m.labels)},
              {"annotations", std::move(annotations)},
              {"value", JsonFromDouble(m.value)},
              {"active_since_ms", m.active_since_ms},
              {"timestamp_ms", m.timestamp_ms}}
      .dump();
}

Result<Alert> DecodeAlertJson(std::string_view text) {
  VIGIL_ASSIGN_OR_RETURN(json doc, ParseJson(text, "alert"));
  auto fail = [](const Status& s) { return s.Annotate("decode alert"); };
  Alert m;
  m.version = doc["version"].get<uint32_t>();
  auto name = StringField(doc, "name");
  auto severity = StringField(doc, "severity");
  auto state = StringField(doc, "state");
  auto labels = LabelsField(doc, "labels");
  auto active = IntField(doc, "active_since_ms");
  auto timestamp = IntField(doc, "timestamp_ms");
  for (const auto* r : {&name.status(), &severity.status(), &state.status(), &labels.status(),
                        &active.status(), &timestamp.status()}) {
    if (!r->ok()) return fail(*r);
  }
  bool known_state = false;
  for (const auto& [s, state_name] : kAlertStates) {
    if (state_name == *state) m.state = s, known_state = true;
  }
  if (!known_state) return fail(InvalidArgumentError("unknown state \"" + *state + "\""));
  if (doc.contains("annotations")) {
    const json& a = doc["annotations"];
    if (!a.is_object()) return fail(InvalidArgumentError("annotations must be an object"));
    for (const auto& [k, v] : a.items()) {
      if (!v.is_string())
        return fail(InvalidArgumentError("annotation " + k + " must be a string"));
      m.annotations[k] = v.get<std::string>();
    }
  }
  if (doc.contains("value")) {
    auto value = DoubleFromJson(doc["value"]);
    if (!value.ok()) return fail(value.status().Annotate("value"));
    m.value = *value;
  }
  m.name = *name;
  m.severity = *severity;
  m.labels = *labels;
  m.active_since_ms = *active;
  m.timestamp_ms = *timestamp;
  return m;
}

}  // namespace vigil::model

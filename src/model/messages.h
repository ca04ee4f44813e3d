// vigil's own bus messages besides data batches (proto/vigil.proto): the route
// announcement an agent sends for discovery, the discovery request a coordinator sends,
// and an alert. Binary through libprotobuf, or JSON; both carry a version and decoding
// rejects version 0 (unset) and invalid labels. docs/protocol/amqp.md.
//
// Thread safety: plain values and free functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/labels.h"

namespace vigil::model {

inline constexpr uint32_t kMessageVersion = 1;

// What a sensor knows of a metric it yields: Prometheus's metric metadata.
struct MetricMetadata {
  std::string metric;
  std::string type = "unknown";  // counter, gauge, histogram, summary, …
  std::string help;
  std::string unit;
  bool operator==(const MetricMetadata&) const = default;
};

// One target a sensor reads (a scraped endpoint, a probed URL) as of its last reading, for
// Prometheus's /api/v1/targets.
struct TargetState {
  std::string url;                 // without userinfo
  Labels labels;                   // what the target's up / probe_success series carry
  std::string health = "unknown";  // up, down, unknown (not read yet)
  std::string last_error;
  int64_t last_scrape_ms = 0;
  double last_scrape_duration_seconds = 0;
  bool operator==(const TargetState&) const = default;
};

struct SensorInfo {
  std::string name;
  std::string type;
  Labels labels;
  int64_t interval_ms = 0;
  std::vector<MetricMetadata> metadata;
  std::vector<TargetState> targets;
  bool operator==(const SensorInfo&) const = default;
};

struct RouteAnnouncement {
  uint32_t version = kMessageVersion;
  std::string agent;
  std::string queue;
  std::vector<SensorInfo> sensors;
  int64_t timestamp_ms = 0;
  // A goodbye (proto/vigil.proto): the agent stopped cleanly, or (retired) is gone for good.
  bool leaving = false;
  bool retired = false;
  bool operator==(const RouteAnnouncement&) const = default;
};

struct DiscoveryRequest {
  uint32_t version = kMessageVersion;
  std::string coordinator;
  int64_t timestamp_ms = 0;
  bool operator==(const DiscoveryRequest&) const = default;
};

enum class AlertState { kPending, kFiring, kResolved };
// "pending", "firing", "resolved": the words of Prometheus's alert API and Alertmanager.
std::string_view AlertStateName(AlertState state);

struct Alert {
  uint32_t version = kMessageVersion;
  std::string name;
  std::string severity;
  AlertState state = AlertState::kPending;
  Labels labels;
  std::map<std::string, std::string> annotations;
  double value = 0;
  int64_t active_since_ms = 0;
  int64_t timestamp_ms = 0;
  bool operator==(const Alert&) const = default;
};

std::string EncodeAnnouncement(const RouteAnnouncement& m);
Result<RouteAnnouncement> DecodeAnnouncement(std::string_view bytes);
std::string EncodeDiscoveryRequest(const DiscoveryRequest& m);
Result<DiscoveryRequest> DecodeDiscoveryRequest(std::string_view bytes);
std::string EncodeAlert(const Alert& m);
Result<Alert> DecodeAlert(std::string_view bytes);

std::string EncodeAnnouncementJson(const RouteAnnouncement& m);
Result<RouteAnnouncement> DecodeAnnouncementJson(std::string_view json);
// By the message's content type: JSON for "application/json" (model::kJsonContentType),
// else protobuf.
Result<RouteAnnouncement> DecodeAnnouncementAs(std::string_view content_type,
                                               std::string_view body);
std::string EncodeDiscoveryRequestJson(const DiscoveryRequest& m);
Result<DiscoveryRequest> DecodeDiscoveryRequestJson(std::string_view json);
std::string EncodeAlertJson(const Alert& m);
Result<Alert> DecodeAlertJson(std::string_view json);

}  // namespace vigil::model

// SensorDirectory is what `GET /api/v1/sensors` and the dashboard list: every agent
// that announced itself (its sensors, their labels and intervals) and when data from it
// was last seen. An agent is online while data keeps coming (within 3 of its flush
// periods, at least 5 s), stale after that, offline after 10 times as long.
//
// Thread safety: everything may be called from any thread.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "model/messages.h"

namespace vigil::web {

class SensorDirectory {
 public:
  explicit SensorDirectory(Clock& clock) : clock_(clock) {}

  void OnAnnouncement(const model::RouteAnnouncement& announcement);
  // Data from `agent` arrived now.
  void OnData(const std::string& agent);
  // The JSON array the API returns.
  std::string ToJson() const;

 private:
  struct Agent {
    model::RouteAnnouncement announcement;
    int64_t last_seen_ms = 0;
  };
  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Agent> agents_;
};

}  // namespace vigil::web

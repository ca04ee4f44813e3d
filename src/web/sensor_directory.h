// SensorDirectory is what `GET /api/v1/sensors` and the dashboard list: every agent
// that announced itself (its sensors, their labels, intervals and targets) and when data
// from it was last seen — a sensor of an online agent with a target down is "down",
// with the target's last error; an agent that said goodbye is "stopped" (a retired one is
// forgotten); and, from what the sensors announced, Prometheus's metric metadata
// and scrape targets (/api/v1/metadata, /api/v1/targets). An agent is online while data keeps
// coming (within 3 of its flush periods, at least 5 s), stale after that, offline after 10 times as
// long.
//
// Thread safety: everything may be called from any thread.
#pragma once

#include <map>
#include <string>

#include "core/clock.h"
#include "core/mutex.h"
#include "model/messages.h"

namespace vigil::web {

class SensorDirectory {
 public:
  explicit SensorDirectory(Clock& clock) : clock_(clock) {}

  // An announcement lists the agent; a goodbye (leaving) marks it stopped; a retired one
  // forgets it.
  void OnAnnouncement(const model::RouteAnnouncement& announcement);
  // Data from `agent` arrived now.
  void OnData(const std::string& agent);
  // True when `agent` announced itself and was not retired since.
  bool Knows(const std::string& agent) const;
  // The JSON array the API returns.
  std::string ToJson() const;

  // Prometheus's /api/v1/metadata data: {metric: [{type, help, unit}, …]} from what the
  // agents' sensors announced, each distinct entry once; `metric` empty for all, `limit`
  // metrics and `limit_per_metric` entries at most (negative: no limit).
  std::string MetadataJson(const std::string& metric, int64_t limit,
                           int64_t limit_per_metric) const;
  // Prometheus's /api/v1/targets data: every scrape and probe target the agents announced,
  // as activeTargets (targets of an offline agent are "unknown"); `state` is "", "any",
  // "active" or "dropped" (vigil drops none), `pool` empty or one scrapePool.
  std::string TargetsJson(const std::string& state, const std::string& pool) const;

 private:
  struct Agent {
    model::RouteAnnouncement announcement;
    int64_t last_seen_ms = 0;
    bool stopped = false;  // said goodbye
  };
  // "online", "stale", "offline" or "stopped" (see above).
  const char* StateOf(const Agent& agent, int64_t now_ms) const;
  Clock& clock_;
  mutable Mutex mu_;
  std::map<std::string, Agent> agents_ VIGIL_GUARDED_BY(mu_);
};

}  // namespace vigil::web

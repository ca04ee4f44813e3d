#include "web/sensor_directory.h"

#include <nlohmann/json.hpp>

namespace vigil::web {

void SensorDirectory::OnAnnouncement(const model::RouteAnnouncement& announcement) {
  std::lock_guard lock(mu_);
  Agent& agent = agents_[announcement.agent];
  agent.announcement = announcement;
  agent.last_seen_ms = std::max(agent.last_seen_ms, clock_.NowMillis());
}

void SensorDirectory::OnData(const std::string& agent) {
  std::lock_guard lock(mu_);
  agents_[agent].last_seen_ms = clock_.NowMillis();
}

std::string SensorDirectory::ToJson() const {
  const int64_t now = clock_.NowMillis();
  nlohmann::json list = nlohmann::json::array();
  std::lock_guard lock(mu_);
  for (const auto& [name, agent] : agents_) {
    int64_t interval = 1000;
    for (const auto& s : agent.announcement.sensors) interval = std::max(interval, s.interval_ms);
    const int64_t online_for = std::max<int64_t>(5000, 3 * interval);
    const int64_t age = now - agent.last_seen_ms;
    const char* state = age <= online_for ? "online" : age <= 10 * online_for ? "stale" : "offline";
    for (const auto& s : agent.announcement.sensors) {
      nlohmann::json labels = nlohmann::json::object();
      for (const auto& l : s.labels) labels[l.name] = l.value;
      list.push_back({{"agent", name},
                      {"name", s.name},
                      {"type", s.type},
                      {"labels", labels},
                      {"interval_ms", s.interval_ms},
                      {"last_seen_ms", agent.last_seen_ms},
                      {"state", state}});
    }
  }
  return list.dump();
}

}  // namespace vigil::web

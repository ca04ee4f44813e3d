#include "web/sensor_directory.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <tuple>

#include "query/printer.h"

namespace vigil::web {

void SensorDirectory::OnAnnouncement(const model::RouteAnnouncement& announcement) {
  MutexLock lock(mu_);
  if (announcement.leaving) {
    if (announcement.retired) {
      agents_.erase(announcement.agent);
    } else if (auto it = agents_.find(announcement.agent); it != agents_.end()) {
      it->second.stopped = true;  // its sensors stay listed, as they were
    }
    return;
  }
  Agent& agent = agents_[announcement.agent];
  agent.announcement = announcement;
  agent.stopped = false;
  agent.last_seen_ms = std::max(agent.last_seen_ms, clock_.NowMillis());
}

void SensorDirectory::OnData(const std::string& agent) {
  MutexLock lock(mu_);
  // Data of an agent not (or no longer) announced: its batches still queued after it was
  // retired, say. It is listed once it announces.
  if (auto it = agents_.find(agent); it != agents_.end())
    it->second.last_seen_ms = clock_.NowMillis();
}

bool SensorDirectory::Knows(const std::string& agent) const {
  MutexLock lock(mu_);
  return agents_.contains(agent);
}

const char* SensorDirectory::StateOf(const Agent& agent, int64_t now_ms) const {
  if (agent.stopped) return "stopped";
  int64_t interval = 1000;
  for (const auto& s : agent.announcement.sensors) interval = std::max(interval, s.interval_ms);
  const int64_t online_for = std::max<int64_t>(5000, 3 * interval);
  const int64_t age = now_ms - agent.last_seen_ms;
  return age <= online_for ? "online" : age <= 10 * online_for ? "stale" : "offline";
}

std::string SensorDirectory::ToJson() const {
  const int64_t now = clock_.NowMillis();
  nlohmann::json list = nlohmann::json::array();
  MutexLock lock(mu_);
  for (const auto& [name, agent] : agents_) {
    const char* agent_state = StateOf(agent, now);
    for (const auto& s : agent.announcement.sensors) {
      nlohmann::json labels = nlohmann::json::object();
      for (const auto& l : s.labels) labels[l.name] = l.value;
      // A sensor whose agent is online but whose target is down is down, with why.
      std::string state = agent_state, last_error;
      nlohmann::json targets = nlohmann::json::array();
      for (const auto& t : s.targets) {
        targets.push_back({{"url", t.url},
                           {"health", t.health},
                           {"last_error", t.last_error},
                           {"last_scrape_ms", t.last_scrape_ms}});
        if (t.health == "down" && state == "online") {
          state = "down";
          last_error = t.url + ": " + t.last_error;
        }
      }
      list.push_back({{"agent", name},
                      {"name", s.name},
                      {"type", s.type},
                      {"labels", labels},
                      {"interval_ms", s.interval_ms},
                      {"last_seen_ms", agent.last_seen_ms},
                      {"state", state},
                      {"last_error", last_error},
                      {"targets", std::move(targets)}});
    }
  }
  return list.dump();
}

std::string SensorDirectory::MetadataJson(const std::string& metric, int64_t limit,
                                          int64_t limit_per_metric) const {
  using Entry = std::tuple<std::string, std::string, std::string>;  // type, help, unit
  std::map<std::string, std::vector<Entry>> metrics;
  {
    MutexLock lock(mu_);
    for (const auto& [name, agent] : agents_) {
      for (const auto& sensor : agent.announcement.sensors) {
        for (const auto& m : sensor.metadata) {
          if (!metric.empty() && m.metric != metric) continue;
          auto& entries = metrics[m.metric];
          Entry entry{m.type, m.help, m.unit};
          if (std::find(entries.begin(), entries.end(), entry) != entries.end()) continue;
          if (limit_per_metric > 0 && static_cast<int64_t>(entries.size()) >= limit_per_metric)
            continue;
          entries.push_back(std::move(entry));
        }
      }
    }
  }
  nlohmann::json data = nlohmann::json::object();
  for (const auto& [name, entries] : metrics) {
    if (limit >= 0 && static_cast<int64_t>(data.size()) >= limit) break;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [type, help, unit] : entries) {
      list.push_back({{"type", type}, {"help", help}, {"unit", unit}});
    }
    data[name] = std::move(list);
  }
  return data.dump();
}

namespace {

// RFC 3339 in UTC with milliseconds, as Go's time marshals in JSON (zero: Go's zero time).
std::string Rfc3339(int64_t ms) {
  if (ms <= 0) return "0001-01-01T00:00:00Z";
  const std::chrono::sys_seconds t{std::chrono::seconds(ms / 1000)};
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", t, ms % 1000);
}

// Prometheus's discovered labels of a target URL: address, scheme and path.
nlohmann::json DiscoveredLabels(const std::string& url, const std::string& pool) {
  const size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "http" : url.substr(0, scheme_end);
  const size_t host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const size_t path_start = url.find('/', host_start);
  const std::string address = url.substr(
      host_start, path_start == std::string::npos ? std::string::npos : path_start - host_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  return {
      {"__address__", address}, {"__scheme__", scheme}, {"__metrics_path__", path}, {"job", pool}};
}

}  // namespace

std::string SensorDirectory::TargetsJson(const std::string& state, const std::string& pool) const {
  const bool active = state.empty() || state == "any" || state == "active";
  const int64_t now = clock_.NowMillis();
  nlohmann::json targets = nlohmann::json::array();
  MutexLock lock(mu_);
  for (const auto& [name, agent] : agents_) {
    if (!active) break;
    const char* agent_state = StateOf(agent, now);
    for (const auto& sensor : agent.announcement.sensors) {
      for (const auto& t : sensor.targets) {
        // A scrape target's pool is its job, as in Prometheus; a probe's, its sensor.
        std::string target_pool(t.labels.Get("job"));
        if (target_pool.empty()) target_pool = sensor.name;
        if (!pool.empty() && pool != target_pool) continue;
        nlohmann::json labels = nlohmann::json::object();
        for (const auto& l : t.labels) labels[l.name] = l.value;
        std::string health = t.health, error = t.last_error;
        if (std::string_view(agent_state) == "offline") {
          health = "unknown";
          error = "agent " + name + " is offline: nothing heard from it since " +
                  Rfc3339(agent.last_seen_ms);
        } else if (agent.stopped) {
          health = "unknown";
          error = "agent " + name + " stopped at " + Rfc3339(agent.last_seen_ms);
        }
        targets.push_back({{"discoveredLabels", DiscoveredLabels(t.url, target_pool)},
                           {"labels", std::move(labels)},
                           {"scrapePool", target_pool},
                           {"scrapeUrl", t.url},
                           {"globalUrl", t.url},
                           {"lastError", error},
                           {"lastScrape", Rfc3339(t.last_scrape_ms)},
                           {"lastScrapeDuration", t.last_scrape_duration_seconds},
                           {"health", health},
                           {"scrapeInterval", query::FormatDuration(sensor.interval_ms)}});
      }
    }
  }
  return nlohmann::json{{"activeTargets", std::move(targets)},
                        {"droppedTargets", nlohmann::json::array()}}
      .dump();
}

}  // namespace vigil::web

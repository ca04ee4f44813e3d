#include "web/alert_board.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/clock.h"
#include "core/format_float.h"
#include "web/api.h"

namespace vigil::web {

void AlertBoard::Apply(const model::Alert& alert) {
  MutexLock lock(mu_);
  if (alert.state == model::AlertState::kResolved) {
    alerts_.erase(alert.labels);
    return;
  }
  alerts_[alert.labels] = alert;
  while (alerts_.size() > max_alerts_) {
    auto oldest = std::min_element(
        alerts_.begin(), alerts_.end(),
        [](const auto& a, const auto& b) { return a.second.timestamp_ms < b.second.timestamp_ms; });
    alerts_.erase(oldest);
  }
}

size_t AlertBoard::size() const {
  MutexLock lock(mu_);
  return alerts_.size();
}

std::string AlertBoard::ToJson() const {
  std::vector<model::Alert> alerts;
  {
    MutexLock lock(mu_);
    for (const auto& [labels, alert] : alerts_) alerts.push_back(alert);
  }
  std::stable_sort(alerts.begin(), alerts.end(), [](const auto& a, const auto& b) {
    bool a_firing = a.state == model::AlertState::kFiring;
    bool b_firing = b.state == model::AlertState::kFiring;
    if (a_firing != b_firing) return a_firing;
    return a.active_since_ms < b.active_since_ms;
  });
  nlohmann::json list = nlohmann::json::array();
  for (const auto& a : alerts) {
    nlohmann::json labels = nlohmann::json::object(), annotations = nlohmann::json::object();
    for (const auto& l : a.labels) labels[l.name] = l.value;
    for (const auto& [k, v] : a.annotations) annotations[k] = v;
    list.push_back({{"labels", labels},
                    {"annotations", annotations},
                    {"state", model::AlertStateName(a.state)},
                    {"activeAt", FormatRfc3339(a.active_since_ms)},
                    {"value", FormatFloat(a.value, FloatStyle::kExponent)}});
  }
  return nlohmann::json({{"alerts", list}}).dump();
}

}  // namespace vigil::web

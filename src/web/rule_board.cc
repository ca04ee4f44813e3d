#include "web/rule_board.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace vigil::web {

std::string EncodeRuleState(const std::string& key, int64_t interval_ms,
                            const std::string& group_json) {
  return nlohmann::json{
      {"key", key}, {"interval_ms", interval_ms}, {"group", nlohmann::json::parse(group_json)}}
      .dump();
}

Status RuleBoard::Apply(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("key") ||
      !json["key"].is_string() || !json.contains("interval_ms") ||
      !json["interval_ms"].is_number_integer() || !json.contains("group") ||
      !json["group"].is_object() || !json["group"].contains("rules") ||
      !json["group"]["rules"].is_array())
    return InvalidArgumentError("not a rules.state message");
  MutexLock lock(mu_);
  Group& group = groups_[json["key"].get<std::string>()];
  group.json = json["group"].dump();
  group.interval_ms = std::max<int64_t>(json["interval_ms"].get<int64_t>(), 1000);
  group.received_ms = clock_.NowMillis();
  return OkStatus();
}

void RuleBoard::Expire() const {
  const int64_t now = clock_.NowMillis();
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (now - it->second.received_ms > 3 * it->second.interval_ms)
      it = groups_.erase(it);
    else
      ++it;
  }
}

std::string RuleBoard::RulesJson(std::string_view type) const {
  nlohmann::json list = nlohmann::json::array();
  MutexLock lock(mu_);
  Expire();
  for (const auto& [key, group] : groups_) {
    nlohmann::json one = nlohmann::json::parse(group.json);
    if (!type.empty()) {
      nlohmann::json kept = nlohmann::json::array();
      for (auto& rule : one["rules"])
        if (rule.value("type", "") == (type == "alert" ? "alerting" : "recording"))
          kept.push_back(std::move(rule));
      if (kept.empty()) continue;
      one["rules"] = std::move(kept);
    }
    list.push_back(std::move(one));
  }
  return nlohmann::json({{"groups", list}}).dump();
}

std::string RuleBoard::MergeAlerts(const std::string& board_json) const {
  nlohmann::json board = nlohmann::json::parse(board_json);
  nlohmann::json& alerts = board["alerts"];
  std::map<std::string, size_t> by_labels;
  for (size_t i = 0; i < alerts.size(); ++i) by_labels[alerts[i]["labels"].dump()] = i;
  {
    MutexLock lock(mu_);
    Expire();
    for (const auto& [key, group] : groups_) {
      const nlohmann::json parsed = nlohmann::json::parse(group.json);
      for (const auto& rule : parsed["rules"]) {
        if (!rule.contains("alerts")) continue;
        for (const auto& alert : rule["alerts"]) {
          // The ruler's state is the truth: it replaces what the change events said.
          auto [it, fresh] = by_labels.emplace(alert["labels"].dump(), alerts.size());
          if (fresh)
            alerts.push_back(alert);
          else
            alerts[it->second] = alert;
        }
      }
    }
  }
  std::vector<nlohmann::json> sorted(alerts.begin(), alerts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    const bool a_firing = a.value("state", "") == "firing";
    const bool b_firing = b.value("state", "") == "firing";
    if (a_firing != b_firing) return a_firing;
    return a.value("activeAt", "") < b.value("activeAt", "");
  });
  return nlohmann::json({{"alerts", sorted}}).dump();
}

}  // namespace vigil::web

#include "web/rule_board.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testing/fake_clock.h"

namespace vigil::web {
namespace {

std::string Group(const std::string& name, const std::string& state) {
  nlohmann::json alert = {{"labels", {{"alertname", "Hot"}, {"room", name}}},
                          {"annotations", nlohmann::json::object()},
                          {"state", state},
                          {"activeAt", "2026-12-04T10:00:00.000Z"},
                          {"value", "3.5e+01"}};
  nlohmann::json group = {
      {"name", name},
      {"file", "r.yml"},
      {"interval", 10.0},
      {"rules",
       {{{"name", "Hot"}, {"type", "alerting"}, {"state", state}, {"alerts", {alert}}},
        {{"name", "room:max"}, {"type", "recording"}}}}};
  return group.dump();
}

TEST(RuleBoard, ServesWhatTheRulerPublishedUntilItGoesQuiet) {
  vigil::testing::FakeClock clock;
  RuleBoard board(clock);
  EXPECT_FALSE(board.Apply("garbage").ok());
  EXPECT_FALSE(board.Apply("{\"key\":\"x\"}").ok());
  ASSERT_TRUE(board.Apply(EncodeRuleState("r.yml;b", 10'000, Group("b", "firing"))).ok());
  ASSERT_TRUE(board.Apply(EncodeRuleState("r.yml;a", 10'000, Group("a", "pending"))).ok());

  auto rules = nlohmann::json::parse(board.RulesJson(""));
  ASSERT_EQ(rules["groups"].size(), 2u);
  EXPECT_EQ(rules["groups"][0]["name"], "a");
  EXPECT_EQ(rules["groups"][0]["rules"].size(), 2u);
  auto recording = nlohmann::json::parse(board.RulesJson("record"));
  EXPECT_EQ(recording["groups"][0]["rules"].size(), 1u);
  EXPECT_EQ(recording["groups"][0]["rules"][0]["type"], "recording");

  // The change events told of an alert the ruler now says is pending: the ruler wins; the
  // stream rule's alert stays; firing comes first.
  nlohmann::json board_alerts = {
      {"alerts",
       {{{"labels", {{"alertname", "Hot"}, {"room", "a"}}}, {"state", "firing"}, {"activeAt", "x"}},
        {{"labels", {{"alertname", "VigilAgentOffline"}}},
         {"state", "pending"},
         {"activeAt", "y"}}}}};
  auto merged = nlohmann::json::parse(board.MergeAlerts(board_alerts.dump()))["alerts"];
  ASSERT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged[0]["labels"]["room"], "b");
  EXPECT_EQ(merged[0]["state"], "firing");
  for (const auto& a : merged) {
    if (a["labels"].value("room", "") == "a") {
      EXPECT_EQ(a["state"], "pending");
    }
  }

  // Three intervals without news: the group is gone.
  clock.Advance(25'000);
  ASSERT_TRUE(board.Apply(EncodeRuleState("r.yml;a", 10'000, Group("a", "pending"))).ok());
  clock.Advance(10'000);
  rules = nlohmann::json::parse(board.RulesJson(""));
  ASSERT_EQ(rules["groups"].size(), 1u);
  EXPECT_EQ(rules["groups"][0]["name"], "a");
}

}  // namespace
}  // namespace vigil::web

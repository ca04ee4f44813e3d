#include "web/alert_board.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace vigil::web {
namespace {

model::Alert Alert(std::string_view server, model::AlertState state, int64_t since) {
  model::Alert a;
  a.name = "High";
  a.severity = "warning";
  a.state = state;
  a.labels = model::Labels::Of({{"alertname", "High"}, {"server", server}});
  a.annotations = {{"summary", "high on " + std::string(server)}};
  a.value = 15.5;
  a.active_since_ms = since;
  a.timestamp_ms = since;
  return a;
}

TEST(AlertBoard, KeepsPendingAndFiringFiringFirstAndForgetsResolved) {
  AlertBoard board;
  board.Apply(Alert("b1", model::AlertState::kPending, 1'700'000'000'000));
  board.Apply(Alert("b2", model::AlertState::kFiring, 1'700'000'001'000));
  auto json = nlohmann::json::parse(board.ToJson());
  ASSERT_EQ(json["alerts"].size(), 2u);
  EXPECT_EQ(json["alerts"][0]["labels"]["server"], "b2");
  EXPECT_EQ(json["alerts"][0]["state"], "firing");
  EXPECT_EQ(json["alerts"][0]["activeAt"], "2023-11-14T22:13:21.000Z");
  EXPECT_EQ(json["alerts"][0]["value"], "1.55e+01");  // Prometheus's FormatFloat(v, 'e', -1)
  EXPECT_EQ(json["alerts"][0]["annotations"]["summary"], "high on b2");
  EXPECT_EQ(json["alerts"][1]["state"], "pending");

  board.Apply(Alert("b1", model::AlertState::kFiring, 1'700'000'000'000));  // same alert
  EXPECT_EQ(board.size(), 2u);
  board.Apply(Alert("b2", model::AlertState::kResolved, 1'700'000'001'000));
  json = nlohmann::json::parse(board.ToJson());
  ASSERT_EQ(json["alerts"].size(), 1u);
  EXPECT_EQ(json["alerts"][0]["labels"]["server"], "b1");
  EXPECT_EQ(json["alerts"][0]["state"], "firing");
}

TEST(AlertBoard, IsBounded) {
  AlertBoard board(3);
  for (int i = 0; i < 10; ++i)
    board.Apply(Alert("b" + std::to_string(i), model::AlertState::kFiring, 1000 + i));
  EXPECT_EQ(board.size(), 3u);
  auto json = nlohmann::json::parse(board.ToJson());
  EXPECT_EQ(json["alerts"][0]["labels"]["server"], "b7");  // the newest three stay
}

}  // namespace
}  // namespace vigil::web

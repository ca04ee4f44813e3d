#include "web/live_hub.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace vigil::web {
namespace {

using model::Labels;
using nlohmann::json;

model::Batch Batch() {
  model::Batch b;
  b.series.push_back(
      {Labels::Of({{"__name__", "boiler_pressure_out"}, {"agent", "a"}}), {{1000, 15.25}}});
  b.series.push_back({Labels::Of({{"__name__", "turbine_speed"}, {"agent", "a"}}), {{1000, NAN}}});
  return b;
}

class LiveHubTest : public ::testing::Test {
 protected:
  metrics::Registry registry_;
  LiveHub hub_{{.max_queued_messages = 3, .registry = &registry_}};
  int wakes_ = 0;
};

TEST_F(LiveHubTest, SubscribersGetOnlyTheSeriesTheyAskedFor) {
  auto client = hub_.Connect([this] { ++wakes_; });
  EXPECT_EQ(json::parse(client->HandleMessage(
                R"({"type":"subscribe","id":"p","selector":"boiler_pressure_out"})"))["type"],
            "subscribed");
  hub_.Publish(Batch());
  std::shared_ptr<const std::string> message;
  ASSERT_TRUE(client->Pop(&message));
  EXPECT_EQ(wakes_, 1);
  json m = json::parse(*message);
  ASSERT_EQ(m["series"].size(), 1u);
  EXPECT_EQ(m["series"][0]["labels"]["__name__"], "boiler_pressure_out");
  EXPECT_EQ(m["series"][0]["samples"][0], json::parse("[1000, 15.25]"));
  EXPECT_EQ(m["series"][0]["subscriptions"], json::parse(R"(["p"])"));
  EXPECT_FALSE(client->Pop(&message));

  client->HandleMessage(R"({"type":"subscribe","id":"all","selector":"{agent=\"a\"}"})");
  hub_.Publish(Batch());
  ASSERT_TRUE(client->Pop(&message));
  m = json::parse(*message);
  ASSERT_EQ(m["series"].size(), 2u);
  EXPECT_EQ(m["series"][1]["samples"][0][1], "NaN");  // non-finite values as strings

  client->HandleMessage(R"({"type":"unsubscribe","id":"all"})");
  client->HandleMessage(R"({"type":"unsubscribe","id":"p"})");
  hub_.Publish(Batch());
  EXPECT_FALSE(client->Pop(&message));
  hub_.Disconnect(client);
  EXPECT_EQ(hub_.client_count(), 0u);
}

TEST_F(LiveHubTest, BadMessagesGetAnErrorAndChangeNothing) {
  auto client = hub_.Connect([] {});
  for (const char* bad :
       {"not json", R"({"no":"type"})", R"({"type":"dance"})", R"({"type":"subscribe","id":"x"})",
        R"j({"type":"subscribe","id":"x","selector":"rate(x[1m])"})j",
        R"({"type":"subscribe","id":"x","selector":"x{"})"}) {
    json reply = json::parse(client->HandleMessage(bad));
    EXPECT_EQ(reply["type"], "error") << bad;
    EXPECT_FALSE(reply["error"].get<std::string>().empty());
  }
  hub_.Publish(Batch());
  std::shared_ptr<const std::string> message;
  EXPECT_FALSE(client->Pop(&message));
}

TEST_F(LiveHubTest, ASlowClientOverflowsWithoutHoldingUpOthers) {
  auto slow = hub_.Connect([] {});
  auto fast = hub_.Connect([] {});
  for (auto* c : {slow.get(), fast.get()}) {
    c->HandleMessage(R"({"type":"subscribe","selector":"turbine_speed"})");
  }
  std::shared_ptr<const std::string> message;
  for (int i = 0; i < 5; ++i) {
    hub_.Publish(Batch());
    EXPECT_TRUE(fast->Pop(&message));
  }
  EXPECT_TRUE(slow->overflowed());
  EXPECT_FALSE(fast->overflowed());
  hub_.Disconnect(slow);
  EXPECT_NE(registry_.RenderText().find("vigil_web_websocket_slow_clients_total 1"),
            std::string::npos);
}

}  // namespace
}  // namespace vigil::web

#include "model/messages.h"

#include <gtest/gtest.h>

#include <random>

namespace vigil::model {
namespace {

RouteAnnouncement SampleAnnouncement() {
  RouteAnnouncement a;
  a.agent = "plant-1";
  a.queue = "vigil.data.plant-1";
  a.timestamp_ms = 1'700'000'000'000;
  a.sensors.push_back({"boiler_pressure_out", "simulated", Labels::Of({{"unit", "bar"}}), 1000});
  a.sensors.push_back({"cpu", "proc", Labels(), 15000});
  a.sensors[0].metadata.push_back({"boiler_pressure_out", "gauge", "Outlet pressure.", "bar"});
  SensorInfo scrape{"apps", "scrape", Labels(), 15000};
  scrape.metadata.push_back({"http_requests_total", "counter", "Requests \"served\".", ""});
  scrape.targets.push_back({"http://127.0.0.1:9100/metrics",
                            Labels::Of({{"instance", "127.0.0.1:9100"}, {"job", "node"}}), "down",
                            "connection refused", 1'700'000'000'000, 0.25});
  a.sensors.push_back(scrape);
  return a;
}

Alert SampleAlert() {
  Alert a;
  a.name = "BoilerPressureHigh";
  a.severity = "critical";
  a.state = AlertState::kFiring;
  a.labels = Labels::Of({{"__name__", "boiler_pressure_out"}, {"agent", "plant-1"}});
  a.annotations = {{"summary", "pressure 15.45 bar"}};
  a.value = 15.45;
  a.active_since_ms = 1;
  a.timestamp_ms = 2;
  return a;
}

TEST(Messages, BinaryRoundTrips) {
  EXPECT_EQ(*DecodeAnnouncement(EncodeAnnouncement(SampleAnnouncement())), SampleAnnouncement());
  DiscoveryRequest request{kMessageVersion, "coordinator-1", 5};
  EXPECT_EQ(*DecodeDiscoveryRequest(EncodeDiscoveryRequest(request)), request);
  EXPECT_EQ(*DecodeAlert(EncodeAlert(SampleAlert())), SampleAlert());
}

TEST(Messages, JsonRoundTrips) {
  EXPECT_EQ(*DecodeAnnouncementJson(EncodeAnnouncementJson(SampleAnnouncement())),
            SampleAnnouncement());
  DiscoveryRequest request{kMessageVersion, "coordinator-1", 5};
  EXPECT_EQ(*DecodeDiscoveryRequestJson(EncodeDiscoveryRequestJson(request)), request);
  EXPECT_EQ(*DecodeAlertJson(EncodeAlertJson(SampleAlert())), SampleAlert());
}

TEST(Messages, AGoodbyeSurvivesBothEncodings) {
  RouteAnnouncement goodbye;
  goodbye.agent = "plant-1";
  goodbye.queue = "vigil.data.plant-1";
  goodbye.timestamp_ms = 9;
  goodbye.leaving = true;
  EXPECT_EQ(*DecodeAnnouncement(EncodeAnnouncement(goodbye)), goodbye);
  EXPECT_EQ(*DecodeAnnouncementJson(EncodeAnnouncementJson(goodbye)), goodbye);
  goodbye.retired = true;
  EXPECT_EQ(*DecodeAnnouncement(EncodeAnnouncement(goodbye)), goodbye);
  EXPECT_EQ(*DecodeAnnouncementJson(EncodeAnnouncementJson(goodbye)), goodbye);
  EXPECT_FALSE(DecodeAnnouncementJson(
                   R"({"version":1,"agent":"a","queue":"q","timestamp_ms":1,"leaving":"yes"})")
                   .ok());
  // An announcement without the field (an older agent's) is no goodbye.
  EXPECT_FALSE(
      DecodeAnnouncementJson(R"({"version":1,"agent":"a","queue":"q","timestamp_ms":1})")->leaving);
}

TEST(Messages, MissingVersionIsRejected) {
  RouteAnnouncement a = SampleAnnouncement();
  a.version = 0;
  EXPECT_EQ(DecodeAnnouncement(EncodeAnnouncement(a)).status().message(),
            "decode announcement: version is missing");
  EXPECT_EQ(DecodeDiscoveryRequestJson(R"({"coordinator":"c"})").status().message(),
            "decode discovery request: version is missing");
}

TEST(Messages, NewerVersionsAreRead) {
  RouteAnnouncement a = SampleAnnouncement();
  a.version = 7;
  EXPECT_EQ(DecodeAnnouncement(EncodeAnnouncement(a))->version, 7u);
}

TEST(Messages, MalformedJsonSaysWhatIsWrong) {
  EXPECT_EQ(DecodeAlertJson(R"({"version":1,"state":"exploded"})").status().message(),
            "decode alert: unknown state \"exploded\"");
  EXPECT_EQ(DecodeAnnouncementJson(R"({"version":1,"agent":3})").status().message(),
            "decode announcement: agent must be a string");
  EXPECT_EQ(DecodeAnnouncementJson(R"({"version":1,"sensors":[{"labels":{"a-b":"x"}}]})")
                .status()
                .message(),
            "decode announcement: invalid label name \"a-b\"");
}

// What a decoder accepts, it must be able to give back: a message it decodes encodes to
// bytes that decode to the same message. What it refuses carries a reason. Flipped bytes
// are refused often enough that the check is not vacuous.
template <typename T>
void ExpectRefusedOrStable(const Result<T>& decoded, std::string (*encode)(const T&),
                           Result<T> (*decode)(std::string_view), int* refused) {
  if (!decoded.ok()) {
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << decoded.status().ToString();
    EXPECT_FALSE(decoded.status().message().empty());
    ++*refused;
    return;
  }
  auto again = decode(encode(*decoded));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *decoded);
}

TEST(Messages, GarbageIsAnErrorNeverACrash) {
  const std::string good = EncodeAlert(SampleAlert());
  const std::string good_json = EncodeAlertJson(SampleAlert());
  ASSERT_TRUE(DecodeAlert(good).ok());
  std::mt19937 rng(3);
  int refused = 0, refused_json = 0;
  constexpr int kRounds = 5000;
  for (int i = 0; i < kRounds; ++i) {
    std::string bytes = good;
    std::string json = good_json;
    for (int flips = 0; flips < 2; ++flips) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng());
      json[rng() % json.size()] = static_cast<char>(rng());
    }
    ExpectRefusedOrStable(DecodeAlert(bytes), &EncodeAlert, &DecodeAlert, &refused);
    ExpectRefusedOrStable(DecodeAnnouncement(bytes), &EncodeAnnouncement, &DecodeAnnouncement,
                          &refused);
    ExpectRefusedOrStable(DecodeDiscoveryRequest(bytes), &EncodeDiscoveryRequest,
                          &DecodeDiscoveryRequest, &refused);
    ExpectRefusedOrStable(DecodeAlertJson(json), &EncodeAlertJson, &DecodeAlertJson, &refused_json);
    if (HasFailure()) return;
  }
  EXPECT_GT(refused, kRounds / 10);
  EXPECT_GT(refused_json, kRounds / 10);
}

}  // namespace
}  // namespace vigil::model

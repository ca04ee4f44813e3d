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

TEST(Messages, GarbageIsAnErrorNeverACrash) {
  std::string good = EncodeAlert(SampleAlert());
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = good;
    for (int flips = 0; flips < 2; ++flips) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    (void)DecodeAlert(bytes);
    (void)DecodeAnnouncement(bytes);
    (void)DecodeDiscoveryRequest(bytes);
    (void)DecodeAlertJson(bytes);
  }
}

}  // namespace
}  // namespace vigil::model

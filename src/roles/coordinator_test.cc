// Alerting end to end on the in-process bus, a memory store and a fake clock: batches in an
// agent's data queue → the coordinator → the store → a ruler's [[alerts]] rule → alert
// messages on vigil.events, the ALERTS series, and Alertmanager-format payloads POSTed to
// a webhook receiver on loopback. And the coordinator's heartbeat series, over which the
// ruler's built-in VigilAgentOffline runs.
#include "roles/coordinator.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bus/in_process_bus.h"
#include "bus/topic.h"
#include "model/batch_codec.h"
#include "model/messages.h"
#include "roles/parts.h"
#include "roles/ruler.h"
#include "store/memory_store.h"
#include "testing/fake_clock.h"
#include "testing/http_stub.h"

namespace vigil::roles {
namespace {

using nlohmann::json;

constexpr int64_t kT0 = 1'700'000'000'000;

// Everything the coordinator publishes on vigil.events, read from vigil.store.
struct Published {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<model::Alert> alerts;
  std::vector<std::string> alert_keys;
  std::vector<model::Batch> samples;

  template <typename Predicate>
  bool WaitFor(Predicate done) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return done(*this); });
  }
};

// The webhook receiver: every body, in order.
struct Receiver {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json> bodies;
  std::unique_ptr<testing::HttpStub> stub;

  Receiver() {
    stub = testing::HttpStub::Start([this](const testing::StubRequest& r) {
             EXPECT_EQ(r.method, "POST");
             EXPECT_EQ(r.headers.at("content-type"), "application/json");
             std::lock_guard lock(mu);
             bodies.push_back(json::parse(r.body));
             cv.notify_all();
             return testing::StubResponse{};
           }).value();
  }
  json WaitForBody(size_t index) {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return bodies.size() > index; }))
        << "no webhook payload #" << index;
    return bodies.size() > index ? bodies[index] : json();
  }
};

class CoordinatorAlertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string text =
        "[web]\nlisten = \"127.0.0.1:8080\"\n"
        "[alerting]\nevaluation_interval = \"1h\"\nwebhooks = [\"" +
        receiver_.stub->Url("/hook") +
        "\"]\n"
        "[[alerts]]\nname = \"BoilerPressureHigh\"\nexpr = \"boiler_pressure_out > 15.4\"\n"
        "severity = \"critical\"\nlabels = { team = \"plant\" }\n"
        "annotations = { summary = \"pressure {{ $value }} bar on {{ $labels.agent }}\" }\n";
    auto config = ParseVigilConfig(text, "test.toml");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto coordinator = CoordinatorFrom(bus_, clock_, *config, "c1");
    ASSERT_TRUE(coordinator.ok()) << coordinator.status().ToString();
    ruler_ = std::make_unique<Ruler>(bus_, history_, clock_, *config, "r1");
    ASSERT_EQ(ruler_->group_count(), 1u);  // the built-in group: [[alerts]], VigilAgentOffline
    coordinator_ = std::move(coordinator).value();
    ASSERT_TRUE(coordinator_->Start().ok());
    auto store = bus_.Consume(std::string(bus::kStoreQueue), {}, [this](const bus::Delivery& d) {
      std::lock_guard lock(published_.mu);
      const std::string& key = d.message().routing_key;
      if (key.rfind(bus::kAlertsTopicPrefix, 0) == 0) {
        published_.alerts.push_back(model::DecodeAlert(d.message().body).value());
        published_.alert_keys.push_back(key);
      } else {
        published_.samples.push_back(*bus::Batches::Read(d.message()).value());
        (void)history_.Append(published_.samples.back());  // a repeated heartbeat is refused
      }
      d.Ack();
      published_.cv.notify_all();
    });
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();

    model::RouteAnnouncement hello;
    hello.agent = "plant-1";
    hello.queue = bus::DataQueueName("plant-1");
    hello.sensors = {{"boiler_pressure_out", "simulated", {}, 1000}};
    ASSERT_TRUE(
        bus_.Publish(std::string(bus::kDiscoveryExchange), "",
                     {model::EncodeAnnouncement(hello), std::string(model::kProtobufContentType)})
            .ok());
    for (int i = 0; i < 500 && coordinator_->KnownAgents().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(coordinator_->KnownAgents(), std::vector<std::string>{"plant-1"});
  }
  void TearDown() override {
    if (store_) store_->Cancel();
    if (coordinator_) coordinator_->Stop();
  }

  // A pressure reading through the agent's queue, processed before this returns.
  void Send(double pressure) {
    model::Batch batch;
    batch.series.push_back(
        {model::Labels::Of({{"__name__", "boiler_pressure_out"}, {"agent", "plant-1"}}),
         {{clock_.NowMillis(), pressure}}});
    const int64_t at = clock_.NowMillis();
    ASSERT_TRUE(bus_.Publish("", bus::DataQueueName("plant-1"),
                             {model::EncodeBatch(batch), std::string(model::kProtobufContentType)})
                    .ok());
    // Processed: this reading is out (not just any batch, such as the ruler's ALERTS, which
    // would let the next heartbeats go out before the coordinator saw the agent's batch).
    ASSERT_TRUE(published_.WaitFor([&](Published& p) {
      for (const auto& b : p.samples)
        for (const auto& series : b.series)
          if (series.labels.MetricName() == "boiler_pressure_out" &&
              series.samples.back().timestamp_ms == at)
            return true;
      return false;
    }));
  }
  // VigilAgentOffline as the ruler evaluates it, at the clock's time, over what the
  // coordinator published (its heartbeats, published now): the agents it finds offline,
  // polled until they are `expected` — for 10 s at most, so a loaded machine still gets
  // there; {"(never)"} polls 2 s, to see that nothing fires. Heartbeats never share a
  // timestamp: the clock must move between two calls.
  std::vector<std::string> OfflineAgents(const std::vector<std::string>& expected) {
    std::vector<std::string> agents;
    coordinator_->PublishHeartbeats();
    const int polls = expected == std::vector<std::string>{"(never)"} ? 40 : 200;
    for (int i = 0; i < polls; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ruler_->TEST_EvaluateAt(clock_.NowMillis());
      agents.clear();
      for (const auto& alert : ruler_->ActiveAlerts()) {
        if (alert.name == "VigilAgentOffline" && alert.state == model::AlertState::kFiring)
          agents.emplace_back(alert.labels.Get("agent"));
      }
      if (agents == expected) break;
    }
    return agents;
  }

  Receiver receiver_;
  metrics::Registry registry_;
  bus::InProcessBus bus_{bus::InProcessBus::Options{.registry = &registry_}};
  testing::FakeClock clock_{kT0};
  store::MemoryStore history_;  // what reaches vigil.store, as a datamanager stores it
  std::unique_ptr<Ruler> ruler_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<bus::Subscription> store_;
  Published published_;
};

TEST_F(CoordinatorAlertsTest, AnAlertsTableFiresAndResolvesOnEventsTheStoreAndTheWebhook) {
  Send(15.6);
  ruler_->TEST_EvaluateAt(clock_.NowMillis());

  // On vigil.events as alerts.critical.
  ASSERT_TRUE(published_.WaitFor([](Published& p) { return !p.alerts.empty(); }));
  model::Labels labels = model::Labels::Of({{"agent", "plant-1"},
                                            {"alertname", "BoilerPressureHigh"},
                                            {"severity", "critical"},
                                            {"team", "plant"}});
  {
    std::lock_guard lock(published_.mu);
    EXPECT_EQ(published_.alert_keys[0], "alerts.critical");
    EXPECT_EQ(published_.alerts[0].state, model::AlertState::kFiring);
    EXPECT_EQ(published_.alerts[0].labels, labels);
    EXPECT_EQ(published_.alerts[0].value, 15.6);
  }
  // The ALERTS series with the samples.
  ASSERT_TRUE(published_.WaitFor([](Published& p) {
    for (const auto& b : p.samples)
      for (const auto& s : b.series)
        if (s.labels.MetricName() == "ALERTS") return true;
    return false;
  }));

  // The webhook payload, exactly.
  const std::string fingerprint = fmt::format("{:016x}", labels.Hash());
  json expected_alert = {{"status", "firing"},
                         {"labels",
                          {{"agent", "plant-1"},
                           {"alertname", "BoilerPressureHigh"},
                           {"severity", "critical"},
                           {"team", "plant"}}},
                         {"annotations", {{"summary", "pressure 15.6 bar on plant-1"}}},
                         {"startsAt", "2023-11-14T22:13:20.000Z"},
                         {"endsAt", "0001-01-01T00:00:00Z"},
                         {"generatorURL", "http://127.0.0.1:8080"},
                         {"fingerprint", fingerprint}};
  json expected = {{"version", "4"},
                   {"groupKey", "{}:{alertname=\"BoilerPressureHigh\"}"},
                   {"truncatedAlerts", 0},
                   {"status", "firing"},
                   {"receiver", "vigil"},
                   {"groupLabels", {{"alertname", "BoilerPressureHigh"}}},
                   {"commonLabels", expected_alert["labels"]},
                   {"commonAnnotations", expected_alert["annotations"]},
                   {"externalURL", "http://127.0.0.1:8080"},
                   {"alerts", json::array({expected_alert})}};
  EXPECT_EQ(receiver_.WaitForBody(0), expected);

  // Back under the threshold 5 s later: resolved, with endsAt.
  clock_.Advance(5000);
  Send(15.2);
  ruler_->TEST_EvaluateAt(clock_.NowMillis());
  expected["status"] = "resolved";
  expected["alerts"][0]["status"] = "resolved";
  expected["alerts"][0]["endsAt"] = "2023-11-14T22:13:25.000Z";
  EXPECT_EQ(receiver_.WaitForBody(1), expected);
  ASSERT_TRUE(published_.WaitFor([](Published& p) { return p.alerts.size() == 2; }));
  std::lock_guard lock(published_.mu);
  EXPECT_EQ(published_.alerts[1].state, model::AlertState::kResolved);
}

// Three intervals without a batch: offline; a batch: back.
TEST_F(CoordinatorAlertsTest, AnAgentThatGoesQuietIsOffline) {
  Send(15.0);
  EXPECT_EQ(OfflineAgents({"(never)"}), std::vector<std::string>{});
  clock_.Advance(1);
  EXPECT_EQ(OfflineAgents({"(never)"}), std::vector<std::string>{});
  clock_.Advance(2999);  // three intervals since the batch, not more
  EXPECT_EQ(OfflineAgents({"(never)"}), std::vector<std::string>{});
  clock_.Advance(1);
  EXPECT_EQ(OfflineAgents({"plant-1"}), std::vector<std::string>{"plant-1"});
  auto alerts = ruler_->ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].labels.Get("severity"), "critical");
  EXPECT_EQ(alerts[0].annotations.at("summary"), "agent plant-1 is offline");
  Send(15.0);  // back
  clock_.Advance(1);
  EXPECT_EQ(OfflineAgents({}), std::vector<std::string>{});
}

// A goodbye ends the agent's heartbeat series, so its offline alert resolves, and batches
// still queued from it do not start them again: only a new announcement does.
TEST_F(CoordinatorAlertsTest, AGoodbyeResolvesTheOfflineAlertAndEndsTheWatch) {
  Send(15.0);
  clock_.Advance(3001);
  ASSERT_EQ(OfflineAgents({"plant-1"}), std::vector<std::string>{"plant-1"});

  model::RouteAnnouncement goodbye;
  goodbye.agent = "plant-1";
  goodbye.queue = bus::DataQueueName("plant-1");
  goodbye.leaving = true;
  ASSERT_TRUE(
      bus_.Publish(std::string(bus::kDiscoveryExchange), "",
                   {model::EncodeAnnouncementJson(goodbye), std::string(model::kJsonContentType)})
          .ok());
  ASSERT_TRUE(published_.WaitFor([](Published& p) {
    for (const auto& batch : p.samples)
      for (const auto& series : batch.series)
        for (const auto& sample : series.samples)
          if (model::IsStaleMarker(sample.value)) return true;
    return false;
  })) << "the heartbeat series were not ended";
  clock_.Advance(1000);
  EXPECT_EQ(OfflineAgents({}), std::vector<std::string>{});
  EXPECT_TRUE(coordinator_->KnownAgents().size() == 1);  // its queue is still consumed

  Send(15.0);  // a batch queued before the goodbye: no sign of life
  clock_.Advance(10'000);
  EXPECT_EQ(OfflineAgents({"(never)"}), std::vector<std::string>{});
}

// The fixture's agent announced itself and never sent a batch: offline all the same.
TEST_F(CoordinatorAlertsTest, AnAgentThatAnnouncesAndSendsNothingIsOffline) {
  clock_.Advance(3001);
  EXPECT_EQ(OfflineAgents({"plant-1"}), std::vector<std::string>{"plant-1"});
}

TEST(AlertNotifier, RetriesAFailingWebhookWithBackoffAndNeverBlocksNotify) {
  std::mutex mu;
  std::vector<std::string> bodies;
  int calls = 0;
  auto stub = testing::HttpStub::Start([&](const testing::StubRequest& r) {
                std::lock_guard lock(mu);
                ++calls;
                if (calls <= 2) return testing::StubResponse{.status = 503};
                bodies.push_back(r.body);
                return testing::StubResponse{};
              }).value();
  metrics::Registry registry;
  bus::InProcessBus bus{bus::InProcessBus::Options{.registry = &registry}};
  ASSERT_TRUE(bus::DeclareTopology(bus, {}).ok());
  AlertNotifier::Options options;
  options.webhooks = {stub->Url("/hook")};
  options.initial_backoff = std::chrono::milliseconds(20);
  options.registry = &registry;
  AlertNotifier notifier(bus, options);

  vigil::rules::AlertChange change;
  change.fired = true;
  change.alert.name = "X";
  change.alert.severity = "warning";
  change.alert.state = model::AlertState::kFiring;
  change.alert.labels = model::Labels::Of({{"alertname", "X"}});
  auto start = std::chrono::steady_clock::now();
  notifier.Notify({change});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));

  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (!bodies.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard lock(mu);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(json::parse(bodies[0])["alerts"][0]["labels"]["alertname"], "X");
  auto& payloads =
      registry.AddCounter("vigil_alert_webhook_payloads_total", "", {"url", "outcome"});
  // The stub has the body a moment before the notifier, back from its POST, counts it.
  auto& sent = payloads.WithLabels({stub->Url("/hook"), "sent"});
  for (int i = 0; i < 500 && sent.Value() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(sent.Value(), 1);
  EXPECT_EQ(payloads.WithLabels({stub->Url("/hook"), "retried"}).Value(), 2);
}

// A bus that refuses publishes while `down` (a broker outage), and keeps what it took.
class OutageBus final : public bus::Bus {
 public:
  std::atomic<bool> down{true};
  std::mutex mu;
  std::vector<std::string> taken;  // routing keys, in order

  Status DeclareExchange(const std::string&, bus::ExchangeType) override { return OkStatus(); }
  Status DeclareQueue(const std::string&, const bus::QueueOptions&) override { return OkStatus(); }
  Status BindQueue(const std::string&, const std::string&, const std::string&) override {
    return OkStatus();
  }
  Status Publish(const std::string&, const std::string& routing_key, bus::Message) override {
    if (down) return UnavailableError("amqp: not connected to the broker");
    std::lock_guard lock(mu);
    taken.push_back(routing_key);
    return OkStatus();
  }
  Result<std::unique_ptr<bus::Subscription>> Consume(const std::string&, const bus::ConsumeOptions&,
                                                     bus::Handler) override {
    return UnimplementedError("not here");
  }
};

// Issue #26: an alert raised while the broker is away reaches vigil.events once it is back,
// in order, instead of being logged "not published" and lost.
TEST(AlertNotifier, ChangesRaisedDuringABrokerOutageArePublishedOnceItIsBack) {
  metrics::Registry registry;
  OutageBus bus;
  AlertNotifier notifier(bus, {.registry = &registry});
  std::vector<vigil::rules::AlertChange> changes(3);
  for (size_t i = 0; i < changes.size(); ++i) {
    changes[i].alert.name = "X";
    changes[i].alert.severity = i == 1 ? "critical" : "warning";
    changes[i].alert.state = model::AlertState::kFiring;
  }
  notifier.Notify(changes);
  EXPECT_FALSE(notifier.TEST_WaitPublished(std::chrono::milliseconds(500)));
  bus.down = false;
  ASSERT_TRUE(notifier.TEST_WaitPublished(std::chrono::seconds(10)));
  std::lock_guard lock(bus.mu);
  EXPECT_EQ(bus.taken,
            (std::vector<std::string>{"alerts.warning", "alerts.critical", "alerts.warning"}));
  auto& outcomes = registry.AddCounter("vigil_alert_notifications_total", "", {"outcome"});
  EXPECT_EQ(outcomes.WithLabels({"published"}).Value(), 3);
  EXPECT_GE(outcomes.WithLabels({"failed"}).Value(), 1);
}

}  // namespace
}  // namespace vigil::roles

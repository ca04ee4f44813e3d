// The Bus contract (bus/bus.h) on a real RabbitMQ, started by scripts/test-services: what
// InProcessBus's tests check, AmqpBus must do too. Each test uses queue and exchange names
// of its own, so tests may run in parallel on the one broker.
#include "bus/amqp/amqp_bus.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "bus/topology.h"
#include "testing/services.h"
#include "testing/shell.h"

namespace vigil::bus {
namespace {

// Collects deliveries; the test decides how to settle them.
class Inbox {
 public:
  Handler Take(std::function<void(const Delivery&)> settle = [](const Delivery& d) { d.Ack(); }) {
    return [this, settle](const Delivery& d) {
      settle(d);
      std::lock_guard lock(mu_);
      messages_.push_back(d.message());
      redelivered_.push_back(d.redelivered());
      cv_.notify_all();
    };
  }
  bool WaitFor(size_t n, int seconds = 10) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(seconds), [&] { return messages_.size() >= n; });
  }
  std::vector<Message> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }
  std::vector<bool> redelivered() {
    std::lock_guard lock(mu_);
    return redelivered_;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
  std::vector<bool> redelivered_;
};

class AmqpBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::RabbitMqUrl();
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
    bus_ = Connect();
    ASSERT_NE(bus_, nullptr);
  }
  std::unique_ptr<AmqpBus> Connect(
      std::chrono::milliseconds publish_timeout = std::chrono::milliseconds(30'000)) {
    AmqpBus::Options options;
    options.url = url_;
    options.publish_timeout = publish_timeout;
    options.registry = &registry_;
    auto bus = AmqpBus::Connect(options);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return bus.ok() ? std::move(bus).value() : nullptr;
  }
  // A name no other test uses.
  std::string Name(const std::string& what) {
    return "test." + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
           "." + what + "." + std::to_string(getpid());
  }
  QueueOptions Transient(size_t max_length = 1024, Overflow overflow = Overflow::kBlock) {
    QueueOptions o;
    o.durable = false;
    o.exclusive = true;
    o.max_length = max_length;
    o.overflow = overflow;
    return o;
  }
  static Message Text(const std::string& body) { return Message{body, "text/plain", "", {}}; }

  std::string url_;
  metrics::Registry registry_;
  std::unique_ptr<AmqpBus> bus_;
};

TEST_F(AmqpBusTest, PublishedMessageArrivesWhole) {
  std::string q = Name("q");
  ASSERT_TRUE(bus_->DeclareQueue(q, Transient()).ok());
  Message m{std::string("\0binary\xff", 8), "application/x-protobuf", "", {{"x-vigil", "1"}}};
  ASSERT_TRUE(bus_->Publish("", q, m).ok());
  Inbox inbox;
  auto s = *bus_->Consume(q, {}, inbox.Take());
  ASSERT_TRUE(inbox.WaitFor(1));
  Message got = inbox.messages()[0];
  EXPECT_EQ(got.body, m.body);
  EXPECT_EQ(got.content_type, "application/x-protobuf");
  EXPECT_EQ(got.routing_key, q);
  EXPECT_EQ(got.headers.at("x-vigil"), "1");
  EXPECT_FALSE(inbox.redelivered()[0]);
}

TEST_F(AmqpBusTest, TopicAndFanoutExchangesRoute) {
  std::string topic = Name("events"), fanout = Name("discovery");
  std::string samples = Name("samples"), alerts = Name("alerts"), all = Name("all");
  ASSERT_TRUE(bus_->DeclareExchange(topic, ExchangeType::kTopic).ok());
  ASSERT_TRUE(bus_->DeclareExchange(fanout, ExchangeType::kFanout).ok());
  for (const auto& q : {samples, alerts, all}) ASSERT_TRUE(bus_->DeclareQueue(q, Transient()).ok());
  ASSERT_TRUE(bus_->BindQueue(samples, topic, "samples.#").ok());
  ASSERT_TRUE(bus_->BindQueue(alerts, topic, "alerts.*").ok());
  ASSERT_TRUE(bus_->BindQueue(all, fanout, "").ok());
  ASSERT_TRUE(bus_->Publish(topic, "samples.plant-1", Text("s")).ok());
  ASSERT_TRUE(bus_->Publish(topic, "alerts.critical", Text("a")).ok());
  ASSERT_TRUE(bus_->Publish(topic, "nobody.listens", Text("lost")).ok());  // dropped, counted
  ASSERT_TRUE(bus_->Publish(fanout, "whatever", Text("f")).ok());
  Inbox s_in, a_in, f_in;
  auto s1 = *bus_->Consume(samples, {}, s_in.Take());
  auto s2 = *bus_->Consume(alerts, {}, a_in.Take());
  auto s3 = *bus_->Consume(all, {}, f_in.Take());
  ASSERT_TRUE(s_in.WaitFor(1) && a_in.WaitFor(1) && f_in.WaitFor(1));
  EXPECT_EQ(s_in.messages()[0].body, "s");
  EXPECT_EQ(a_in.messages()[0].body, "a");
  EXPECT_EQ(f_in.messages()[0].body, "f");
  EXPECT_EQ(registry_.AddCounter("vigil_amqp_published_total", "", {"outcome"})
                .WithLabels({"unroutable"})
                .Value(),
            1);
}

TEST_F(AmqpBusTest, CompetingConsumersEachGetDistinctMessages) {
  std::string q = Name("q");
  QueueOptions shared;
  shared.durable = false;
  ASSERT_TRUE(bus_->DeclareQueue(q, shared).ok());
  Inbox a, b;
  auto other = Connect();
  auto sa = *bus_->Consume(q, {.prefetch = 4}, a.Take());
  auto sb = *other->Consume(q, {.prefetch = 4}, b.Take());
  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i)
    ASSERT_TRUE(bus_->Publish("", q, Text(std::to_string(i))).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (a.size() + b.size() < kMessages && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::multiset<std::string> seen;
  for (const auto& m : a.messages()) seen.insert(m.body);
  for (const auto& m : b.messages()) seen.insert(m.body);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), static_cast<size_t>(kMessages));
  EXPECT_GT(a.size(), 0u);
  EXPECT_GT(b.size(), 0u);
  sa->Cancel();
  sb->Cancel();
  EXPECT_TRUE(bus_->DeclareQueue(q, shared).ok());  // idempotent
}

TEST_F(AmqpBusTest, NackWithRequeueRedelivers) {
  std::string q = Name("q");
  ASSERT_TRUE(bus_->DeclareQueue(q, Transient()).ok());
  ASSERT_TRUE(bus_->Publish("", q, Text("again")).ok());
  std::atomic<int> calls{0};
  Inbox inbox;
  auto s = *bus_->Consume(q, {}, inbox.Take([&](const Delivery& d) {
    if (calls++ == 0) {
      d.Nack(/*requeue=*/true);
    } else {
      d.Ack();
    }
  }));
  ASSERT_TRUE(inbox.WaitFor(2));
  EXPECT_EQ(inbox.redelivered(), (std::vector<bool>{false, true}));
}

TEST_F(AmqpBusTest, NackWithoutRequeueDeadLettersWithTheQueueNamed) {
  std::string dead_exchange = Name("dead"), dead = Name("deadq"), q = Name("data");
  ASSERT_TRUE(bus_->DeclareExchange(dead_exchange, ExchangeType::kFanout).ok());
  ASSERT_TRUE(bus_->DeclareQueue(dead, Transient()).ok());
  ASSERT_TRUE(bus_->BindQueue(dead, dead_exchange, "").ok());
  QueueOptions data = Transient();
  data.dead_letter_exchange = dead_exchange;
  ASSERT_TRUE(bus_->DeclareQueue(q, data).ok());
  ASSERT_TRUE(bus_->Publish("", q, Text("garbage")).ok());
  Inbox rejected, dead_in;
  auto s = *bus_->Consume(q, {}, rejected.Take([](const Delivery& d) { d.Nack(false); }));
  auto sd = *bus_->Consume(dead, {}, dead_in.Take());
  ASSERT_TRUE(dead_in.WaitFor(1));
  Message m = dead_in.messages()[0];
  EXPECT_EQ(m.body, "garbage");
  EXPECT_EQ(m.headers["x-death-reason"], "rejected");
  EXPECT_EQ(m.headers["x-death-queue"], q);
}

TEST_F(AmqpBusTest, CancelledConsumersUnackedMessagesGoToTheNext) {
  std::string q = Name("q");
  QueueOptions shared;
  shared.durable = false;
  ASSERT_TRUE(bus_->DeclareQueue(q, shared).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus_->Publish("", q, Text(std::to_string(i))).ok());
  Inbox held;
  auto first = *bus_->Consume(q, {.prefetch = 10}, held.Take([](const Delivery&) {}));
  ASSERT_TRUE(held.WaitFor(3));
  first->Cancel();
  Inbox next;
  auto second = *bus_->Consume(q, {}, next.Take());
  ASSERT_TRUE(next.WaitFor(3));
  for (bool r : next.redelivered()) EXPECT_TRUE(r);
}

TEST_F(AmqpBusTest, FullQueueRejectsOrBlocksUntilThereIsRoom) {
  std::string rejecting = Name("reject"), blocking = Name("block");
  ASSERT_TRUE(bus_->DeclareQueue(rejecting, Transient(1, Overflow::kReject)).ok());
  ASSERT_TRUE(bus_->Publish("", rejecting, Text("1")).ok());
  EXPECT_EQ(bus_->Publish("", rejecting, Text("2")).code(), StatusCode::kResourceExhausted);

  auto impatient = Connect(std::chrono::milliseconds(300));
  ASSERT_TRUE(impatient->DeclareQueue(blocking, Transient(1, Overflow::kBlock)).ok());
  ASSERT_TRUE(impatient->Publish("", blocking, Text("1")).ok());
  EXPECT_EQ(impatient->Publish("", blocking, Text("2")).code(), StatusCode::kDeadlineExceeded);

  // With a consumer draining the queue, the blocked publisher gets through.
  auto patient = Connect(std::chrono::milliseconds(10'000));
  Inbox inbox;
  std::thread publisher([&] {
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(patient->Publish("", blocking, Text("more")).ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto s = *impatient->Consume(blocking, {.prefetch = 1}, inbox.Take());
  publisher.join();
  EXPECT_TRUE(inbox.WaitFor(6));
}

TEST_F(AmqpBusTest, InequivalentRedeclarationFailsAndTheBusGoesOn) {
  std::string q = Name("q");
  ASSERT_TRUE(bus_->DeclareQueue(q, Transient(10)).ok());
  Status status = bus_->DeclareQueue(q, Transient(20));
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_NE(status.message().find("PRECONDITION_FAILED"), std::string::npos) << status.ToString();
  EXPECT_TRUE(bus_->Publish("", q, Text("still fine")).ok());
  EXPECT_TRUE(bus_->DeclareQueue(Name("other"), Transient()).ok());
}

// A broker that never confirms: a memory alarm (watermark 1 byte) blocks every publishing
// connection, so the publish waits unconfirmed. It fails Unavailable after confirm_timeout
// instead of publish_timeout, and once the alarm is gone the bus publishes again.
TEST_F(AmqpBusTest, APublishNeverConfirmedFailsAfterTheConfirmTimeout) {
  const std::string ctl = std::string(VIGIL_SOURCE_DIR) + "/scripts/test-services rabbitmqctl " +
                          testing::ServiceDir("rabbitmq") + " ";
  AmqpBus::Options options;
  options.url = url_;
  options.confirm_timeout = std::chrono::milliseconds(1'000);
  options.registry = &registry_;
  auto bus = AmqpBus::Connect(options);
  ASSERT_TRUE(bus.ok()) << bus.status().ToString();
  std::string q = Name("q");
  ASSERT_TRUE((*bus)->DeclareQueue(q, Transient()).ok());
  ASSERT_TRUE((*bus)->Publish("", q, Text("before")).ok());

  auto alarm = testing::RunShell(ctl + "set_vm_memory_high_watermark absolute 1");
  ASSERT_EQ(alarm.exit_code, 0) << alarm.output;
  // The broker tells each connection of the alarm on its own time: a publish that got in
  // before this one heard of it is confirmed, so try up to three.
  Status status;
  std::chrono::steady_clock::duration waited{};
  for (int attempt = 0; attempt < 3 && status.ok(); ++attempt) {
    auto start = std::chrono::steady_clock::now();
    status = (*bus)->Publish("", q, Text("during the alarm"));
    waited = std::chrono::steady_clock::now() - start;
  }
  auto lifted = testing::RunShell(ctl + "set_vm_memory_high_watermark 0.4");
  ASSERT_EQ(lifted.exit_code, 0) << lifted.output;

  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_NE(status.message().find("no confirm"), std::string::npos) << status.ToString();
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_EQ(registry_.AddCounter("vigil_amqp_published_total", "", {"outcome"})
                .WithLabels({"unconfirmed"})
                .Value(),
            1);
  // Connected again, the bus publishes as before.
  Status after = UnavailableError("not tried");
  for (int i = 0; i < 100 && !after.ok(); ++i) {
    after = (*bus)->Publish("", q, Text("after"));
    if (!after.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(after.ok()) << after.ToString();
}

TEST_F(AmqpBusTest, RefusalsThroughAnExchangeThatLastMakeTheConnectionAgain) {
  // A publish through an exchange does not say which queue refused it; refusals that last
  // the confirm timeout may be RabbitMQ's quorum-queue fault, so the bus connects again.
  // A queue that really is full (this one) still refuses after that.
  std::string exchange = Name("events"), queue = Name("full");
  ASSERT_TRUE(bus_->DeclareExchange(exchange, ExchangeType::kTopic).ok());
  QueueOptions shared = Transient(1, Overflow::kBlock);
  shared.exclusive = false;  // outlives the publisher's connection
  ASSERT_TRUE(bus_->DeclareQueue(queue, shared).ok());
  ASSERT_TRUE(bus_->BindQueue(queue, exchange, "#").ok());

  metrics::Registry registry;
  AmqpBus::Options options;
  options.url = url_;
  options.confirm_timeout = std::chrono::milliseconds(1'000);
  options.publish_timeout = std::chrono::milliseconds(3'500);
  options.registry = &registry;
  auto publisher = AmqpBus::Connect(options);
  ASSERT_TRUE(publisher.ok()) << publisher.status().ToString();
  ASSERT_TRUE((*publisher)->Publish(exchange, "a", Text("1")).ok());
  Status refused = (*publisher)->Publish(exchange, "a", Text("2"));
  EXPECT_EQ(refused.code(), StatusCode::kDeadlineExceeded) << refused.ToString();
  auto& reconnects = registry.AddCounter("vigil_amqp_reconnects_total", "", {}).WithLabels({});
  for (int i = 0; i < 50 && reconnects.Value() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_GE(reconnects.Value(), 2);  // about once a second while refused
  EXPECT_GE(registry.AddCounter("vigil_amqp_published_total", "", {"outcome"})
                .WithLabels({"nacked"})
                .Value(),
            2);
}

TEST(AmqpBusConnect, UnreachableBrokerAndBadUrlAreClearErrorsWithoutThePassword) {
  AmqpBus::Options options;
  options.url = "amqp://vigil:s3cret@127.0.0.1:1/";
  options.connect_timeout = std::chrono::milliseconds(500);
  auto bus = AmqpBus::Connect(options);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(bus.status().message().find("127.0.0.1:1"), std::string::npos);
  EXPECT_EQ(bus.status().message().find("s3cret"), std::string::npos);
  options.url = "http://vigil:s3cret@host/";
  bus = AmqpBus::Connect(options);
  EXPECT_EQ(bus.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.status().message().find("s3cret"), std::string::npos);
}

TEST_F(AmqpBusTest, ANodeListFallsThroughToANodeThatAnswers) {
  AmqpBus::Options options;
  options.url = "amqp://guest:guest@127.0.0.1:1/," + url_;  // the first node is down
  options.connect_timeout = std::chrono::milliseconds(500);
  options.registry = &registry_;
  auto bus = AmqpBus::Connect(options);
  ASSERT_TRUE(bus.ok()) << bus.status().ToString();
  std::string q = Name("q");
  EXPECT_TRUE((*bus)->DeclareQueue(q, Transient()).ok());
}

TEST_F(AmqpBusTest, WrongPasswordIsRefused) {
  std::string wrong = url_;
  wrong.replace(wrong.find("guest@"), 6, "nope@");
  AmqpBus::Options options;
  options.url = wrong;
  auto bus = AmqpBus::Connect(options);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().message().find("nope"), std::string::npos) << bus.status().ToString();
}

// amqps://: the broker's certificate is verified against the CA given (and its host name
// against the URL's), and messages go through as over amqp://.
TEST(AmqpBusTls, VerifiesTheBrokerAndCarriesMessages) {
  auto url = testing::RabbitMqTlsUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  metrics::Registry registry;
  AmqpBus::Options options;
  options.url = *url;
  options.tls_ca_file = testing::ServiceDir("rabbitmq") + "/tls/ca.pem";
  options.registry = &registry;
  auto bus = AmqpBus::Connect(options);
  ASSERT_TRUE(bus.ok()) << bus.status().ToString();
  const std::string q = "test.tls." + std::to_string(getpid());
  ASSERT_TRUE((*bus)->DeclareQueue(q, {.durable = false, .exclusive = true}).ok());
  ASSERT_TRUE((*bus)->Publish("", q, Message{"over TLS", "text/plain", "", {}}).ok());
  Inbox inbox;
  auto s = (*bus)->Consume(q, {}, inbox.Take());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(inbox.WaitFor(1));
  EXPECT_EQ(inbox.messages()[0].body, "over TLS");
}

TEST(AmqpBusTls, ABrokerThatCannotBeVerifiedIsRefused) {
  auto url = testing::RabbitMqTlsUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  AmqpBus::Options options;
  options.url = *url;  // the test CA is not among the system's
  options.connect_timeout = std::chrono::milliseconds(2000);
  auto bus = AmqpBus::Connect(options);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(bus.status().message().find("guest:guest"), std::string::npos)
      << bus.status().ToString();
  // The host name is checked too: the certificate names localhost, not 127.0.0.1.
  options.tls_ca_file = testing::ServiceDir("rabbitmq") + "/tls/ca.pem";
  std::string other = *url;
  other.replace(other.find("localhost"), 9, "127.0.0.1");
  options.url = other;
  auto by_address = AmqpBus::Connect(options);
  EXPECT_EQ(by_address.status().code(), StatusCode::kUnavailable) << by_address.status().ToString();
  // A CA file that is not there is a configuration error, said at once.
  options.tls_ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(AmqpBus::Connect(options).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil::bus

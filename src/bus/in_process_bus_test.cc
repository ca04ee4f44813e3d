#include "bus/in_process_bus.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <set>
#include <thread>

#include "bus/topology.h"

namespace vigil::bus {
namespace {

using namespace std::chrono_literals;

// Records what a consumer got; waits without sleeping.
class Inbox {
 public:
  // ack: settle each delivery at once (ack); otherwise keep them for the test.
  Handler Take(bool ack = true) {
    return [this, ack](const Delivery& d) {
      {
        // Recorded before the ack, so that a drained queue means a complete inbox.
        std::lock_guard lock(mu_);
        deliveries_.push_back(d);
        cv_.notify_all();
      }
      if (ack) d.Ack();
    };
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return deliveries_.size() >= n; });
  }
  std::vector<Delivery> deliveries() {
    std::lock_guard lock(mu_);
    return deliveries_;
  }
  std::vector<std::string> bodies() {
    std::vector<std::string> out;
    for (const auto& d : deliveries()) out.push_back(d.message().body);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> deliveries_;
};

Message Text(std::string body) { return Message{std::move(body), "text/plain"}; }

class InProcessBusTest : public ::testing::Test {
 protected:
  InProcessBus::Options TestOptions() {
    InProcessBus::Options options;
    options.registry = &registry_;
    options.publish_timeout = 200ms;
    return options;
  }
  metrics::Registry registry_;
};

// [bus] overflow reaches the queues the topology declares: with kBlock a publisher to a
// full store queue waits out the publish timeout; with kReject it is refused at once.
TEST_F(InProcessBusTest, TheTopologysOverflowPolicyDecidesWhatAFullQueueDoes) {
  for (Overflow overflow : {Overflow::kBlock, Overflow::kReject}) {
    InProcessBus bus(TestOptions());
    TopologyOptions topology;
    topology.store_queue_length = 2;
    topology.overflow = overflow;
    ASSERT_TRUE(DeclareTopology(bus, topology).ok());
    const std::string events(kEventsExchange);
    ASSERT_TRUE(bus.Publish(events, "samples.a", Text("1")).ok());
    ASSERT_TRUE(bus.Publish(events, "samples.a", Text("2")).ok());
    const auto before = std::chrono::steady_clock::now();
    Status third = bus.Publish(events, "samples.a", Text("3"));
    const auto waited = std::chrono::steady_clock::now() - before;
    EXPECT_FALSE(third.ok());
    if (overflow == Overflow::kBlock) {
      EXPECT_GE(waited, 150ms);
    } else {
      EXPECT_EQ(third.code(), StatusCode::kResourceExhausted) << third.ToString();
      EXPECT_LT(waited, 150ms);
    }
  }
}

TEST_F(InProcessBusTest, FanoutCopiesToEveryBoundQueue) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareExchange("fan", ExchangeType::kFanout).ok());
  ASSERT_TRUE(bus.DeclareQueue("a", {}).ok());
  ASSERT_TRUE(bus.DeclareQueue("b", {}).ok());
  ASSERT_TRUE(bus.BindQueue("a", "fan", "").ok());
  ASSERT_TRUE(bus.BindQueue("b", "fan", "ignored").ok());
  Inbox a, b;
  auto sa = *bus.Consume("a", {}, a.Take());
  auto sb = *bus.Consume("b", {}, b.Take());
  ASSERT_TRUE(bus.Publish("fan", "any", Text("hello")).ok());
  ASSERT_TRUE(a.WaitFor(1));
  ASSERT_TRUE(b.WaitFor(1));
  EXPECT_EQ(a.bodies(), std::vector<std::string>{"hello"});
  EXPECT_EQ(b.deliveries()[0].message().routing_key, "any");
}

TEST_F(InProcessBusTest, TopicRoutesByPattern) {
  EXPECT_TRUE(InProcessBus::TopicMatches("samples.#", "samples.plant-1"));
  EXPECT_TRUE(InProcessBus::TopicMatches("samples.#", "samples"));
  EXPECT_TRUE(InProcessBus::TopicMatches("#", "a.b.c"));
  EXPECT_TRUE(InProcessBus::TopicMatches("alerts.*", "alerts.critical"));
  EXPECT_FALSE(InProcessBus::TopicMatches("alerts.*", "alerts.critical.x"));
  EXPECT_FALSE(InProcessBus::TopicMatches("alerts.*", "alerts"));
  EXPECT_TRUE(InProcessBus::TopicMatches("a.#.z", "a.z"));
  EXPECT_TRUE(InProcessBus::TopicMatches("a.#.z", "a.b.c.z"));
  EXPECT_FALSE(InProcessBus::TopicMatches("a.#.z", "a.b.c"));
  EXPECT_TRUE(InProcessBus::TopicMatches("*.b", "a.b"));
  EXPECT_FALSE(InProcessBus::TopicMatches("samples.x", "samples.y"));

  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareExchange("events", ExchangeType::kTopic).ok());
  ASSERT_TRUE(bus.DeclareQueue("alerts", {}).ok());
  ASSERT_TRUE(bus.BindQueue("alerts", "events", "alerts.#").ok());
  ASSERT_TRUE(bus.Publish("events", "samples.a", Text("s")).ok());
  ASSERT_TRUE(bus.Publish("events", "alerts.critical", Text("a")).ok());
  EXPECT_EQ(bus.Depth("alerts"), 1u);
  EXPECT_EQ(registry_.AddCounter("vigil_bus_unroutable_total", "").WithLabels({}).Value(), 1);
}

TEST_F(InProcessBusTest, CompetingConsumersEachMessageExactlyOnce) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareQueue("work", {.max_length = 10000}).ok());
  Inbox a, b;
  auto sa = *bus.Consume("work", {.prefetch = 4}, a.Take());
  auto sb = *bus.Consume("work", {.prefetch = 4}, b.Take());
  constexpr int kMessages = 2000;
  for (int i = 0; i < kMessages; ++i)
    ASSERT_TRUE(bus.Publish("", "work", Text(std::to_string(i))).ok());
  ASSERT_TRUE(bus.WaitUntilDrained("work", 5s).ok());
  std::multiset<std::string> all;
  for (auto& body : a.bodies()) all.insert(body);
  for (auto& body : b.bodies()) all.insert(body);
  ASSERT_EQ(all.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) EXPECT_EQ(all.count(std::to_string(i)), 1u);
  EXPECT_GT(a.bodies().size(), 0u);
  EXPECT_GT(b.bodies().size(), 0u);
}

TEST_F(InProcessBusTest, NackWithRequeueRedelivers) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareQueue("q", {}).ok());
  std::atomic<int> attempts{0};
  Inbox done;
  auto s = *bus.Consume("q", {}, [&](const Delivery& d) {
    if (attempts.fetch_add(1) == 0) {
      EXPECT_FALSE(d.redelivered());
      d.Nack(/*requeue=*/true);
      return;
    }
    EXPECT_TRUE(d.redelivered());
    done.Take()(d);
  });
  ASSERT_TRUE(bus.Publish("", "q", Text("x")).ok());
  ASSERT_TRUE(done.WaitFor(1));
  EXPECT_EQ(attempts.load(), 2);
  ASSERT_TRUE(bus.WaitUntilDrained("q", 1s).ok());
}

// A single-active-consumer queue (the rulers' lease): only the oldest consumer gets
// messages; when it goes, the next one gets what it held.
TEST_F(InProcessBusTest, ASingleActiveConsumerHandsOverWhenItGoes) {
  InProcessBus bus(TestOptions());
  QueueOptions options;
  options.single_active_consumer = true;
  ASSERT_TRUE(bus.DeclareQueue("lease", options).ok());
  Inbox first, second;
  auto a = *bus.Consume("lease", {.prefetch = 1}, first.Take(/*ack=*/false));
  auto b = *bus.Consume("lease", {.prefetch = 1}, second.Take(/*ack=*/false));
  ASSERT_TRUE(bus.Publish("", "lease", Text("token")).ok());
  ASSERT_TRUE(bus.Publish("", "lease", Text("spare")).ok());
  ASSERT_TRUE(first.WaitFor(1));
  EXPECT_FALSE(second.WaitFor(1, 200ms));  // the spare waits: b is not active
  a->Cancel();                             // the holder goes: b takes the token over
  ASSERT_TRUE(second.WaitFor(1));
  EXPECT_EQ(second.bodies()[0], "token");
  EXPECT_TRUE(second.deliveries()[0].redelivered());
}

TEST_F(InProcessBusTest, DeadLetterSaysWhyAndAcksTheOriginal) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(DeclareTopology(bus, {}).ok());
  ASSERT_TRUE(DeclareDataQueue(bus, "plant-1", {}).ok());
  auto s = *bus.Consume(DataQueueName("plant-1"), {}, [&](const Delivery& d) {
    DeadLetter(bus, d, DataQueueName("plant-1"), "decode batch: not snappy");
  });
  ASSERT_TRUE(bus.Publish("", DataQueueName("plant-1"), Text("garbage")).ok());
  Inbox dead;
  auto sd = *bus.Consume(std::string(kDeadQueue), {}, dead.Take());
  ASSERT_TRUE(dead.WaitFor(1));
  const Message& m = dead.deliveries()[0].message();
  EXPECT_EQ(m.body, "garbage");
  EXPECT_EQ(m.headers.at("x-death-reason"), "decode batch: not snappy");
  EXPECT_EQ(m.headers.at("x-death-queue"), "vigil.data.plant-1");
  ASSERT_TRUE(bus.WaitUntilDrained(DataQueueName("plant-1"), 1s).ok());  // acked, not pending
}

TEST_F(InProcessBusTest, NackWithoutRequeueDeadLetters) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(DeclareTopology(bus, {}).ok());
  ASSERT_TRUE(DeclareDataQueue(bus, "plant-1", {}).ok());
  auto s = *bus.Consume(DataQueueName("plant-1"), {}, [](const Delivery& d) { d.Nack(false); });
  ASSERT_TRUE(bus.Publish("", DataQueueName("plant-1"), Text("garbage")).ok());
  Inbox dead;
  auto sd = *bus.Consume(std::string(kDeadQueue), {}, dead.Take());
  ASSERT_TRUE(dead.WaitFor(1));
  const Message& m = dead.deliveries()[0].message();
  EXPECT_EQ(m.body, "garbage");
  EXPECT_EQ(m.headers.at("x-death-queue"), "vigil.data.plant-1");
  // Counted once the dead-letter publish returned, which may be after its delivery.
  auto& counter = registry_.AddCounter("vigil_bus_messages_total", "", {"queue", "outcome"})
                      .WithLabels({"vigil.data.plant-1", "dead_lettered"});
  for (int i = 0; i < 200 && counter.Value() < 1; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(counter.Value(), 1);
}

TEST_F(InProcessBusTest, CancelledConsumersUnackedMessagesGoToAnother) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareQueue("q", {}).ok());
  Inbox first;
  auto s1 = *bus.Consume("q", {.prefetch = 3}, first.Take(/*ack=*/false));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus.Publish("", "q", Text(std::to_string(i))).ok());
  ASSERT_TRUE(first.WaitFor(3));
  s1->Cancel();  // never acked: all three come back, in order, marked redelivered
  Inbox second;
  auto s2 = *bus.Consume("q", {}, second.Take());
  ASSERT_TRUE(second.WaitFor(3));
  EXPECT_EQ(second.bodies(), (std::vector<std::string>{"0", "1", "2"}));
  for (const auto& d : second.deliveries()) EXPECT_TRUE(d.redelivered());
  first.deliveries()[0].Ack();  // settling after cancel is ignored
  ASSERT_TRUE(bus.WaitUntilDrained("q", 1s).ok());
}

TEST_F(InProcessBusTest, PrefetchBoundsUnackedMessages) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareQueue("q", {}).ok());
  Inbox inbox;
  auto s = *bus.Consume("q", {.prefetch = 2}, inbox.Take(/*ack=*/false));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bus.Publish("", "q", Text(std::to_string(i))).ok());
  ASSERT_TRUE(inbox.WaitFor(2));
  EXPECT_FALSE(inbox.WaitFor(3, 100ms));
  inbox.deliveries()[0].Ack();
  EXPECT_TRUE(inbox.WaitFor(3));
}

TEST_F(InProcessBusTest, FullQueueRejectsWhenAskedTo) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareQueue("q", {.max_length = 2, .overflow = Overflow::kReject}).ok());
  ASSERT_TRUE(bus.Publish("", "q", Text("1")).ok());
  ASSERT_TRUE(bus.Publish("", "q", Text("2")).ok());
  EXPECT_EQ(bus.Publish("", "q", Text("3")).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(bus.Depth("q"), 2u);
}

TEST_F(InProcessBusTest, FullBestEffortQueueDropsItsOldestMessage) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareQueue("q", {.max_length = 2, .overflow = Overflow::kDropOldest}).ok());
  for (const char* body : {"1", "2", "3"}) ASSERT_TRUE(bus.Publish("", "q", Text(body)).ok());
  EXPECT_EQ(bus.Depth("q"), 2u);
  Inbox inbox;
  auto subscription = bus.Consume("q", {}, inbox.Take());
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(inbox.WaitFor(2));
  EXPECT_EQ(inbox.bodies(), (std::vector<std::string>{"2", "3"}));
}

TEST_F(InProcessBusTest, FullQueueBlocksThePublisherUntilThereIsRoom) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareQueue("q", {.max_length = 1, .overflow = Overflow::kBlock}).ok());
  ASSERT_TRUE(bus.Publish("", "q", Text("1")).ok());
  // Nobody consumes: the publisher waits out the timeout, and nothing grows.
  EXPECT_EQ(bus.Publish("", "q", Text("2")).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(bus.Depth("q"), 1u);
  // A consumer that makes room lets a blocked publisher through.
  std::atomic<bool> published{false};
  std::thread publisher([&] {
    EXPECT_TRUE(bus.Publish("", "q", Text("3")).ok());
    published = true;
  });
  Inbox inbox;
  auto s = *bus.Consume("q", {}, inbox.Take());
  ASSERT_TRUE(inbox.WaitFor(2));
  publisher.join();
  EXPECT_TRUE(published);
  EXPECT_EQ(inbox.bodies(), (std::vector<std::string>{"1", "3"}));
}

TEST_F(InProcessBusTest, ExclusiveQueueGoesWithItsConsumer) {
  InProcessBus bus(TestOptions());
  ASSERT_TRUE(bus.DeclareExchange("fan", ExchangeType::kFanout).ok());
  ASSERT_TRUE(bus.DeclareQueue("mine", {.exclusive = true}).ok());
  ASSERT_TRUE(bus.BindQueue("mine", "fan", "").ok());
  auto s = *bus.Consume("mine", {}, [](const Delivery& d) { d.Ack(); });
  s->Cancel();
  EXPECT_EQ(bus.Consume("mine", {}, [](const Delivery&) {}).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(bus.Publish("fan", "", Text("x")).ok());  // unroutable now, not an error
}

TEST_F(InProcessBusTest, ErrorsNameWhatIsMissing) {
  InProcessBus bus(TestOptions());
  EXPECT_EQ(bus.Publish("nope", "", Text("x")).message(), "publish: no exchange nope");
  EXPECT_EQ(bus.BindQueue("q", "nope", "").code(), StatusCode::kNotFound);
  EXPECT_EQ(bus.Consume("nope", {}, [](const Delivery&) {}).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(bus.DeclareExchange("x", ExchangeType::kFanout).ok());
  EXPECT_EQ(bus.DeclareExchange("x", ExchangeType::kTopic).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(bus.DeclareExchange("x", ExchangeType::kFanout).ok());
}

}  // namespace
}  // namespace vigil::bus

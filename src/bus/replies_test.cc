#include "bus/replies.h"

#include <gtest/gtest.h>

#include "bus/in_process_bus.h"
#include "bus/topology.h"

namespace vigil::bus {
namespace {

using namespace std::chrono_literals;

// A consumer of "work" that answers every request with what `outcome` says of its body.
class Worker {
 public:
  explicit Worker(InProcessBus& bus) : bus_(bus) {
    EXPECT_TRUE(bus.DeclareQueue("work", {}).ok());
    auto consumer = bus.Consume("work", {}, [this](const Delivery& d) {
      const Message& m = d.message();
      if (m.body == "garbage") {
        DeadLetter(bus_, d, "work", "cannot read it");
        return;
      }
      d.Ack();
      if (m.body == "silence") return;  // a consumer that dies before it answers
      Reply(bus_, m, m.body == "refuse" ? InvalidArgumentError("too old") : OkStatus());
    });
    EXPECT_TRUE(consumer.ok());
    subscription_ = std::move(consumer).value();
  }

 private:
  InProcessBus& bus_;
  std::unique_ptr<Subscription> subscription_;
};

TEST(Replies, AWriterWaitsForTheOutcomeItsConsumerReplies) {
  InProcessBus bus;
  ASSERT_TRUE(DeclareTopology(bus, {}).ok());
  Worker worker(bus);
  auto waiter = ReplyWaiter::Start(bus, "w1");
  ASSERT_TRUE(waiter.ok()) << waiter.status().ToString();
  EXPECT_TRUE((*waiter)->PublishAndWait("", "work", {"store", "text/plain"}, 5s).ok());
  Status refused = (*waiter)->PublishAndWait("", "work", {"refuse", "text/plain"}, 5s);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.message(), "too old");
  // Dead-lettered: the writer learns why, and the message is in vigil.dead.
  Status dead = (*waiter)->PublishAndWait("", "work", {"garbage", "text/plain"}, 5s);
  EXPECT_EQ(dead.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dead.message(), "cannot read it");
  EXPECT_EQ(bus.Depth(std::string(kDeadQueue)), 1u);
  // No answer: a timeout; a queue that does not exist: the publish's own failure.
  EXPECT_EQ((*waiter)->PublishAndWait("", "work", {"silence", "text/plain"}, 100ms).code(),
            StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*waiter)->PublishAndWait("nowhere", "x", {"store", "text/plain"}, 100ms).code(),
            StatusCode::kNotFound);
  // Nothing waits for a message without the headers; replying to it is nothing.
  Message plain{"store", "text/plain"};
  EXPECT_FALSE(WantsReply(plain));
  Reply(bus, plain, OkStatus());
}

TEST(Replies, ManyWritersAtOnceEachGetTheirOwnAnswer) {
  InProcessBus bus;
  ASSERT_TRUE(DeclareTopology(bus, {}).ok());
  Worker worker(bus);
  auto waiter = ReplyWaiter::Start(bus, "w2");
  ASSERT_TRUE(waiter.ok());
  std::vector<std::thread> writers;
  std::atomic<int> right{0};
  for (int i = 0; i < 8; ++i) {
    writers.emplace_back([&, i] {
      for (int j = 0; j < 50; ++j) {
        const bool refuse = (i + j) % 3 == 0;
        Status s =
            (*waiter)->PublishAndWait("", "work", {refuse ? "refuse" : "store", "text/plain"}, 5s);
        if (s.ok() != refuse) ++right;
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(right.load(), 400);
}

}  // namespace
}  // namespace vigil::bus

#include "roles/spool.h"

#include <gtest/gtest.h>

#include "testing/fake_clock.h"
#include "testing/mem_env.h"

namespace vigil::roles {
namespace {

bus::Message Batch(int i, size_t size = 10) {
  std::string body = "batch-" + std::to_string(i);
  body.resize(std::max(size, body.size()), '.');
  return bus::Message{body, "application/x-protobuf", "", {}};
}

// Pops everything, returning the bodies' numbers in order.
std::vector<int> Drain(Spool& spool) {
  std::vector<int> out;
  while (true) {
    auto front = spool.Front();
    EXPECT_TRUE(front.ok()) << front.status().ToString();
    if (!front.ok() || !front->has_value()) break;
    std::string body = (*front)->message.body;
    out.push_back(std::stoi(body.substr(6, body.find('.') - 6)));
    EXPECT_EQ((*front)->message.content_type, "application/x-protobuf");
    EXPECT_EQ((*front)->samples, 7u);
    EXPECT_TRUE(spool.Pop().ok());
  }
  return out;
}

class SpoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<Spool> Open(uint64_t max_bytes = 1 << 20) {
    auto spool = Spool::Open(env_, clock_, {.dir = "/data/spool", .max_bytes = max_bytes});
    EXPECT_TRUE(spool.ok()) << spool.status().ToString();
    return std::move(spool).value();
  }
  testing::MemEnv env_;
  testing::FakeClock clock_;
};

TEST_F(SpoolTest, GivesBatchesBackOldestFirst) {
  auto spool = Open();
  EXPECT_TRUE(spool->empty());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(spool->Append(Batch(i), 7).ok());
    clock_.Advance(1000);
  }
  EXPECT_EQ(spool->batches(), 5u);
  EXPECT_EQ(spool->oldest_ms(), 1'700'000'000'000);
  // Front does not consume: the same batch until Pop.
  EXPECT_EQ((*spool->Front())->message.body, (*spool->Front())->message.body);
  EXPECT_EQ(Drain(*spool), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(spool->empty());
  EXPECT_EQ(spool->oldest_ms(), 0);
  // Appends after a drain come back too.
  ASSERT_TRUE(spool->Append(Batch(5), 7).ok());
  EXPECT_EQ(Drain(*spool), (std::vector<int>{5}));
}

// An earlier version spooled in <data_dir>/spool itself; each agent now has a folder of
// its own there, and takes over what the earlier version left.
TEST_F(SpoolTest, AnEarlierVersionsSpoolIsTakenOver) {
  {
    auto old = Open();  // /data/spool
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(old->Append(Batch(i), 7).ok());
  }
  auto spool =
      Spool::Open(env_, clock_, {.dir = "/data/spool/host-a", .legacy_dir = "/data/spool"});
  ASSERT_TRUE(spool.ok()) << spool.status().ToString();
  EXPECT_EQ((*spool)->batches(), 3u);
  EXPECT_EQ(Drain(**spool), (std::vector<int>{0, 1, 2}));
  // A second agent beside it finds nothing left to take, and its own folder untouched.
  auto other =
      Spool::Open(env_, clock_, {.dir = "/data/spool/host-b", .legacy_dir = "/data/spool"});
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_TRUE((*other)->empty());
}

TEST_F(SpoolTest, SurvivesARestartAndCutsATornTail) {
  {
    auto spool = Open();
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(spool->Append(Batch(i), 7).ok());
    ASSERT_TRUE(spool->Front().ok());
    ASSERT_TRUE(spool->Pop().ok());  // 0 sent before the crash
  }
  // A crash in the middle of writing a fifth batch: half a record at the end.
  auto children = *env_.Children("/data/spool");
  std::sort(children.begin(), children.end());
  std::string& newest = env_.Contents("/data/spool/" + children.back());
  std::string& oldest = env_.Contents("/data/spool/" + children.front());
  ASSERT_FALSE(oldest.empty());
  newest.append("\x20\x00\x00\x00garbage", 11);
  auto spool = Open();
  // The popped batch's segment was not finished: it comes again (at-least-once).
  EXPECT_EQ(spool->batches(), 4u);
  EXPECT_EQ(Drain(*spool), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(spool->dropped(), 0u);
}

TEST_F(SpoolTest, FullSpoolDropsItsOldestSegmentsAndCountsThem) {
  // max 64 KiB: segments of 8 KiB; batches of 1 KiB.
  auto spool = Open(64 << 10);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(spool->Append(Batch(i, 1024), 7).ok());
  EXPECT_LE(spool->bytes(), (64u << 10) + (9u << 10));
  EXPECT_GT(spool->dropped(), 100u);
  EXPECT_EQ(spool->batches() + spool->dropped(), 200u);
  std::vector<int> left = Drain(*spool);
  ASSERT_EQ(left.size() + spool->dropped(), 200u);
  // What is left is the newest, in order, without holes.
  for (size_t i = 0; i < left.size(); ++i)
    EXPECT_EQ(left[i], static_cast<int>(200 - left.size() + i));
}

TEST_F(SpoolTest, FailedWriteIsAnErrorAndLosesNothingElse) {
  auto spool = Open();
  ASSERT_TRUE(spool->Append(Batch(0), 7).ok());
  env_.FailWritesFrom(1);
  EXPECT_FALSE(spool->Append(Batch(1), 7).ok());
  env_.ClearFaults();
  ASSERT_TRUE(spool->Append(Batch(2), 7).ok());
  EXPECT_EQ(Drain(*spool), (std::vector<int>{0, 2}));
  // And after a restart nothing comes back twice or half.
  auto reopened = Open();
  EXPECT_TRUE(reopened->empty()) << reopened->batches();
}

}  // namespace
}  // namespace vigil::roles

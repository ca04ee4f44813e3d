#include "core/helper_thread.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>

namespace vigil {
namespace {

bool SameCpus(const cpu_set_t& a, const cpu_set_t& b) { return CPU_EQUAL(&a, &b) != 0; }

// It runs its function, joins, moves like a std::thread, and runs with its creator's
// CPUs allowed (the narrowing it starts with is given back).
TEST(HelperThread, RunsWithItsCreatorsCpus) {
  cpu_set_t creator;
  ASSERT_EQ(sched_getaffinity(0, sizeof creator, &creator), 0);
  cpu_set_t seen;
  CPU_ZERO(&seen);
  int runs = 0;
  HelperThread helper([&] {
    ++runs;
    (void)sched_getaffinity(0, sizeof seen, &seen);
  });
  HelperThread moved = std::move(helper);
  EXPECT_FALSE(helper.joinable());
  ASSERT_TRUE(moved.joinable());
  moved.join();
  EXPECT_FALSE(moved.joinable());
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(SameCpus(seen, creator));
}

// With two CPUs or more, the helper starts on another CPU than the one its creator runs
// on (which the creator keeps busy until the helper has started), not behind it.
TEST(HelperThread, StartsOnAnotherCpu) {
  cpu_set_t creator;
  ASSERT_EQ(sched_getaffinity(0, sizeof creator, &creator), 0);
  if (CPU_COUNT(&creator) < 2) GTEST_SKIP() << "one CPU allowed";
  std::atomic<int> helper_cpu{-1};
  const int here = sched_getcpu();
  HelperThread helper([&] { helper_cpu = sched_getcpu(); });
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (helper_cpu.load() < 0 && std::chrono::steady_clock::now() < give_up) {
  }
  helper.join();
  EXPECT_GE(helper_cpu.load(), 0);
  EXPECT_NE(helper_cpu.load(), here);
}

}  // namespace
}  // namespace vigil

#include "core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

namespace vigil::metrics {
namespace {

TEST(Registry, RendersPrometheusTextFormat) {
  Registry registry;
  registry.AddCounter("vigil_test_total", "A counter.\nSecond line.", {"queue", "outcome"})
      .WithLabels({"vigil.store", "acked"})
      .Inc(3);
  registry.AddGauge("vigil_depth", "Depth.").WithLabels({}).Set(-2.5);
  auto& h = registry.AddHistogram("vigil_seconds", "Durations.", {"sensor"}, {0.1, 1});
  h.WithLabels({"a\"b"}).Observe(0.05);
  h.WithLabels({"a\"b"}).Observe(0.5);
  h.WithLabels({"a\"b"}).Observe(7);
  EXPECT_EQ(registry.RenderText(),
            "# HELP vigil_depth Depth.\n"
            "# TYPE vigil_depth gauge\n"
            "vigil_depth -2.5\n"
            "# HELP vigil_seconds Durations.\n"
            "# TYPE vigil_seconds histogram\n"
            "vigil_seconds_bucket{sensor=\"a\\\"b\",le=\"0.1\"} 1\n"
            "vigil_seconds_bucket{sensor=\"a\\\"b\",le=\"1\"} 2\n"
            "vigil_seconds_bucket{sensor=\"a\\\"b\",le=\"+Inf\"} 3\n"
            "vigil_seconds_sum{sensor=\"a\\\"b\"} 7.55\n"
            "vigil_seconds_count{sensor=\"a\\\"b\"} 3\n"
            "# HELP vigil_test_total A counter.\\nSecond line.\n"
            "# TYPE vigil_test_total counter\n"
            "vigil_test_total{queue=\"vigil.store\",outcome=\"acked\"} 3\n");
}

TEST(Registry, SameNameTwiceIsTheSameFamily) {
  Registry registry;
  auto& a = registry.AddCounter("x_total", "x", {"l"});
  auto& b = registry.AddCounter("x_total", "x", {"l"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.WithLabels({"1"}), &b.WithLabels({"1"}));
}

TEST(RegistryDeathTest, ConflictingRegistrationIsABug) {
  Registry registry;
  registry.AddCounter("x_total", "x");
  EXPECT_DEATH(registry.AddGauge("x_total", "x"), "two types");
  EXPECT_DEATH(registry.AddCounter("bad-name", "x"), "invalid metric name");
}

TEST(Counter, ConcurrentIncrementsAreNotLost) {
  Registry registry;
  Counter& c = registry.AddCounter("c_total", "c").WithLabels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 40000);
}

}  // namespace
}  // namespace vigil::metrics

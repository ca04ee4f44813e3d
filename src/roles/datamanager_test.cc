// The datamanager's choices per batch over the in-process bus: a writer's permanent refusal
// dead-letters the batch and the queue goes on; series beyond the label limits are taken
// out and counted. (Outages of a real PostgreSQL: src/store/postgres/postgres_store_test.cc.)
#include "roles/datamanager.h"

#include <gtest/gtest.h>

#include "bus/in_process_bus.h"
#include "model/batch_codec.h"
#include "store/memory_store.h"

namespace vigil::roles {
namespace {

using model::Labels;

// Refuses for good every batch holding a series named "refused", as a store does with
// data it can never take.
class RefusingWriter final : public store::BatchWriter {
 public:
  Status Append(const model::Batch& batch) override {
    for (const auto& s : batch.series) {
      if (s.labels.MetricName() == "refused") return FailedPreconditionError("never storable");
    }
    return OkStatus();
  }
  Status Flush() override { return OkStatus(); }
};

void Publish(bus::InProcessBus& bus, const model::Batch& batch) {
  ASSERT_TRUE(
      bus.Publish(std::string(bus::kEventsExchange), "samples.plant",
                  {model::EncodeBatch(batch), std::string(model::kProtobufContentType), "", {}})
          .ok());
}

TEST(DataManager, PermanentRefusalsAreDeadLetteredAndLimitsTakeOutSeries) {
  bus::InProcessBus bus;
  metrics::Registry registry;
  store::MemoryStore store;
  RefusingWriter refusing;
  DataManager::Options options;
  options.registry = &registry;
  options.label_limits.max_value_length = 10;
  DataManager datamanager(bus, options, {&store, &refusing});
  ASSERT_TRUE(datamanager.Start().ok());
  for (int i = 0; i < 100; ++i) {  // more than the prefetch
    Publish(bus, {{{Labels::Of({{"__name__", "refused"}}), {{i, 1}}}}});
  }
  Publish(bus, {{{Labels::Of({{"__name__", "good"}}), {{1, 1}}},
                 {Labels::Of({{"__name__", "long"}, {"v", "more than ten bytes"}}), {{1, 1}}}}});
  ASSERT_TRUE(bus.WaitUntilDrained(std::string(bus::kStoreQueue), std::chrono::seconds(10)).ok());
  datamanager.Stop();
  EXPECT_EQ(bus.Depth(std::string(bus::kDeadQueue)), 100u);
  auto& messages = registry.AddCounter("vigil_datamanager_messages_total", "", {"outcome"});
  EXPECT_EQ(messages.WithLabels({"rejected"}).Value(), 100);
  EXPECT_EQ(messages.WithLabels({"stored"}).Value(), 1);
  EXPECT_EQ(registry.AddCounter("vigil_datamanager_samples_refused_total", "", {"reason"})
                .WithLabels({"label_value_length_limit"})
                .Value(),
            1);
  auto names = store.LabelValues("__name__", {});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"good", "refused"}));
}

}  // namespace
}  // namespace vigil::roles

// The distributed roles on a three-node RabbitMQ cluster with quorum queues (started by
// scripts/test-services as the rabbitmq_cluster fixture): the node every role is connected
// to is killed mid-stream; the roles go on with the next node, the queues elect new
// leaders, and nothing is lost.
#include <gtest/gtest.h>

#include <cstdlib>

#include "process_stack.h"
#include "testing/services.h"

namespace vigil {
namespace {

TEST(Cluster, NodeKilledMidStreamLosesNothingWithQuorumQueues) {
  auto urls = testing::RabbitMqClusterUrls();
  ASSERT_TRUE(urls.ok()) << urls.status().ToString();
  ProcessStack stack("cluster", *urls, "[broker]\nqueue_type = \"quorum\"\n");
  ASSERT_TRUE(stack.StartAll()) << stack.Log("datamanager") << stack.Log("coordinator")
                                << stack.Log("sensor");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // Every role connected to the first node of the list; that one goes.
  std::string services = std::string(VIGIL_SOURCE_DIR) + "/scripts/test-services";
  std::string node1 = testing::ServiceDir("rabbitmq_cluster") + "/node1";
  ASSERT_EQ(std::system((services + " kill rabbitmq " + node1).c_str()), 0);
  for (const char* role : {"sensor", "coordinator", "datamanager"})
    EXPECT_TRUE(stack.WaitLog(role, "connected again", 60)) << role << ":\n" << stack.Log(role);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // If the agent had to spool during the failover, it has replayed by now.
  if (stack.Log("sensor").find("circuit breaker opened") != std::string::npos) {
    EXPECT_TRUE(stack.WaitLog("sensor", "spool drained", 60)) << stack.Log("sensor");
  }
  EXPECT_EQ(stack.sensor->Stop(10'000), 0) << stack.Log("sensor");

  auto tally = ReadTally(stack.Log("sensor"));
  ASSERT_TRUE(tally.has_value()) << stack.Log("sensor");
  EXPECT_EQ(tally->left, 0u);
  auto samples = stack.StoredSamples(tally->published);
  EXPECT_EQ(samples.size(), tally->published) << stack.Log("datamanager");
  EXPECT_EQ(stack.coordinator->Stop(), 0);
  EXPECT_EQ(stack.datamanager->Stop(), 0);
}

}  // namespace
}  // namespace vigil

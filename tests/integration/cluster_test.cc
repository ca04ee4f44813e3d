// The distributed roles on a three-node RabbitMQ cluster with quorum queues (started by
// scripts/test-services as the rabbitmq_cluster fixture): the node every role is connected
// to is killed (SIGKILL) mid-stream; the roles go on with the next node of their URL list,
// the quorum queues elect new leaders, and every sample the sensor published is stored.
//
// RabbitMQ 3.10.8 sometimes leaves the agent's first publishes after the failover
// unconfirmed for good, or nacks them all, on the new connection's channel; the bus then
// gives up on that connection (docs/protocol/amqp.md, confirm_timeout) and the agent spools
// and replays. On failure it prints the queues as node 2 sees them.
#include <gtest/gtest.h>

#include <cstdlib>

#include "process_stack.h"
#include "testing/services.h"
#include "testing/shell.h"

namespace vigil {
namespace {

// The queues as the surviving node 2 sees them, for a failure's message.
std::string Queues() {
  const std::string node2 = testing::ServiceDir("rabbitmq_cluster") + "/node2";
  return testing::RunShell("read -r a d e < " + node2 + "/ports; ERL_EPMD_ADDRESS=127.0.0.1 " +
                           "ERL_EPMD_PORT=$e /usr/lib/rabbitmq/bin/rabbitmqctl -q -n $(cat " +
                           node2 + "/node) list_queues name type messages leader state 2>&1")
      .output;
}

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
  EXPECT_EQ(stack.sensor->Stop(10'000), 0) << stack.Log("sensor") << Queues();

  auto tally = ReadTally(stack.Log("sensor"));
  ASSERT_TRUE(tally.has_value()) << stack.Log("sensor");
  EXPECT_GT(tally->published, 100u);
  EXPECT_EQ(tally->left, 0u);
  auto samples = stack.StoredSamples(tally->published, "", 60);
  EXPECT_EQ(samples.size(), tally->published) << Queues() << "\ncoordinator:\n"
                                              << stack.Log("coordinator") << "\ndatamanager:\n"
                                              << stack.Log("datamanager");
  EXPECT_EQ(stack.coordinator->Stop(), 0);
  EXPECT_EQ(stack.datamanager->Stop(), 0);
}

}  // namespace
}  // namespace vigil

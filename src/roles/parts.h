// The pieces that both `vigil standalone` (roles/standalone.h) and the distributed roles
// (roles/distributed.h) build from the same config, so that the two ways to run cannot
// drift apart: topology sizes, agent and web options, the store, the JSON-lines sink, and
// the thread that runs the store's maintenance.
//
// Thread safety: functions; StoreMaintainer's Start and Stop from one thread.
#pragma once

#include <memory>
#include <thread>

#include "bus/topology.h"
#include "core/env.h"
#include "core/mutex.h"
#include "roles/agent.h"
#include "roles/alert_notifier.h"
#include "roles/config.h"
#include "roles/coordinator.h"
#include "roles/web.h"
#include "store/json_lines_sink.h"
#include "tsdb/tsdb_store.h"

namespace vigil::roles {

// The host name, reduced to the characters an agent id may hold.
std::string DefaultAgentId();
bus::TopologyOptions TopologyFrom(const VigilConfig& config);
// The agent id: [agent] id, or the host name.
std::string AgentIdFrom(const VigilConfig& config);
Agent::Options AgentOptionsFrom(const VigilConfig& config);
WebRole::Options WebOptionsFrom(const VigilConfig& config, const std::string& id);
// Where alert changes go, from [alerting]: webhooks, their timeout and attempts, the
// external URL (http://<web listen> when unset).
AlertNotifier::Options NotifierOptionsFrom(const VigilConfig& config);
// The coordinator with its pipeline on [coordinator] workers; InvalidArgument for stages
// that do not build.
Result<std::unique_ptr<Coordinator>> CoordinatorFrom(bus::Bus& bus, Clock& clock,
                                                     const VigilConfig& config,
                                                     const std::string& id);
// The store [storage] names: PostgreSQL when `url` is set (migrated when `migrate`,
// otherwise only checked), else the embedded store in data_dir/tsdb.
Result<std::unique_ptr<store::Store>> OpenStoreFrom(const VigilConfig& config, Env& env,
                                                    Clock& clock, bool migrate = true);
// "PostgreSQL at postgres://user:***@host/db" or "the embedded store in DIR", for logs.
std::string DescribeStore(const VigilConfig& config);
// nullptr when [sink] enabled = false; the error of a file that cannot be opened.
Result<std::unique_ptr<store::JsonLinesSink>> OpenSinkFrom(const VigilConfig& config, Env& env);

// Runs the store's maintenance (persist, retention, partitions, interval fsync) every 5 s,
// so that it happens even when no batch arrives, then hands the memory glibc keeps free
// back to the system (malloc_trim): each write's parse and batch buffers, freed across
// several arenas, otherwise stay in the process (at 100 k series, 2/3 of its RSS).
class StoreMaintainer {
 public:
  explicit StoreMaintainer(store::Store& store) : store_(store) {}
  ~StoreMaintainer() { Stop(); }
  void Start();
  void Stop();

 private:
  store::Store& store_;
  std::thread thread_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ VIGIL_GUARDED_BY(mu_) = false;
};

}  // namespace vigil::roles

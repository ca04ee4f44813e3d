// `vigil standalone`: every role in one process over the in-process bus. The agent runs
// the configured sensors, the coordinator runs the pipeline, the datamanager writes the
// embedded store (data_dir/tsdb) and, when enabled, the JSON-lines file under data_dir;
// the web role serves the dashboard, the live stream and the query API on web.listen; the
// ruler evaluates [rules] files over the store (ReloadRules reads them again). Stop()
// shuts down in data-flow order so that nothing collected is lost: the agent publishes its last
// batch, each queue drains before its consumer stops, the sink is flushed.
//
// Thread safety: Start and Stop from one thread.
#pragma once

#include <memory>

#include "bus/in_process_bus.h"
#include "roles/agent.h"
#include "roles/config.h"
#include "roles/coordinator.h"
#include "roles/datamanager.h"
#include "roles/parts.h"
#include "roles/ruler.h"
#include "roles/web.h"
#include "store/json_lines_sink.h"
#include "tsdb/tsdb_store.h"

namespace vigil::roles {

class Standalone {
 public:
  // Builds every part; fails on a config that cannot run (a sink that cannot be opened).
  static Result<std::unique_ptr<Standalone>> Create(const VigilConfig& config, Clock& clock,
                                                    Env& env);
  ~Standalone();

  Status Start();
  // Graceful: waits up to `drain_timeout` per queue. DeadlineExceeded if a queue did not
  // drain (what was in it is lost, and said so in the log).
  Status Stop(std::chrono::milliseconds drain_timeout = std::chrono::seconds(10));

  bus::InProcessBus& bus() { return *bus_; }
  Agent& agent() { return *agent_; }
  Coordinator& coordinator() { return *coordinator_; }
  store::Store& store() { return *store_; }
  WebRole& web() { return *web_; }
  // Reads the rule files again (SIGHUP, POST /-/reload); the old rules stay on an error.
  Status ReloadRules() { return ruler_->Reload(); }

 private:
  Standalone() = default;

  VigilConfig config_;
  std::unique_ptr<bus::InProcessBus> bus_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::JsonLinesSink> sink_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<DataManager> datamanager_;
  std::unique_ptr<WebRole> web_;
  std::unique_ptr<Ruler> ruler_;
  std::unique_ptr<StoreMaintainer> maintainer_;
  bool stopped_ = false;
};

}  // namespace vigil::roles

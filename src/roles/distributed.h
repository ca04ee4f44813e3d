// The distributed roles, one per process, over a Bus that reaches RabbitMQ (bus/amqp/):
//   sensor       the Agent: runs the [[sensors]], publishes to vigil.data.<id>;
//   coordinator  discovers agents, consumes their data queues (competing with the other
//                coordinators), runs the pipeline, publishes to vigil.events;
//   datamanager  consumes vigil.store into the store (the embedded one in data_dir/tsdb,
//                or PostgreSQL with storage.url) and the JSON-lines sink, and serves the
//                dashboard and the query API for that store on web.listen;
//                The sensor and the coordinator serve /metrics, /healthz and /readyz on
//                web.metrics_listen when it is set (web/ops.h);
//   web          the dashboard, the live stream and the query API over PostgreSQL, for
//                as many web servers as needed beside the datamanagers.
// Built from the same config and parts as `vigil standalone` (roles/parts.h).
// docs/architecture.md, docs/protocol/amqp.md.
//
// Thread safety: Start and Stop from one thread.
#pragma once

#include <memory>
#include <string>

#include "bus/bus.h"
#include "core/clock.h"
#include "core/env.h"
#include "roles/agent.h"
#include "roles/config.h"
#include "roles/coordinator.h"
#include "roles/datamanager.h"
#include "roles/parts.h"
#include "roles/ruler.h"
#include "roles/web.h"
#include "web/http_server.h"

namespace vigil::roles {

// InvalidArgument, saying what to give, when `config` lacks what `role` needs: a web server
// of its own and a ruler read PostgreSQL.
Status CheckRoleConfig(const std::string& role, const VigilConfig& config);

class DistributedRole {
 public:
  // `role` is sensor, coordinator, datamanager, web or ruler. The bus must outlive the role.
  // `with_rules` (datamanager only) runs a ruler over the datamanager's store as well, one
  // of the rulers that share the lease (ruler.h). InvalidArgument for another role or a
  // config it cannot run.
  static Result<std::unique_ptr<DistributedRole>> Create(const std::string& role, bus::Bus& bus,
                                                         const VigilConfig& config, Clock& clock,
                                                         Env& env, bool with_rules = false);
  ~DistributedRole();

  Status Start();
  // Stops consuming (unacked messages go back to the broker), flushes what was collected
  // or written. Idempotent.
  Status Stop();

  const std::string& role() const { return role_; }
  // The ruler reads its rule files again (SIGHUP); FailedPrecondition where none runs.
  Status ReloadRules();

 private:
  DistributedRole() = default;
  // Empty when ready (web/ops.h): the bus reaches the broker.
  std::string NotReadyReason() const;
  WebRole::Options WebOptions(const std::string& id) const;

  std::string role_;
  VigilConfig config_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::JsonLinesSink> sink_;
  std::unique_ptr<StoreMaintainer> maintainer_;
  std::unique_ptr<DataManager> datamanager_;
  std::unique_ptr<WebRole> web_;
  std::unique_ptr<Ruler> ruler_;
  std::unique_ptr<web::HttpServer> ops_server_;  // sensor and coordinator
  bus::Bus* bus_ = nullptr;
  bool stopped_ = false;
};

}  // namespace vigil::roles

#include "roles/distributed.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "core/metrics.h"
#include "web/ops.h"

namespace vigil::roles {

Status CheckRoleConfig(const std::string& role, const VigilConfig& config) {
  if (!config.storage.url.empty()) return OkStatus();
  if (role == "web")
    return InvalidArgumentError(
        "web: a web server of its own reads PostgreSQL: give --store postgres://..., [storage] "
        "url or VIGIL_STORE_URL (with the embedded store, the datamanager serves the dashboard "
        "and the API on --listen)");
  if (role == "ruler")
    return InvalidArgumentError(
        "ruler: the ruler queries PostgreSQL, where the datamanagers write: give --store "
        "postgres://..., [storage] url or VIGIL_STORE_URL (or run the datamanager with "
        "--rules)");
  return OkStatus();
}

Result<std::unique_ptr<DistributedRole>> DistributedRole::Create(const std::string& role,
                                                                 bus::Bus& bus,
                                                                 const VigilConfig& config,
                                                                 Clock& clock, Env& env,
                                                                 bool with_rules) {
  std::unique_ptr<DistributedRole> r(new DistributedRole());
  r->role_ = role;
  r->config_ = config;
  r->bus_ = &bus;
  bus::TopologyOptions topology = TopologyFrom(config);
  // Coordinators and web servers have exclusive queues named after their id: several on one
  // host (or with one config) need ids of their own.
  std::string id = AgentIdFrom(config) + "." + std::to_string(getpid());
  if (with_rules && role != "datamanager")
    return InvalidArgumentError("--rules is for the datamanager; " + role + " runs no rules");
  if (role == "sensor") {
    VIGIL_ASSIGN_OR_RETURN(r->agent_,
                           Agent::Create(bus, clock, AgentOptionsFrom(config), config.sensors));
  } else if (role == "coordinator") {
    VIGIL_ASSIGN_OR_RETURN(r->coordinator_, CoordinatorFrom(bus, clock, config, id));
  } else if (role == "web") {
    VIGIL_RETURN_IF_ERROR(CheckRoleConfig(role, config));
    VIGIL_ASSIGN_OR_RETURN(r->store_, OpenStoreFrom(config, env, clock, /*migrate=*/false));
    r->web_ = std::make_unique<WebRole>(bus, *r->store_, clock, r->WebOptions(id));
  } else if (role == "ruler") {
    VIGIL_RETURN_IF_ERROR(CheckRoleConfig(role, config));
    VIGIL_ASSIGN_OR_RETURN(r->store_, OpenStoreFrom(config, env, clock, /*migrate=*/false));
    r->ruler_ = std::make_unique<Ruler>(bus, *r->store_, clock, config, id, /*lease=*/true);
  } else if (role == "datamanager") {
    std::vector<store::BatchWriter*> writers;
    VIGIL_ASSIGN_OR_RETURN(r->store_, OpenStoreFrom(config, env, clock));
    writers.push_back(r->store_.get());
    VIGIL_ASSIGN_OR_RETURN(r->sink_, OpenSinkFrom(config, env));
    if (r->sink_) writers.push_back(r->sink_.get());
    r->maintainer_ = std::make_unique<StoreMaintainer>(*r->store_);
    DataManager::Options options;
    options.prefetch = static_cast<size_t>(config.broker.prefetch);
    options.topology = topology;
    options.label_limits = config.storage.label_limits;
    r->datamanager_ = std::make_unique<DataManager>(bus, options, std::move(writers));
    WebRole::Options web = r->WebOptions(id);
    if (with_rules) {
      r->ruler_ = std::make_unique<Ruler>(bus, *r->store_, clock, config, id, /*lease=*/true);
      web.api.reload = [ruler = r->ruler_.get()] { return ruler->Reload(); };
    }
    r->web_ = std::make_unique<WebRole>(bus, *r->store_, clock, std::move(web));
  } else {
    return InvalidArgumentError("unknown role \"" + role + "\"");
  }
  return r;
}

DistributedRole::~DistributedRole() { (void)Stop(); }

Status DistributedRole::ReloadRules() {
  if (!ruler_) return FailedPreconditionError(role_ + " evaluates no rules");
  return ruler_->Reload();
}

std::string DistributedRole::NotReadyReason() const {
  return bus_->connected() ? "" : "not connected to the broker";
}

WebRole::Options DistributedRole::WebOptions(const std::string& id) const {
  WebRole::Options options = WebOptionsFrom(config_, id);
  options.api.ready = [this] { return NotReadyReason(); };
  return options;
}

Status DistributedRole::Start() {
  if (datamanager_) {
    VIGIL_RETURN_IF_ERROR(datamanager_->Start().Annotate("start datamanager"));
    maintainer_->Start();
    spdlog::info("datamanager: storing readings in {}", DescribeStore(config_));
    if (sink_) spdlog::info("datamanager: writing readings to {}", sink_->path());
  }
  if (web_) {
    VIGIL_RETURN_IF_ERROR(web_->Start().Annotate("start web server"));
    if (!datamanager_) spdlog::info("web: serving {}", DescribeStore(config_));
  }
  if (coordinator_) VIGIL_RETURN_IF_ERROR(coordinator_->Start().Annotate("start coordinator"));
  if (ruler_) VIGIL_RETURN_IF_ERROR(ruler_->Start().Annotate("start ruler"));
  if (agent_) VIGIL_RETURN_IF_ERROR(agent_->Start().Annotate("start agent"));
  if (!web_ && !config_.web.metrics_listen.empty()) {
    web::HttpServer::Options options;
    options.listen = config_.web.metrics_listen;
    options.worker_threads = 1;
    web::ReadinessCheck ready = [this] { return NotReadyReason(); };
    auto handler = [this, ready](const web::HttpRequest& request) {
      if (auto response = web::HandleOps(request, metrics::Registry::Default(), ready))
        return *std::move(response);
      return web::JsonError(404, "no such endpoint: " + request.method + " " + request.path +
                                     " (this " + role_ + " serves /metrics, /healthz, /readyz)");
    };
    VIGIL_ASSIGN_OR_RETURN(ops_server_, web::HttpServer::Start(options, handler, nullptr));
    spdlog::info("{}: /metrics, /healthz and /readyz on {}:{}", role_,
                 options.listen.substr(0, options.listen.rfind(':')), ops_server_->port());
  }
  return OkStatus();
}

Status DistributedRole::Stop() {
  if (stopped_) return OkStatus();
  stopped_ = true;
  Status result;
  if (ops_server_) ops_server_->Stop();
  if (agent_) agent_->Stop();  // publishes what it collected
  if (coordinator_) coordinator_->Stop();
  if (ruler_) ruler_->Stop();
  if (web_) web_->Stop();
  if (datamanager_) {
    datamanager_->Stop();
    maintainer_->Stop();
    if (sink_) result = sink_->Flush();
  }
  if (store_) {
    Status closed = store_->Close();
    if (!closed.ok() && result.ok()) result = closed;
  }
  spdlog::info("{}: stopped", role_);
  return result;
}

}  // namespace vigil::roles

#include "roles/parts.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "core/url.h"

namespace vigil::roles {

std::string DefaultAgentId() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "vigil";
  std::string id;
  for (const char* p = name; *p; ++p) id += IsAgentIdChar(*p) ? *p : '_';
  return id;
}

bus::TopologyOptions TopologyFrom(const VigilConfig& config) {
  bus::TopologyOptions topology;
  topology.data_queue_length = static_cast<size_t>(config.bus.queue_length);
  topology.store_queue_length = static_cast<size_t>(config.bus.queue_length);
  topology.overflow =
      config.bus.overflow == "reject" ? bus::Overflow::kReject : bus::Overflow::kBlock;
  topology.queue_type = config.broker.queue_type;
  return topology;
}

std::string AgentIdFrom(const VigilConfig& config) {
  return config.agent.id.empty() ? DefaultAgentId() : config.agent.id;
}

Agent::Options AgentOptionsFrom(const VigilConfig& config) {
  Agent::Options agent;
  agent.id = AgentIdFrom(config);
  agent.flush_interval_ms = config.agent.flush_interval.count();
  agent.max_batch_samples = static_cast<size_t>(config.agent.max_batch_samples);
  agent.topology = TopologyFrom(config);
  if (config.agent.spool_max_mb > 0) {
    // Each agent its own folder: several agents (one per instrument) may share a host and
    // its data folder.
    agent.spool_dir = config.storage.data_dir + "/spool/" + agent.id;
    agent.legacy_spool_dir = config.storage.data_dir + "/spool";
    agent.spool_max_bytes = static_cast<uint64_t>(config.agent.spool_max_mb) << 20;
  }
  agent.drain_rate = config.agent.drain_rate;
  agent.ordered_replay = config.agent.replay == "ordered";
  agent.breaker.failure_threshold = static_cast<int>(config.agent.breaker_failures);
  agent.breaker.cooldown_ms = config.agent.breaker_cooldown.count();
  return agent;
}

WebRole::Options WebOptionsFrom(const VigilConfig& config, const std::string& id) {
  WebRole::Options web;
  web.id = id;
  web.server.listen = config.web.listen;
  web.api.version = VIGIL_VERSION;
  web.api.write_token = config.web.write_token;
  web.api.allowed_origins = config.web.allowed_origins;
  web.api.label_limits = config.storage.label_limits;
  web.api.engine = config.query;
  web.api.dashboards_dir = config.web.dashboards_dir.empty()
                               ? config.storage.data_dir + "/dashboards"
                               : config.web.dashboards_dir;
  web.server.allowed_origins = config.web.allowed_origins;
  web.server.tls_cert_file = config.web.tls_cert_file;
  web.server.tls_key_file = config.web.tls_key_file;
  web.topology = TopologyFrom(config);
  web.write_timeout = config.bus.publish_timeout;
  web.quick_queries_on_io_thread = config.storage.url.empty();  // the embedded store
  return web;
}

Result<std::unique_ptr<store::JsonLinesSink>> OpenSinkFrom(const VigilConfig& config, Env& env) {
  if (!config.sink.enabled) return std::unique_ptr<store::JsonLinesSink>();
  store::JsonLinesSink::Options sink;
  sink.dir = config.storage.data_dir;
  sink.file_name = config.sink.file;
  sink.max_bytes = static_cast<uint64_t>(config.sink.max_size_mb) << 20;
  sink.keep = static_cast<int>(config.sink.keep);
  sink.sync = config.sink.sync;
  sink.compress = config.sink.compress;
  return store::JsonLinesSink::Open(env, sink);
}

Result<std::unique_ptr<store::Store>> OpenStoreFrom(const VigilConfig& config, Env& env,
                                                    Clock& clock, bool migrate) {
  if (config.storage.url.empty()) {
    VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<tsdb::TsdbStore> tsdb,
                           tsdb::TsdbStore::Open(env, clock, TsdbOptionsFrom(config.storage)));
    return std::unique_ptr<store::Store>(std::move(tsdb));
  }
  store::postgres::PostgresOptions options = PostgresOptionsFrom(config.storage);
  options.migrate = migrate;
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<store::postgres::PostgresStore> postgres,
                         store::postgres::PostgresStore::Open(clock, options));
  return std::unique_ptr<store::Store>(std::move(postgres));
}

std::string DescribeStore(const VigilConfig& config) {
  if (config.storage.url.empty())
    return "the embedded store in " + config.storage.data_dir + "/tsdb";
  return "PostgreSQL at " + RedactUrl(config.storage.url);
}

void StoreMaintainer::Start() {
  thread_ = std::thread([this] {
    MutexLock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(5),
                         [this]() VIGIL_REQUIRES(mu_) { return stop_; })) {
      lock.unlock();
      Status status = store_.Maintain();
      if (!status.ok()) spdlog::error("store maintenance: {}", status.ToString());
      ::malloc_trim(0);
      lock.lock();
    }
  });
}

void StoreMaintainer::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

AlertNotifier::Options NotifierOptionsFrom(const VigilConfig& config) {
  AlertNotifier::Options notify;
  notify.webhooks = config.alerting.webhooks;
  notify.alertmanagers = config.alerting.alertmanagers;
  notify.webhook_timeout = config.alerting.webhook_timeout;
  notify.max_attempts = static_cast<int>(config.alerting.webhook_max_attempts);
  notify.external_url = config.alerting.external_url;
  if (notify.external_url.empty()) notify.external_url = "http://" + config.web.listen;
  return notify;
}

Result<std::unique_ptr<Coordinator>> CoordinatorFrom(bus::Bus& bus, Clock& clock,
                                                     const VigilConfig& config,
                                                     const std::string& id) {
  const auto workers = static_cast<size_t>(config.coordinator.workers);
  if (!config.alerts.empty())
    spdlog::warn(
        "coordinator {}: the config's {} [[alerts]] rules are evaluated by a ruler (vigil ruler, "
        "vigil datamanager --rules, or the standalone), not by the coordinator",
        id, config.alerts.size());
  VIGIL_ASSIGN_OR_RETURN(auto pipeline, pipeline::ShardedPipeline::Create(workers, [&config] {
                           return BuildPipelineStages(config);
                         }));

  Coordinator::Options options;
  options.id = id;
  options.prefetch = static_cast<size_t>(config.broker.prefetch);
  options.topology = TopologyFrom(config);
  options.heartbeat_interval = config.alerting.evaluation_interval;
  return std::make_unique<Coordinator>(bus, clock, options, std::move(pipeline));
}

}  // namespace vigil::roles

#include "roles/standalone.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

namespace vigil::roles {

std::string DefaultAgentId() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "vigil";
  std::string id;
  for (const char* p = name; *p; ++p) id += IsAgentIdChar(*p) ? *p : '_';
  return id;
}

Result<std::unique_ptr<Standalone>> Standalone::Create(const VigilConfig& config, Clock& clock,
                                                       Env& env) {
  std::unique_ptr<Standalone> s(new Standalone());
  s->config_ = config;
  bus::InProcessBus::Options bus_options;
  bus_options.publish_timeout = config.bus.publish_timeout;
  s->bus_ = std::make_unique<bus::InProcessBus>(bus_options);

  bus::TopologyOptions topology;
  topology.data_queue_length = static_cast<size_t>(config.bus.queue_length);
  topology.store_queue_length = static_cast<size_t>(config.bus.queue_length);

  std::vector<store::BatchWriter*> writers;
  VIGIL_ASSIGN_OR_RETURN(s->store_,
                         tsdb::TsdbStore::Open(env, clock, TsdbOptionsFrom(config.storage)));
  writers.push_back(s->store_.get());
  if (config.sink.enabled) {
    store::JsonLinesSink::Options sink;
    sink.dir = config.storage.data_dir;
    sink.file_name = config.sink.file;
    sink.max_bytes = static_cast<uint64_t>(config.sink.max_size_mb) << 20;
    sink.keep = static_cast<int>(config.sink.keep);
    sink.sync = config.sink.sync;
    VIGIL_ASSIGN_OR_RETURN(s->sink_, store::JsonLinesSink::Open(env, sink));
    writers.push_back(s->sink_.get());
  }

  Agent::Options agent;
  agent.id = config.agent.id.empty() ? DefaultAgentId() : config.agent.id;
  agent.flush_interval_ms = config.agent.flush_interval.count();
  agent.max_batch_samples = static_cast<size_t>(config.agent.max_batch_samples);
  agent.topology = topology;
  VIGIL_ASSIGN_OR_RETURN(s->agent_, Agent::Create(*s->bus_, clock, agent, config.sensors));

  Coordinator::Options coordinator;
  coordinator.id = agent.id;
  coordinator.topology = topology;
  s->coordinator_ = std::make_unique<Coordinator>(
      *s->bus_, clock, coordinator,
      std::make_unique<pipeline::Pipeline>(std::vector<std::unique_ptr<pipeline::Stage>>{}));

  WebRole::Options web;
  web.id = agent.id;
  web.server.listen = config.web.listen;
  web.api.version = VIGIL_VERSION;
  web.api.write_token = config.web.write_token;
  web.server.tls_cert_file = config.web.tls_cert_file;
  web.server.tls_key_file = config.web.tls_key_file;
  web.topology = topology;
  s->web_ = std::make_unique<WebRole>(*s->bus_, *s->store_, clock, web);

  DataManager::Options datamanager;
  datamanager.topology = topology;
  s->datamanager_ = std::make_unique<DataManager>(*s->bus_, datamanager, std::move(writers));
  return s;
}

Standalone::~Standalone() { (void)Stop(); }

Status Standalone::Start() {
  // Consumers first, so the agent's first announcement finds the coordinator listening.
  VIGIL_RETURN_IF_ERROR(datamanager_->Start().Annotate("start datamanager"));
  VIGIL_RETURN_IF_ERROR(coordinator_->Start().Annotate("start coordinator"));
  VIGIL_RETURN_IF_ERROR(web_->Start().Annotate("start web server"));
  VIGIL_RETURN_IF_ERROR(agent_->Start().Annotate("start agent"));
  maintenance_ = std::thread([this] {
    std::unique_lock lock(maintenance_mu_);
    while (!maintenance_cv_.wait_for(lock, std::chrono::seconds(5),
                                     [this] { return maintenance_stop_; })) {
      lock.unlock();
      Status status = store_->Maintain();
      if (!status.ok()) spdlog::error("standalone: store maintenance: {}", status.ToString());
      lock.lock();
    }
  });
  spdlog::info("standalone: storing readings in {}/tsdb", config_.storage.data_dir);
  if (sink_) spdlog::info("standalone: writing readings to {}", sink_->path());
  return OkStatus();
}

Status Standalone::Stop(std::chrono::milliseconds drain_timeout) {
  if (stopped_) return OkStatus();
  stopped_ = true;
  Status result;
  web_->Stop();
  agent_->Stop();
  Status drained = bus_->WaitUntilDrained(agent_->queue(), drain_timeout);
  if (!drained.ok()) {
    spdlog::error("standalone: {} batches left in {}: {}", bus_->Depth(agent_->queue()),
                  agent_->queue(), drained.ToString());
    result = drained;
  }
  coordinator_->Stop();
  drained = bus_->WaitUntilDrained(std::string(bus::kStoreQueue), drain_timeout);
  if (!drained.ok()) {
    spdlog::error("standalone: {} messages left in {}: {}",
                  bus_->Depth(std::string(bus::kStoreQueue)), bus::kStoreQueue, drained.ToString());
    if (result.ok()) result = drained;
  }
  datamanager_->Stop();
  if (sink_) {
    Status flushed = sink_->Flush();
    if (!flushed.ok() && result.ok()) result = flushed;
  }
  {
    std::lock_guard lock(maintenance_mu_);
    maintenance_stop_ = true;
  }
  maintenance_cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  Status closed = store_->Close();
  if (!closed.ok() && result.ok()) result = closed;
  spdlog::info("standalone: stopped");
  return result;
}

}  // namespace vigil::roles

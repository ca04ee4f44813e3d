#include "roles/standalone.h"

#include <spdlog/spdlog.h>

namespace vigil::roles {

Result<std::unique_ptr<Standalone>> Standalone::Create(const VigilConfig& config, Clock& clock,
                                                       Env& env) {
  std::unique_ptr<Standalone> s(new Standalone());
  s->config_ = config;
  bus::InProcessBus::Options bus_options;
  bus_options.publish_timeout = config.bus.publish_timeout;
  s->bus_ = std::make_unique<bus::InProcessBus>(bus_options);

  bus::TopologyOptions topology = TopologyFrom(config);

  std::vector<store::BatchWriter*> writers;
  VIGIL_ASSIGN_OR_RETURN(s->store_, OpenStoreFrom(config, env, clock));
  writers.push_back(s->store_.get());
  VIGIL_ASSIGN_OR_RETURN(s->sink_, OpenSinkFrom(config, env));
  if (s->sink_) writers.push_back(s->sink_.get());
  s->maintainer_ = std::make_unique<StoreMaintainer>(*s->store_);

  Agent::Options agent = AgentOptionsFrom(config);
  VIGIL_ASSIGN_OR_RETURN(s->agent_, Agent::Create(*s->bus_, clock, agent, config.sensors));

  VIGIL_ASSIGN_OR_RETURN(s->coordinator_, CoordinatorFrom(*s->bus_, clock, config, agent.id));

  s->ruler_ = std::make_unique<Ruler>(*s->bus_, *s->store_, clock, config, agent.id);
  WebRole::Options web = WebOptionsFrom(config, agent.id);
  web.api.reload = [ruler = s->ruler_.get()] { return ruler->Reload(); };
  s->web_ = std::make_unique<WebRole>(*s->bus_, *s->store_, clock, std::move(web));

  DataManager::Options datamanager;
  datamanager.topology = topology;
  datamanager.label_limits = config.storage.label_limits;
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
  VIGIL_RETURN_IF_ERROR(ruler_->Start().Annotate("start ruler"));
  maintainer_->Start();
  spdlog::info("standalone: storing readings in {}", DescribeStore(config_));
  if (sink_) spdlog::info("standalone: writing readings to {}", sink_->path());
  return OkStatus();
}

Status Standalone::Stop(std::chrono::milliseconds drain_timeout) {
  if (stopped_) return OkStatus();
  stopped_ = true;
  // Create may have failed part way (a store that would not open, a bad sensor), or Start:
  // only what was made is stopped, and queues nobody declared are not waited for.
  Status result;
  auto drain = [&](const std::string& queue, std::string_view what) {
    Status drained = bus_->WaitUntilDrained(queue, drain_timeout);
    if (!drained.ok() && drained.code() != StatusCode::kNotFound) {
      spdlog::error("standalone: {} {} left in {}: {}", bus_->Depth(queue), what, queue,
                    drained.ToString());
      if (result.ok()) result = drained;
    }
  };
  if (web_) web_->Stop();
  if (ruler_) ruler_->Stop();
  if (agent_) {
    agent_->Stop();
    drain(agent_->queue(), "batches");
  }
  if (coordinator_) {
    drain(std::string(bus::kPushQueue), "written batches");
    coordinator_->Stop();
    drain(std::string(bus::kStoreQueue), "messages");
  }
  if (datamanager_) datamanager_->Stop();
  if (sink_) {
    Status flushed = sink_->Flush();
    if (!flushed.ok() && result.ok()) result = flushed;
  }
  if (maintainer_) maintainer_->Stop();
  if (store_) {
    Status closed = store_->Close();
    if (!closed.ok() && result.ok()) result = closed;
  }
  spdlog::info("standalone: stopped");
  return result;
}

}  // namespace vigil::roles

#include "roles/web.h"

#include <spdlog/spdlog.h>

#include "bus/replies.h"
#include "bus/topic.h"
#include "model/batch_codec.h"
#include "model/messages.h"
#include "roles/agent.h"

namespace vigil::roles {

WebRole::WebRole(bus::Bus& bus, store::Store& store, Clock& clock, Options options)
    : bus_(bus),
      store_(store),
      clock_(clock),
      options_(std::move(options)),
      sensors_(clock),
      rules_(clock) {}

WebRole::~WebRole() { Stop(); }

Status WebRole::Start() {
  VIGIL_RETURN_IF_ERROR(bus::DeclareTopology(bus_, options_.topology));
  bus::QueueOptions private_queue;
  private_queue.durable = false;
  private_queue.exclusive = true;
  private_queue.max_length = 1024;
  private_queue.overflow = bus::Overflow::kDropOldest;  // never slow the pipeline

  const std::string events = bus::PrivateQueueName("web", options_.id);
  VIGIL_RETURN_IF_ERROR(bus_.DeclareQueue(events, private_queue));
  VIGIL_RETURN_IF_ERROR(bus_.BindQueue(events, std::string(bus::kEventsExchange), "#"));
  const std::string discovery = bus::PrivateQueueName("web-discovery", options_.id);
  VIGIL_RETURN_IF_ERROR(bus_.DeclareQueue(discovery, private_queue));
  VIGIL_RETURN_IF_ERROR(bus_.BindQueue(discovery, std::string(bus::kDiscoveryExchange), ""));

  web::ApiOptions api = options_.api;
  VIGIL_ASSIGN_OR_RETURN(replies_, bus::ReplyWaiter::Start(bus_, options_.id));
  api.write = [this](model::Batch batch) {
    return replies_->PublishAndWait("", std::string(bus::kPushQueue),
                                    bus::Batches::Make(std::move(batch)), options_.write_timeout);
  };
  api.alerts = &alerts_;
  api.rules = &rules_;
  api.retire_agent = [this](const std::string& agent) {
    spdlog::info("web {}: retiring agent {}", options_.id, agent);
    return PublishGoodbye(bus_, agent, clock_.NowMillis(), /*retired=*/true);
  };
  api_ = std::make_unique<web::Api>(store_, &sensors_, clock_, api);
  // Queries get threads of their own, as many as may evaluate at once.
  web::HttpServer::Options server = options_.server;
  server.query_paths = web::Api::QueryPaths();
  server.query_threads = static_cast<int>(api.engine.max_concurrency);
  if (api.engine.timeout_ms > 0) {
    server.query_queue_timeout = std::chrono::milliseconds(api.engine.timeout_ms);
  }
  if (options_.quick_queries_on_io_thread) {
    server.answer_on_io_thread = [this](const web::HttpRequest& r) {
      return api_->AnsweredQuickly(r);
    };
  }
  VIGIL_ASSIGN_OR_RETURN(
      server_, web::HttpServer::Start(
                   server, [this](const web::HttpRequest& r) { return api_->Handle(r); }, &hub_));
  VIGIL_ASSIGN_OR_RETURN(announcements_,
                         bus_.Consume(discovery, {.prefetch = 16},
                                      [this](const bus::Delivery& d) { OnAnnouncement(d); }));
  VIGIL_ASSIGN_OR_RETURN(events_, bus_.Consume(events, {.prefetch = 64},
                                               [this](const bus::Delivery& d) { OnEvent(d); }));
  // Agents that started before us announce themselves again.
  model::DiscoveryRequest request{model::kMessageVersion, options_.id, clock_.NowMillis()};
  VIGIL_RETURN_IF_ERROR(bus_.Publish(
      std::string(bus::kDiscoveryRequestsExchange), "",
      {model::EncodeDiscoveryRequest(request), std::string(model::kProtobufContentType)}));
  spdlog::info("web {}: dashboard and API on {}", options_.id, url());
  return OkStatus();
}

std::string WebRole::url() const {
  return (options_.server.tls_cert_file.empty() ? "http://" : "https://") +
         options_.server.listen.substr(0, options_.server.listen.rfind(':')) + ":" +
         std::to_string(port()) + "/";
}

void WebRole::Stop() {
  if (server_) server_->Stop();  // first: no write waits for a reply any more
  replies_.reset();
  if (events_) events_->Cancel();
  if (announcements_) announcements_->Cancel();
}

void WebRole::OnEvent(const bus::Delivery& delivery) {
  const bus::Message& message = delivery.message();
  if (message.routing_key.rfind(bus::kSamplesTopicPrefix, 0) == 0) {
    auto batch = bus::Batches::Read(message);
    if (batch.ok()) {
      sensors_.OnData(message.routing_key.substr(bus::kSamplesTopicPrefix.size()));
      hub_.Publish(**batch);
    } else {
      spdlog::warn("web {}: undecodable batch on {}: {}", options_.id, message.routing_key,
                   batch.status().ToString());
    }
  } else if (message.routing_key == bus::kRuleStateTopic) {
    if (Status status = rules_.Apply(message.body); !status.ok())
      spdlog::warn("web {}: {} on {}", options_.id, status.message(), message.routing_key);
  } else if (message.routing_key.rfind(bus::kAlertsTopicPrefix, 0) == 0) {
    auto alert = model::DecodeAlert(message.body);
    if (alert.ok()) {
      alerts_.Apply(*alert);
    } else {
      spdlog::warn("web {}: undecodable alert on {}: {}", options_.id, message.routing_key,
                   alert.status().ToString());
    }
  }
  delivery.Ack();  // the live stream is best effort; the store has the data
}

void WebRole::OnAnnouncement(const bus::Delivery& delivery) {
  const bus::Message& message = delivery.message();
  auto announcement = model::DecodeAnnouncementAs(message.content_type, message.body);
  if (announcement.ok()) sensors_.OnAnnouncement(*announcement);
  delivery.Ack();
}

}  // namespace vigil::roles

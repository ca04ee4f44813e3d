// The web role: the HTTP server with the query API over a Store, the dashboard, and the
// live stream. It consumes vigil.events on its own exclusive queue (every web server
// gets every batch and every alert) and feeds the LiveHub and the AlertBoard, and vigil.discovery
// to know the sensors; at start it asks the agents to announce themselves again.
// What is written to it (remote write, line protocol) it publishes to the push queue,
// which the coordinators consume like an agent's: the batch passes the pipeline, reaches
// every web server's live stream and the store. A write is answered once a datamanager
// stored the batch, or refused it (bus/replies.h). docs/architecture.md.
//
// Thread safety: Start and Stop from one thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "bus/bus.h"
#include "bus/replies.h"
#include "bus/topology.h"
#include "core/clock.h"
#include "store/store.h"
#include "web/api.h"
#include "web/http_server.h"
#include "web/live_hub.h"
#include "web/sensor_directory.h"

namespace vigil::roles {

class WebRole {
 public:
  struct Options {
    std::string id = "web";
    web::HttpServer::Options server;
    web::ApiOptions api;
    bus::TopologyOptions topology;
    // How long a write waits for its batch to be durable before it answers 503 (a retry
    // is safe: stores drop duplicates).
    std::chrono::milliseconds write_timeout{30'000};
    // Answer queries that were quick last time on the server's I/O thread
    // (Api::AnsweredQuickly). Only for a store that reads from memory and local disk:
    // one over the network (PostgreSQL) could stall there and hold every connection.
    bool quick_queries_on_io_thread = false;
  };

  // `bus`, `store` and `clock` must outlive the role.
  WebRole(bus::Bus& bus, store::Store& store, Clock& clock, Options options);
  ~WebRole();

  // Binds the listen address (Unavailable when taken) and starts consuming.
  Status Start();
  void Stop();
  uint16_t port() const { return server_ ? server_->port() : 0; }
  // Where the dashboard is: "http://127.0.0.1:8080/" (https with TLS), once started.
  std::string url() const;
  web::LiveHub& hub() { return hub_; }
  const web::AlertBoard& alerts() const { return alerts_; }

 private:
  void OnEvent(const bus::Delivery& delivery);
  void OnAnnouncement(const bus::Delivery& delivery);

  bus::Bus& bus_;
  store::Store& store_;
  Clock& clock_;
  Options options_;
  web::LiveHub hub_;
  web::SensorDirectory sensors_;
  web::AlertBoard alerts_;
  web::RuleBoard rules_;
  std::unique_ptr<web::Api> api_;
  std::unique_ptr<web::HttpServer> server_;
  std::unique_ptr<bus::ReplyWaiter> replies_;  // what writes wait on
  std::unique_ptr<bus::Subscription> events_;
  std::unique_ptr<bus::Subscription> announcements_;
};

}  // namespace vigil::roles

// Where alert changes go (docs/alerts.md, Notifications): every change is published on
// vigil.events as alerts.<severity> (the dashboards' alert panel and the datamanager's
// ALERTS series) and logged — published in order by a thread of its own, which holds
// the changes the broker does not take (an outage) and tries again with backoff, up to
// max_outbox changes (the oldest dropped and counted beyond); firing and resolved alerts are POSTed
// to each webhook in Prometheus Alertmanager's webhook format (version 4), grouped by alertname,
// retried with exponential backoff and jitter. Webhooks run on a thread of their own per URL with a
// bounded queue (the oldest payload dropped and counted when full), so a slow or dead
// receiver never blocks the pipeline or the evaluation.
//
// Alertmanagers get what the rule manager says is due (rules/manager.h OutgoingAlert) as
// Alertmanager's API v2 body, POSTed to <url>/api/v2/alerts the same way: a thread and a
// bounded queue each, retries with backoff.
//
// Thread safety: Notify and Send from any thread.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bus/bus.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "rules/manager.h"

namespace vigil::roles {

// The Alertmanager webhook body for changes of one alertname: status "firing" while any of
// them fires; each alert with startsAt, endsAt (resolved ones) and a fingerprint.
std::string AlertmanagerPayload(const std::vector<model::Alert>& alerts,
                                const std::string& receiver, const std::string& external_url);
// The body of Alertmanager's POST /api/v2/alerts: [{labels, annotations, startsAt, endsAt,
// generatorURL}], as Prometheus sends it.
std::string AlertmanagerV2Payload(
    const std::vector<vigil::rules::RuleManager::OutgoingAlert>& alerts,
    const std::string& generator_url);

class AlertNotifier {
 public:
  struct Options {
    std::vector<std::string> webhooks;
    std::vector<std::string> alertmanagers;  // base URLs: http://host:9093
    std::chrono::milliseconds webhook_timeout{5000};
    int max_attempts = 5;
    std::chrono::milliseconds initial_backoff{500};
    std::chrono::milliseconds max_backoff{30'000};
    size_t max_queue = 1000;     // payloads waiting per webhook
    size_t max_outbox = 10'000;  // alert changes waiting for the broker
    std::string external_url;    // externalURL in the payload: the dashboard's address
    metrics::Registry* registry = &metrics::Registry::Default();
  };

  AlertNotifier(bus::Bus& bus, Options options);
  // Stops the threads; what is not yet published or delivered is dropped (and logged).
  ~AlertNotifier();

  // Logs every change now; queues it for vigil.events and the webhook payloads.
  void Notify(const std::vector<vigil::rules::AlertChange>& changes);
  // Queues `alerts` for every Alertmanager.
  void Send(const std::vector<vigil::rules::RuleManager::OutgoingAlert>& alerts);
  // Tests: waits until every change so far is published; false after `timeout`.
  bool TEST_WaitPublished(std::chrono::milliseconds timeout);

 private:
  struct Webhook {
    std::string url;
    Mutex mu;
    CondVar cv;
    std::deque<std::string> queue VIGIL_GUARDED_BY(mu);
    bool stop VIGIL_GUARDED_BY(mu) = false;
    std::thread thread;
  };
  void Deliver(Webhook& webhook);
  void PublishOutbox();
  // One POST; true on a 2xx answer.
  bool Post(const std::string& url, const std::string& body, std::string& error);

  bus::Bus& bus_;
  Options options_;
  std::vector<std::unique_ptr<Webhook>> webhooks_;
  std::vector<std::unique_ptr<Webhook>> alertmanagers_;  // url: <base>/api/v2/alerts
  void Enqueue(Webhook& endpoint, const std::string& payload);
  struct Outgoing {
    std::string name;
    std::string routing_key;
    bus::Message message;
  };
  Mutex outbox_mu_;
  CondVar outbox_cv_;
  std::deque<Outgoing> outbox_ VIGIL_GUARDED_BY(outbox_mu_);  // oldest first
  bool outbox_busy_ VIGIL_GUARDED_BY(outbox_mu_) = false;     // one is being published
  bool stop_ VIGIL_GUARDED_BY(outbox_mu_) = false;
  std::thread publisher_;
  metrics::Family<metrics::Counter>& published_;
  metrics::Family<metrics::Counter>& webhook_payloads_;
};

}  // namespace vigil::roles

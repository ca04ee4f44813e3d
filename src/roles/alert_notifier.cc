#include "roles/alert_notifier.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "bus/topology.h"
#include "core/clock.h"
#include "model/batch_codec.h"
#include "model/messages.h"
#include "net/curl_multi.h"

namespace vigil::roles {
namespace {

using nlohmann::json;

json Object(const std::map<std::string, std::string>& pairs) {
  json out = json::object();
  for (const auto& [k, v] : pairs) out[k] = v;
  return out;
}

std::map<std::string, std::string> LabelMap(const model::Labels& labels) {
  std::map<std::string, std::string> out;
  for (const auto& l : labels) out.emplace(l.name, l.value);
  return out;
}

// The pairs every map of `maps` holds with the same value.
std::map<std::string, std::string> Common(
    const std::vector<std::map<std::string, std::string>>& maps) {
  if (maps.empty()) return {};
  std::map<std::string, std::string> common = maps.front();
  for (const auto& m : maps) {
    std::erase_if(common, [&](const auto& kv) {
      auto it = m.find(kv.first);
      return it == m.end() || it->second != kv.second;
    });
  }
  return common;
}

size_t DiscardBody(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

std::string AlertmanagerPayload(const std::vector<model::Alert>& alerts,
                                const std::string& receiver, const std::string& external_url) {
  bool firing = false;
  std::vector<std::map<std::string, std::string>> labels, annotations;
  json list = json::array();
  for (const auto& a : alerts) {
    bool resolved = a.state == model::AlertState::kResolved;
    firing |= !resolved;
    labels.push_back(LabelMap(a.labels));
    annotations.emplace_back(a.annotations.begin(), a.annotations.end());
    list.push_back({{"status", resolved ? "resolved" : "firing"},
                    {"labels", Object(labels.back())},
                    {"annotations", Object(annotations.back())},
                    {"startsAt", FormatRfc3339(a.active_since_ms)},
                    {"endsAt", resolved ? FormatRfc3339(a.timestamp_ms) : "0001-01-01T00:00:00Z"},
                    {"generatorURL", external_url},
                    {"fingerprint", fmt::format("{:016x}", a.labels.Hash())}});
  }
  std::map<std::string, std::string> group;
  if (!alerts.empty()) group["alertname"] = alerts.front().name;
  json payload = {{"version", "4"},
                  {"groupKey", fmt::format("{{}}:{{alertname=\"{}\"}}", group["alertname"])},
                  {"truncatedAlerts", 0},
                  {"status", firing ? "firing" : "resolved"},
                  {"receiver", receiver},
                  {"groupLabels", Object(group)},
                  {"commonLabels", Object(Common(labels))},
                  {"commonAnnotations", Object(Common(annotations))},
                  {"externalURL", external_url},
                  {"alerts", list}};
  return payload.dump();
}

std::string AlertmanagerV2Payload(
    const std::vector<vigil::rules::RuleManager::OutgoingAlert>& alerts,
    const std::string& generator_url) {
  json list = json::array();
  for (const auto& a : alerts) {
    std::map<std::string, std::string> annotations(a.annotations.begin(), a.annotations.end());
    list.push_back({{"labels", Object(LabelMap(a.labels))},
                    {"annotations", Object(annotations)},
                    {"startsAt", FormatRfc3339(a.starts_at_ms)},
                    {"endsAt", FormatRfc3339(a.ends_at_ms)},
                    {"generatorURL", generator_url}});
  }
  return list.dump();
}

AlertNotifier::AlertNotifier(bus::Bus& bus, Options options)
    : bus_(bus),
      options_(std::move(options)),
      published_(options_.registry->AddCounter(
          "vigil_alert_notifications_total",
          "Alert changes for vigil.events, by outcome: published, failed (an attempt; kept and "
          "tried again), dropped (more than max_outbox waited).",
          {"outcome"})),
      webhook_payloads_(options_.registry->AddCounter(
          "vigil_alert_webhook_payloads_total",
          "Alertmanager-format payloads to webhooks, by outcome (sent, retried, failed, "
          "dropped).",
          {"url", "outcome"})) {
  publisher_ = std::thread([this] { PublishOutbox(); });
  if (!options_.webhooks.empty()) net::CurlInitOnce();
  if (!options_.alertmanagers.empty()) net::CurlInitOnce();
  for (const auto& url : options_.webhooks) {
    auto webhook = std::make_unique<Webhook>();
    webhook->url = url;
    webhook->thread = std::thread([this, w = webhook.get()] { Deliver(*w); });
    webhooks_.push_back(std::move(webhook));
  }
  for (std::string url : options_.alertmanagers) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    auto endpoint = std::make_unique<Webhook>();
    endpoint->url = url + "/api/v2/alerts";
    endpoint->thread = std::thread([this, w = endpoint.get()] { Deliver(*w); });
    alertmanagers_.push_back(std::move(endpoint));
  }
}

void AlertNotifier::Enqueue(Webhook& endpoint, const std::string& payload) {
  MutexLock lock(endpoint.mu);
  if (endpoint.queue.size() >= options_.max_queue) {
    endpoint.queue.pop_front();
    webhook_payloads_.WithLabels({endpoint.url, "dropped"}).Inc();
  }
  endpoint.queue.push_back(payload);
  endpoint.cv.notify_all();
}

void AlertNotifier::Send(const std::vector<vigil::rules::RuleManager::OutgoingAlert>& alerts) {
  if (alerts.empty() || alertmanagers_.empty()) return;
  const std::string payload = AlertmanagerV2Payload(alerts, options_.external_url);
  for (auto& endpoint : alertmanagers_) Enqueue(*endpoint, payload);
}

AlertNotifier::~AlertNotifier() {
  {
    MutexLock lock(outbox_mu_);
    stop_ = true;
    if (!outbox_.empty()) {
      spdlog::error("alerts: {} changes never reached the broker", outbox_.size());
    }
  }
  outbox_cv_.notify_all();
  publisher_.join();
  for (auto* endpoints : {&webhooks_, &alertmanagers_}) {
    for (auto& w : *endpoints) {
      {
        MutexLock lock(w->mu);
        w->stop = true;
      }
      w->cv.notify_all();
      w->thread.join();
    }
  }
}

void AlertNotifier::Notify(const std::vector<vigil::rules::AlertChange>& changes) {
  std::map<std::string, std::vector<model::Alert>> by_name;  // what the webhooks hear of
  for (const auto& change : changes) {
    const model::Alert& a = change.alert;
    // Firing is a warning, its resolution news; an alert that waits out its `for` (pending)
    // and clears again without firing is routine, for debug logs only.
    auto log_level = a.state == model::AlertState::kFiring ? spdlog::level::warn
                     : change.fired                        ? spdlog::level::info
                                                           : spdlog::level::debug;
    spdlog::log(log_level, "alert {} {} {} value={}", a.name, model::AlertStateName(a.state),
                a.labels.ToString(), a.value);
    {
      MutexLock lock(outbox_mu_);
      if (outbox_.size() >= options_.max_outbox) {
        // The oldest waiting, not the one the publisher holds.
        outbox_.erase(outbox_busy_ && outbox_.size() > 1 ? outbox_.begin() + 1 : outbox_.begin());
        published_.WithLabels({"dropped"}).Inc();
      }
      outbox_.push_back({a.name,
                         std::string(bus::kAlertsTopicPrefix) + a.severity,
                         {model::EncodeAlert(a), std::string(model::kProtobufContentType)}});
    }
    outbox_cv_.notify_all();
    if (a.state != model::AlertState::kPending && change.fired) by_name[a.name].push_back(a);
  }
  for (const auto& [name, alerts] : by_name) {
    const std::string payload = AlertmanagerPayload(alerts, "vigil", options_.external_url);
    for (auto& w : webhooks_) Enqueue(*w, payload);
  }
}

void AlertNotifier::PublishOutbox() {
  auto backoff = std::chrono::milliseconds(200);
  MutexLock lock(outbox_mu_);
  while (true) {
    outbox_cv_.wait(lock,
                    [this]() VIGIL_REQUIRES(outbox_mu_) { return stop_ || !outbox_.empty(); });
    if (stop_) return;
    Outgoing next = outbox_.front();
    outbox_busy_ = true;
    lock.unlock();
    Status status = bus_.Publish(std::string(bus::kEventsExchange), next.routing_key, next.message);
    lock.lock();
    outbox_busy_ = false;
    if (status.ok()) {
      if (backoff > std::chrono::milliseconds(200)) {
        spdlog::info("alerts: the broker takes alert changes again");
      }
      backoff = std::chrono::milliseconds(200);
      published_.WithLabels({"published"}).Inc();
      if (!outbox_.empty()) outbox_.pop_front();
      outbox_cv_.notify_all();
      continue;
    }
    // Kept, in order, until the broker takes it.
    published_.WithLabels({"failed"}).Inc();
    if (backoff == std::chrono::milliseconds(200)) {
      spdlog::error(
          "alert {}: not published yet, kept with {} more until the broker takes "
          "them: {}",
          next.name, outbox_.size() - 1, status.ToString());
    }
    outbox_cv_.wait_for(lock, backoff, [this]() VIGIL_REQUIRES(outbox_mu_) { return stop_; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

bool AlertNotifier::TEST_WaitPublished(std::chrono::milliseconds timeout) {
  MutexLock lock(outbox_mu_);
  return outbox_cv_.wait_for(lock, timeout, [this]() VIGIL_REQUIRES(outbox_mu_) {
    return outbox_.empty() && !outbox_busy_;
  });
}

void AlertNotifier::Deliver(Webhook& w) {
  std::mt19937_64 random(std::random_device{}());
  MutexLock lock(w.mu);
  while (true) {
    w.cv.wait(lock, [&]() VIGIL_REQUIRES(w.mu) { return w.stop || !w.queue.empty(); });
    if (w.stop) break;
    std::string payload = std::move(w.queue.front());
    w.queue.pop_front();
    std::chrono::milliseconds backoff = options_.initial_backoff;
    bool sent = false;
    for (int attempt = 1; attempt <= options_.max_attempts && !w.stop; ++attempt) {
      lock.unlock();
      std::string error;
      sent = Post(w.url, payload, error);
      lock.lock();
      if (sent) break;
      spdlog::warn("alert webhook {}: attempt {} of {}: {}", w.url, attempt, options_.max_attempts,
                   error);
      if (attempt == options_.max_attempts) break;
      webhook_payloads_.WithLabels({w.url, "retried"}).Inc();
      // Full jitter on an exponential backoff.
      auto wait = std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(backoff.count() / 2, backoff.count())(random));
      w.cv.wait_for(lock, wait, [&]() VIGIL_REQUIRES(w.mu) { return w.stop; });
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    webhook_payloads_.WithLabels({w.url, sent ? "sent" : "failed"}).Inc();
  }
  if (!w.queue.empty())
    spdlog::warn("alert webhook {}: {} payloads not delivered at stop", w.url, w.queue.size());
}

bool AlertNotifier::Post(const std::string& url, const std::string& body, std::string& error) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    error = "curl_easy_init failed";
    return false;
  }
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "User-Agent: vigil/" VIGIL_VERSION);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.webhook_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
  CURLcode result = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (result != CURLE_OK) {
    error = curl_easy_strerror(result);
    return false;
  }
  if (status < 200 || status > 299) {
    error = "HTTP " + std::to_string(status);
    return false;
  }
  return true;
}

}  // namespace vigil::roles

#include "web/live_hub.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "model/selector.h"

namespace vigil::web {
namespace {

std::string ErrorMessage(const std::string& error) {
  return nlohmann::json({{"type", "error"}, {"error", error}}).dump();
}

}  // namespace

std::string SamplesMessage(
    const std::vector<std::pair<const model::Series*, std::vector<std::string>>>& series) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [s, ids] : series) {
    nlohmann::json labels = nlohmann::json::object();
    for (const model::LabelRef& l : s->labels) labels[l.name] = l.value;
    nlohmann::json samples = nlohmann::json::array();
    for (const model::Sample& sample : s->samples) {
      if (std::isfinite(sample.value)) {
        samples.push_back({sample.timestamp_ms, sample.value});
      } else {
        samples.push_back({sample.timestamp_ms, std::isnan(sample.value) ? "NaN"
                                                : sample.value > 0       ? "+Inf"
                                                                         : "-Inf"});
      }
    }
    list.push_back({{"subscriptions", ids}, {"labels", labels}, {"samples", samples}});
  }
  return nlohmann::json({{"type", "samples"}, {"series", list}})
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string LiveHub::Client::HandleMessage(std::string_view text) {
  auto message = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object() || !message.contains("type") || !message["type"].is_string()) {
    return ErrorMessage("expected a JSON object with a \"type\"");
  }
  const std::string type = message["type"];
  const std::string id = message.value("id", std::string("default"));
  if (type == "unsubscribe") {
    MutexLock lock(mu_);
    subscriptions_.erase(id);
    return nlohmann::json({{"type", "unsubscribed"}, {"id", id}}).dump();
  }
  if (type != "subscribe") return ErrorMessage("unknown message type \"" + type + "\"");
  if (!message.contains("selector") || !message["selector"].is_string()) {
    return ErrorMessage("subscribe needs a \"selector\" such as boiler_pressure_out{agent=\"a\"}");
  }
  auto matchers = model::ParseSelector(message["selector"].get<std::string>());
  if (!matchers.ok()) {
    return ErrorMessage("a subscription takes a series selector: " + matchers.status().message());
  }
  MutexLock lock(mu_);
  if (subscriptions_.size() >= 1000 && !subscriptions_.count(id)) {
    return ErrorMessage("too many subscriptions on one connection (1000)");
  }
  subscriptions_[id] = *std::move(matchers);
  return nlohmann::json({{"type", "subscribed"}, {"id", id}}).dump();
}

bool LiveHub::Client::Pop(std::shared_ptr<const std::string>* message) {
  MutexLock lock(mu_);
  if (queue_.empty()) return false;
  *message = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

bool LiveHub::Client::overflowed() const {
  MutexLock lock(mu_);
  return overflowed_;
}

std::string LiveHub::Client::Match(
    const model::Batch& batch,
    std::vector<std::pair<const model::Series*, std::vector<std::string>>>* matched) {
  std::string key;
  MutexLock lock(mu_);
  if (overflowed_ || subscriptions_.empty()) return key;
  for (size_t i = 0; i < batch.series.size(); ++i) {
    const model::Series& s = batch.series[i];
    std::vector<std::string> ids;
    for (const auto& [id, matchers] : subscriptions_) {
      if (model::MatchesAll(matchers, s.labels)) ids.push_back(id);
    }
    if (ids.empty()) continue;
    key += std::to_string(i);
    for (const std::string& id : ids) key += "\x1f" + id;
    key += '\x1e';
    matched->emplace_back(&s, std::move(ids));
  }
  return key;
}

void LiveHub::Client::Enqueue(std::shared_ptr<const std::string> message) {
  {
    MutexLock lock(mu_);
    if (overflowed_) return;
    if (queue_.size() >= max_queued_) {
      overflowed_ = true;
      queue_.clear();
    } else {
      queue_.push_back(std::move(message));
    }
  }
  wake_();
}

LiveHub::LiveHub(Options options)
    : options_(options),
      clients_gauge_(
          options_.registry->AddGauge("vigil_web_websocket_clients", "Connected WebSocket clients.")
              .WithLabels({})),
      dropped_clients_(options_.registry
                           ->AddCounter("vigil_web_websocket_slow_clients_total",
                                        "WebSocket clients closed because their queue was full.")
                           .WithLabels({})),
      messages_(options_.registry
                    ->AddCounter("vigil_web_websocket_batches_total",
                                 "Batches fanned out to WebSocket clients.")
                    .WithLabels({})) {}

std::shared_ptr<LiveHub::Client> LiveHub::Connect(std::function<void()> wake) {
  std::shared_ptr<Client> client(new Client(std::move(wake), options_.max_queued_messages));
  MutexLock lock(mu_);
  clients_.insert(client);
  clients_gauge_.Set(static_cast<double>(clients_.size()));
  return client;
}

void LiveHub::Disconnect(const std::shared_ptr<Client>& client) {
  if (client->overflowed()) dropped_clients_.Inc();
  MutexLock lock(mu_);
  clients_.erase(client);
  clients_gauge_.Set(static_cast<double>(clients_.size()));
}

void LiveHub::Publish(const model::Batch& batch) {
  std::vector<std::shared_ptr<Client>> clients;
  {
    MutexLock lock(mu_);
    clients.assign(clients_.begin(), clients_.end());
  }
  // One JSON text per distinct selection: a thousand dashboards watching the same
  // sensors cost one serialization.
  std::map<std::string, std::shared_ptr<const std::string>> messages;
  for (const auto& client : clients) {
    std::vector<std::pair<const model::Series*, std::vector<std::string>>> matched;
    std::string key = client->Match(batch, &matched);
    if (key.empty()) continue;
    auto& message = messages[key];
    if (!message) message = std::make_shared<const std::string>(SamplesMessage(matched));
    client->Enqueue(message);
  }
  messages_.Inc();
}

size_t LiveHub::client_count() const {
  MutexLock lock(mu_);
  return clients_.size();
}

}  // namespace vigil::web

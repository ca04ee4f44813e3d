// LiveHub fans new samples out to WebSocket clients: each client subscribes (and
// unsubscribes) with a selector such as `boiler_pressure_out{agent="a"}` and receives,
// per published batch, one JSON message with the matching series. Each client's queue
// is bounded; a client that falls behind is marked overflowed and its session closes
// it (code 1008, "too slow") rather than slow anyone else. docs/http-api.md ("/ws").
//
// Thread safety: everything may be called from any thread.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/mutex.h"
#include "core/status.h"
#include "model/batch.h"
#include "model/matcher.h"

namespace vigil::web {

class LiveHub {
 public:
  struct Options {
    size_t max_queued_messages = 256;
    metrics::Registry* registry = &metrics::Registry::Default();
  };

  class Client {
   public:
    // Handles one message from the browser: {"type":"subscribe","id":"x","selector":"…"}
    // or {"type":"unsubscribe","id":"x"}. Returns the JSON reply to send ("" for none);
    // a malformed message gets {"type":"error",…} and changes nothing.
    std::string HandleMessage(std::string_view text);
    // The next message to send, if any. Messages are shared between clients that asked
    // for the same series.
    bool Pop(std::shared_ptr<const std::string>* message);
    bool overflowed() const;

   private:
    friend class LiveHub;
    explicit Client(std::function<void()> wake, size_t max_queued)
        : wake_(std::move(wake)), max_queued_(max_queued) {}
    // The series of `batch` this client subscribed to, with the subscription ids, as a
    // key ("" when none): clients with equal keys get the same message.
    std::string Match(
        const model::Batch& batch,
        std::vector<std::pair<const model::Series*, std::vector<std::string>>>* matched);
    void Enqueue(std::shared_ptr<const std::string> message);

    std::function<void()> wake_;
    const size_t max_queued_;
    mutable Mutex mu_;
    std::map<std::string, std::vector<model::Matcher>> subscriptions_ VIGIL_GUARDED_BY(mu_);
    std::deque<std::shared_ptr<const std::string>> queue_ VIGIL_GUARDED_BY(mu_);
    bool overflowed_ VIGIL_GUARDED_BY(mu_) = false;
  };

  LiveHub() : LiveHub(Options()) {}
  explicit LiveHub(Options options);

  // `wake` is called (from the publishing thread) when the client has something to
  // send; it must only schedule work, not block.
  std::shared_ptr<Client> Connect(std::function<void()> wake);
  void Disconnect(const std::shared_ptr<Client>& client);
  void Publish(const model::Batch& batch);
  size_t client_count() const;

 private:
  Options options_;
  mutable Mutex mu_;
  std::set<std::shared_ptr<Client>> clients_ VIGIL_GUARDED_BY(mu_);
  metrics::Gauge& clients_gauge_;
  metrics::Counter& dropped_clients_;
  metrics::Counter& messages_;
};

// The JSON text of samples as sent on /ws: {"type":"samples","series":[{"subscriptions":
// [...],"labels":{...},"samples":[[ms, value], ...]}]}; non-finite values as strings.
std::string SamplesMessage(
    const std::vector<std::pair<const model::Series*, std::vector<std::string>>>& series);

}  // namespace vigil::web

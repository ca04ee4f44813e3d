// AlertBoard: the alerts a web server has heard of on vigil.events, as the dashboard's
// alert panel and GET /api/v1/alerts show them (Prometheus's shape: labels, annotations,
// state, activeAt, value). A pending or firing alert is added or updated, a resolved one
// removed; at most max_alerts are kept (the oldest dropped), so a storm cannot grow it
// without bound.
//
// Thread safety: any thread.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "model/messages.h"

namespace vigil::web {

class AlertBoard {
 public:
  explicit AlertBoard(size_t max_alerts = 10'000) : max_alerts_(max_alerts) {}

  void Apply(const model::Alert& alert);
  // {"alerts":[…]}, firing before pending, then oldest first.
  std::string ToJson() const;
  size_t size() const;

 private:
  size_t max_alerts_;
  mutable std::mutex mu_;
  std::map<model::Labels, model::Alert> alerts_;  // by the alert's labels; guarded by mu_
};

}  // namespace vigil::web

// AlertBoard: the alerts a web server has heard of on vigil.events, as the dashboard's
// alert panel and GET /api/v1/alerts show them (Prometheus's shape: labels, annotations,
// state, activeAt, value). A pending or firing alert is added or updated, a resolved one
// removed; at most max_alerts are kept (the oldest dropped), so a storm cannot grow it
// without bound.
//
// Thread safety: any thread.
#pragma once

#include <map>
#include <string>

#include "core/mutex.h"
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
  mutable Mutex mu_;
  std::map<model::Labels, model::Alert> alerts_ VIGIL_GUARDED_BY(mu_);  // by the alert's labels
};

}  // namespace vigil::web

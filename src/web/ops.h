// The operational endpoints every long-running vigil process serves: GET /metrics (its own
// figures in Prometheus text format), GET /healthz (alive: the process answers) and
// GET /readyz (ready for work: 503 with the reason while, say, the broker is unreachable).
// The web tier's Api serves them beside the query API; `vigil sensor` and
// `vigil coordinator`, which have no dashboard, serve only these (web.metrics_listen).
// Orchestrators probe them: docs/deployment.md.
//
// Thread safety: HandleOps may be called from any thread if `ready` may.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/metrics.h"
#include "web/http.h"

namespace vigil::web {

// Empty when ready; otherwise why not, for the 503's body.
using ReadinessCheck = std::function<std::string()>;

// The response for /metrics, /healthz or /readyz (405 for a method other than GET or HEAD);
// nullopt for any other path. A null `ready` is always ready.
std::optional<HttpResponse> HandleOps(const HttpRequest& request, metrics::Registry& registry,
                                      const ReadinessCheck& ready);

}  // namespace vigil::web

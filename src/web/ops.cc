#include "web/ops.h"

namespace vigil::web {

std::optional<HttpResponse> HandleOps(const HttpRequest& request, metrics::Registry& registry,
                                      const ReadinessCheck& ready) {
  const std::string& path = request.path;
  if (path != "/metrics" && path != "/healthz" && path != "/readyz") return std::nullopt;
  if (request.method != "GET" && request.method != "HEAD") {
    return JsonError(405, "method " + request.method + " not allowed on " + path);
  }
  HttpResponse response;
  if (path == "/metrics") {
    response.body = registry.RenderText();
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return response;
  }
  if (path == "/readyz" && ready) {
    if (std::string reason = ready(); !reason.empty())
      return JsonError(503, "not ready: " + reason);
  }
  response.body = "ok\n";
  response.content_type = "text/plain; charset=utf-8";
  return response;
}

}  // namespace vigil::web

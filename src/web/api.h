// The HTTP API, shaped like Prometheus's so Grafana's Prometheus data source works
// unchanged: /api/v1/query, /query_range, /series, /labels, /label/<name>/values (and
// /labels/<name>/values), /metadata, /format_query, /query_exemplars, /status/buildinfo,
// /status/tsdb, /alerts, /rules, /federate, remote read (POST /api/v1/read) and POST
// /-/reload; plus /api/v1/sensors
// (what the dashboard lists), POST /api/v1/write (remote write), /metrics, /healthz, /readyz and
// the dashboard's files. Every error is {"status":"error","errorType":…,"error":…}.
// docs/http-api.md.
//
// Thread safety: Handle may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "query/engine.h"
#include "store/store.h"
#include "web/alert_board.h"
#include "web/http.h"
#include "web/ops.h"
#include "web/rule_board.h"
#include "web/sensor_directory.h"

namespace vigil::web {

struct ApiOptions {
  std::string version = "unknown";
  // When set, POST /api/v1/write needs "Authorization: Bearer <token>".
  std::string write_token;
  // Origins besides the server's own whose pages may write (web/http.h OriginAllowed).
  std::vector<std::string> allowed_origins;
  // Series breaking these are refused with 400 (model/labels.h).
  model::LabelLimits label_limits;
  // A compressed write body may not grow past this once decoded (413-like 400 beyond).
  size_t max_decoded_body_bytes = 64 << 20;
  query::EngineOptions engine;
  metrics::Registry* registry = &metrics::Registry::Default();
  // Where a batch written to /api/v1/write, /write or /api/v2/write goes, its labels
  // checked: the push queue, through the pipeline to the store and every live stream
  // (roles/web.h). Returns once the batch is durable; InvalidArgument names what the store
  // refused (then nothing is stored). Empty: writes answer 404.
  std::function<Status(model::Batch)> write;
  // POST /api/v1/agents/retire?agent=ID (write token as for writes) says goodbye for an
  // agent that is gone for good (roles/agent.h PublishGoodbye); empty: 404.
  std::function<Status(const std::string& agent)> retire_agent;
  // What GET /api/v1/rules lists, and the rule alerts GET /api/v1/alerts adds; null: none.
  const RuleBoard* rules = nullptr;
  // POST /-/reload (write token as for writes) reads the rule files again; empty: 404.
  std::function<Status()> reload;
  // What GET /api/v1/alerts lists (with the rule board's); null: no alerts.
  const AlertBoard* alerts = nullptr;
  // The folder of the user's own dashboard definitions (web/dashboards.h); empty: none.
  std::string dashboards_dir;
  // What /readyz checks (web/ops.h); empty: always ready.
  ReadinessCheck ready;
};

class Api {
 public:
  // `store`, `sensors` and `clock` must outlive the Api; `sensors` may be null.
  Api(store::Store& store, SensorDirectory* sensors, Clock& clock, ApiOptions options);

  HttpResponse Handle(const HttpRequest& original);

  // Whether the same query (text, path, range length and step; not its start, which moves
  // as a dashboard refreshes) was answered within kQuickAnswer the last time it came: the
  // web server answers those on its I/O thread (HttpServer::Options::answer_on_io_thread).
  bool AnsweredQuickly(const HttpRequest& original) const;
  static constexpr std::chrono::microseconds kQuickAnswer{1000};

  // The endpoints that evaluate PromQL or read raw history: the web server gives them a
  // thread pool of their own (HttpServer::Options::query_paths).
  static const std::vector<std::string>& QueryPaths();

 private:
  HttpResponse Query(const HttpRequest& request);
  HttpResponse QueryRange(const HttpRequest& request);
  HttpResponse Series(const HttpRequest& request);
  HttpResponse LabelNames(const HttpRequest& request);
  HttpResponse LabelValues(const HttpRequest& request, const std::string& name);
  HttpResponse Metadata(const HttpRequest& request);
  HttpResponse Targets(const HttpRequest& request);
  HttpResponse FormatQuery(const HttpRequest& request);
  HttpResponse QueryExemplars(const HttpRequest& request);
  HttpResponse TsdbStatus(const HttpRequest& request);
  HttpResponse BuildInfo(const HttpRequest& request);
  HttpResponse Alerts(const HttpRequest& request);
  HttpResponse Rules(const HttpRequest& request);
  HttpResponse Reload(const HttpRequest& request);
  HttpResponse Sensors(const HttpRequest& request);
  HttpResponse Dashboards(const HttpRequest& request);
  HttpResponse RetireAgent(const HttpRequest& request);
  // The latest sample (within 5 minutes) of every series match[] selects, as text.
  HttpResponse Federate(const HttpRequest& request);
  // Remote read 1.0, samples response (model/remote_read.h).
  HttpResponse RemoteRead(const HttpRequest& request);
  HttpResponse Write(const HttpRequest& request);
  HttpResponse WriteLineProtocol(const HttpRequest& request);
  // 403 for a write from a page of another site (Origin); 401/403 when a write token is
  // configured and the request does not carry it.
  std::optional<HttpResponse> CheckWriteToken(const HttpRequest& request) const;
  // For line protocol: the number of the first line with a sample `holds` (0: none).
  using LineFinder =
      std::function<int(const std::function<bool(const model::Labels&, int64_t)>& holds)>;
  // Appends durably, feeds the live stream; 204. A refusal names the line when `line_of`
  // can find it.
  HttpResponse Store(model::Batch batch, const LineFinder& line_of = {});

  // The shapes of the queries last answered within kQuickAnswer; forgotten all at once
  // when kQuickShapes are held.
  static constexpr size_t kQuickShapes = 4096;
  mutable Mutex quick_mu_;
  std::unordered_set<std::string> quick_shapes_ VIGIL_GUARDED_BY(quick_mu_);

  store::Store& store_;
  SensorDirectory* sensors_;
  Clock& clock_;
  ApiOptions options_;
  query::Engine engine_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Counter>& refused_;
  metrics::Family<metrics::Histogram>& durations_;
};

// Seconds with up to 3 decimals, as a JSON number: 1767225600.5
std::string FormatTimestamp(int64_t ms);
void AppendTimestamp(std::string* out, int64_t ms);  // the same, appended to *out
// A Prometheus API time: unix seconds (fractions allowed) or RFC 3339.
Result<int64_t> ParseTime(const std::string& text);
// A step or duration: "15s", "1m" or seconds as a number.
Result<int64_t> ParseStep(const std::string& text);

}  // namespace vigil::web

#include "web/api.h"

#include <time.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>

#include "core/format_float.h"
#include "core/helper_thread.h"
#include "core/names.h"
#include "model/batch_codec.h"
#include "model/json_values.h"
#include "model/remote_read.h"
#include "model/selector.h"
#include "query/functions.h"
#include "query/parser.h"
#include "query/printer.h"
#include "web/assets.h"
#include "web/dashboards.h"
#include "web/line_protocol.h"

namespace vigil::web {
namespace {

std::string Quote(std::string_view s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

constexpr std::string_view kSuccessHead = "{\"status\":\"success\",\"data\":";

// What follows a success answer's data: its warnings, if any, and the closing brace.
void AppendSuccessTail(std::string& out, const std::vector<std::string>& warnings) {
  if (!warnings.empty()) {
    out += ",\"warnings\":[";
    for (size_t i = 0; i < warnings.size(); ++i) out += (i ? "," : "") + Quote(warnings[i]);
    out += ']';
  }
  out += '}';
}

std::string Success(const std::string& data, const std::vector<std::string>& warnings = {}) {
  std::string out;
  out.reserve(data.size() + 64);
  out += kSuccessHead;
  out += data;
  AppendSuccessTail(out, warnings);
  return out;
}

// The dashboard's file compressed, once per process (the files are fixed at build time).
const std::string& GzippedAsset(const Asset& asset) {
  static const std::map<std::string_view, std::string> gzipped = [] {
    std::map<std::string_view, std::string> all;
    for (const Asset& a : AllAssets()) all.emplace(a.path, Gzip(a.body));
    return all;
  }();
  return gzipped.at(asset.path);
}

HttpResponse Ok(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

HttpResponse FromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return JsonError(400, status.message());
    case StatusCode::kNotFound:
      return JsonError(404, status.message());
    case StatusCode::kResourceExhausted:
    case StatusCode::kFailedPrecondition:  // the query cannot be evaluated on this data
      return JsonError(422, status.message());
    case StatusCode::kUnavailable:
      return JsonError(503, status.message());
    case StatusCode::kDeadlineExceeded:  // a query past its timeout, as Prometheus says it
      return JsonError(503, status.message(), "timeout");
    default:
      return JsonError(500, status.message());
  }
}

// Seconds with up to 3 decimals at `out` (room for 24 characters); returns the end.
char* WriteTimestamp(char* out, int64_t ms) {
  if (ms < 0) *out++ = '-';
  const uint64_t magnitude = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  out = std::to_chars(out, out + 24, magnitude / 1000).ptr;
  if (uint64_t fraction = magnitude % 1000; fraction != 0) {
    *out++ = '.';
    for (uint64_t unit = 100; fraction != 0; unit /= 10) {  // no trailing zeros
      *out++ = static_cast<char>('0' + fraction / unit);
      fraction %= unit;
    }
  }
  return out;
}

// [<seconds>,"<value>"] for each point, comma-separated, written straight into out's
// buffer: appending each piece to the string took half of a large answer's time.
void AppendPoints(std::string& out, std::span<const model::Sample> points) {
  constexpr size_t kMaxPointChars = 32 + kMaxFloatChars;
  size_t used = out.size();
  bool hundredths = true;  // the values so far had at most two decimals
  for (size_t j = 0; j < points.size(); ++j) {
    if (out.size() - used < kMaxPointChars) out.resize(used + 16 * kMaxPointChars);
    char* p = out.data() + used;
    if (j > 0) *p++ = ',';
    *p++ = '[';
    p = WriteTimestamp(p, points[j].timestamp_ms);
    *p++ = ',';
    *p++ = '"';
    char* written = hundredths ? WriteFixedHundredths(p, points[j].value) : nullptr;
    hundredths = written != nullptr;
    p = hundredths ? written : WriteFloat(p, points[j].value, FloatStyle::kFixed);
    *p++ = '"';
    *p++ = ']';
    used = static_cast<size_t>(p - out.data());
  }
  out.resize(used);
}

// One series of a vector ({"metric":…,"value":…}) or a matrix ({"metric":…,"values":[…]}).
void AppendSeriesJson(std::string& out, const query::SeriesResult& s, bool matrix) {
  out += "{\"metric\":";
  out += model::LabelsJsonText(s.labels);
  if (!matrix) {
    out += ",\"value\":";
    AppendPoints(out, std::span(s.points).first(1));
    out += '}';
    return;
  }
  out += ",\"values\":[";
  AppendPoints(out, s.points);
  out += "]}";
}

// Series [begin, end) of a vector or matrix, comma-separated.
void AppendSeriesListJson(std::string& out, const std::vector<query::SeriesResult>& series,
                          size_t begin, size_t end, bool matrix) {
  for (size_t i = begin; i < end; ++i) {
    if (i > 0) out += ',';
    AppendSeriesJson(out, series[i], matrix);
  }
}

// Answers of this many points or more are written on two threads.
constexpr size_t kParallelJsonPoints = 16'000;

// The success answer for a query result, written in place (a large one was built apart,
// then copied behind the head).
std::string SuccessJson(const query::QueryResult& r) {
  std::string out(kSuccessHead);
  switch (r.type) {
    case query::ValueType::kString:
      out += "{\"resultType\":\"string\",\"result\":[" +
             FormatTimestamp(r.series[0].points[0].timestamp_ms) + "," + Quote(r.string_value) +
             "]}";
      break;
    case query::ValueType::kScalar:
      out += "{\"resultType\":\"scalar\",\"result\":";
      AppendPoints(out, std::span(r.series[0].points).first(1));
      out += '}';
      break;
    case query::ValueType::kVector:
    case query::ValueType::kMatrix: {
      const bool matrix = r.type == query::ValueType::kMatrix;
      // Sized once (a point takes about 30 bytes): growing a large answer by doubling
      // copied it and faulted in fresh pages each time.
      size_t points = 0;
      for (const auto& s : r.series) points += s.points.size();
      out.reserve(128 + r.series.size() * 256 + points * 32);
      out += matrix ? "{\"resultType\":\"matrix\",\"result\":["
                    : "{\"resultType\":\"vector\",\"result\":[";
      // A large answer is written in two halves of its points, the second on a thread of
      // its own, then appended to the first.
      size_t split = r.series.size();
      if (points >= kParallelJsonPoints) {
        size_t first_half = 0;
        for (split = 0; split < r.series.size() && first_half < points / 2; ++split) {
          first_half += r.series[split].points.size();
        }
      }
      std::string second_half;
      HelperThread helper;
      if (split < r.series.size()) {
        second_half.reserve(out.capacity() / 2);
        helper = HelperThread(
            [&] { AppendSeriesListJson(second_half, r.series, split, r.series.size(), matrix); });
      }
      AppendSeriesListJson(out, r.series, 0, split, matrix);
      if (helper.joinable()) {
        helper.join();
        out += second_half;
      }
      out += "]}";
      break;
    }
  }
  AppendSuccessTail(out, r.warnings);
  return out;
}

// Answers of more points than this are streamed in chunks rather than built whole.
constexpr size_t kStreamedPoints = 50'000;
constexpr size_t kChunkBytes = 256 * 1024;

// The success answer for a query result: built whole when small; otherwise streamed a
// series at a time, each series' points let go of once written.
HttpResponse QueryAnswer(query::QueryResult result) {
  size_t points = 0;
  for (const auto& s : result.series) points += s.points.size();
  if ((result.type != query::ValueType::kMatrix && result.type != query::ValueType::kVector) ||
      points <= kStreamedPoints) {
    return Ok(SuccessJson(result));
  }
  auto shared = std::make_shared<query::QueryResult>(std::move(result));
  HttpResponse response;
  response.stream = [shared, next = size_t{0}](std::string& chunk) mutable {
    const bool matrix = shared->type == query::ValueType::kMatrix;
    if (next == 0) {
      chunk += matrix ? "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                      : "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[";
    }
    for (; next < shared->series.size() && chunk.size() < kChunkBytes; ++next) {
      if (next > 0) chunk += ',';
      AppendSeriesJson(chunk, shared->series[next], matrix);
      std::vector<model::Sample>().swap(shared->series[next].points);
    }
    if (next < shared->series.size()) return true;
    chunk += "]}";
    if (!shared->warnings.empty()) {
      chunk += ",\"warnings\":[";
      for (size_t i = 0; i < shared->warnings.size(); ++i) {
        chunk += (i ? "," : "") + Quote(shared->warnings[i]);
      }
      chunk += ']';
    }
    chunk += '}';
    return false;
  };
  return response;
}

// Every match[] selector, parsed; InvalidArgument when one is not a plain selector.
Result<std::vector<std::vector<model::Matcher>>> Selectors(const HttpRequest& request) {
  std::vector<std::vector<model::Matcher>> out;
  for (const std::string& text : request.Params("match[]")) {
    auto matchers = model::ParseSelector(text);
    if (!matchers.ok())
      return InvalidArgumentError("match[] " + text + ": " + matchers.status().message());
    out.push_back(std::move(matchers).value());
  }
  return out;
}

// The Prometheus version /api/v1/status/buildinfo reports: the PromQL vigil follows.
constexpr const char* kPrometheusVersion = "3.0.0";

std::string StringList(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + Quote(values[i]);
  return out + "]";
}

}  // namespace

void AppendTimestamp(std::string* out, int64_t ms) {
  char text[24];
  out->append(text, WriteTimestamp(text, ms));
}

std::string FormatTimestamp(int64_t ms) {
  std::string out;
  AppendTimestamp(&out, ms);
  return out;
}

Result<int64_t> ParseTime(const std::string& text) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(seconds)) {
    return static_cast<int64_t>(std::llround(seconds * 1000));
  }
  // RFC 3339: 2026-01-01T00:00:00(.123)?(Z|+01:00)
  struct tm tm = {};
  int year, month, day, hour, minute, second;
  char rest[64] = {};
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%63s", &year, &month, &day, &hour, &minute,
                  &second, rest) < 6) {
    return InvalidArgumentError("cannot parse \"" + text + "\" to a valid timestamp");
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  std::string_view r(rest);
  if (!r.empty() && r[0] == '.') {
    size_t i = 1;
    int64_t fraction = 0, scale = 1000;
    while (i < r.size() && std::isdigit(static_cast<unsigned char>(r[i]))) {
      if (scale > 1) {
        scale /= 10;
        fraction += (r[i] - '0') * scale;
      }
      ++i;
    }
    ms += fraction;
    r.remove_prefix(i);
  }
  if (r == "Z" || r.empty()) return ms;
  int offset_hours = 0, offset_minutes = 0;
  if ((r[0] == '+' || r[0] == '-') && std::sscanf(std::string(r.substr(1)).c_str(), "%2d:%2d",
                                                  &offset_hours, &offset_minutes) == 2) {
    const int64_t offset = (offset_hours * 60 + offset_minutes) * 60'000LL;
    return r[0] == '+' ? ms - offset : ms + offset;
  }
  return InvalidArgumentError("cannot parse \"" + text + "\" to a valid timestamp");
}

Result<int64_t> ParseStep(const std::string& text) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec == std::errc() && end == text.data() + text.size()) {
    if (!(seconds > 0) || !std::isfinite(seconds)) {
      return InvalidArgumentError("zero or negative query resolution step widths are not accepted");
    }
    return std::max<int64_t>(1, static_cast<int64_t>(std::llround(seconds * 1000)));
  }
  auto ms = model::ParseDurationMs(text);
  if (!ms.ok()) return InvalidArgumentError("cannot parse \"" + text + "\" to a valid duration");
  return *ms;
}

Api::Api(store::Store& store, SensorDirectory* sensors, Clock& clock, ApiOptions options)
    : store_(store),
      sensors_(sensors),
      clock_(clock),
      options_(std::move(options)),
      engine_(store, options_.engine),
      requests_(options_.registry->AddCounter("vigil_web_requests_total",
                                              "HTTP requests by handler and status code.",
                                              {"handler", "code"})),
      refused_(options_.registry->AddCounter(
          "vigil_web_samples_refused_total",
          "Samples of HTTP writes answered 400 and not stored, by reason: a label limit, "
          "out_of_bounds (older than the store takes).",
          {"reason"})),
      durations_(options_.registry->AddHistogram("vigil_web_request_duration_seconds",
                                                 "HTTP request time by handler.", {"handler"})) {}

HttpResponse Api::BuildInfo(const HttpRequest&) {
  // Grafana picks its features by this version: vigil speaks Prometheus 3's PromQL.
  return Ok(Success(nlohmann::json({{"version", kPrometheusVersion},
                                    {"revision", "vigil " + options_.version},
                                    {"branch", ""},
                                    {"buildUser", "vigil"},
                                    {"buildDate", ""},
                                    {"goVersion", "none (vigil, C++)"}})
                        .dump()));
}

HttpResponse Api::Alerts(const HttpRequest&) {
  std::string alerts = options_.alerts ? options_.alerts->ToJson() : "{\"alerts\":[]}";
  if (options_.rules) alerts = options_.rules->MergeAlerts(alerts);
  return Ok(Success(alerts));
}

HttpResponse Api::Rules(const HttpRequest& request) {
  const std::string type = request.Param("type");
  if (!type.empty() && type != "alert" && type != "record")
    return JsonError(400, "invalid rule type \"" + type + "\": use alert or record");
  return Ok(Success(options_.rules ? options_.rules->RulesJson(type) : "{\"groups\":[]}"));
}

HttpResponse Api::Reload(const HttpRequest& request) {
  if (auto refused = CheckWriteToken(request)) return *refused;
  if (!options_.reload)
    return JsonError(404, "this server evaluates no rules: send the ruler SIGHUP to reload them");
  if (Status status = options_.reload(); !status.ok()) return JsonError(400, status.message());
  return Ok(Success("null"));
}

HttpResponse Api::Sensors(const HttpRequest&) {
  return Ok(Success(sensors_ ? sensors_->ToJson() : "[]"));
}

HttpResponse Api::Dashboards(const HttpRequest&) {
  return Ok(Success(ListDashboards(options_.dashboards_dir)
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

HttpResponse Api::RetireAgent(const HttpRequest& request) {
  if (auto refused = CheckWriteToken(request)) return *refused;
  if (!options_.retire_agent) return JsonError(404, "this server cannot retire agents");
  const std::string agent = request.Param("agent");
  if (agent.empty()) return JsonError(400, "missing parameter agent");
  if (sensors_ == nullptr || !sensors_->Knows(agent)) {
    return JsonError(404, "no agent " + agent + " has announced itself (see /api/v1/sensors)");
  }
  if (Status status = options_.retire_agent(agent); !status.ok()) {
    return JsonError(503, status.message());
  }
  return Ok(Success(nlohmann::json{{"agent", agent}}.dump()));
}

namespace {

// Prometheus's read endpoints take their parameters from a form body too; writes carry
// data, which is never parsed as a form. `original`, or *with_form holding the body's
// parameters too; null when the form is malformed.
const HttpRequest* WithFormParameters(const HttpRequest& original, HttpRequest* with_form) {
  const bool form =
      original.method == "POST" && original.path.rfind("/api/v1/", 0) == 0 &&
      original.path != "/api/v1/write" &&
      original.Header("content-type").rfind("application/x-www-form-urlencoded", 0) == 0;
  if (!form) return &original;
  *with_form = original;
  return ParseQueryString(original.body, &with_form->params) ? with_form : nullptr;
}

// What makes a query as costly as another: for /api/v1/query its text, for query_range
// its text, range length and step. Empty for other requests and unreadable parameters.
std::string QueryShape(const HttpRequest& request) {
  const std::string text = request.Param("query");
  if (text.empty()) return "";
  if (request.path == "/api/v1/query") return "instant " + text;
  if (request.path != "/api/v1/query_range") return "";
  auto start = ParseTime(request.Param("start"));
  auto end = ParseTime(request.Param("end"));
  auto step = ParseStep(request.Param("step"));
  if (!start.ok() || !end.ok() || !step.ok()) return "";
  return "range " + std::to_string(*end - *start) + " " + std::to_string(*step) + " " + text;
}

}  // namespace

bool Api::AnsweredQuickly(const HttpRequest& original) const {
  HttpRequest with_form;
  const HttpRequest* request = WithFormParameters(original, &with_form);
  if (request == nullptr) return false;
  const std::string shape = QueryShape(*request);
  MutexLock lock(quick_mu_);
  return !shape.empty() && quick_shapes_.contains(shape);
}

HttpResponse Api::Handle(const HttpRequest& original) {
  const auto started = std::chrono::steady_clock::now();
  HttpRequest with_form;
  const HttpRequest* parsed = WithFormParameters(original, &with_form);
  if (parsed == nullptr) return JsonError(400, "malformed percent-encoding in the form body");
  const HttpRequest& request = *parsed;
  const std::string& path = request.path;
  const bool get = request.method == "GET" || request.method == "HEAD";
  std::string handler = path;
  HttpResponse response;
  // The routes, as Prometheus's api.go registers them: path, methods, handler.
  enum class Methods { kGet, kGetOrPost, kPost };
  struct Route {
    std::string_view path;
    Methods methods;
    HttpResponse (Api::*handle)(const HttpRequest&);
  };
  static constexpr Route kRoutes[] = {
      {"/api/v1/query", Methods::kGetOrPost, &Api::Query},
      {"/api/v1/query_range", Methods::kGetOrPost, &Api::QueryRange},
      {"/api/v1/series", Methods::kGetOrPost, &Api::Series},
      {"/api/v1/labels", Methods::kGetOrPost, &Api::LabelNames},
      {"/api/v1/format_query", Methods::kGetOrPost, &Api::FormatQuery},
      {"/api/v1/query_exemplars", Methods::kGetOrPost, &Api::QueryExemplars},
      {"/api/v1/status/tsdb", Methods::kGet, &Api::TsdbStatus},
      {"/api/v1/status/buildinfo", Methods::kGet, &Api::BuildInfo},
      {"/api/v1/metadata", Methods::kGet, &Api::Metadata},
      {"/api/v1/targets", Methods::kGet, &Api::Targets},
      {"/api/v1/alerts", Methods::kGet, &Api::Alerts},
      {"/api/v1/rules", Methods::kGet, &Api::Rules},
      {"/-/reload", Methods::kPost, &Api::Reload},
      {"/api/v1/sensors", Methods::kGet, &Api::Sensors},
      {"/api/v1/dashboards", Methods::kGet, &Api::Dashboards},
      {"/api/v1/agents/retire", Methods::kPost, &Api::RetireAgent},
      {"/api/v1/read", Methods::kPost, &Api::RemoteRead},
      {"/api/v1/write", Methods::kPost, &Api::Write},
      {"/write", Methods::kPost, &Api::WriteLineProtocol},
      {"/api/v2/write", Methods::kPost, &Api::WriteLineProtocol},
      {"/federate", Methods::kGet, &Api::Federate},
  };
  auto only = [&](Methods methods) {
    const bool post = request.method == "POST";
    const bool allowed = methods == Methods::kGet    ? get
                         : methods == Methods::kPost ? post
                                                     : get || post;
    if (!allowed) {
      response = JsonError(405, "method " + request.method + " not allowed on " + path);
      return false;
    }
    return true;
  };
  const Route* route = nullptr;
  for (const Route& r : kRoutes) {
    if (r.path == path) route = &r;
  }
  if (route != nullptr) {
    if (only(route->methods)) response = (this->*route->handle)(request);
  } else if ((path.rfind("/api/v1/label/", 0) == 0 || path.rfind("/api/v1/labels/", 0) == 0) &&
             path.size() > 7 && path.compare(path.size() - 7, 7, "/values") == 0) {
    const size_t prefix = path.rfind("/api/v1/label/", 0) == 0 ? 14 : 15;
    handler = "/api/v1/label/:name/values";
    if (only(Methods::kGet)) {
      response = LabelValues(request, path.substr(prefix, path.size() - 7 - prefix));
    }
  } else if (auto ops = HandleOps(request, *options_.registry, options_.ready)) {
    response = std::move(*ops);
  } else if (const Asset* asset = FindAsset(path == "/index.html" ? "/" : path); asset && get) {
    handler = "/ui";
    response.content_type = std::string(asset->content_type);
    if (request.Header("accept-encoding").find("gzip") != std::string::npos) {
      response.body = GzippedAsset(*asset);
      response.headers.emplace_back("Content-Encoding", "gzip");
    } else {
      response.body = std::string(asset->body);
    }
    response.headers.emplace_back("Vary", "Accept-Encoding");
    response.headers.emplace_back("Cache-Control", "no-cache");
  } else {
    handler = "other";
    response = JsonError(404, "no such endpoint: " + request.method + " " + path);
  }
  requests_.WithLabels({handler, std::to_string(response.status)}).Inc();
  const auto took = std::chrono::steady_clock::now() - started;
  durations_.WithLabels({handler}).Observe(std::chrono::duration<double>(took).count());
  if (route != nullptr && (route->handle == &Api::Query || route->handle == &Api::QueryRange)) {
    if (std::string shape = QueryShape(request); !shape.empty()) {
      MutexLock lock(quick_mu_);
      if (took > kQuickAnswer) {
        quick_shapes_.erase(shape);
      } else {
        if (quick_shapes_.size() >= kQuickShapes) quick_shapes_.clear();
        quick_shapes_.insert(std::move(shape));
      }
    }
  }
  return response;
}

HttpResponse Api::Query(const HttpRequest& request) {
  bool found = false;
  const std::string text = request.Param("query", &found);
  if (!found || text.empty()) return JsonError(400, "missing parameter \"query\"");
  int64_t time = clock_.NowMillis();
  if (std::string t = request.Param("time"); !t.empty()) {
    auto parsed = ParseTime(t);
    if (!parsed.ok())
      return JsonError(400, "invalid parameter \"time\": " + parsed.status().message());
    time = *parsed;
  }
  auto result = engine_.Instant(text, time);
  if (!result.ok()) return FromStatus(result.status());
  return QueryAnswer(std::move(result).value());
}

HttpResponse Api::QueryRange(const HttpRequest& request) {
  const std::string text = request.Param("query");
  if (text.empty()) return JsonError(400, "missing parameter \"query\"");
  int64_t range[2];
  const char* names[2] = {"start", "end"};
  for (int i = 0; i < 2; ++i) {
    bool found = false;
    std::string value = request.Param(names[i], &found);
    if (!found) return JsonError(400, std::string("missing parameter \"") + names[i] + "\"");
    auto parsed = ParseTime(value);
    if (!parsed.ok()) {
      return JsonError(
          400, std::string("invalid parameter \"") + names[i] + "\": " + parsed.status().message());
    }
    range[i] = *parsed;
  }
  bool found = false;
  const std::string step_text = request.Param("step", &found);
  if (!found) return JsonError(400, "missing parameter \"step\"");
  auto step = ParseStep(step_text);
  if (!step.ok()) return JsonError(400, "invalid parameter \"step\": " + step.status().message());
  auto result = engine_.Range(text, range[0], range[1], *step);
  if (!result.ok()) return FromStatus(result.status());
  return QueryAnswer(std::move(result).value());
}

HttpResponse Api::Series(const HttpRequest& request) {
  auto selectors = Selectors(request);
  if (!selectors.ok()) return JsonError(400, selectors.status().message());
  if (selectors->empty()) return JsonError(400, "no match[] parameter provided");
  std::set<model::Labels> all;
  for (const auto& matchers : *selectors) {
    auto series = store_.Series(matchers);
    if (!series.ok()) return FromStatus(series.status());
    all.insert(series->begin(), series->end());
  }
  std::string out = "[";
  for (const auto& labels : all) out += (out.size() > 1 ? "," : "") + model::LabelsJsonText(labels);
  return Ok(Success(out + "]"));
}

HttpResponse Api::LabelNames(const HttpRequest& request) {
  auto selectors = Selectors(request);
  if (!selectors.ok()) return JsonError(400, selectors.status().message());
  if (selectors->empty()) selectors->emplace_back();
  std::set<std::string> names;
  for (const auto& matchers : *selectors) {
    auto found = store_.LabelNames(matchers);
    if (!found.ok()) return FromStatus(found.status());
    names.insert(found->begin(), found->end());
  }
  return Ok(Success(StringList({names.begin(), names.end()})));
}

HttpResponse Api::LabelValues(const HttpRequest& request, const std::string& name) {
  if (!IsValidLabelName(name)) return JsonError(400, "invalid label name: \"" + name + "\"");
  auto selectors = Selectors(request);
  if (!selectors.ok()) return JsonError(400, selectors.status().message());
  if (selectors->empty()) selectors->emplace_back();
  std::set<std::string> values;
  for (const auto& matchers : *selectors) {
    auto found = store_.LabelValues(name, matchers);
    if (!found.ok()) return FromStatus(found.status());
    values.insert(found->begin(), found->end());
  }
  return Ok(Success(StringList({values.begin(), values.end()})));
}

HttpResponse Api::FormatQuery(const HttpRequest& request) {
  const std::string text = request.Param("query");
  if (text.empty()) return JsonError(400, "missing parameter \"query\"");
  auto node = query::Parse(text);
  if (!node.ok()) return FromStatus(node.status());
  return Ok(Success(Quote(query::Format(**node))));
}

HttpResponse Api::QueryExemplars(const HttpRequest& request) {
  const std::string text = request.Param("query");
  if (text.empty()) return JsonError(400, "missing parameter \"query\"");
  auto node = query::Parse(text);
  if (!node.ok()) return FromStatus(node.status());
  return Ok(Success("[]"));  // vigil keeps no exemplars
}

HttpResponse Api::TsdbStatus(const HttpRequest& request) {
  size_t limit = 10;
  if (std::string l = request.Param("limit"); !l.empty()) {
    limit = static_cast<size_t>(std::max(1, std::atoi(l.c_str())));
  }
  auto series = store_.Series({});
  if (!series.ok()) return FromStatus(series.status());
  std::map<std::string, int64_t> by_name, by_pair, bytes_by_label;
  std::map<std::string, std::set<std::string>> values_by_label;
  int64_t pairs = 0;
  for (const model::Labels& labels : *series) {
    ++by_name[std::string(labels.MetricName())];
    for (const model::LabelRef& l : labels) {
      ++pairs;
      ++by_pair[std::string(l.name) + "=" + std::string(l.value)];
      if (values_by_label[std::string(l.name)].insert(std::string(l.value)).second) {
        bytes_by_label[std::string(l.name)] += static_cast<int64_t>(l.value.size());
      }
    }
  }
  std::map<std::string, int64_t> value_counts;
  for (const auto& [name, values] : values_by_label) value_counts[name] = values.size();
  auto top = [limit](const std::map<std::string, int64_t>& counts) {
    std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    if (sorted.size() > limit) sorted.resize(limit);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [name, value] : sorted) out.push_back({{"name", name}, {"value", value}});
    return out;
  };
  nlohmann::json data = {{"headStats", {{"numSeries", series->size()}, {"numLabelPairs", pairs}}},
                         {"seriesCountByMetricName", top(by_name)},
                         {"labelValueCountByLabelName", top(value_counts)},
                         {"memoryInBytesByLabelName", top(bytes_by_label)},
                         {"seriesCountByLabelValuePair", top(by_pair)}};
  return Ok(Success(data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

HttpResponse Api::Federate(const HttpRequest& request) {
  auto selectors = Selectors(request);
  if (!selectors.ok()) return JsonError(400, selectors.status().message());
  if (selectors->empty()) return JsonError(400, "no match[] parameter provided");
  const int64_t now = clock_.NowMillis();
  constexpr int64_t kLookbackMs = 5 * 60'000;
  std::map<model::Labels, model::Sample> latest;
  for (const auto& matchers : *selectors) {
    auto selected = store_.Select(matchers, now - kLookbackMs + 1, now);
    if (!selected.ok()) return FromStatus(selected.status());
    for (const store::SeriesSamples& s : selected->series) {
      if (s.samples.empty() || model::IsStaleMarker(s.samples.back().value)) continue;
      latest[s.labels] = s.samples.back();
    }
  }
  // Prometheus's text format, one family per metric name, with the samples' own times.
  std::string out, family;
  for (const auto& [labels, sample] : latest) {
    const std::string name(labels.MetricName());
    if (name != family) {
      out += "# TYPE " + name + " untyped\n";
      family = name;
    }
    std::string text = labels.ToString();
    out += text + " " + FormatFloat(sample.value, FloatStyle::kShortest) + " " +
           std::to_string(sample.timestamp_ms) + "\n";
  }
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = std::move(out);
  return response;
}

HttpResponse Api::RemoteRead(const HttpRequest& request) {
  auto queries = model::DecodeReadRequest(request.body);
  if (!queries.ok()) return JsonError(400, queries.status().message());
  std::vector<std::vector<model::Series>> results;
  for (const model::ReadQuery& q : *queries) {
    auto selected = store_.Select(q.matchers, q.start_ms, q.end_ms);
    if (!selected.ok()) return FromStatus(selected.status());
    std::vector<model::Series> result;
    for (store::SeriesSamples& s : selected->series) {
      result.push_back({std::move(s.labels), std::move(s.samples)});
    }
    results.push_back(std::move(result));
  }
  HttpResponse response;
  response.content_type = "application/x-protobuf";
  response.headers.emplace_back("Content-Encoding", "snappy");
  response.body = model::EncodeReadResponse(results);
  return response;
}

HttpResponse Api::Metadata(const HttpRequest& request) {
  int64_t limits[2] = {-1, -1};
  const char* names[2] = {"limit", "limit_per_metric"};
  for (int i = 0; i < 2; ++i) {
    const std::string text = request.Param(names[i]);
    if (text.empty()) continue;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limits[i]);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return JsonError(400, std::string(names[i]) + " must be a number");
    }
  }
  const std::string metric = request.Param("metric");
  return Ok(Success(sensors_ ? sensors_->MetadataJson(metric, limits[0], limits[1]) : "{}"));
}

HttpResponse Api::Targets(const HttpRequest& request) {
  const std::string state = request.Param("state");
  if (!state.empty() && state != "any" && state != "active" && state != "dropped") {
    return JsonError(400, "state must be one of any, active, dropped");
  }
  const std::string pool = request.Param("scrapePool");
  return Ok(Success(sensors_ ? sensors_->TargetsJson(state, pool)
                             : R"({"activeTargets":[],"droppedTargets":[]})"));
}

const std::vector<std::string>& Api::QueryPaths() {
  static const std::vector<std::string> paths = {"/api/v1/query", "/api/v1/query_range",
                                                 "/api/v1/read", "/federate"};
  return paths;
}

std::optional<HttpResponse> Api::CheckWriteToken(const HttpRequest& request) const {
  // A page of another site must not write, with or without a token (no CORS for writes).
  if (!OriginAllowed(request.Header("origin"), request.Header("host"), options_.allowed_origins)) {
    return JsonError(403, "write from origin " + request.Header("origin") +
                              " refused; add it to [web] allowed_origins");
  }
  if (options_.write_token.empty()) return std::nullopt;
  const std::string auth = request.Header("authorization");
  if (auth.empty()) return JsonError(401, "missing Authorization: Bearer <token>");
  // InfluxDB clients send "Token <token>".
  if (auth != "Bearer " + options_.write_token && auth != "Token " + options_.write_token) {
    return JsonError(403, "wrong token");
  }
  return std::nullopt;
}

HttpResponse Api::Store(model::Batch batch, const LineFinder& line_of) {
  // All or nothing, as Prometheus's remote-write receiver: a 2xx means every sample is
  // stored (or was already), a 400 names what was refused and nothing is stored. Labels
  // are checked here, where they enter; the batch then takes the agents' way.
  for (const model::Series& series : batch.series) {
    std::string why;
    const model::LabelViolation violation =
        model::CheckLabelLimits(series.labels, options_.label_limits, &why);
    if (violation != model::LabelViolation::kNone) {
      refused_.WithLabels({std::string(model::LabelViolationName(violation))})
          .Inc(static_cast<double>(batch.SampleCount()));
      const int line = line_of ? line_of([&](const model::Labels& labels, int64_t) {
        return labels == series.labels;
      })
                               : 0;
      return JsonError(400, (line > 0 ? "line " + std::to_string(line) + ": " : std::string()) +
                                why + "; nothing stored");
    }
  }
  if (!options_.write) return JsonError(404, "this server takes no writes");
  const double samples = static_cast<double>(batch.SampleCount());
  Status status = options_.write(std::move(batch));
  if (status.code() == StatusCode::kInvalidArgument) {
    refused_.WithLabels({"out_of_bounds"}).Inc(samples);
    // The refusal names the first sample as "<series> @<ms>": the line that holds it.
    const int line = line_of ? line_of([&](const model::Labels& labels, int64_t ms) {
      return status.message().find(labels.ToString() + " @" + std::to_string(ms) + " ") !=
             std::string::npos;
    })
                             : 0;
    if (line > 0) status = status.Annotate("line " + std::to_string(line));
  }
  // A full queue is a reason to retry (remote-write senders retry a 5xx, drop a 4xx).
  if (status.code() == StatusCode::kResourceExhausted) return JsonError(503, status.message());
  if (!status.ok()) return FromStatus(status);
  HttpResponse response;
  response.status = 204;
  response.content_type = "text/plain";
  return response;
}

HttpResponse Api::Write(const HttpRequest& request) {
  if (auto denied = CheckWriteToken(request)) return *denied;
  // Remote write 1.0 bodies are snappy blocks, whether or not the sender says so.
  const std::string encoding = request.Header("content-encoding");
  if (!encoding.empty() && encoding != "snappy") {
    return JsonError(415, "remote write: Content-Encoding " + encoding +
                              " is not supported; remote write bodies are snappy");
  }
  auto batch = model::DecodeBatch(request.body);
  if (!batch.ok()) return JsonError(400, "remote write: " + batch.status().message());
  return Store(std::move(batch).value());
}

HttpResponse Api::WriteLineProtocol(const HttpRequest& request) {
  if (auto denied = CheckWriteToken(request)) return *denied;
  auto body =
      DecodeBody(request.Header("content-encoding"), request.body, options_.max_decoded_body_bytes);
  if (!body.ok()) {
    return JsonError(body.status().code() == StatusCode::kUnimplemented ? 415 : 400,
                     body.status().message());
  }
  const std::string precision = request.Param("precision");
  const int64_t now = clock_.NowMillis();
  auto parsed = ParseLineProtocol(*body, precision, now);
  if (!parsed.ok()) return JsonError(400, parsed.status().message());
  // Only for a refusal: parses the lines one by one until one yields the sample.
  LineFinder line_of = [&](const std::function<bool(const model::Labels&, int64_t)>& holds) {
    int number = 0;
    for (size_t start = 0; start < body->size();) {
      const size_t end = std::min(body->find('\n', start), body->size());
      ++number;
      auto one =
          ParseLineProtocol(std::string_view(*body).substr(start, end - start), precision, now);
      start = end + 1;
      if (!one.ok()) continue;
      for (const model::Series& series : one->batch.series) {
        for (const model::Sample& sample : series.samples) {
          if (holds(series.labels, sample.timestamp_ms)) return number;
        }
      }
    }
    return 0;
  };
  return Store(std::move(parsed->batch), line_of);
}

}  // namespace vigil::web

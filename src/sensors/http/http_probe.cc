#include "sensors/http/http_probe.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <ctime>
#include <tuple>

#include "core/url.h"
#include "net/curl_multi.h"

namespace vigil::sensors::http {

using config::OptionSpec;
using config::OptionType;

namespace {

std::optional<std::string> CheckStatusPattern(const std::string& pattern) {
  bool digits = pattern.size() == 3 && std::isdigit(static_cast<unsigned char>(pattern[0])) &&
                pattern[0] >= '1' && pattern[0] <= '5';
  if (digits && std::isdigit(static_cast<unsigned char>(pattern[1])) &&
      std::isdigit(static_cast<unsigned char>(pattern[2])))
    return std::nullopt;
  if (digits && pattern.substr(1) == "xx") return std::nullopt;
  return "status code \"" + pattern + "\" is neither NNN nor Nxx (200, 2xx)";
}

// "Jan 27 12:00:00 2027 GMT", as libcurl's certificate info says it.
std::optional<double> ParseCertDate(const char* text) {
  std::tm tm{};
  const char* end = strptime(text, "%b %d %H:%M:%S %Y", &tm);
  if (end == nullptr) return std::nullopt;
  return static_cast<double>(timegm(&tm));
}

FailureReason ReasonOf(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return FailureReason::kDns;
    case CURLE_COULDNT_CONNECT:
      return FailureReason::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return FailureReason::kTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
      return FailureReason::kTls;
    default:
      return FailureReason::kHttp;
  }
}

}  // namespace

std::string_view ReasonName(FailureReason reason) {
  switch (reason) {
    case FailureReason::kNone:
      return "";
    case FailureReason::kDns:
      return "dns";
    case FailureReason::kConnect:
      return "connect";
    case FailureReason::kTimeout:
      return "timeout";
    case FailureReason::kTls:
      return "tls";
    case FailureReason::kStatus:
      return "status";
    case FailureReason::kRegex:
      return "regex";
    case FailureReason::kBodyTooLarge:
      return "body_too_large";
    case FailureReason::kHttp:
      return "http";
  }
  return "?";
}

// One target's easy handle and what its transfer has received so far.
struct HttpProbe::Transfer {
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
  static size_t OnBody(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    size_t n = size * count;
    t->received += static_cast<int64_t>(n);
    if (t->received > t->max_body_bytes) {
      t->too_large = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    if (t->keep_body) t->body.append(data, n);
    return n;
  }
  static size_t OnHeader(char*, size_t size, size_t count, void*) { return size * count; }

  CURL* easy = nullptr;
  std::string body;
  int64_t received = 0;
  int64_t max_body_bytes = 0;
  bool keep_body = false;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {};
};

SensorDescriptor Descriptor() {
  HttpProbe::Options defaults;
  auto regex = [](const config::OptionValue& value) -> std::optional<std::string> {
    RE2 re(std::get<std::string>(value), RE2::Quiet);
    if (!re.ok()) return "invalid regular expression: " + re.error();
    return std::nullopt;
  };
  SensorDescriptor d;
  d.type = "http";
  d.description =
      "Probes URLs with libcurl: success, status, phase durations, redirects, certificate "
      "expiry, body checks (blackbox_exporter's figures).";
  d.options = {
      OptionSpec{"targets", OptionType::kStrings, "URLs to probe (http:// or https://).",
                 std::nullopt},
      OptionSpec{"interval", OptionType::kDuration, "How often to probe every target.",
                 std::chrono::milliseconds(defaults.interval_ms), 0.1, 86400.0},
      OptionSpec{"timeout", OptionType::kDuration,
                 "How long one probe may take, at most the interval.",
                 std::chrono::milliseconds(defaults.timeout_ms), 0.01, 86400.0},
      OptionSpec{"method",
                 OptionType::kString,
                 "HTTP method.",
                 defaults.method,
                 std::nullopt,
                 std::nullopt,
                 {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}},
      OptionSpec{"headers", OptionType::kStrings,
                 "Request headers, each \"Name: value\" (e.g. \"Authorization: Bearer …\").",
                 config::StringList{}},
      OptionSpec{"body", OptionType::kString, "Request body (for POST, PUT, PATCH).",
                 std::string()},
      OptionSpec{"valid_status_codes", OptionType::kStrings,
                 "Status codes that count as success: \"200\", or a class such as \"2xx\".",
                 config::StringList{"2xx"}},
      OptionSpec{"follow_redirects", OptionType::kBool, "Follow 3xx redirects.", true},
      OptionSpec{"max_redirects", OptionType::kInt, "Most redirects followed.", int64_t{10}, 0.0,
                 100.0},
      OptionSpec{"tls_verify", OptionType::kBool,
                 "Verify the server's certificate and name (off for self-signed test servers).",
                 true},
      OptionSpec{"body_must_match",
                 OptionType::kString,
                 "Regular expression the body must match; empty: no check.",
                 std::string(),
                 std::nullopt,
                 std::nullopt,
                 {},
                 regex},
      OptionSpec{"body_must_not_match",
                 OptionType::kString,
                 "Regular expression the body must not match; empty: no check.",
                 std::string(),
                 std::nullopt,
                 std::nullopt,
                 {},
                 regex},
      OptionSpec{"max_body_bytes", OptionType::kInt,
                 "Largest body read; a larger one fails the probe (body_too_large).",
                 int64_t{defaults.max_body_bytes}, 0.0, 1e10},
  };
  for (OptionSpec& credential : net::CredentialOptions())
    d.options.push_back(std::move(credential));
  d.create = [](const SensorSpec& spec) -> Result<std::unique_ptr<Sensor>> {
    HttpProbe::Options options;
    options.targets = spec.options.Strings("targets");
    options.interval_ms = spec.options.Duration("interval").count();
    options.timeout_ms = spec.options.Duration("timeout").count();
    options.method = spec.options.String("method");
    options.headers = spec.options.Strings("headers");
    options.body = spec.options.String("body");
    options.valid_status_codes = spec.options.Strings("valid_status_codes");
    options.follow_redirects = spec.options.Bool("follow_redirects");
    options.max_redirects = spec.options.Int("max_redirects");
    options.tls_verify = spec.options.Bool("tls_verify");
    options.body_must_match = spec.options.String("body_must_match");
    options.body_must_not_match = spec.options.String("body_must_not_match");
    options.max_body_bytes = spec.options.Int("max_body_bytes");
    VIGIL_ASSIGN_OR_RETURN(options.credentials, net::CredentialsFrom(spec.options));
    VIGIL_ASSIGN_OR_RETURN(auto sensor, HttpProbe::Create(spec.labels, std::move(options)));
    return std::unique_ptr<Sensor>(std::move(sensor));
  };
  return d;
}

Result<std::unique_ptr<HttpProbe>> HttpProbe::Create(const config::LabelMap& labels,
                                                     Options options) {
  VIGIL_RETURN_IF_ERROR(net::CheckRequestOptions(options.targets, options.headers,
                                                 options.interval_ms, options.timeout_ms));
  for (size_t i = 0; i < options.valid_status_codes.size(); ++i) {
    if (auto problem = CheckStatusPattern(options.valid_status_codes[i]))
      return InvalidArgumentError("valid_status_codes[" + std::to_string(i) + "]: " + *problem);
  }
  std::unique_ptr<HttpProbe> probe(new HttpProbe(labels, std::move(options)));
  for (auto [key, pattern, re] :
       {std::tuple{"body_must_match", &probe->options_.body_must_match, &probe->must_match_},
        std::tuple{"body_must_not_match", &probe->options_.body_must_not_match,
                   &probe->must_not_match_}}) {
    if (pattern->empty()) continue;
    *re = std::make_unique<RE2>(*pattern, RE2::Quiet);
    if (!(*re)->ok()) {
      return InvalidArgumentError(std::string(key) +
                                  ": invalid regular expression: " + (*re)->error());
    }
  }
  return probe;
}

HttpProbe::HttpProbe(const config::LabelMap& labels, Options options)
    : options_(std::move(options)), series_(labels) {}

HttpProbe::~HttpProbe() {
  transfers_.clear();
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
  if (header_list_ != nullptr) curl_slist_free_all(static_cast<curl_slist*>(header_list_));
}

bool HttpProbe::StatusAccepted(int code) const {
  std::string text = std::to_string(code);
  for (const auto& pattern : options_.valid_status_codes) {
    if (pattern == text) return true;
    if (pattern.ends_with("xx") && text.size() == 3 && text[0] == pattern[0]) return true;
  }
  return false;
}

Result<std::vector<ProbeResult>> HttpProbe::ProbeAll() {
  if (multi_ == nullptr) {
    net::CurlInitOnce();
    multi_ = curl_multi_init();
    if (multi_ == nullptr) return UnavailableError("curl_multi_init failed");
    curl_slist* list = nullptr;
    for (const auto& header : options_.headers) list = curl_slist_append(list, header.c_str());
    header_list_ = list;
    for (size_t i = 0; i < options_.targets.size(); ++i) {
      auto t = std::make_unique<Transfer>();
      t->max_body_bytes = options_.max_body_bytes;
      t->keep_body = must_match_ != nullptr || must_not_match_ != nullptr;
      t->easy = curl_easy_init();
      if (t->easy == nullptr) return UnavailableError("curl_easy_init failed");
      CURL* e = t->easy;
      curl_easy_setopt(e, CURLOPT_URL, options_.targets[i].c_str());
      net::ApplyCredentials(e, options_.credentials);
      curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
      curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
      curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
      // Every probe measures a whole request: its own lookup, connection and handshake.
      curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
      curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
      curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, options_.follow_redirects ? 1L : 0L);
      curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options_.tls_verify ? 1L : 0L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options_.tls_verify ? 2L : 0L);
      curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
      curl_easy_setopt(e, CURLOPT_USERAGENT, "vigil-http-probe");
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
      curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
      curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
      curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
      curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
      if (options_.method == "HEAD") {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
      } else if (options_.method != "GET") {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, options_.method.c_str());
      }
      if (!options_.body.empty()) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(options_.body.size()));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, options_.body.c_str());
      }
      transfers_.push_back(std::move(t));
    }
  }
  std::vector<ProbeResult> results(transfers_.size());
  std::vector<CURL*> easy;
  for (auto& t : transfers_) {
    t->body.clear();
    t->received = 0;
    t->too_large = false;
    t->error[0] = '\0';
    easy.push_back(t->easy);
  }
  VIGIL_RETURN_IF_ERROR(net::RunTransfers(
      static_cast<CURLM*>(multi_), easy, static_cast<size_t>(options_.max_in_flight),
      [&](size_t i, CURLcode result) { Finish(*transfers_[i], result, results[i]); }));
  return results;
}

void HttpProbe::Finish(Transfer& t, int curl_code, ProbeResult& r) {
  CURL* e = t.easy;
  auto seconds = [&](CURLINFO info) {
    curl_off_t us = 0;
    curl_easy_getinfo(e, info, &us);
    return static_cast<double>(us) / 1e6;
  };
  double lookup = seconds(CURLINFO_NAMELOOKUP_TIME_T);
  double connect = seconds(CURLINFO_CONNECT_TIME_T);
  double app_connect = seconds(CURLINFO_APPCONNECT_TIME_T);
  double first_byte = seconds(CURLINFO_STARTTRANSFER_TIME_T);
  double total = seconds(CURLINFO_TOTAL_TIME_T);
  long code = 0, redirects = 0, version = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
  curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
  curl_off_t length = -1;
  curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  const char* scheme = nullptr;
  curl_easy_getinfo(e, CURLINFO_SCHEME, &scheme);

  r.duration = total;
  r.status_code = static_cast<int>(code);
  r.redirects = static_cast<int>(redirects);
  r.content_length = static_cast<double>(length);
  r.ssl = scheme != nullptr && strcasecmp(scheme, "https") == 0;
  switch (version) {
    case CURL_HTTP_VERSION_1_0:
      r.http_version = 10;
      break;
    case CURL_HTTP_VERSION_1_1:
      r.http_version = 11;
      break;
    case CURL_HTTP_VERSION_2_0:
      r.http_version = 20;
      break;
    case CURL_HTTP_VERSION_3:
      r.http_version = 30;
      break;
    default:
      r.http_version = 0;
  }
  // blackbox_exporter's phases; each 0 when the probe did not get that far.
  double connected = app_connect > 0 ? app_connect : connect;
  r.resolve = lookup;
  r.connect = connect > 0 ? connect - lookup : 0;
  r.tls = app_connect > 0 ? app_connect - connect : 0;
  r.processing = first_byte > 0 ? first_byte - connected : 0;
  r.transfer = first_byte > 0 ? total - first_byte : 0;

  if (r.ssl) {
    curl_certinfo* certs = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_CERTINFO, &certs) == CURLE_OK && certs != nullptr) {
      for (int i = 0; i < certs->num_of_certs; ++i) {
        for (curl_slist* item = certs->certinfo[i]; item != nullptr; item = item->next) {
          if (std::strncmp(item->data, "Expire date:", 12) != 0) continue;
          auto expiry = ParseCertDate(item->data + 12);
          if (expiry && (!r.earliest_cert_expiry || *expiry < *r.earliest_cert_expiry))
            r.earliest_cert_expiry = expiry;
        }
      }
    }
  }

  auto code_result = static_cast<CURLcode>(curl_code);
  if (code_result != CURLE_OK) {
    r.reason = t.too_large ? FailureReason::kBodyTooLarge : ReasonOf(code_result);
    // Out of time before the name was resolved: the resolver did not answer.
    if (code_result == CURLE_OPERATION_TIMEDOUT && lookup == 0) r.reason = FailureReason::kDns;
    r.error = net::TransferError(t.error, code_result);
    return;
  }
  if (!StatusAccepted(r.status_code)) {
    r.reason = FailureReason::kStatus;
    r.error = "status " + std::to_string(r.status_code) + " is not accepted";
    return;
  }
  if ((must_match_ && !RE2::PartialMatch(t.body, *must_match_)) ||
      (must_not_match_ && RE2::PartialMatch(t.body, *must_not_match_))) {
    r.reason = FailureReason::kRegex;
    r.failed_due_to_regex = true;
    r.error = "body check failed";
    return;
  }
  r.success = true;
}

Status HttpProbe::Collect(int64_t now_ms, model::BatchBuilder& out) {
  VIGIL_ASSIGN_OR_RETURN(std::vector<ProbeResult> results, ProbeAll());
  std::vector<model::TargetState> states;
  for (size_t i = 0; i < results.size(); ++i) {
    const ProbeResult& r = results[i];
    const std::string target = UrlWithoutUserinfo(options_.targets[i]);
    model::TargetState& state = states.emplace_back();
    state.url = target;
    if (const model::Labels* labels = series_.Get("probe_success", {{"target", target}}))
      state.labels = labels->With(model::kMetricNameLabel, "");
    state.health = r.success ? "up" : "down";
    if (!r.success) state.last_error = std::string(ReasonName(r.reason)) + ": " + r.error;
    state.last_scrape_ms = now_ms;
    state.last_scrape_duration_seconds = r.duration;
    auto add = [&](std::string_view metric, double value, std::string_view label = {},
                   std::string_view label_value = {}) {
      const model::Labels* labels =
          label.empty() ? series_.Get(metric, {{"target", target}})
                        : series_.Get(metric, {{"target", target}, {label, label_value}});
      if (labels != nullptr) out.Add(*labels, {now_ms, value});
    };
    add("probe_success", r.success ? 1 : 0);
    add("probe_duration_seconds", r.duration);
    add("probe_http_status_code", r.status_code);
    add("probe_http_content_length", r.content_length);
    add("probe_http_redirects", r.redirects);
    add("probe_http_ssl", r.ssl ? 1 : 0);
    add("probe_http_version", r.http_version / 10.0);
    add("probe_failed_due_to_regex", r.failed_due_to_regex ? 1 : 0);
    add("probe_http_duration_seconds", r.resolve, "phase", "resolve");
    add("probe_http_duration_seconds", r.connect, "phase", "connect");
    add("probe_http_duration_seconds", r.tls, "phase", "tls");
    add("probe_http_duration_seconds", r.processing, "phase", "processing");
    add("probe_http_duration_seconds", r.transfer, "phase", "transfer");
    if (r.earliest_cert_expiry) add("probe_ssl_earliest_cert_expiry", *r.earliest_cert_expiry);
    // A state set: 1 for the reason of this failure, 0 for the others this target has had.
    auto& seen = reasons_seen_[target];
    if (!r.success) seen.insert(r.reason);
    for (FailureReason reason : seen) {
      add("probe_failure_reason", reason == r.reason ? 1 : 0, "reason", ReasonName(reason));
    }
    if (!r.success) spdlog::debug("probe {}: {}: {}", target, ReasonName(r.reason), r.error);
  }
  {
    MutexLock lock(report_mu_);
    states_ = std::move(states);
  }
  series_.EndCollection();
  return OkStatus();
}

std::vector<model::MetricMetadata> HttpProbe::Metadata() const {
  return {
      {"probe_success", "gauge", "Displays whether or not the probe was a success", ""},
      {"probe_duration_seconds", "gauge", "Returns how long the probe took to complete in seconds",
       ""},
      {"probe_http_status_code", "gauge", "Response HTTP status code", ""},
      {"probe_http_content_length", "gauge", "Length of http content response", ""},
      {"probe_http_redirects", "gauge", "The number of redirects", ""},
      {"probe_http_ssl", "gauge", "Indicates if SSL was used for the final redirect", ""},
      {"probe_http_version", "gauge", "Returns the version of HTTP of the probe response", ""},
      {"probe_failed_due_to_regex", "gauge", "Indicates if probe failed due to regex", ""},
      {"probe_http_duration_seconds", "gauge",
       "Duration of http request by phase, summed over all redirects", ""},
      {"probe_ssl_earliest_cert_expiry", "gauge", "Returns last SSL chain expiry in unixtime", ""},
      {"probe_failure_reason", "gauge",
       "Why the last probe failed: 1 for its reason, 0 for the target's earlier ones (vigil)", ""},
  };
}

std::vector<model::TargetState> HttpProbe::Targets() const {
  MutexLock lock(report_mu_);
  return states_;
}

}  // namespace vigil::sensors::http

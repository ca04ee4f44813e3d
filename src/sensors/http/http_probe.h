// The `http` sensor: probes one or many URLs with libcurl's multi interface, all of a
// sensor's targets concurrently, on the sensor's interval and within its timeout (a URL
// that needs its own interval or timeout gets its own [[sensors]] table). Method, headers,
// body, accepted status codes, redirects, TLS verification and a regular expression the
// body must (or must not) match are options. The figures are shaped like
// blackbox_exporter's — probe_success, probe_duration_seconds, probe_http_status_code,
// probe_http_duration_seconds{phase}, probe_http_content_length, probe_http_redirects,
// probe_ssl_earliest_cert_expiry, probe_failed_due_to_regex — each labelled
// target="<url>"; why a probe failed (dns, connect, timeout, tls, status, regex …) is
// probe_failure_reason{target,reason}, a state set. A failing probe is a reading, not an
// error of the sensor. docs/sensors.md#http.
//
// Thread safety: one thread at a time (as every Sensor); Metadata and Targets from any
// thread. libcurl is set up once per
// process, on first use.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "net/credentials.h"
#include "sensors/sensor.h"
#include "sensors/series_cache.h"

namespace vigil::sensors::http {

SensorDescriptor Descriptor();

// Why a probe failed; the value of the reason label.
enum class FailureReason {
  kNone,
  kDns,
  kConnect,
  kTimeout,
  kTls,
  kStatus,
  kRegex,
  kBodyTooLarge,
  kHttp
};
std::string_view ReasonName(FailureReason reason);

// What one probe of one target found. Durations in seconds; -1 where unknown.
struct ProbeResult {
  bool success = false;
  FailureReason reason = FailureReason::kNone;
  std::string error;  // libcurl's words, for the log
  double duration = 0;
  int status_code = 0;
  double resolve = 0, connect = 0, tls = 0, processing = 0, transfer = 0;
  double content_length = -1;
  int redirects = 0;
  int http_version = 0;  // 10, 11, 20, 30; 0 when no response
  bool ssl = false;
  std::optional<double> earliest_cert_expiry;  // seconds since the epoch
  bool failed_due_to_regex = false;
};

class HttpProbe final : public Sensor {
 public:
  struct Options {
    std::vector<std::string> targets;  // the `target` label is each without its userinfo
    net::Credentials credentials;
    int64_t interval_ms = 10'000;
    int64_t timeout_ms = 5'000;
    std::string method = "GET";
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    std::vector<std::string> valid_status_codes = {"2xx"};  // "200" or "2xx"
    bool follow_redirects = true;
    int64_t max_redirects = 10;
    bool tls_verify = true;
    std::string body_must_match;      // empty: no check
    std::string body_must_not_match;  // empty: no check
    int64_t max_body_bytes = 10 << 20;
    int64_t max_in_flight = 256;  // probes of one collection running at once
  };
  // InvalidArgument for a URL that is not http(s), a header without ':', a status code
  // pattern that is not "NNN" or "Nxx", a regular expression that does not compile, or a
  // timeout longer than the interval.
  static Result<std::unique_ptr<HttpProbe>> Create(const config::LabelMap& labels, Options options);
  ~HttpProbe() override;

  int64_t interval_ms() const override { return options_.interval_ms; }
  // Probes every target; OK unless libcurl itself could not run.
  Status Collect(int64_t now_ms, model::BatchBuilder& out) override;

  // Probes the targets and returns what each found (Collect's work without the series).
  Result<std::vector<ProbeResult>> ProbeAll();

  // The probe_* families: type and what each means.
  std::vector<model::MetricMetadata> Metadata() const override;
  // Each target as of its last probe: up when the probe succeeded, else down with why.
  std::vector<model::TargetState> Targets() const override;

 private:
  struct Transfer;
  HttpProbe(const config::LabelMap& labels, Options options);
  bool StatusAccepted(int code) const;
  void Finish(Transfer& transfer, int curl_code, ProbeResult& result);

  Options options_;
  std::unique_ptr<RE2> must_match_, must_not_match_;
  SeriesCache series_;
  std::vector<std::unique_ptr<Transfer>> transfers_;  // one per target, made on first use
  void* multi_ = nullptr;                             // CURLM*
  void* header_list_ = nullptr;                       // curl_slist*
  std::map<std::string, std::set<FailureReason>> reasons_seen_;
  mutable Mutex report_mu_;
  std::vector<model::TargetState> states_ VIGIL_GUARDED_BY(report_mu_);
};

}  // namespace vigil::sensors::http

// The `scrape` sensor: pulls Prometheus text (0.0.4) or OpenMetrics pages from /metrics
// endpoints — node_exporter, a Go service, vigil itself — with libcurl, all of a sensor's
// targets concurrently on its interval, and parses them with our own parser
// (exposition.h). Every sample gets job="<job>" and instance="<host:port>" (plus the path
// when two targets share a host:port; a scraped
// label of the same name is kept as exported_<name>, as Prometheus does), plus
// up, scrape_duration_seconds and scrape_samples_scraped per target. A scrape is all or
// nothing: a malformed page (its line number logged), a body over the size limit or more
// samples than the sample limit give up 0 and no samples. docs/sensors.md#scrape.
//
// Thread safety: one thread at a time (as every Sensor); Metadata and Targets from any.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "net/credentials.h"
#include "sensors/sensor.h"
#include "sensors/series_cache.h"

namespace vigil::sensors::scrape {

SensorDescriptor Descriptor();

// What one scrape of one target found.
struct ScrapeResult {
  bool up = false;
  std::string error;  // why not, for the log: "line 12: …", "body larger than …"
  double duration = 0;
  size_t samples = 0;
};

class ScrapeSensor final : public Sensor {
 public:
  struct Options {
    std::vector<std::string> targets;  // URLs; labels and logs show them without userinfo
    net::Credentials credentials;
    std::string job;
    int64_t interval_ms = 15'000;
    int64_t timeout_ms = 10'000;
    int64_t sample_limit = 50'000;       // 0: none
    int64_t body_size_limit = 50 << 20;  // bytes, after decompression
    bool honor_timestamps = true;
    std::vector<std::string> headers;  // "Name: value"
    bool tls_verify = true;
  };
  // InvalidArgument for a URL that is not http(s), an empty job, a header without ':' or a
  // timeout longer than the interval.
  static Result<std::unique_ptr<ScrapeSensor>> Create(const config::LabelMap& labels,
                                                      Options options);
  ~ScrapeSensor() override;

  int64_t interval_ms() const override { return options_.interval_ms; }
  // Scrapes every target; a failed target is up 0, not an error of the sensor.
  Status Collect(int64_t now_ms, model::BatchBuilder& out) override;
  // The outcome of each target in the last Collect.
  const std::vector<ScrapeResult>& last_results() const { return results_; }
  // The # TYPE / # HELP / # UNIT of every target's last successful scrape.
  std::vector<model::MetricMetadata> Metadata() const override;
  // Each target's health, last error, time and duration of its last scrape.
  std::vector<model::TargetState> Targets() const override;

 private:
  struct Target;
  ScrapeSensor(const config::LabelMap& labels, Options options);
  Status Prepare();
  void Finish(Target& target, int curl_code, int64_t now_ms, model::BatchBuilder& out,
              ScrapeResult& result);

  Options options_;
  config::LabelMap base_labels_;
  SeriesCache series_;
  std::vector<std::unique_ptr<Target>> targets_;
  void* multi_ = nullptr;        // CURLM*
  void* header_list_ = nullptr;  // curl_slist*
  std::vector<ScrapeResult> results_;
  mutable Mutex report_mu_;  // guards targets_' growth and each Target's report
};

// "host:port" of a URL, as Prometheus's instance label ("http://a:9100/metrics" -> "a:9100";
// the scheme's port when the URL has none).
std::string InstanceOf(const std::string& url);

}  // namespace vigil::sensors::scrape

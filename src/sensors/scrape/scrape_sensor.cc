#include "sensors/scrape/scrape_sensor.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>

#include "core/url.h"
#include "net/curl_multi.h"
#include "sensors/scrape/exposition.h"

namespace vigil::sensors::scrape {

using config::OptionSpec;
using config::OptionType;

// Prometheus's own preference: OpenMetrics first, then the 0.0.4 text format.
constexpr char kAccept[] =
    "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

struct ScrapeSensor::Target {
  ~Target() {
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
  static size_t OnBody(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<Target*>(self);
    size_t n = size * count;
    if (static_cast<int64_t>(t->body.size() + n) > t->limit) {
      t->too_large = true;
      return 0;
    }
    t->body.append(data, n);
    return n;
  }

  std::string url;
  std::string instance;
  CURL* easy = nullptr;
  std::string body;
  int64_t limit = 0;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {};
  std::string last_error;  // logged at warning level only when it changes
  // Under report_mu_: what Targets and Metadata report.
  model::TargetState state;
  std::map<std::string, scrape::Metadata> metadata;
};

std::string InstanceOf(const std::string& url) {
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "http" : url.substr(0, scheme_end);
  size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (size_t at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  bool has_port = host.starts_with('[') ? host.find("]:") != std::string::npos
                                        : host.find(':') != std::string::npos;
  if (!has_port) host += scheme == "https" ? ":443" : ":80";
  return host;
}

SensorDescriptor Descriptor() {
  ScrapeSensor::Options defaults;
  SensorDescriptor d;
  d.type = "scrape";
  d.description =
      "Pulls Prometheus text or OpenMetrics /metrics endpoints (node_exporter, Go services, "
      "vigil itself).";
  d.options = {
      OptionSpec{"targets", OptionType::kStrings,
                 "URLs to scrape (http:// or https://, e.g. \"http://127.0.0.1:9100/metrics\").",
                 std::nullopt},
      OptionSpec{"job", OptionType::kString, "The job label; empty: the sensor's name.",
                 std::string()},
      OptionSpec{"interval", OptionType::kDuration, "How often to scrape every target.",
                 std::chrono::milliseconds(defaults.interval_ms), 0.1, 86400.0},
      OptionSpec{"timeout", OptionType::kDuration,
                 "How long one scrape may take, at most the interval.",
                 std::chrono::milliseconds(defaults.timeout_ms), 0.01, 86400.0},
      OptionSpec{"sample_limit", OptionType::kInt,
                 "Most samples a page may have; more fails the scrape (up 0). 0: no limit.",
                 int64_t{defaults.sample_limit}, 0.0, 1e9},
      OptionSpec{"body_size_limit", OptionType::kInt,
                 "Largest page in bytes (after decompression); larger fails the scrape.",
                 int64_t{defaults.body_size_limit}, 1024.0, 1e10},
      OptionSpec{"honor_timestamps", OptionType::kBool,
                 "Keep the timestamps the page gives; off: every sample at the scrape's time.",
                 true},
      OptionSpec{"headers", OptionType::kStrings,
                 "Request headers, each \"Name: value\" (e.g. \"Authorization: Bearer …\").",
                 config::StringList{}},
      OptionSpec{"tls_verify", OptionType::kBool, "Verify the server's certificate and name.",
                 true},
  };
  for (OptionSpec& credential : net::CredentialOptions()) {
    d.options.push_back(std::move(credential));
  }
  d.create = [](const SensorSpec& spec) -> Result<std::unique_ptr<Sensor>> {
    ScrapeSensor::Options options;
    options.targets = spec.options.Strings("targets");
    options.job = spec.options.String("job").empty() ? spec.name : spec.options.String("job");
    options.interval_ms = spec.options.Duration("interval").count();
    options.timeout_ms = spec.options.Duration("timeout").count();
    options.sample_limit = spec.options.Int("sample_limit");
    options.body_size_limit = spec.options.Int("body_size_limit");
    options.honor_timestamps = spec.options.Bool("honor_timestamps");
    options.headers = spec.options.Strings("headers");
    options.tls_verify = spec.options.Bool("tls_verify");
    VIGIL_ASSIGN_OR_RETURN(options.credentials, net::CredentialsFrom(spec.options));
    VIGIL_ASSIGN_OR_RETURN(auto sensor, ScrapeSensor::Create(spec.labels, std::move(options)));
    return std::unique_ptr<Sensor>(std::move(sensor));
  };
  return d;
}

Result<std::unique_ptr<ScrapeSensor>> ScrapeSensor::Create(const config::LabelMap& labels,
                                                           Options options) {
  VIGIL_RETURN_IF_ERROR(net::CheckRequestOptions(options.targets, options.headers,
                                                 options.interval_ms, options.timeout_ms));
  if (options.job.empty()) return InvalidArgumentError("job: must not be empty");
  return std::unique_ptr<ScrapeSensor>(new ScrapeSensor(labels, std::move(options)));
}

ScrapeSensor::ScrapeSensor(const config::LabelMap& labels, Options options)
    : options_(std::move(options)), base_labels_(labels), series_(labels) {}

ScrapeSensor::~ScrapeSensor() {
  targets_.clear();
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
  if (header_list_ != nullptr) curl_slist_free_all(static_cast<curl_slist*>(header_list_));
}

Status ScrapeSensor::Prepare() {
  net::CurlInitOnce();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) return UnavailableError("curl_multi_init failed");
  curl_slist* list = curl_slist_append(nullptr, kAccept);
  for (const auto& header : options_.headers) list = curl_slist_append(list, header.c_str());
  header_list_ = list;
  std::map<std::string, int> per_instance;
  for (const auto& url : options_.targets) ++per_instance[InstanceOf(UrlWithoutUserinfo(url))];
  for (const auto& request_url : options_.targets) {
    const std::string url = UrlWithoutUserinfo(request_url);
    auto t = std::make_unique<Target>();
    t->url = url;
    t->instance = InstanceOf(url);
    // Two targets on one host:port (different paths) are told apart by their path.
    if (per_instance[t->instance] > 1) {
      size_t path = url.find('/', url.find("://") + 3);
      if (path != std::string::npos) t->instance += url.substr(path);
    }
    t->limit = options_.body_size_limit;
    t->easy = curl_easy_init();
    if (t->easy == nullptr) return UnavailableError("curl_easy_init failed");
    CURL* e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, request_url.c_str());
    net::ApplyCredentials(e, options_.credentials);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // gzip and deflate, decoded
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options_.tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options_.tls_verify ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "vigil-scrape");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Target::OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    MutexLock lock(report_mu_);
    targets_.push_back(std::move(t));
  }
  return OkStatus();
}

Status ScrapeSensor::Collect(int64_t now_ms, model::BatchBuilder& out) {
  if (multi_ == nullptr) VIGIL_RETURN_IF_ERROR(Prepare());
  results_.assign(targets_.size(), ScrapeResult{});
  std::vector<CURL*> easy;
  for (auto& t : targets_) {
    t->body.clear();
    t->too_large = false;
    t->error[0] = '\0';
    easy.push_back(t->easy);
  }
  VIGIL_RETURN_IF_ERROR(net::RunTransfers(
      static_cast<CURLM*>(multi_), easy, 256,
      [&](size_t i, CURLcode result) { Finish(*targets_[i], result, now_ms, out, results_[i]); }));
  series_.EndCollection();
  return OkStatus();
}

void ScrapeSensor::Finish(Target& t, int curl_code, int64_t now_ms, model::BatchBuilder& out,
                          ScrapeResult& result) {
  curl_off_t micros = 0;
  curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &micros);
  result.duration = static_cast<double>(micros) / 1e6;
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  const char* content_type = nullptr;
  curl_easy_getinfo(t.easy, CURLINFO_CONTENT_TYPE, &content_type);

  auto code = static_cast<CURLcode>(curl_code);
  if (code != CURLE_OK) {
    result.error = t.too_large ? "body larger than " + std::to_string(t.limit) + " bytes"
                               : net::TransferError(t.error, code);
  } else if (status != 200) {
    result.error = "server answered " + std::to_string(status);
  }
  std::vector<std::pair<model::Labels, model::Sample>> samples;
  std::map<std::string, scrape::Metadata> metadata;
  if (result.error.empty()) {
    scrape::ParseLimits limits;
    limits.max_samples = static_cast<size_t>(options_.sample_limit);
    Format format = FormatFromContentType(content_type != nullptr ? content_type : "");
    std::vector<model::Label> pairs;
    Status parsed = ParseExposition(
        t.body, format, limits,
        [&](ScrapedSample&& s) {
          pairs.clear();
          for (const auto& label : s.labels) {
            bool taken = label.name == "job" || label.name == "instance" ||
                         base_labels_.count(label.name) > 0;
            pairs.push_back(
                {taken ? fmt::format("exported_{}", label.name) : std::string(label.name),
                 std::string(label.value)});
          }
          pairs.push_back({"job", options_.job});
          pairs.push_back({"instance", t.instance});
          for (const auto& [name, value] : base_labels_) pairs.push_back({name, value});
          auto labels = model::Labels::FromPairs(pairs);
          if (!labels.ok()) return;  // exported_x clashing with a scraped exported_x: dropped
          int64_t timestamp =
              options_.honor_timestamps && s.timestamp_ms ? *s.timestamp_ms : now_ms;
          samples.push_back({std::move(labels).value(), {timestamp, s.value}});
        },
        &metadata);
    if (!parsed.ok()) result.error = parsed.message();
  }
  result.up = result.error.empty();
  if (result.up) {
    result.samples = samples.size();
    for (const auto& [labels, sample] : samples) out.Add(labels, sample);
  }
  if (result.error != t.last_error) {
    if (result.up) {
      spdlog::info("scrape {}: up again", t.url);
    } else {
      spdlog::warn("scrape {}: {}", t.url, result.error);
    }
    t.last_error = result.error;
  }
  auto add = [&](std::string_view metric, double value) {
    if (const model::Labels* labels =
            series_.Get(metric, {{"instance", t.instance}, {"job", options_.job}}))
      out.Add(*labels, {now_ms, value});
  };
  add("up", result.up ? 1 : 0);
  add("scrape_duration_seconds", result.duration);
  add("scrape_samples_scraped", static_cast<double>(result.samples));

  MutexLock lock(report_mu_);
  if (t.state.url.empty()) {
    t.state.url = t.url;
    if (const model::Labels* up =
            series_.Get("up", {{"instance", t.instance}, {"job", options_.job}}))
      t.state.labels = up->With(model::kMetricNameLabel, "");
  }
  t.state.health = result.up ? "up" : "down";
  t.state.last_error = result.error;
  t.state.last_scrape_ms = now_ms;
  t.state.last_scrape_duration_seconds = result.duration;
  if (result.up) t.metadata = std::move(metadata);
}

std::vector<model::MetricMetadata> ScrapeSensor::Metadata() const {
  MutexLock lock(report_mu_);
  std::vector<model::MetricMetadata> out;
  for (const auto& t : targets_) {
    for (const auto& [metric, m] : t->metadata) out.push_back({metric, m.type, m.help, m.unit});
  }
  return out;
}

std::vector<model::TargetState> ScrapeSensor::Targets() const {
  MutexLock lock(report_mu_);
  std::vector<model::TargetState> out;
  for (const auto& t : targets_) {
    if (!t->state.url.empty()) out.push_back(t->state);
  }
  return out;
}

}  // namespace vigil::sensors::scrape

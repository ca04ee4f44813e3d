#include "sensors/scrape/scrape_sensor.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "testing/child_process.h"
#include "testing/http_stub.h"

namespace vigil::sensors::scrape {
namespace {

using testing::HttpStub;
using testing::StubRequest;
using testing::StubResponse;

constexpr int64_t kNow = 1'700'000'000'000;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/src/sensors/scrape/testdata/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::unique_ptr<HttpStub> Server(StubRequest* seen = nullptr) {
  return *HttpStub::Start([seen](const StubRequest& request) {
    if (seen != nullptr) *seen = request;
    StubResponse r;
    r.headers = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}};
    if (request.target == "/node") {
      r.body = Fixture("node_exporter.prom");
    } else if (request.target == "/openmetrics") {
      r.headers = {{"Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8"}};
      r.body = Fixture("openmetrics.txt");
    } else if (request.target == "/conflict") {
      r.body = "requests_total{job=\"inner\",path=\"/\"} 3 1699999999000\n";
    } else if (request.target == "/malformed") {
      r.body = "ok_metric 1\nsecond 2\nbroken{ 3\n";
    } else {
      r.status = 404;
    }
    return r;
  });
}

struct Scraped {
  std::vector<ScrapeResult> results;
  std::map<std::string, model::Sample> series;  // by Labels::ToString()
  double Value(const std::string& key) const {
    auto it = series.find(key);
    EXPECT_NE(it, series.end()) << key;
    return it == series.end() ? -1 : it->second.value;
  }
};

Scraped Scrape(ScrapeSensor::Options options, config::LabelMap labels = {{"agent", "a"}}) {
  if (options.job.empty()) options.job = "node";
  options.timeout_ms = 3000;
  auto sensor = ScrapeSensor::Create(labels, options);
  EXPECT_TRUE(sensor.ok()) << sensor.status().ToString();
  model::BatchBuilder out;
  EXPECT_TRUE((*sensor)->Collect(kNow, out).ok());
  Scraped scraped;
  scraped.results = (*sensor)->last_results();
  for (const auto& s : out.Take().series) {
    EXPECT_EQ(s.samples.size(), 1u);
    scraped.series[s.labels.ToString()] = s.samples[0];
  }
  return scraped;
}

TEST(ScrapeSensor, ScrapesANodeExporterPage) {
  StubRequest seen;
  auto server = Server(&seen);
  std::string instance = "127.0.0.1:" + std::to_string(server->port());
  Scraped s = Scrape({.targets = {server->Url("/node")}});
  ASSERT_EQ(s.results.size(), 1u);
  EXPECT_TRUE(s.results[0].up) << s.results[0].error;
  EXPECT_GT(s.results[0].samples, 400u);
  EXPECT_EQ(s.series.size(), s.results[0].samples + 3);
  std::string extra = "agent=\"a\",instance=\"" + instance + "\",job=\"node\"";
  EXPECT_EQ(s.Value("up{" + extra + "}"), 1);
  EXPECT_EQ(s.Value("scrape_samples_scraped{" + extra + "}"), s.results[0].samples);
  EXPECT_GT(s.Value("scrape_duration_seconds{" + extra + "}"), 0);
  EXPECT_EQ(s.Value("node_load1{" + extra + "}"), 0.83);
  EXPECT_EQ(s.series["up{" + extra + "}"].timestamp_ms, kNow);
  EXPECT_NE(seen.headers["accept"].find("application/openmetrics-text"), std::string::npos);
}

TEST(ScrapeSensor, OpenMetricsPageKeepsItsTimestamps) {
  auto server = Server();
  Scraped s = Scrape({.targets = {server->Url("/openmetrics")}});
  ASSERT_TRUE(s.results[0].up) << s.results[0].error;
  std::string extra = ",instance=\"127.0.0.1:" + std::to_string(server->port()) + "\",job=\"node\"";
  EXPECT_EQ(s.Value("go_goroutines{agent=\"a\"" + extra + "}"), 69);
  EXPECT_EQ(s.Value("foo_bucket{agent=\"a\"" + extra + ",le=\"+Inf\"}"), 17);
}

TEST(ScrapeSensor, ScrapedJobLabelBecomesExportedJob) {
  auto server = Server();
  Scraped s = Scrape({.targets = {server->Url("/conflict")}, .honor_timestamps = true});
  std::string key = "requests_total{agent=\"a\",exported_job=\"inner\",instance=\"127.0.0.1:" +
                    std::to_string(server->port()) + "\",job=\"node\",path=\"/\"}";
  EXPECT_EQ(s.Value(key), 3);
  EXPECT_EQ(s.series[key].timestamp_ms, 1699999999000);
  Scraped ignored = Scrape({.targets = {server->Url("/conflict")}, .honor_timestamps = false});
  EXPECT_EQ(ignored.series[key].timestamp_ms, kNow);
}

TEST(ScrapeSensor, MalformedPageIsUpZeroWithTheLineAndNoSamples) {
  auto server = Server();
  Scraped s = Scrape({.targets = {server->Url("/malformed")}});
  EXPECT_FALSE(s.results[0].up);
  EXPECT_NE(s.results[0].error.find("line 3"), std::string::npos) << s.results[0].error;
  EXPECT_EQ(s.series.size(), 3u);  // up, scrape_duration_seconds, scrape_samples_scraped
  std::string extra =
      "{agent=\"a\",instance=\"127.0.0.1:" + std::to_string(server->port()) + "\",job=\"node\"}";
  EXPECT_EQ(s.Value("up" + extra), 0);
  EXPECT_EQ(s.Value("scrape_samples_scraped" + extra), 0);
}

TEST(ScrapeSensor, LimitsFailTheScrape) {
  auto server = Server();
  Scraped s = Scrape({.targets = {server->Url("/node")}, .sample_limit = 100});
  EXPECT_FALSE(s.results[0].up);
  EXPECT_EQ(s.series.size(), 3u);
  s = Scrape({.targets = {server->Url("/node")}, .body_size_limit = 4096});
  EXPECT_FALSE(s.results[0].up);
  EXPECT_NE(s.results[0].error.find("larger than 4096"), std::string::npos);
}

TEST(ScrapeSensor, UnreachableAndMissingTargetsAreDown) {
  auto server = Server();
  uint16_t closed = testing::FreeLoopbackPort();
  Scraped s = Scrape({.targets = {server->Url("/nothing-here"),
                                  "http://127.0.0.1:" + std::to_string(closed) + "/metrics",
                                  server->Url("/node")}});
  ASSERT_EQ(s.results.size(), 3u);
  EXPECT_FALSE(s.results[0].up);
  EXPECT_EQ(s.results[0].error, "server answered 404");
  EXPECT_FALSE(s.results[1].up);
  EXPECT_TRUE(s.results[2].up);  // one bad target does not spoil the others
  // Two targets on one host:port: the instance label has the path too.
  std::string instance = "127.0.0.1:" + std::to_string(server->port());
  EXPECT_EQ(s.Value("up{agent=\"a\",instance=\"" + instance + "/node\",job=\"node\"}"), 1);
  EXPECT_EQ(s.Value("up{agent=\"a\",instance=\"" + instance + "/nothing-here\",job=\"node\"}"), 0);
}

TEST(ScrapeSensor, InstanceIsHostAndPort) {
  EXPECT_EQ(InstanceOf("http://a:9100/metrics"), "a:9100");
  EXPECT_EQ(InstanceOf("https://example.org/metrics"), "example.org:443");
  EXPECT_EQ(InstanceOf("http://user:pw@host/m"), "host:80");
  EXPECT_EQ(InstanceOf("http://[::1]:9090/metrics"), "[::1]:9090");
  EXPECT_EQ(InstanceOf("http://[::1]/metrics"), "[::1]:80");
}

TEST(ScrapeSensor, BadOptionsAreRejected) {
  EXPECT_FALSE(ScrapeSensor::Create({}, {.targets = {"ftp://x/"}, .job = "j"}).ok());
  EXPECT_FALSE(ScrapeSensor::Create({}, {.targets = {}, .job = "j"}).ok());
  EXPECT_FALSE(
      ScrapeSensor::Create({}, {.targets = {"http://x/"}, .job = "j", .timeout_ms = 60'000}).ok());
  EXPECT_FALSE(ScrapeSensor::Create({}, {.targets = {"http://x/"}, .job = ""}).ok());
}

}  // namespace
}  // namespace vigil::sensors::scrape

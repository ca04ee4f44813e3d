#include "sensors/scrape/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

namespace vigil::sensors::scrape {
namespace {

using model::Labels;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/src/sensors/scrape/testdata/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<std::vector<ScrapedSample>> ParseAll(std::string_view body, Format format,
                                            std::map<std::string, Metadata>* metadata = nullptr,
                                            size_t limit = 0) {
  std::vector<ScrapedSample> out;
  Status status = ParseExposition(
      body, format, {.max_samples = limit}, [&](ScrapedSample&& s) { out.push_back(std::move(s)); },
      metadata);
  if (!status.ok()) return status;
  return out;
}

TEST(Exposition, ReadsARealNodeExporterPage) {
  const std::string page = Fixture("node_exporter.prom");
  std::map<std::string, Metadata> metadata;
  auto samples = ParseAll(page, Format::kPrometheusText, &metadata);
  ASSERT_TRUE(samples.ok()) << samples.status().ToString();
  size_t lines = 0;
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) lines += !line.empty() && line[0] != '#';
  EXPECT_EQ(samples->size(), lines);
  EXPECT_EQ(metadata["node_cpu_seconds_total"].type, "counter");
  EXPECT_EQ(metadata["node_load1"].type, "gauge");
  EXPECT_FALSE(metadata["node_load1"].help.empty());
  bool found = false;
  for (const auto& s : *samples) {
    if (s.labels.MetricName() == "node_cpu_seconds_total" && s.labels.Get("cpu") == "0" &&
        s.labels.Get("mode") == "idle") {
      found = true;
      EXPECT_GT(s.value, 0);
    }
  }
  EXPECT_TRUE(found);
}

TEST(Exposition, OpenMetricsWithUnitsExemplarsEscapesAndSpecialValues) {
  std::map<std::string, Metadata> metadata;
  auto samples = ParseAll(Fixture("openmetrics.txt"), Format::kOpenMetrics, &metadata);
  ASSERT_TRUE(samples.ok()) << samples.status().ToString();
  EXPECT_EQ(samples->size(), 15u);
  EXPECT_EQ(metadata["acme_http_router_request_seconds"].unit, "seconds");
  EXPECT_EQ(metadata["foo"].type, "histogram");
  const ScrapedSample& bucket = (*samples)[7];  // foo_bucket{le="0.1"} 8 # exemplar
  EXPECT_EQ(bucket.labels, Labels::Of({{"__name__", "foo_bucket"}, {"le", "0.1"}}));
  EXPECT_EQ(bucket.value, 8);
  const ScrapedSample& kitchen = (*samples)[13];
  EXPECT_EQ(kitchen.labels.Get("room"), "kitchen \"main\"");
  EXPECT_EQ(kitchen.labels.Get("note"), "a\\b\nc");
  EXPECT_TRUE(std::isnan(kitchen.value));
  EXPECT_EQ(kitchen.timestamp_ms, 1'520'879'607'789);  // seconds in OpenMetrics
  EXPECT_EQ((*samples)[14].value, -INFINITY);
}

TEST(Exposition, TextFormatTimestampsAreMilliseconds) {
  auto samples =
      ParseAll("up{job=\"x\"} 1 1700000000123\nup{job=\"y\"} +Inf\n", Format::kPrometheusText);
  ASSERT_TRUE(samples.ok());
  EXPECT_EQ((*samples)[0].timestamp_ms, 1'700'000'000'123);
  EXPECT_FALSE((*samples)[1].timestamp_ms.has_value());
  EXPECT_EQ((*samples)[1].value, INFINITY);
}

TEST(Exposition, MalformedLinesNameTheirLine) {
  struct Case {
    const char* body;
    Format format;
    const char* error;
  };
  const Case cases[] = {
      {"a 1\n{x=\"1\"} 2\n", Format::kPrometheusText, "line 2: expected a metric name"},
      {"a{x=\"1\" 2\n", Format::kPrometheusText, "line 1: expected , or } in the labels"},
      {"a{x=1} 2\n", Format::kPrometheusText, "line 1: bad quoted value of label x"},
      {"a{x=\"\\q\"} 2\n", Format::kPrometheusText, "line 1: bad quoted value of label x"},
      {"a two\n", Format::kPrometheusText, "line 1: bad value \"two\""},
      {"a 1 12.5\n", Format::kPrometheusText, "line 1: bad timestamp \"12.5\""},
      {"a 1 2 3\n", Format::kPrometheusText, "line 1: unexpected \"3\" after the value"},
      {"a{x=\"1\",x=\"2\"} 1\n", Format::kPrometheusText, "line 1: "},
      {"# TYPE a bogus\na 1\n", Format::kPrometheusText, "line 1: unknown metric type \"bogus\""},
      {"a 1\n", Format::kOpenMetrics, "line 1: missing # EOF"},
      {"a 1\n# EOF\nb 2\n", Format::kOpenMetrics, "line 3: content after # EOF"},
      {"a 1\n\n# EOF\n", Format::kOpenMetrics, "line 2: empty line"},
      {"a\n", Format::kPrometheusText, "line 1: expected a space before the value"},
  };
  for (const Case& c : cases) {
    auto r = ParseAll(c.body, c.format);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().message().rfind(c.error, 0), 0u)
        << c.body << " -> " << r.status().message();
  }
}

TEST(Exposition, SampleLimitIsEnforced) {
  auto r = ParseAll("a 1\nb 2\nc 3\n", Format::kPrometheusText, nullptr, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(ParseAll("a 1\nb 2\n", Format::kPrometheusText, nullptr, 2).ok());
}

TEST(Exposition, ContentTypeChoosesTheFormat) {
  EXPECT_EQ(FormatFromContentType("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::kOpenMetrics);
  EXPECT_EQ(FormatFromContentType("text/plain; version=0.0.4"), Format::kPrometheusText);
}

}  // namespace
}  // namespace vigil::sensors::scrape

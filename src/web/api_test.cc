#include "web/api.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "core/format_float.h"
#include "model/batch_codec.h"
#include "store/memory_store.h"
#include "testing/fake_clock.h"
#include "testing/http_client.h"

namespace vigil::web {
namespace {

// Unit tests' stand-in for the push queue: the store takes the batch all or nothing, as
// the datamanager does for a waiting write (roles' tests run the real way).
std::function<Status(model::Batch)> StoreDirectly(store::Store& store) {
  return [&store](model::Batch batch) {
    Status status = store.AppendAll(batch);
    return status.ok() ? store.Flush() : status;
  };
}

using model::Labels;
using nlohmann::json;

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model::Batch batch;
    for (const char* server : {"s1", "s2"}) {
      model::Series s{Labels::Of({{"__name__", "boiler_pressure_out"}, {"server", server}}), {}};
      for (int i = 0; i < 10; ++i) s.samples.push_back({kT0 + i * 1000LL, 15.0 + i * 0.5});
      batch.series.push_back(s);
    }
    ASSERT_TRUE(store_.Append(batch).ok());
    model::RouteAnnouncement a;
    a.agent = "plant";
    a.queue = "vigil.data.plant";
    a.sensors.push_back({"boiler_pressure_out", "simulated", Labels::Of({{"unit", "bar"}}), 1000});
    a.sensors[0].metadata.push_back({"boiler_pressure_out", "gauge", "Outlet pressure.", "bar"});
    model::SensorInfo probe{"site", "http", Labels(), 1000};
    probe.metadata.push_back({"probe_success", "gauge", "Whether the probe succeeded.", ""});
    probe.metadata.push_back({"probe_success", "gauge", "Whether the probe succeeded.", ""});
    probe.targets.push_back({"https://example.com/",
                             Labels::Of({{"target", "https://example.com/"}}), "down",
                             "connect: refused", kT0 + 9'500, 0.25});
    a.sensors.push_back(probe);
    sensors_.OnAnnouncement(a);
  }

  HttpResponse Get(const std::string& path, std::multimap<std::string, std::string> params = {}) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.params = std::move(params);
    return api_.Handle(r);
  }
  static json Body(const HttpResponse& r) { return json::parse(r.body); }

  testing::FakeClock clock_{kT0 + 10'000};
  store::MemoryStore store_;
  SensorDirectory sensors_{clock_};
  metrics::Registry registry_;
  Api api_{store_,
           &sensors_,
           clock_,
           {.version = "9.9.9",
            .write_token = "",
            .registry = &registry_,
            .write = StoreDirectly(store_)}};
};

TEST_F(ApiTest, InstantQueryHasPrometheusShape) {
  HttpResponse r = Get("/api/v1/query",
                       {{"query", "boiler_pressure_out{server=\"s1\"}"}, {"time", "1767225605.5"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      r.body,
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"boiler_pressure_out","server":"s1"},"value":[1767225605.5,"17.5"]}]}})");
}

TEST_F(ApiTest, PostedFormsAreParametersAsPrometheusTakesThem) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/api/v1/query";
  r.headers["content-type"] = "application/x-www-form-urlencoded";
  r.body = "query=1%2B1&time=1767225600";
  HttpResponse response = api_.Handle(r);
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_NE(response.body.find("\"2\""), std::string::npos);
  r.body = "query=%zz";
  EXPECT_EQ(api_.Handle(r).status, 400);
}

// The web server answers a query on its I/O thread when the same query (text, range
// length and step) answered within Api::kQuickAnswer last time.
TEST_F(ApiTest, QueriesAnsweredQuicklyAreKnownByTheirShape) {
  auto range_query = [](const std::string& text, int64_t start, const std::string& step) {
    HttpRequest r;
    r.method = "POST";
    r.path = "/api/v1/query_range";
    r.headers["content-type"] = "application/x-www-form-urlencoded";
    r.body = "query=" + text + "&start=" + std::to_string(start) +
             "&end=" + std::to_string(start + 8) + "&step=" + step;
    return r;
  };
  const HttpRequest first = range_query("max(boiler_pressure_out)", 1767225600, "2");
  EXPECT_FALSE(api_.AnsweredQuickly(first));
  // Quick even on a loaded machine under ASan, if not every time.
  for (int i = 0; i < 20 && !api_.AnsweredQuickly(first); ++i) {
    ASSERT_EQ(api_.Handle(first).status, 200);
  }
  EXPECT_TRUE(api_.AnsweredQuickly(first));
  EXPECT_TRUE(api_.AnsweredQuickly(range_query("max(boiler_pressure_out)", 1767225660, "2s")));
  EXPECT_FALSE(api_.AnsweredQuickly(range_query("max(boiler_pressure_out)", 1767225600, "1")));
  EXPECT_FALSE(api_.AnsweredQuickly(range_query("min(boiler_pressure_out)", 1767225600, "2")));
  HttpRequest instant = first;
  instant.path = "/api/v1/query";
  EXPECT_FALSE(api_.AnsweredQuickly(instant));
  HttpRequest series = first;
  series.path = "/api/v1/series";
  EXPECT_FALSE(api_.AnsweredQuickly(series));
  // 604,800 steps of a subquery take longer than a millisecond.
  const HttpRequest slow = range_query("count_over_time(vector(1)[7d:1s])", 1767225600, "2");
  ASSERT_EQ(api_.Handle(slow).status, 200);
  EXPECT_FALSE(api_.AnsweredQuickly(slow));
}

TEST_F(ApiTest, InfluxLineProtocolWritesAllOrNothing) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/write";
  r.params = {{"precision", "s"}};
  r.body = "plant,site=north pressure=15.5 1767225600\nplant,site=north pressure=oops 1767225601\n";
  HttpResponse bad = api_.Handle(r);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("line 2"), std::string::npos) << bad.body;
  EXPECT_EQ(Body(Get("/api/v1/series", {{"match[]", "plant_pressure"}}))["data"].size(), 0u);
  r.path = "/api/v2/write";
  r.body = "plant,site=north pressure=15.5 1767225600\n";
  EXPECT_EQ(api_.Handle(r).status, 204);
  EXPECT_EQ(Body(Get("/api/v1/query", {{"query", "plant_pressure"},
                                       {"time", "1767225600"}}))["data"]["result"][0]["value"][1],
            "15.5");
}

// Telegraf and Vector compress their bodies (content_encoding = "gzip").
TEST_F(ApiTest, CompressedLineProtocolBodiesAreDecoded) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/write";
  r.params = {{"precision", "s"}};
  const std::string lines = "zipped,site=north pressure=15.5 1767225600\n";
  r.headers["content-encoding"] = "gzip";
  r.body = Gzip(lines);
  EXPECT_EQ(api_.Handle(r).status, 204);
  EXPECT_EQ(Body(Get("/api/v1/series", {{"match[]", "zipped_pressure"}}))["data"].size(), 1u);
  r.body = "not gzip";
  EXPECT_EQ(api_.Handle(r).status, 400);
  r.headers["content-encoding"] = "br";
  r.body = lines;
  HttpResponse unsupported = api_.Handle(r);
  EXPECT_EQ(unsupported.status, 415);
  EXPECT_EQ(Body(unsupported)["errorType"], "unsupported_media_type");
  // A small body that inflates past the bound is refused, not decoded whole.
  Api bounded(store_, nullptr, clock_,
              {.version = "x", .max_decoded_body_bytes = 1 << 20, .registry = &registry_});
  r.headers["content-encoding"] = "gzip";
  r.body = Gzip(std::string(4 << 20, '#'));
  HttpResponse bomb = bounded.Handle(r);
  EXPECT_EQ(bomb.status, 400);
  EXPECT_NE(bomb.body.find("larger than 1048576 bytes"), std::string::npos) << bomb.body;
  // Remote write says snappy; anything else is not remote write 1.0.
  r.path = "/api/v1/write";
  r.body = model::EncodeBatch({{{Labels::Of({{"__name__", "rw"}}), {{kT0, 1}}}}});
  r.headers["content-encoding"] = "snappy";
  EXPECT_EQ(api_.Handle(r).status, 204);
  r.headers["content-encoding"] = "gzip";
  EXPECT_EQ(api_.Handle(r).status, 415);
}

// Large answers: `count` series of 1,000 samples a second from kT0, named `name` with
// label s = "00", "01", …, valued value(s, i); asked for over those 1,000 seconds.
class ApiLargeAnswers : public ::testing::Test {
 protected:
  void Load(const std::string& name, int count, const std::function<double(int, int)>& value) {
    model::Batch batch;
    for (int s = 0; s < count; ++s) {
      const std::string label = (s < 10 ? "0" : "") + std::to_string(s);
      model::Series series{Labels::Of({{"__name__", name}, {"s", label}}), {}};
      for (int i = 0; i < 1000; ++i) series.samples.push_back({kT0 + i * 1000LL, value(s, i)});
      batch.series.push_back(std::move(series));
    }
    ASSERT_TRUE(store_.Append(batch).ok());
  }
  HttpResponse Range(const std::string& query) {
    HttpRequest r;
    r.method = "GET";
    r.path = "/api/v1/query_range";
    r.params = {{"query", query},
                {"start", std::to_string(kT0 / 1000)},
                {"end", std::to_string(kT0 / 1000 + 999)},
                {"step", "1"}};
    return api_.Handle(r);
  }

  store::MemoryStore store_;
  testing::FakeClock clock_{kT0};
  metrics::Registry registry_;
  Api api_{store_, nullptr, clock_, {.version = "x", .registry = &registry_}};
};

// An answer of many points is streamed a series at a time, in Prometheus's shape.
TEST_F(ApiLargeAnswers, LargeAnswersAreStreamedWhole) {
  Load("wide", 60, [](int s, int) { return 1.0 * s; });
  HttpResponse response = Range("wide");
  ASSERT_TRUE(response.stream);
  std::string body;
  int chunks = 0;
  for (bool more = true; more; ++chunks) {
    std::string chunk;
    more = response.stream(chunk);
    body += chunk;
  }
  EXPECT_GT(chunks, 1);
  auto answer = json::parse(body);
  EXPECT_EQ(answer["status"], "success");
  EXPECT_EQ(answer["data"]["resultType"], "matrix");
  ASSERT_EQ(answer["data"]["result"].size(), 60u);
  for (const auto& series : answer["data"]["result"]) {
    ASSERT_EQ(series["values"].size(), 1000u);
    EXPECT_EQ(series["values"][999][1],
              std::to_string(std::stoi(series["metric"]["s"].get<std::string>())));
  }
  // Small answers keep a body and a length.
  HttpRequest r;
  r.method = "GET";
  r.path = "/api/v1/query";
  r.params = {{"query", "wide{s=\"01\"}"}, {"time", std::to_string(kT0 / 1000 + 10)}};
  HttpResponse small = api_.Handle(r);
  EXPECT_FALSE(small.stream);
  EXPECT_EQ(json::parse(small.body)["data"]["result"].size(), 1u);
}

// An answer of 16,000 to 50,000 points is written whole in two halves on two threads:
// every series once, in order, every point in order with its value.
TEST_F(ApiLargeAnswers, AnswersWrittenInTwoHalvesAreWhole) {
  Load("half", 30, [](int s, int i) { return s + i / 7.0; });
  HttpResponse response = Range("half");
  ASSERT_FALSE(response.stream);
  auto answer = json::parse(response.body);
  ASSERT_EQ(answer["data"]["result"].size(), 30u);
  for (int s = 0; s < 30; ++s) {
    const auto& series = answer["data"]["result"][s];
    EXPECT_EQ(series["metric"]["s"], (s < 10 ? "0" : "") + std::to_string(s));
    ASSERT_EQ(series["values"].size(), 1000u);
    for (int i = 0; i < 1000; i += 37) {
      EXPECT_EQ(series["values"][i][0], kT0 / 1000 + i);
      EXPECT_EQ(series["values"][i][1], FormatFloat(s + i / 7.0, FloatStyle::kFixed));
    }
  }
}

TEST_F(ApiTest, GrafanaHealthCheckOnePlusOne) {
  HttpResponse r = Get("/api/v1/query", {{"query", "1+1"}, {"time", "1767225600"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"status":"success","data":{"resultType":"scalar","result":[1767225600,"2"]}})");
}

TEST_F(ApiTest, RangeQueryHasPrometheusShape) {
  HttpResponse r = Get("/api/v1/query_range", {{"query", "max(boiler_pressure_out)"},
                                               {"start", "2026-01-01T00:00:02Z"},
                                               {"end", "1767225604"},
                                               {"step", "2s"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      r.body,
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1767225602,"16"],[1767225604,"17"]]}]}})");
}

TEST_F(ApiTest, SeriesLabelsAndValues) {
  json series = Body(Get("/api/v1/series", {{"match[]", "{server=\"s2\"}"}}));
  EXPECT_EQ(series["data"], json::parse(R"([{"__name__":"boiler_pressure_out","server":"s2"}])"));
  EXPECT_EQ(Body(Get("/api/v1/labels"))["data"], json::parse(R"(["__name__","server"])"));
  EXPECT_EQ(Body(Get("/api/v1/label/server/values"))["data"], json::parse(R"(["s1","s2"])"));
  EXPECT_EQ(Body(Get("/api/v1/labels/server/values"))["data"], json::parse(R"(["s1","s2"])"));
}

TEST_F(ApiTest, MetadataAndTargetsComeFromTheAnnouncements) {
  EXPECT_EQ(Body(Get("/api/v1/metadata"))["data"],
            json::parse(R"({"boiler_pressure_out":[{"type":"gauge","help":"Outlet pressure.",
                "unit":"bar"}],"probe_success":[{"type":"gauge",
                "help":"Whether the probe succeeded.","unit":""}]})"));
  EXPECT_EQ(Body(Get("/api/v1/metadata", {{"metric", "probe_success"}}))["data"].size(), 1u);
  EXPECT_EQ(Body(Get("/api/v1/metadata", {{"limit", "1"}}))["data"].size(), 1u);
  EXPECT_EQ(Body(Get("/api/v1/metadata", {{"limit", "0"}}))["data"].size(), 0u);
  EXPECT_EQ(Get("/api/v1/metadata", {{"limit", "x"}}).status, 400);

  json targets = Body(Get("/api/v1/targets"))["data"];
  ASSERT_EQ(targets["activeTargets"].size(), 1u);
  const json& t = targets["activeTargets"][0];
  EXPECT_EQ(t["scrapePool"], "site");
  EXPECT_EQ(t["scrapeUrl"], "https://example.com/");
  EXPECT_EQ(t["health"], "down");
  EXPECT_EQ(t["lastError"], "connect: refused");
  EXPECT_EQ(t["lastScrape"], "2026-01-01T00:00:09.500Z");
  EXPECT_EQ(t["lastScrapeDuration"], 0.25);
  EXPECT_EQ(t["scrapeInterval"], "1s");
  EXPECT_EQ(t["discoveredLabels"]["__address__"], "example.com");
  EXPECT_EQ(targets["droppedTargets"], json::array());
  EXPECT_EQ(Body(Get("/api/v1/targets", {{"state", "dropped"}}))["data"]["activeTargets"].size(),
            0u);
  EXPECT_EQ(Body(Get("/api/v1/targets", {{"scrapePool", "other"}}))["data"]["activeTargets"].size(),
            0u);
  EXPECT_EQ(Get("/api/v1/targets", {{"state", "gone"}}).status, 400);
  // The agent falls silent: its targets are no longer known to be up or down.
  clock_.Advance(10 * 60'000);
  const json later = Body(Get("/api/v1/targets"))["data"]["activeTargets"][0];
  EXPECT_EQ(later["health"], "unknown");
  EXPECT_NE(later["lastError"].get<std::string>().find("offline"), std::string::npos);
}

TEST_F(ApiTest, GrafanasOtherCallsHavePrometheusShapes) {
  EXPECT_EQ(Body(Get("/api/v1/format_query",
                     {{"query", "sum(rate(x{b=\"1\",a=~\"2\"}[5m]))by(c)"}}))["data"],
            "sum by (c) (rate(x{a=~\"2\",b=\"1\"}[5m]))");
  EXPECT_EQ(Get("/api/v1/format_query", {{"query", "sum("}}).status, 400);
  EXPECT_EQ(Body(Get("/api/v1/query_exemplars", {{"query", "boiler_pressure_out"}}))["data"],
            json::array());
  json build = Body(Get("/api/v1/status/buildinfo"));
  EXPECT_EQ(build["data"]["version"], "3.0.0");  // the PromQL it speaks, for Grafana
  EXPECT_EQ(build["data"]["revision"], "vigil 9.9.9");
  json tsdb = Body(Get("/api/v1/status/tsdb"));
  EXPECT_EQ(tsdb["data"]["headStats"]["numSeries"], 2);
  EXPECT_EQ(tsdb["data"]["seriesCountByMetricName"][0],
            json::parse(R"({"name":"boiler_pressure_out","value":2})"));
  EXPECT_EQ(tsdb["data"]["labelValueCountByLabelName"].size(), 2u);
}

TEST_F(ApiTest, FederateListsTheLatestSampleOfEachSeries) {
  HttpResponse r = Get("/federate", {{"match[]", "{server=\"s1\"}"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            "# TYPE boiler_pressure_out untyped\n"
            "boiler_pressure_out{server=\"s1\"} 19.5 1767225609000\n");
  EXPECT_EQ(Get("/federate").status, 400);
}

// A page of another site must not write (issue #26): with no token configured, a POST
// carrying a foreign Origin is refused and stores nothing; the server's own origin, a
// listed one, and clients without an Origin write.
TEST_F(ApiTest, WritesFromPagesOfOtherSitesAreRefused) {
  auto post = [&](const std::string& origin, Api& api) {
    HttpRequest r;
    r.method = "POST";
    r.path = "/write";
    r.headers["host"] = "127.0.0.1:8080";
    if (!origin.empty()) r.headers["origin"] = origin;
    r.headers["content-type"] = "text/plain";
    r.body = "csrf,host=x value=1 1767225600000000000\n";
    return api.Handle(r);
  };
  HttpResponse foreign = post("http://evil.example:80", api_);
  EXPECT_EQ(foreign.status, 403);
  EXPECT_NE(foreign.body.find("refused"), std::string::npos);
  EXPECT_EQ(post("http://127.0.0.1:3000", api_).status, 403);  // another port is another site
  EXPECT_EQ(post("null", api_).status, 403);
  EXPECT_TRUE(Body(Get("/api/v1/series", {{"match[]", "csrf_value"}}))["data"].empty());
  EXPECT_EQ(post("http://127.0.0.1:8080", api_).status, 204);
  EXPECT_EQ(post("", api_).status, 204);
  metrics::Registry registry;
  Api listing(store_, &sensors_, clock_,
              {.allowed_origins = {"https://grafana.example"},
               .registry = &registry,
               .write = StoreDirectly(store_)});
  EXPECT_EQ(post("https://grafana.example", listing).status, 204);
  EXPECT_EQ(post("https://other.example", listing).status, 403);
}

TEST_F(ApiTest, SensorsListTheAnnouncedAgentsWithTheirState) {
  json sensors = Body(Get("/api/v1/sensors"));
  ASSERT_EQ(sensors["data"].size(), 2u);  // the plant instrument and the probe
  EXPECT_EQ(sensors["data"][0]["name"], "boiler_pressure_out");
  EXPECT_EQ(sensors["data"][0]["state"], "online");
  EXPECT_EQ(sensors["data"][0]["labels"]["unit"], "bar");
  // The probe's target is down: the sensor is, with why, while its agent is online.
  EXPECT_EQ(sensors["data"][1]["name"], "site");
  EXPECT_EQ(sensors["data"][1]["state"], "down");
  EXPECT_EQ(sensors["data"][1]["last_error"], "https://example.com/: connect: refused");
  EXPECT_EQ(sensors["data"][1]["targets"][0]["health"], "down");
  clock_.Advance(20'000);  // more than 3 intervals (at least 5 s) without data
  EXPECT_EQ(Body(Get("/api/v1/sensors"))["data"][0]["state"], "stale");
  clock_.Advance(60'000);  // more than 10 times that
  EXPECT_EQ(Body(Get("/api/v1/sensors"))["data"][0]["state"], "offline");
}

// A goodbye on a clean stop shows the agent stopped (its targets unknown); retiring goes
// through the hook the web role gives (a retired goodbye on the bus), refused without it,
// for an unknown agent, or without the write token when one is set.
TEST_F(ApiTest, AStoppedAgentIsListedAsSuchAndRetiringGoesThroughTheHook) {
  model::RouteAnnouncement goodbye;
  goodbye.agent = "plant";
  goodbye.leaving = true;
  sensors_.OnAnnouncement(goodbye);
  json sensors = Body(Get("/api/v1/sensors"));
  ASSERT_EQ(sensors["data"].size(), 2u);
  EXPECT_EQ(sensors["data"][0]["state"], "stopped");
  json targets = Body(Get("/api/v1/targets"));
  EXPECT_EQ(targets["data"]["activeTargets"][0]["health"], "unknown");

  auto retire = [&](Api& api, const std::string& agent, const std::string& token) {
    HttpRequest r;
    r.method = "POST";
    r.path = "/api/v1/agents/retire";
    r.params = {{"agent", agent}};
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    return api.Handle(r);
  };
  EXPECT_EQ(retire(api_, "plant", "").status, 404);  // no hook
  std::vector<std::string> retired;
  ApiOptions options{.version = "x", .write_token = "secret", .registry = &registry_};
  options.retire_agent = [&](const std::string& agent) {
    retired.push_back(agent);
    goodbye.retired = true;
    sensors_.OnAnnouncement(goodbye);
    return OkStatus();
  };
  Api api(store_, &sensors_, clock_, options);
  EXPECT_EQ(retire(api, "plant", "").status, 401);
  EXPECT_EQ(retire(api, "nobody", "secret").status, 404);
  HttpResponse ok = retire(api, "plant", "secret");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(retired, std::vector<std::string>{"plant"});
  EXPECT_EQ(Body(Get("/api/v1/sensors"))["data"].size(), 0u);
  EXPECT_EQ(retire(api, "plant", "secret").status, 404);
}

TEST_F(ApiTest, EveryErrorIsJsonWithTheRightCode) {
  struct Case {
    std::string path;
    std::multimap<std::string, std::string> params;
    int status;
    std::string error_type;
    std::string error_part;
  };
  const Case cases[] = {
      {"/api/v1/query", {}, 400, "bad_data", "missing parameter \"query\""},
      {"/api/v1/query", {{"query", "x{"}}, 400, "bad_data", "1:3: parse error: unexpected end"},
      {"/api/v1/query",
       {{"query", "sum(x) offset 1m"}},
       400,
       "bad_data",
       "offset modifier must be preceded by an instant vector selector"},
      {"/api/v1/query",
       {{"query", "label_replace(vector(1), \"a\", \"\", \"b\", \"(\")"}},
       422,
       "execution",
       "invalid regular expression in label_replace()"},
      {"/api/v1/query",
       {{"query", "x"}, {"time", "yesterday"}},
       400,
       "bad_data",
       "invalid parameter \"time\""},
      {"/api/v1/query_range",
       {{"query", "x"}, {"start", "1"}, {"end", "2"}},
       400,
       "bad_data",
       "missing parameter \"step\""},
      {"/api/v1/query_range",
       {{"query", "x"}, {"start", "1"}, {"end", "100000"}, {"step", "0.001"}},
       422,
       "execution",
       "exceeded maximum resolution"},
      {"/api/v1/series", {}, 400, "bad_data", "no match[] parameter"},
      {"/api/v1/series", {{"match[]", "rate(x[1m])"}}, 400, "bad_data", "not a series selector"},
      {"/api/v1/label/1bad/values", {}, 400, "bad_data", "invalid label name"},
      {"/api/v1/nope", {}, 404, "not_found", "no such endpoint"},
  };
  for (const Case& c : cases) {
    HttpResponse r = Get(c.path, c.params);
    EXPECT_EQ(r.status, c.status) << c.path << " " << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    json body = Body(r);
    EXPECT_EQ(body["status"], "error");
    EXPECT_EQ(body["errorType"], c.error_type) << r.body;
    EXPECT_NE(body["error"].get<std::string>().find(c.error_part), std::string::npos) << r.body;
  }
  HttpRequest post;
  post.method = "DELETE";
  post.path = "/api/v1/query";
  EXPECT_EQ(api_.Handle(post).status, 405);
}

TEST_F(ApiTest, RemoteWriteStoresAndNeedsTheTokenWhenSet) {
  Api guarded(store_, nullptr, clock_,
              {.version = "x",
               .write_token = "secret",
               .registry = &registry_,
               .write = StoreDirectly(store_)});
  model::Batch batch;
  batch.series.push_back({Labels::Of({{"__name__", "pushed"}}), {{kT0, 42}}});
  HttpRequest r;
  r.method = "POST";
  r.path = "/api/v1/write";
  r.body = model::EncodeBatch(batch);
  EXPECT_EQ(guarded.Handle(r).status, 401);
  r.headers["authorization"] = "Bearer wrong";
  EXPECT_EQ(guarded.Handle(r).status, 403);
  r.headers["authorization"] = "Bearer secret";
  EXPECT_EQ(guarded.Handle(r).status, 204);
  EXPECT_EQ(Body(Get("/api/v1/query", {{"query", "pushed"},
                                       {"time", "1767225600"}}))["data"]["result"][0]["value"][1],
            "42");
  r.body = "not snappy";
  HttpResponse bad = guarded.Handle(r);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("remote write"), std::string::npos);
}

TEST_F(ApiTest, AWriteIsRefusedWholeWhenTheStoreWouldDropASample) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/api/v1/write";
  // More than the window (1 h) behind the series' newest: Prometheus's "out of bounds".
  model::Batch batch;
  batch.series.push_back({Labels::Of({{"__name__", "late"}}), {{kT0, 1}}});
  batch.series.push_back({Labels::Of({{"__name__", "boiler_pressure_out"}, {"server", "s1"}}),
                          {{kT0 - 7'200'000, 2}}});
  r.body = model::EncodeBatch(batch);
  HttpResponse late = api_.Handle(r);
  EXPECT_EQ(late.status, 400);
  EXPECT_NE(late.body.find("out of bounds"), std::string::npos) << late.body;
  EXPECT_EQ(Body(Get("/api/v1/series", {{"match[]", "late"}}))["data"].size(), 0u);

  // A label set beyond the limits is refused before any store sees it.
  model::Batch wide;
  std::vector<model::Label> pairs = {{"__name__", "wide"}};
  for (int i = 0; i < 70; ++i) pairs.push_back({"l" + std::to_string(i), "v"});
  wide.series.push_back({*Labels::FromPairs(pairs), {{kT0, 1}}});
  r.body = model::EncodeBatch(wide);
  HttpResponse refused = api_.Handle(r);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("label_limit 64"), std::string::npos) << refused.body;
  EXPECT_EQ(Body(Get("/api/v1/series", {{"match[]", "wide"}}))["data"].size(), 0u);
  EXPECT_EQ(registry_.AddCounter("vigil_web_samples_refused_total", "", {"reason"})
                .WithLabels({"label_limit"})
                .Value(),
            1);
  EXPECT_EQ(registry_.AddCounter("vigil_web_samples_refused_total", "", {"reason"})
                .WithLabels({"out_of_bounds"})
                .Value(),
            2);

  // Line protocol says which line.
  r.path = "/write";
  r.params = {{"precision", "s"}};
  r.body = "fresh,site=north v=1 1767225600\nboiler,server=s1 pressure_out=2 1767218400\n";
  HttpResponse line = api_.Handle(r);
  EXPECT_EQ(line.status, 400);
  EXPECT_NE(line.body.find("line 2: "), std::string::npos) << line.body;
  EXPECT_EQ(Body(Get("/api/v1/series", {{"match[]", "fresh_v"}}))["data"].size(), 0u);
}

TEST_F(ApiTest, MetricsHealthAndDashboard) {
  (void)Get("/api/v1/labels");
  HttpResponse metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.content_type.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(
      metrics.body.find("vigil_web_requests_total{handler=\"/api/v1/labels\",code=\"200\"} 1"),
      std::string::npos)
      << metrics.body;
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/readyz").status, 200);
  HttpResponse page = Get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<title>vigil</title>"), std::string::npos);
  EXPECT_EQ(Get("/uPlot.iife.min.js").content_type, "text/javascript; charset=utf-8");
}

TEST_F(ApiTest, TheDashboardsFilesAreGzippedForBrowsersThatTakeIt) {
  HttpRequest r;
  r.method = "GET";
  r.path = "/app.js";
  r.headers["accept-encoding"] = "gzip, deflate, br";
  HttpResponse gzipped = api_.Handle(r);
  HttpResponse plain = Get("/app.js");
  auto header = [](const HttpResponse& response, const std::string& name) {
    for (const auto& [key, value] : response.headers) {
      if (key == name) return value;
    }
    return std::string();
  };
  EXPECT_EQ(header(gzipped, "Content-Encoding"), "gzip");
  EXPECT_EQ(header(plain, "Content-Encoding"), "");
  EXPECT_EQ(header(plain, "Vary"), "Accept-Encoding");
  EXPECT_LT(gzipped.body.size(), plain.body.size() / 2);
  Result<std::string> decoded = DecodeBody("gzip", gzipped.body, 1 << 20);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, plain.body);
}

TEST_F(ApiTest, ListsTheDashboardDefinitions) {
  json list = Body(Get("/api/v1/dashboards"))["data"];
  ASSERT_GE(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "overview");
  EXPECT_EQ(list[0]["definition"]["title"], "Overview");
}

TEST(Ops, ReadyzSays503WithTheReasonUntilReady) {
  metrics::Registry registry;
  registry.AddCounter("vigil_test_total", "A counter.", {}).WithLabels({}).Inc();
  std::string reason = "not connected to the broker";
  ReadinessCheck ready = [&] { return reason; };
  HttpRequest request;
  request.method = "GET";
  request.path = "/readyz";
  std::optional<HttpResponse> response = HandleOps(request, registry, ready);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 503);
  EXPECT_NE(response->body.find("not ready: not connected to the broker"), std::string::npos);
  request.path = "/healthz";  // alive all the same
  EXPECT_EQ(HandleOps(request, registry, ready)->status, 200);
  reason.clear();
  request.path = "/readyz";
  EXPECT_EQ(HandleOps(request, registry, ready)->status, 200);
  request.path = "/metrics";
  EXPECT_NE(HandleOps(request, registry, ready)->body.find("vigil_test_total 1"),
            std::string::npos);
  request.method = "POST";
  EXPECT_EQ(HandleOps(request, registry, ready)->status, 405);
  request.method = "GET";
  request.path = "/api/v1/query";
  EXPECT_FALSE(HandleOps(request, registry, ready).has_value());
}

TEST(ApiFormat, ValuesAndTimesAsPrometheusWritesThem) {
  EXPECT_EQ(FormatTimestamp(1'767'225'600'120), "1767225600.12");
  EXPECT_EQ(FormatTimestamp(-1500), "-1.5");
  EXPECT_EQ(FormatTimestamp(5), "0.005");
  EXPECT_EQ(FormatTimestamp(1'000), "1");
  EXPECT_EQ(FormatTimestamp(0), "0");
  EXPECT_EQ(FormatTimestamp(-40), "-0.04");
  EXPECT_EQ(FormatTimestamp(INT64_MIN), "-9223372036854775.808");
  EXPECT_EQ(*ParseTime("2026-01-01T01:00:00+01:00"), kT0);
  EXPECT_EQ(*ParseTime("2026-01-01T00:00:00.25Z"), kT0 + 250);
  EXPECT_EQ(*ParseStep("15"), 15'000);
  EXPECT_EQ(*ParseStep("1m30s"), 90'000);
  EXPECT_FALSE(ParseStep("-1").ok());
}

}  // namespace
}  // namespace vigil::web

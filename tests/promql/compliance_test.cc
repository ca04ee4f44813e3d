// PromQL compliance against the real thing: the same samples are loaded into Debian's
// Prometheus 2.42 (through `promtool tsdb create-blocks-from openmetrics`) and into vigil's
// stores (the embedded TSDB and PostgreSQL), then every expanded query of queries.txt runs
// as a range query over 10 minutes at a 10 s step on both, and the answers are compared
// as Prometheus's compliance tester compares them (values within a fraction of 1e-5,
// NaN equal to NaN, the same series with the same points; queries marked `fail:` must be
// refused by both). A second Prometheus reads the same history from vigil through remote
// read and must answer as vigil does.
//
// The data is shaped like the tester's demo service (three instances; gauges, a counter
// with resets, classic histograms, an intermittent series), deterministic, with scrape
// times that never fall on a whole second: the query steps and windows end on half
// seconds, so Prometheus 2's closed windows and Prometheus 3's left-open ones (which vigil
// follows) select the same samples, and any difference is a real one.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "core/env.h"
#include "query/engine.h"
#include "store/memory_store.h"
#include "store/postgres/postgres_store.h"
#include "testing/child_process.h"
#include "testing/demo_data.h"
#include "testing/fake_clock.h"
#include "testing/http_client.h"
#include "testing/services.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"
#include "tsdb/tsdb_store.h"
#include "web/api.h"
#include "web/http_server.h"

namespace vigil {
namespace {

using model::Labels;
using model::Sample;

constexpr int64_t kBase = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kSpanMs = 90 * 60'000;      // 1.5 h of data
// The queries: 10 minutes up to two minutes before the data ends, on half seconds.
constexpr int64_t kQueryEnd = kBase + kSpanMs - 120'000 + 3'500;
constexpr int64_t kQueryStart = kQueryEnd - 600'000;
constexpr int64_t kStepMs = 10'000;

// A range query's answer: series by canonical labels, each with its points; or an error.
struct Answer {
  bool ok = false;
  std::string error;
  std::map<std::string, std::vector<Sample>> series;
};

Answer FromPrometheus(uint16_t port, const std::string& query) {
  Answer a;
  const std::string body =
      "query=" + testing::UrlEncode(query) + "&start=" + std::to_string(kQueryStart / 1000.0) +
      "&end=" + std::to_string(kQueryEnd / 1000.0) + "&step=" + std::to_string(kStepMs / 1000);
  auto r =
      testing::HttpPost(port, "/api/v1/query_range", body, "application/x-www-form-urlencoded");
  if (!r.ok()) {
    a.error = r.status().ToString();
    return a;
  }
  auto json = nlohmann::json::parse(r->body, nullptr, false);
  if (json.is_discarded() || json["status"] != "success") {
    a.error = r->body;
    return a;
  }
  a.ok = true;
  for (const auto& s : json["data"]["result"]) {
    std::vector<model::Label> pairs;
    for (const auto& [name, value] : s["metric"].items()) pairs.push_back({name, value});
    auto labels = Labels::FromPairs(std::move(pairs));
    std::vector<Sample> points;
    for (const auto& v : s["values"]) {
      points.push_back({std::llround(v[0].get<double>() * 1000),
                        std::strtod(v[1].get<std::string>().c_str(), nullptr)});
    }
    a.series[labels->ToString()] = std::move(points);
  }
  return a;
}

Answer FromVigil(query::Engine& engine, const std::string& query) {
  Answer a;
  auto r = engine.Range(query, kQueryStart, kQueryEnd, kStepMs);
  if (!r.ok()) {
    a.error = r.status().ToString();
    return a;
  }
  a.ok = true;
  for (const auto& s : r->series) {
    if (!a.series.emplace(s.labels.ToString(), s.points).second) a.error = "duplicate series";
  }
  return a;
}

// The compliance tester's comparison: cmpopts.EquateApprox(1e-5, 0) and EquateNaNs.
bool Close(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= 1e-5 * std::min(std::fabs(a), std::fabs(b));
}

std::string Difference(const Answer& want, const Answer& got) {
  for (const auto& [labels, points] : want.series) {
    auto it = got.series.find(labels);
    if (it == got.series.end()) return "missing " + labels;
    if (it->second.size() != points.size()) {
      return labels + ": " + std::to_string(points.size()) + " points in Prometheus, " +
             std::to_string(it->second.size()) + " in vigil";
    }
    for (size_t i = 0; i < points.size(); ++i) {
      if (points[i].timestamp_ms != it->second[i].timestamp_ms ||
          !Close(points[i].value, it->second[i].value)) {
        std::ostringstream s;
        s.precision(17);
        s << labels << " at " << points[i].timestamp_ms << ": Prometheus " << points[i].value
          << ", vigil " << it->second[i].value << " at " << it->second[i].timestamp_ms;
        return s.str();
      }
    }
  }
  for (const auto& [labels, points] : got.series) {
    if (!want.series.count(labels)) return "extra " + labels;
  }
  return "";
}

// Prometheus 2.42 with the demo data, started once for every store's run.
class PrometheusReference {
 public:
  // Destroyed at exit, which stops the Prometheus (a leaked one would outlive the run).
  static PrometheusReference& Get() {
    static PrometheusReference reference;
    return reference;
  }
  const std::vector<model::Series>& data() const { return data_; }
  uint16_t port() const { return port_; }
  const std::string& error() const { return error_; }
  std::map<std::string, Answer>& answers() { return answers_; }

 private:
  PrometheusReference() {
    data_ = testing::DemoServiceData(kBase, kSpanMs);
    if (!testing::WriteOpenMetrics(data_, dir_.Sub("demo.om"))) {
      error_ = "cannot write " + dir_.Sub("demo.om");
      return;
    }
    testing::ShellResult created =
        testing::RunShell("promtool tsdb create-blocks-from openmetrics " + dir_.Sub("demo.om") +
                          " " + dir_.Sub("tsdb"));
    if (created.exit_code != 0) {
      error_ = "promtool: " + created.output;
      return;
    }
    std::ofstream(dir_.Sub("prometheus.yml")) << "global:\n  scrape_interval: 1h\n";
    port_ = testing::FreeLoopbackPort();
    auto started = testing::ChildProcess::Start(
        {"prometheus", "--config.file=" + dir_.Sub("prometheus.yml"),
         "--storage.tsdb.path=" + dir_.Sub("tsdb"), "--storage.tsdb.retention.time=100y",
         "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
        dir_.Sub("prometheus.log"));
    if (!started.ok()) {
      error_ = "prometheus: " + started.status().ToString();
      return;
    }
    process_ = std::move(*started);
    for (int i = 0; i < 300; ++i) {
      auto ready = testing::HttpGet(port_, "/-/ready");
      if (ready.ok() && ready->status == 200) return;
      usleep(100'000);
    }
    error_ = "prometheus did not become ready; see " + dir_.Sub("prometheus.log");
  }

  testing::TempDir dir_;
  std::vector<model::Series> data_;
  uint16_t port_ = 0;
  std::unique_ptr<testing::ChildProcess> process_;
  std::string error_;
  std::map<std::string, Answer> answers_;  // by query
};

class PromqlComplianceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    PrometheusReference& reference = PrometheusReference::Get();
    ASSERT_EQ(reference.error(), "");
    clock_.Set(kBase + kSpanMs);
    if (GetParam() == "tsdb") {
      tsdb::TsdbOptions options;
      options.dir = dir_.Sub("tsdb");
      options.out_of_order_window_ms = 0;
      options.registry = &registry_;
      auto opened = tsdb::TsdbStore::Open(Env::Default(), clock_, options);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      store_ = std::move(*opened);
    } else {
      auto url = testing::NewPostgresDatabase();
      ASSERT_TRUE(url.ok()) << url.status().ToString();
      store::postgres::PostgresOptions options;
      options.url = *url;
      options.registry = &registry_;
      auto opened = store::postgres::PostgresStore::Open(clock_, options);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      store_ = std::move(*opened);
    }
    model::Batch batch;
    for (const model::Series& s : reference.data()) {
      batch.series.push_back(s);
      if (batch.series.size() == 50) {
        ASSERT_TRUE(store_->Append(batch).ok());
        batch.series.clear();
      }
    }
    ASSERT_TRUE(store_->Append(batch).ok());
    ASSERT_TRUE(store_->Flush().ok());
  }
  void TearDown() override {
    if (store_) {
      EXPECT_TRUE(store_->Close().ok());
    }
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  metrics::Registry registry_;
  std::unique_ptr<store::Store> store_;
};

TEST_P(PromqlComplianceTest, EveryQueryAnswersAsPrometheus) {
  PrometheusReference& reference = PrometheusReference::Get();
  query::Engine engine(*store_);
  const std::vector<testing::QueryCase> queries =
      testing::ReadQueryFile(std::string(VIGIL_SOURCE_DIR) + "/tests/promql/queries.txt");
  ASSERT_GT(queries.size(), 500u);
  int passed = 0, compared_series = 0;
  for (const testing::QueryCase& q : queries) {
    SCOPED_TRACE(q.text);
    auto cached = reference.answers().find(q.text);
    if (cached == reference.answers().end()) {
      cached = reference.answers().emplace(q.text, FromPrometheus(reference.port(), q.text)).first;
    }
    const Answer& want = cached->second;
    const Answer got = FromVigil(engine, q.text);
    if (q.fail) {
      EXPECT_FALSE(want.ok) << "Prometheus answered a query that should fail";
      EXPECT_FALSE(got.ok) << "vigil answered a query Prometheus refuses";
      if (!want.ok && !got.ok) ++passed;
      continue;
    }
    ASSERT_TRUE(want.ok) << "Prometheus: " << want.error;
    if (!got.ok) {
      ADD_FAILURE() << "vigil: " << got.error;
      continue;
    }
    const std::string difference = Difference(want, got);
    if (q.differs) {
      EXPECT_NE(difference, "") << "a documented difference that is not one";
      if (!difference.empty()) ++passed;
      continue;
    }
    EXPECT_EQ(difference, "");
    if (difference.empty()) ++passed;
    compared_series += static_cast<int>(want.series.size());
  }
  std::printf(
      "%s: %d of %zu queries answer as Prometheus 2.42 or differ as documented "
      "(%d series compared)\n",
      GetParam().c_str(), passed, queries.size(), compared_series);
}

// Remote read against the real thing: a Prometheus with no data of its own, configured to
// read from vigil's POST /api/v1/read, answers queries over vigil's history as vigil does.
TEST(PromqlRemoteRead, APrometheusReadsVigilsHistory) {
  PrometheusReference& reference = PrometheusReference::Get();
  ASSERT_EQ(reference.error(), "");
  testing::TempDir dir;
  testing::FakeClock clock(kBase + kSpanMs);
  metrics::Registry registry;
  store::MemoryStore store;
  model::Batch batch;
  batch.series = reference.data();
  ASSERT_TRUE(store.Append(batch).ok());
  web::Api api(store, nullptr, clock, {.registry = &registry});
  auto server = web::HttpServer::Start(
      {.listen = "127.0.0.1:0"}, [&](const web::HttpRequest& r) { return api.Handle(r); }, nullptr);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::ofstream(dir.Sub("prometheus.yml"))
      << "global:\n  scrape_interval: 1h\nremote_read:\n  - url: http://127.0.0.1:"
      << (*server)->port() << "/api/v1/read\n    read_recent: true\n";
  const uint16_t port = testing::FreeLoopbackPort();
  auto prometheus = testing::ChildProcess::Start(
      {"prometheus", "--config.file=" + dir.Sub("prometheus.yml"),
       "--storage.tsdb.path=" + dir.Sub("tsdb"),
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
      dir.Sub("prometheus.log"));
  ASSERT_TRUE(prometheus.ok()) << prometheus.status().ToString();
  bool ready = false;
  for (int i = 0; i < 300 && !ready; ++i) {
    auto r = testing::HttpGet(port, "/-/ready");
    ready = r.ok() && r->status == 200;
    if (!ready) usleep(100'000);
  }
  ASSERT_TRUE(ready);
  query::Engine engine(store);
  for (const char* q :
       {"demo_memory_usage_bytes", "rate(demo_cpu_usage_seconds_total[5m])",
        "histogram_quantile(0.9, sum by (le) (rate(demo_api_request_duration_seconds_bucket[1m])))",
        "demo_intermittent_metric"}) {
    SCOPED_TRACE(q);
    const Answer through_prometheus = FromPrometheus(port, q);
    ASSERT_TRUE(through_prometheus.ok) << through_prometheus.error;
    EXPECT_FALSE(through_prometheus.series.empty());
    EXPECT_EQ(Difference(through_prometheus, FromVigil(engine, q)), "");
  }
  (*server)->Stop();
}

// The text of a value, against the real thing: Prometheus writes the shortest digits in
// Go's fixed form, padded with zeros (1e23 is "100000000000000000000000", not the
// double's exact integer). Each scalar's answer from both, compared character for
// character.
TEST(PromqlAnswerText, ValuesAreWrittenAsPrometheusWritesThem) {
  PrometheusReference& reference = PrometheusReference::Get();
  ASSERT_EQ(reference.error(), "");
  testing::FakeClock clock(kBase + kSpanMs);
  metrics::Registry registry;
  store::MemoryStore store;
  web::Api api(store, nullptr, clock, {.registry = &registry});
  const std::string time = std::to_string(kBase / 1000);
  for (const char* q : {"1e23", "123456789012345678", "12345678901234567890", "-2.5e+163",
                        "1.7976931348623157e308", "5e-324", "2.5e-7", "0.1 + 0.2", "1 / 3",
                        "-1 / 7", "1e21", "100", "-0.5", "NaN", "Inf", "-Inf"}) {
    SCOPED_TRACE(q);
    auto from_prometheus = testing::HttpGet(
        reference.port(), "/api/v1/query?query=" + testing::UrlEncode(q) + "&time=" + time);
    ASSERT_TRUE(from_prometheus.ok()) << from_prometheus.status().ToString();
    web::HttpRequest request;
    request.method = "GET";
    request.path = "/api/v1/query";
    request.params = {{"query", q}, {"time", time}};
    const web::HttpResponse from_vigil = api.Handle(request);
    auto want = nlohmann::json::parse(from_prometheus->body, nullptr, false);
    auto got = nlohmann::json::parse(from_vigil.body, nullptr, false);
    ASSERT_FALSE(want.is_discarded()) << from_prometheus->body;
    ASSERT_FALSE(got.is_discarded()) << from_vigil.body;
    EXPECT_EQ(got["data"]["result"][1], want["data"]["result"][1]);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, PromqlComplianceTest, ::testing::Values("tsdb", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vigil

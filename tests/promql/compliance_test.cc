// PromQL compliance against the real thing: the same samples are loaded into Debian's
// Prometheus 2.42 (through `promtool tsdb create-blocks-from openmetrics`) and into vigil's
// stores (the embedded TSDB and PostgreSQL), then every expanded query of queries.txt runs
// as a range query over 10 minutes at a 10 s step on both, and the answers are compared
// as Prometheus's compliance tester compares them (values within a fraction of 1e-5,
// NaN equal to NaN, the same series with the same points; queries marked `fail:` must be
// refused by both).
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
#include <regex>
#include <set>
#include <sstream>

#include "core/env.h"
#include "query/engine.h"
#include "store/postgres/postgres_store.h"
#include "testing/child_process.h"
#include "testing/fake_clock.h"
#include "testing/http_client.h"
#include "testing/services.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"
#include "tsdb/tsdb_store.h"

namespace vigil {
namespace {

using model::Labels;
using model::Sample;

constexpr int64_t kBase = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kScrapeMs = 5'000;
constexpr int64_t kSpanMs = 90 * 60'000;  // 1.5 h of data
// The queries: 10 minutes up to two minutes before the data ends, on half seconds.
constexpr int64_t kQueryEnd = kBase + kSpanMs - 120'000 + 3'500;
constexpr int64_t kQueryStart = kQueryEnd - 600'000;
constexpr int64_t kStepMs = 10'000;

std::string Url(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// The demo service's metrics for three instances, every 5 s, deterministic.
std::vector<model::Series> DemoData() {
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> unit(0, 1);
  std::map<std::string, model::Series> series;
  auto add = [&](const Labels& labels, int64_t t, double v) {
    auto& s = series[labels.ToString()];
    s.labels = labels;
    s.samples.push_back({t, v});
  };
  const std::vector<std::string> instances = {"demo.promlabs.com:10000", "demo.promlabs.com:10001",
                                              "demo.promlabs.com:10002"};
  const std::vector<double> buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, INFINITY};
  struct Route {
    const char* method;
    const char* path;
    const char* status;
  };
  const std::vector<Route> routes = {
      {"GET", "/api/foo", "200"}, {"POST", "/api/foo", "500"}, {"GET", "/api/bar", "200"}};
  for (size_t k = 0; k < instances.size(); ++k) {
    const std::string& instance = instances[k];
    // Scrape times: 0.087–0.387 s past the second, never on a whole or half second.
    const int64_t phase = 137 + static_cast<int64_t>(k) * 1'100;
    double cpu[3] = {0, 0, 0};
    std::vector<double> counts(routes.size() * buckets.size(), 0), sums(routes.size(), 0);
    double disk = 1e9 * (k + 1);
    double last_success = static_cast<double>(kBase) / 1000;
    const int64_t reset_at = kBase + (40 + 15 * static_cast<int64_t>(k)) * 60'000;
    bool reset_done = false;
    for (int64_t i = 0; i * kScrapeMs < kSpanMs; ++i) {
      const int64_t t = kBase + i * kScrapeMs + phase + static_cast<int64_t>(unit(random) * 100) - 50;
      const double minutes = static_cast<double>(t - kBase) / 60'000;
      if (!reset_done && t >= reset_at) {  // the process restarts: counters from zero
        reset_done = true;
        std::fill(std::begin(cpu), std::end(cpu), 0);
        std::fill(counts.begin(), counts.end(), 0);
        std::fill(sums.begin(), sums.end(), 0);
      }
      const char* types[] = {"buffers", "cached", "free", "used"};
      for (int j = 0; j < 4; ++j) {
        add(Labels::Of({{"__name__", "demo_memory_usage_bytes"}, {"instance", instance},
                        {"job", "demo"}, {"type", types[j]}}),
            t, std::round(1e8 * (j + 1) * (1.5 + std::sin(minutes / 7 + j + k)) + 1e6 * unit(random)));
      }
      add(Labels::Of({{"__name__", "demo_num_cpus"}, {"instance", instance}, {"job", "demo"}}), t,
          4.0 + 2 * k);
      const char* modes[] = {"idle", "system", "user"};
      for (int j = 0; j < 3; ++j) {
        cpu[j] += (j == 0 ? 3.5 : 0.7 + 0.5 * j) * unit(random) * 5;
        add(Labels::Of({{"__name__", "demo_cpu_usage_seconds_total"}, {"instance", instance},
                        {"job", "demo"}, {"mode", modes[j]}}),
            t, cpu[j]);
      }
      disk += 1e5 * (unit(random) - 0.3);
      add(Labels::Of({{"__name__", "demo_disk_usage_bytes"}, {"instance", instance}, {"job", "demo"}}),
          t, std::round(disk));
      if (unit(random) < 0.01) last_success = static_cast<double>(t / 1000);
      add(Labels::Of({{"__name__", "demo_batch_last_success_timestamp_seconds"},
                      {"instance", instance}, {"job", "demo"}}),
          t, last_success);
      for (size_t r = 0; r < routes.size(); ++r) {
        const int requests = static_cast<int>(unit(random) * 20);
        for (int q = 0; q < requests; ++q) {
          const double latency = std::exp(std::log(0.002) + unit(random) * 5.5) * (r + 1) / 2;
          sums[r] += latency;
          for (size_t b = 0; b < buckets.size(); ++b) {
            if (latency <= buckets[b]) counts[r * buckets.size() + b] += 1;
          }
        }
        for (size_t b = 0; b < buckets.size(); ++b) {
          char le[32];
          std::snprintf(le, sizeof le, "%g", buckets[b]);
          add(Labels::Of({{"__name__", "demo_api_request_duration_seconds_bucket"},
                          {"instance", instance}, {"job", "demo"}, {"le", std::isinf(buckets[b]) ? "+Inf" : le},
                          {"method", routes[r].method}, {"path", routes[r].path},
                          {"status", routes[r].status}}),
              t, counts[r * buckets.size() + b]);
        }
        const Labels route = Labels::Of({{"instance", instance}, {"job", "demo"},
                                         {"method", routes[r].method}, {"path", routes[r].path},
                                         {"status", routes[r].status}});
        add(route.With("__name__", "demo_api_request_duration_seconds_count"), t,
            counts[r * buckets.size() + buckets.size() - 1]);
        add(route.With("__name__", "demo_api_request_duration_seconds_sum"), t, sums[r]);
      }
      // Present for two minutes out of every five.
      if (static_cast<int64_t>(minutes) % 5 < 2) {
        add(Labels::Of({{"__name__", "demo_intermittent_metric"}, {"instance", instance},
                        {"job", "demo"}}),
            t, minutes);
      }
    }
  }
  std::vector<model::Series> out;
  for (auto& [name, s] : series) out.push_back(std::move(s));
  return out;
}

// OpenMetrics text for promtool: series grouped by metric name, times in seconds.
void WriteOpenMetrics(const std::vector<model::Series>& data, const std::string& path) {
  std::ofstream out(path);
  std::map<std::string, std::vector<const model::Series*>> by_name;
  for (const auto& s : data) by_name[std::string(s.labels.MetricName())].push_back(&s);
  for (const auto& [name, list] : by_name) {
    for (const model::Series* s : list) {
      std::string labels;
      for (const model::LabelRef& l : s->labels) {
        if (l.name == model::kMetricNameLabel) continue;
        labels += (labels.empty() ? "" : ",") + std::string(l.name) + "=\"" + std::string(l.value) + "\"";
      }
      for (const Sample& p : s->samples) {
        char line[64];
        std::snprintf(line, sizeof line, " %.17g %lld.%03lld\n", p.value,
                      static_cast<long long>(p.timestamp_ms / 1000),
                      static_cast<long long>(p.timestamp_ms % 1000));
        out << name << "{" << labels << "}" << line;
      }
    }
  }
  out << "# EOF\n";
}

// Every query of queries.txt with its variants expanded; `fail` for those that must fail.
struct Query {
  std::string text;
  bool fail = false;     // both must refuse it
  bool differs = false;  // a documented difference between Prometheus 3 and 2.42
};
std::vector<Query> ExpandQueries() {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/tests/promql/queries.txt");
  std::map<std::string, std::vector<std::string>> variants;
  std::vector<Query> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '@') {
      std::stringstream words(line.substr(1));
      std::string name, value;
      words >> name;
      while (words >> value) variants[name].push_back(value);
      continue;
    }
    Query q;
    if (line.rfind("fail:", 0) == 0) {
      q.fail = true;
      line = line.substr(5);
    } else if (line.rfind("differs:", 0) == 0) {
      q.differs = true;
      line = line.substr(8);
    }
    std::vector<std::string> expanded = {line};
    static const std::regex kVariant(R"(\{\{(\w+)\}\})");
    for (bool changed = true; changed;) {
      changed = false;
      std::vector<std::string> next;
      for (const std::string& text : expanded) {
        std::smatch m;
        if (!std::regex_search(text, m, kVariant)) {
          next.push_back(text);
          continue;
        }
        changed = true;
        const std::string name = m[1];
        for (const std::string& value : variants.at(name)) {
          std::string replaced = text;
          size_t at;
          while ((at = replaced.find("{{" + name + "}}")) != std::string::npos) {
            replaced.replace(at, name.size() + 4, value);
          }
          next.push_back(replaced);
        }
      }
      expanded = std::move(next);
    }
    for (const std::string& text : expanded) out.push_back({text, q.fail, q.differs});
  }
  return out;
}

// A range query's answer: series by canonical labels, each with its points; or an error.
struct Answer {
  bool ok = false;
  std::string error;
  std::map<std::string, std::vector<Sample>> series;
};

Answer FromPrometheus(uint16_t port, const std::string& query) {
  Answer a;
  const std::string body = "query=" + Url(query) + "&start=" + std::to_string(kQueryStart / 1000.0) +
                           "&end=" + std::to_string(kQueryEnd / 1000.0) +
                           "&step=" + std::to_string(kStepMs / 1000);
  auto r = testing::HttpPost(port, "/api/v1/query_range", body, "application/x-www-form-urlencoded");
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
  static PrometheusReference& Get() {
    static PrometheusReference* reference = new PrometheusReference();
    return *reference;
  }
  const std::vector<model::Series>& data() const { return data_; }
  uint16_t port() const { return port_; }
  const std::string& error() const { return error_; }
  std::map<std::string, Answer>& answers() { return answers_; }

 private:
  PrometheusReference() {
    data_ = DemoData();
    WriteOpenMetrics(data_, dir_.Sub("demo.om"));
    testing::ShellResult created = testing::RunShell(
        "promtool tsdb create-blocks-from openmetrics " + dir_.Sub("demo.om") + " " +
        dir_.Sub("tsdb"));
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
    if (store_) EXPECT_TRUE(store_->Close().ok());
  }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  metrics::Registry registry_;
  std::unique_ptr<store::Store> store_;
};

TEST_P(PromqlComplianceTest, EveryQueryAnswersAsPrometheus) {
  PrometheusReference& reference = PrometheusReference::Get();
  query::Engine engine(*store_);
  const std::vector<Query> queries = ExpandQueries();
  ASSERT_GT(queries.size(), 500u);
  int passed = 0, compared_series = 0;
  for (const Query& q : queries) {
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
  std::printf("%s: %d of %zu queries answer as Prometheus 2.42 or differ as documented "
              "(%d series compared)\n",
              GetParam().c_str(), passed, queries.size(), compared_series);
}

INSTANTIATE_TEST_SUITE_P(Stores, PromqlComplianceTest, ::testing::Values("tsdb", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vigil

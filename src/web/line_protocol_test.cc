#include "web/line_protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

namespace vigil::web {
namespace {

using model::Labels;

TEST(LineProtocol, FieldsBecomeSeriesAndTagsLabels) {
  auto r = ParseLineProtocol(
      "cpu,host=a,region=eu usage_user=12.5,usage_system=3i,ok=true 1767225600000000000\n"
      "# a comment\n"
      "\n"
      "cpu,host=b usage_user=1e3 1767225601000000000\r\n",
      "", 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lines, 2);
  ASSERT_EQ(r->batch.series.size(), 4u);
  EXPECT_EQ(r->batch.series[0].labels,
            Labels::Of({{"__name__", "cpu_usage_user"}, {"host", "a"}, {"region", "eu"}}));
  EXPECT_EQ(r->batch.series[0].samples[0], (model::Sample{1'767'225'600'000, 12.5}));
  EXPECT_EQ(r->batch.series[1].samples[0].value, 3);
  EXPECT_EQ(r->batch.series[2].labels.MetricName(), "cpu_ok");
  EXPECT_EQ(r->batch.series[2].samples[0].value, 1);
  EXPECT_EQ(r->batch.series[3].samples[0], (model::Sample{1'767'225'601'000, 1000}));
}

TEST(LineProtocol, EscapesPrecisionStringsAndNames) {
  auto r = ParseLineProtocol(
      "my\\ measure,tag\\ key=va\\,lue,dash-tag=x field-one=1,msg=\"hello, world\",n=2u "
      "1767225600\n"
      "m f=1\n",
      "s", 42'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->skipped_string_fields, 1);
  ASSERT_EQ(r->batch.series.size(), 3u);
  EXPECT_EQ(
      r->batch.series[0].labels,
      Labels::Of({{"__name__", "my_measure_field_one"}, {"tag_key", "va,lue"}, {"dash_tag", "x"}}));
  EXPECT_EQ(r->batch.series[0].samples[0].timestamp_ms, 1'767'225'600'000);
  EXPECT_EQ(r->batch.series[2].samples[0].timestamp_ms, 42'000);  // no timestamp: now
}

// Keys that spell one tag set differently (tag order, escapes, names that sanitize
// alike), and measurement/field splits that make one metric name, are one series each,
// its samples in body order; a different tag value is another series.
TEST(LineProtocol, SpellingsOfOneSeriesShareIt) {
  auto r = ParseLineProtocol(
      "cpu,host=a,zone=z usage_user=1 1\n"
      "cpu,zone=z,host=a usage_user=2 2\n"
      "cpu_usage,host=a,zone=z user=3 3\n"
      "cpu,host=a,zo\\ ne=z usage_user=4 4\n"
      "cpu,host=a,zo-ne=z usage_user=5 5\n"
      "cpu,host=a,zone=z usage-user=6 6\n"
      "cpu,host=b,zone=z usage_user=7 7\n"
      "cpu,host=a\\,b,zone=z usage_user=8 8\n",
      "s", 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->batch.series.size(), 4u);
  using Samples = std::vector<model::Sample>;
  EXPECT_EQ(r->batch.series[0].labels,
            Labels::Of({{"__name__", "cpu_usage_user"}, {"host", "a"}, {"zone", "z"}}));
  EXPECT_EQ(r->batch.series[0].samples, (Samples{{1000, 1}, {2000, 2}, {3000, 3}, {6000, 6}}));
  EXPECT_EQ(r->batch.series[1].labels,
            Labels::Of({{"__name__", "cpu_usage_user"}, {"host", "a"}, {"zo_ne", "z"}}));
  EXPECT_EQ(r->batch.series[1].samples, (Samples{{4000, 4}, {5000, 5}}));
  EXPECT_EQ(r->batch.series[2].labels,
            Labels::Of({{"__name__", "cpu_usage_user"}, {"host", "b"}, {"zone", "z"}}));
  EXPECT_EQ(r->batch.series[3].labels,
            Labels::Of({{"__name__", "cpu_usage_user"}, {"host", "a,b"}, {"zone", "z"}}));
  EXPECT_EQ(r->batch.series[3].samples, (Samples{{8000, 8}}));
}

// Field names that are prefixes of each other, an escaped `=` in a name and a changed
// order: each field keeps its own series.
TEST(LineProtocol, FieldNamesThatPrefixEachOtherOrHoldEscapesStayApart) {
  auto r = ParseLineProtocol(
      "m a=1i,ab=2i,a\\=b=3i 1\n"
      "m ab=4i,a=5i,a\\=b=6i 2\n"
      "m a=7i,ab=-8i 3\n",
      "s", 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->batch.series.size(), 3u);
  auto values = [](const model::Series& series) {
    std::vector<std::pair<int64_t, double>> out;
    for (const model::Sample& s : series.samples) out.emplace_back(s.timestamp_ms, s.value);
    return out;
  };
  using Points = std::vector<std::pair<int64_t, double>>;
  EXPECT_EQ(r->batch.series[0].labels.MetricName(), "m_a");
  EXPECT_EQ(values(r->batch.series[0]), (Points{{1000, 1}, {2000, 5}, {3000, 7}}));
  EXPECT_EQ(r->batch.series[1].labels.MetricName(), "m_ab");
  EXPECT_EQ(values(r->batch.series[1]), (Points{{1000, 2}, {2000, 4}, {3000, -8}}));
  EXPECT_EQ(r->batch.series[2].labels.MetricName(), "m_a_b");
  EXPECT_EQ(values(r->batch.series[2]), (Points{{1000, 3}, {2000, 6}}));
}

// A large body whose lines change their field order now and then: every series once,
// its samples in the body's order, and a bad line late in the body named by its number.
TEST(LineProtocol, ALargeBodyWithShiftingFieldOrderParsesWhole) {
  std::string body;
  int lines = 0;
  for (int t = 0; body.size() < 3'000'000; ++t) {
    for (int h = 0; h < 50; ++h, ++lines) {
      // Field order changes now and then, and one field comes and goes.
      body += "cpu,host=h" + std::to_string(h) + " " +
              (t % 7 == 0 ? "b=" + std::to_string(t) + "i,a=" + std::to_string(t)
                          : "a=" + std::to_string(t) + ",b=" + std::to_string(t) + "i") +
              (t % 3 == 0 ? ",c=1" : "") + " " + std::to_string(t) + "\n";
    }
  }
  auto r = ParseLineProtocol(body, "s", 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lines, lines);
  const int times = lines / 50;
  ASSERT_EQ(r->batch.series.size(), 150u);  // 50 hosts x a, b, c
  for (const auto& series : r->batch.series) {
    const bool c = series.labels.MetricName() == "cpu_c";
    ASSERT_EQ(series.samples.size(), static_cast<size_t>(c ? (times + 2) / 3 : times))
        << series.labels.ToString();
    for (size_t i = 0; i < series.samples.size(); ++i) {
      const int64_t t = c ? static_cast<int64_t>(i) * 3 : static_cast<int64_t>(i);
      ASSERT_EQ(series.samples[i].timestamp_ms, t * 1000) << series.labels.ToString();
      if (!c) {
        ASSERT_EQ(series.samples[i].value, static_cast<double>(t));
      }
    }
  }

  const std::string bad_line = "cpu,host=x a=oops 1\n";
  const size_t cut = body.find('\n', body.size() * 3 / 4) + 1;
  const auto bad_number = std::count(body.begin(), body.begin() + static_cast<long>(cut), '\n') + 1;
  auto bad = ParseLineProtocol(body.substr(0, cut) + bad_line + body.substr(cut), "s", 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("line " + std::to_string(bad_number) + ":", 0), 0u)
      << bad.status().message();
}

// Lines of hundreds of fields, their order shuffled from line to line: each field stays
// its own series (found past the few-field scan through the labels table), quickly.
TEST(LineProtocol, WideLinesInShuffledOrderKeepEachFieldItsSeries) {
  constexpr int kFields = 500;
  std::vector<int> order(kFields);
  for (int f = 0; f < kFields; ++f) order[f] = f;
  std::mt19937 rng(5);
  std::string body;
  for (int t = 0; t < 20; ++t) {
    std::shuffle(order.begin(), order.end(), rng);
    body += "wide,host=a ";
    for (int i = 0; i < kFields; ++i) {
      body += (i ? "," : "") + ("f" + std::to_string(order[i])) + "=" +
              std::to_string(order[i] * 100 + t);
    }
    body += " " + std::to_string(t) + "\n";
  }
  auto r = ParseLineProtocol(body, "s", 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->batch.series.size(), static_cast<size_t>(kFields));
  for (const auto& series : r->batch.series) {
    const int f = std::stoi(std::string(series.labels.MetricName().substr(6)));  // wide_f<N>
    ASSERT_EQ(series.samples.size(), 20u) << series.labels.ToString();
    for (int t = 0; t < 20; ++t) {
      ASSERT_EQ(series.samples[t], (model::Sample{t * 1000LL, f * 100.0 + t}));
    }
  }
}

TEST(LineProtocol, AMalformedLineRejectsTheBatchNamingTheLine) {
  const char* bad[] = {"cpu",
                       "cpu usage=",
                       "cpu,host usage=1",
                       "cpu usage=abc",
                       "cpu usage=1 12x",
                       "cpu usage=\"open",
                       "cpu usage=1i2i",
                       "cpu s=\"x\"i",
                       "cpu,__name__=x usage=1"};  // the measurement names the series
  for (const char* line : bad) {
    auto r = ParseLineProtocol(std::string("ok f=1\n") + line + "\n", "", 0);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.status().message().rfind("line 2: ", 0), 0u) << r.status().message();
  }
  EXPECT_FALSE(ParseLineProtocol("ok f=1", "fortnights", 0).ok());
}

}  // namespace
}  // namespace vigil::web

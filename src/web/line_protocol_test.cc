#include "web/line_protocol.h"

#include <gtest/gtest.h>

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

TEST(LineProtocol, AMalformedLineRejectsTheBatchNamingTheLine) {
  const char* bad[] = {"cpu",           "cpu usage=",      "cpu,host usage=1",
                       "cpu usage=abc", "cpu usage=1 12x", "cpu usage=\"open",
                       "cpu usage=1i2i"};
  for (const char* line : bad) {
    auto r = ParseLineProtocol(std::string("ok f=1\n") + line + "\n", "", 0);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.status().message().rfind("line 2: ", 0), 0u) << r.status().message();
  }
  EXPECT_FALSE(ParseLineProtocol("ok f=1", "fortnights", 0).ok());
}

}  // namespace
}  // namespace vigil::web

#include "rules/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vigil::rules {
namespace {

std::string Render(std::string_view text, const TemplateData& data) {
  auto t = Template::Parse(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status().ToString();
  if (!t.ok()) return "";
  return t->Expand(data);
}

TemplateData Data() {
  TemplateData data;
  data.labels = model::Labels::Of({{"instance", "host-1.example.com:9100"}, {"job", "node"}});
  data.value = 0.0412345;
  data.query = [](std::string_view q) -> Result<std::vector<TemplateSample>> {
    if (q == "none") return std::vector<TemplateSample>{};
    return std::vector<TemplateSample>{{model::Labels::Of({{"disk", "sdb"}}), 2048},
                                       {model::Labels::Of({{"disk", "sda"}}), 1024}};
  };
  return data;
}

TEST(TemplateTest, ExpandsWhatRuleFilesUse) {
  TemplateData data = Data();
  EXPECT_EQ(Render("{{ $labels.instance }} is down", data), "host-1.example.com:9100 is down");
  EXPECT_EQ(Render("{{ .Labels.job }}/{{ $labels.missing }}.", data), "node/.");
  EXPECT_EQ(Render("{{ $value }}", data), "0.0412345");
  EXPECT_EQ(Render("{{ $value | humanizePercentage }}", data), "4.123%");
  EXPECT_EQ(Render("{{ printf \"%.2f\" $value }} and {{ printf \"%d%%\" 42 }}", data),
            "0.04 and 42%");
  EXPECT_EQ(
      Render("{{ humanize 1234567 }} {{ humanize 0.00123 }} {{ humanize1024 1048576 }}", data),
      "1.235M 1.23m 1Mi");
  EXPECT_EQ(
      Render("{{ humanizeDuration 3725 }} {{ humanizeDuration 0.25 }} {{ humanizeDuration 90061 }}",
             data),
      "1h 2m 5s 250ms 1d 1h 1m 1s");
  EXPECT_EQ(Render("{{ $labels.instance | stripPort }} {{ stripDomain $labels.instance }}", data),
            "host-1.example.com host-1:9100");
  EXPECT_EQ(Render("{{- \"  x\" -}}  \n  y", data), "  xy");
  EXPECT_EQ(Render("a{{/* a comment */}}b", data), "ab");
  EXPECT_EQ(Render("{{ toUpper \"disk\" }} {{ title \"free space\" }}", data), "DISK Free Space");
  EXPECT_EQ(Render("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}", data),
            "host-1.example.com");
}

TEST(TemplateTest, ControlStructuresAndQueries) {
  TemplateData data = Data();
  EXPECT_EQ(
      Render("{{ if gt $value 0.5 }}high{{ else if gt $value 0.01 }}some{{ else }}low{{ end }}",
             data),
      "some");
  EXPECT_EQ(Render("{{ with query \"x\" }}{{ . | first | value | humanize1024 }}B{{ end }}", data),
            "2kiB");
  EXPECT_EQ(Render("{{ with query \"none\" }}some{{ else }}none{{ end }}", data), "none");
  EXPECT_EQ(
      Render(
          "{{ range query \"x\" | sortByLabel \"disk\" }}{{ .Labels.disk }}={{ .Value }} {{ end }}",
          data),
      "sda=1024 sdb=2048 ");
  EXPECT_EQ(Render("{{ range $k, $v := $labels }}{{ $k }}:{{ $v }};{{ end }}", data),
            "instance:host-1.example.com:9100;job:node;");
  EXPECT_EQ(Render("{{ $x := 3 }}{{ $x }}{{ $x = 4 }}{{ $x }}", data), "34");
  EXPECT_EQ(Render("{{ label \"disk\" (query \"x\" | first) }}", data), "sdb");
}

TEST(TemplateTest, RejectsWhatGoRejects) {
  for (std::string_view bad :
       {"{{ $foo }}", "{{ nosuch 1 }}", "{{ $value ", "{{ if 1 }}x", "{{ end }}", "{{ else }}",
        "{{ \"unterminated }}", "{{ }}", "{{ range $i := 1 }}{{ end }}{{ $i }}"}) {
    EXPECT_FALSE(Template::Parse(bad).ok()) << bad;
  }
}

TEST(TemplateTest, ExecutionErrorsAreShownInPlace) {
  TemplateData data = Data();
  EXPECT_THAT(
      Render("{{ query \"none\" | first | value }}", data),
      testing::HasSubstr("<error expanding template: first() called on vector with no elements"));
  EXPECT_THAT(Render("{{ humanize \"abc\" }}", data),
              testing::HasSubstr("<error expanding template"));
}

TEST(TemplateTest, HumanizeMatchesPrometheus) {
  EXPECT_EQ(Humanize(0), "0");
  EXPECT_EQ(Humanize(1), "1");
  EXPECT_EQ(Humanize(1000), "1k");
  EXPECT_EQ(Humanize(-12345678), "-12.35M");
  EXPECT_EQ(Humanize(0.000001), "1u");
  EXPECT_EQ(Humanize1024(1), "1");
  EXPECT_EQ(Humanize1024(1536), "1.5ki");
  EXPECT_EQ(HumanizeDuration(0), "0s");
  EXPECT_EQ(HumanizeDuration(59.5), "59.5s");
  EXPECT_EQ(HumanizeDuration(-61), "-1m 1s");
  EXPECT_EQ(HumanizePercentage(0.5), "50%");
}

}  // namespace
}  // namespace vigil::rules

// Alert templates: the part of Go's text/template that Prometheus's rule files use in
// alert labels and annotations (docs/alerts.md, "Templates"). Parse checks a text as
// `promtool check rules` does — unclosed actions, unknown functions and undefined
// variables are errors — and Render expands it for one alert.
//
// The language: text with actions between `{{ }}` (`{{-`/`-}}` trim the space beside
// them, `{{/* */}}` is a comment); pipelines `a | f b` with the variables `$labels`,
// `$value`, `$externalLabels`, `$externalURL` and `.` (`.Labels`, `.Value`, …); string,
// number and boolean literals; `$x := pipeline`; `if`/`else if`/`else`, `with`, `range`
// and `end`. Functions: Prometheus's humanize, humanize1024, humanizeDuration,
// humanizePercentage, humanizeTimestamp, printf, print, query, first, label, value,
// strvalue, sortByLabel, toUpper, toLower, title, match, reReplaceAll, stripPort,
// stripDomain, parseDuration, safeHtml and Go's and, or, not, len, index, eq, ne, lt, le,
// gt, ge. Other names Prometheus knows parse and fail when rendered.
//
// Thread safety: a parsed Template is immutable; Render may run on any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/labels.h"

namespace vigil::rules {

// One element of an instant vector, as `query` returns them.
struct TemplateSample {
  model::Labels labels;
  double value = 0;
};

struct TemplateData {
  model::Labels labels;  // $labels: the alert's labels before the rule's own are added
  double value = 0;      // $value
  std::string external_url;
  // The `query` function; without it, `query` fails when rendered.
  std::function<Result<std::vector<TemplateSample>>(std::string_view)> query;
};

class Template {
 public:
  struct Node;
  // InvalidArgument with Go's kind of reason ("function \"foo\" not defined").
  static Result<Template> Parse(std::string_view text);
  // The expansion, or why it failed (a function's error, a wrong argument type).
  Result<std::string> Render(const TemplateData& data) const;
  // Render, or Prometheus's "<error expanding template: …>" in its place.
  std::string Expand(const TemplateData& data) const;

 private:
  std::shared_ptr<const Node> root_;
};

// Prometheus's number formats for templates (template.go): 1234567 is "1.235M",
// 0.001 is "1m"; humanize1024 uses Ki, Mi …; 3725 seconds are "1h 2m 5s"; 0.256 is "25.6%".
std::string Humanize(double value);
std::string Humanize1024(double value);
std::string HumanizeDuration(double seconds);
std::string HumanizePercentage(double ratio);

}  // namespace vigil::rules

// Feeds arbitrary bytes to the text formats vigil ingests: the exposition parser (both
// formats), as a broken or hostile /metrics endpoint would, and the line-protocol parser,
// as a hostile writer would. Each must return samples or an error naming a line, never
// crash; every sample must carry valid labels, and line protocol gives each series once.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/names.h"
#include "sensors/scrape/exposition.h"
#include "web/line_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  using vigil::sensors::scrape::Format;
  for (Format format : {Format::kPrometheusText, Format::kOpenMetrics}) {
    std::map<std::string, vigil::sensors::scrape::Metadata> metadata;
    vigil::Status status = vigil::sensors::scrape::ParseExposition(
        input, format, {.max_samples = 10'000},
        [](vigil::sensors::scrape::ScrapedSample&& s) {
          if (!vigil::IsValidMetricName(s.labels.MetricName())) std::abort();
        },
        &metadata);
    if (!status.ok() && status.message().empty()) std::abort();
  }
  auto written = vigil::web::ParseLineProtocol(input, "ns", 0);
  if (!written.ok()) {
    if (written.status().message().rfind("line ", 0) != 0) std::abort();
    return 0;
  }
  std::vector<const vigil::model::Labels*> labels;
  for (const auto& series : written->batch.series) {
    if (series.samples.empty() || !vigil::IsValidMetricName(series.labels.MetricName())) {
      std::abort();
    }
    for (const auto& label : series.labels) {
      if (!vigil::IsValidLabelName(label.name)) std::abort();
    }
    labels.push_back(&series.labels);
  }
  std::sort(labels.begin(), labels.end(), [](auto* a, auto* b) { return *a < *b; });
  for (size_t i = 1; i < labels.size(); ++i) {
    if (*labels[i - 1] == *labels[i]) std::abort();  // one series given twice
  }
  return 0;
}

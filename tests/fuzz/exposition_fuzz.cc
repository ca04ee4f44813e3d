// Feeds arbitrary bytes to the exposition parser (both formats), as a broken or hostile
// /metrics endpoint would: it must return samples or an error naming a line, never crash,
// and every sample it returns must carry valid labels.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/names.h"
#include "sensors/scrape/exposition.h"

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
  return 0;
}

// Parses the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text — what
// `/metrics` endpoints (node_exporter, Go services, vigil itself) answer — into samples
// for the scrape sensor (issue #3). HELP/TYPE/UNIT lines become metadata; escaped label
// values, optional timestamps (ms in 0.0.4, seconds in OpenMetrics), NaN and ±Inf,
// histograms and summaries (as their _bucket/_sum/_count/quantile samples), exemplars
// (skipped) and `# EOF` are handled. A malformed line is an error naming its line.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/labels.h"

namespace vigil::sensors::scrape {

enum class Format { kPrometheusText, kOpenMetrics };

// "application/openmetrics-text…" is OpenMetrics; anything else the 0.0.4 text format.
Format FormatFromContentType(std::string_view content_type);

struct ScrapedSample {
  model::Labels labels;  // __name__ included
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

struct Metadata {
  std::string type = "unknown";  // counter, gauge, histogram, summary, …
  std::string help;
  std::string unit;
};

struct ParseLimits {
  size_t max_samples = 0;  // 0: no limit; more is an error (the scrape's sample limit)
};

// Calls `on_sample` for each sample in order. InvalidArgument "line N: reason" for the
// first malformed line, ResourceExhausted beyond the sample limit; samples before the
// fault have been delivered (the caller discards them: a scrape is all or nothing).
Status ParseExposition(std::string_view body, Format format, const ParseLimits& limits,
                       const std::function<void(ScrapedSample&&)>& on_sample,
                       std::map<std::string, Metadata>* metadata = nullptr);

}  // namespace vigil::sensors::scrape

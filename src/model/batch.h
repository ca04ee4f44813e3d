// The data model that flows from sensors to stores: a Sample is (timestamp in int64
// milliseconds since the epoch, double value); a Series is Labels plus its samples in
// time order; a Batch is what travels as one message (series with their samples, the
// shape of a Prometheus remote-write WriteRequest). No I/O here.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "model/labels.h"

namespace vigil::model {

// The stale marker of remote write and Prometheus's TSDB: a NaN with exactly these bits. It
// says the series ended; queries treat it as no value.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
inline bool IsStaleMarker(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits == kStaleNaNBits;
}
inline double StaleMarker() {
  double value;
  std::memcpy(&value, &kStaleNaNBits, sizeof value);
  return value;
}

struct Sample {
  int64_t timestamp_ms = 0;
  double value = 0;
  bool operator==(const Sample&) const = default;
};

struct Series {
  Labels labels;
  std::vector<Sample> samples;
  bool operator==(const Series&) const = default;
};

struct Batch {
  std::vector<Series> series;

  size_t SampleCount() const {
    size_t n = 0;
    for (const auto& s : series) n += s.samples.size();
    return n;
  }
  bool operator==(const Batch&) const = default;
};

}  // namespace vigil::model

namespace vigil::model {

// Gathers samples into a Batch, one Series per distinct label set, in arrival order.
// Thread safety: one thread at a time.
class BatchBuilder {
 public:
  void Add(const Labels& labels, Sample sample);
  size_t sample_count() const { return samples_; }
  bool empty() const { return samples_ == 0; }
  // Returns the batch and starts a new one.
  Batch Take();

 private:
  Batch batch_;
  std::unordered_map<Labels, size_t, LabelsHash> index_;
  size_t samples_ = 0;
};

}  // namespace vigil::model

// The one record the embedded store writes to its log: the samples of one Append, with
// the labels of any series they introduce (docs/format/wal.md, "Samples record").
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/batch.h"

namespace vigil::tsdb {

inline constexpr uint8_t kSamplesRecord = 1;

struct NewSeries {
  uint64_t id = 0;
  model::LabelsView labels;
};
struct SampleGroup {
  uint64_t id = 0;
  std::span<const model::Sample> samples;
};

// Replaces `out` with the record bytes (type byte first).
void EncodeSamplesRecord(std::span<const NewSeries> new_series, std::span<const SampleGroup> groups,
                         std::string* out);

struct DecodedSeries {
  uint64_t id = 0;
  model::Labels labels;
};
struct DecodedGroup {
  uint64_t id = 0;
  std::span<const model::Sample> samples;  // in the record's samples
};
// A record's samples are decoded into one vector (a million series' record has a million
// groups, most of one sample); each group views its part.
struct DecodedRecord {
  std::vector<DecodedSeries> new_series;
  std::vector<DecodedGroup> groups;
  std::vector<model::Sample> samples;
};

// DataLoss for bytes that are not a samples record (the CRC matched, so this is a bug or
// a record from a newer version).
Status DecodeSamplesRecord(std::string_view record, DecodedRecord* out);

}  // namespace vigil::tsdb

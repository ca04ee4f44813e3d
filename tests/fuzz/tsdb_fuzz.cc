// Feeds arbitrary bytes to the embedded store's decoders — a XOR chunk's or a compacted
// block's bytes, a tier row and a write-ahead-log record — as a damaged disk would: each must
// return samples or an error, never crash, and what decodes must survive encode -> decode bit for
// bit.
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "tsdb/chunk/block_chunk.h"
#include "tsdb/chunk/summary_row.h"
#include "tsdb/chunk/xor_chunk.h"
#include "tsdb/wal_record.h"

namespace {

using vigil::model::Sample;

bool SameBits(std::span<const Sample> a, std::span<const Sample> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].timestamp_ms != b[i].timestamp_ms ||
        std::bit_cast<uint64_t>(a[i].value) != std::bit_cast<uint64_t>(b[i].value)) {
      return false;
    }
  }
  return true;
}

void CheckChunk(std::string_view input) {
  std::vector<Sample> samples;
  if (!vigil::tsdb::chunk::DecodeXorChunk(input, &samples).ok()) return;
  // The reader takes any gap; vigil's writer keeps a gap in 32 bits (docs/format/chunk.md).
  for (size_t i = 1; i < samples.size(); ++i) {
    const uint64_t gap = static_cast<uint64_t>(samples[i].timestamp_ms) -
                         static_cast<uint64_t>(samples[i - 1].timestamp_ms);
    if (gap > uint64_t{vigil::tsdb::chunk::XorAppender::kMaxSpanMs}) {
      return;
    }
  }
  vigil::tsdb::chunk::XorAppender appender;
  for (const Sample& s : samples) appender.Append(s.timestamp_ms, s.value);
  std::vector<Sample> again;
  if (!vigil::tsdb::chunk::DecodeXorChunk(appender.bytes(), &again).ok()) std::abort();
  if (!SameBits(samples, again)) std::abort();
}

// Any block encoding; what decodes is written again as the current one.
void CheckBlock(std::string_view input, int encoding) {
  std::vector<Sample> samples;
  if (!vigil::tsdb::chunk::DecodeChunk(encoding, input, &samples).ok()) return;
  std::vector<Sample> again;
  if (!vigil::tsdb::chunk::DecodeBlock(vigil::tsdb::chunk::EncodeBlock(samples), &again).ok()) {
    std::abort();
  }
  if (!SameBits(samples, again)) std::abort();
}

bool SameBits(const std::vector<vigil::store::WindowSummary>& a,
              const std::vector<vigil::store::WindowSummary>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    for (auto [x, y] : {std::pair{a[i].min, b[i].min}, std::pair{a[i].max, b[i].max},
                        std::pair{a[i].sum, b[i].sum}, std::pair{a[i].first, b[i].first},
                        std::pair{a[i].last, b[i].last}, std::pair{a[i].resets, b[i].resets}}) {
      if (std::bit_cast<uint64_t>(x) != std::bit_cast<uint64_t>(y)) return false;
    }
    if (a[i].end_ms != b[i].end_ms || a[i].count != b[i].count || a[i].first_ms != b[i].first_ms ||
        a[i].last_ms != b[i].last_ms) {
      return false;
    }
  }
  return true;
}

void CheckTierRow(std::string_view input) {
  constexpr int64_t kResolution = 300'000;
  std::vector<vigil::store::WindowSummary> summaries;
  if (!vigil::tsdb::chunk::DecodeSummaries(input, kResolution, &summaries).ok()) return;
  std::vector<vigil::store::WindowSummary> again;
  const std::string row = vigil::tsdb::chunk::EncodeSummaries(summaries, kResolution);
  if (!vigil::tsdb::chunk::DecodeSummaries(row, kResolution, &again).ok()) std::abort();
  if (!SameBits(summaries, again)) std::abort();
}

void CheckRecord(std::string_view input) {
  vigil::tsdb::DecodedRecord record;
  if (!vigil::tsdb::DecodeSamplesRecord(input, &record).ok()) return;
  std::vector<vigil::tsdb::NewSeries> series;
  for (const auto& s : record.new_series) series.push_back({s.id, s.labels.view()});
  std::vector<vigil::tsdb::SampleGroup> groups;
  for (const auto& g : record.groups) groups.push_back({g.id, g.samples});
  std::string bytes;
  vigil::tsdb::EncodeSamplesRecord(series, groups, &bytes);
  vigil::tsdb::DecodedRecord again;
  if (!vigil::tsdb::DecodeSamplesRecord(bytes, &again).ok()) std::abort();
  if (again.new_series.size() != record.new_series.size()) std::abort();
  for (size_t i = 0; i < record.groups.size(); ++i) {
    if (!SameBits(record.groups[i].samples, again.groups[i].samples)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckChunk(input);
  for (int encoding = vigil::tsdb::chunk::kRangeCodedBlockEncoding;
       encoding <= vigil::tsdb::chunk::kBlockEncoding; ++encoding) {
    CheckBlock(input, encoding);
  }
  CheckTierRow(input);
  CheckRecord(input);
  return 0;
}

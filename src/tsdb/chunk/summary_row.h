// Rows of the downsampled tiers (docs/format/tier.md): one series' window summaries
// (store::WindowSummary: count, min, max, sum, first, last, counter correction) of one
// tier resolution and one 2-hour block, as the compactor writes them. Values that are
// short decimals are scaled integers predicted from their neighbours, timestamps are
// offsets inside their window, all as varints; anything else is kept verbatim. Counter
// corrections are left out of rows where most windows have one (gauges that go down):
// rate and increase are not answered from those.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/aggregate.h"

namespace vigil::tsdb::chunk {

// Encodes summaries of `resolution_ms` (ascending end, each ending at a multiple of it,
// each of at least one sample). Every double round-trips bit for bit, but the counter
// corrections of a row that leaves them out: those decode as NaN.
std::string EncodeSummaries(std::span<const store::WindowSummary> summaries, int64_t resolution_ms);

// False for a row that left its counter corrections out.
bool SummariesHaveResets(std::string_view row);

// Appends the row's summaries to `out`; DataLoss when the bytes are not a valid row (`out`
// is then left as it was).
Status DecodeSummaries(std::string_view bytes, int64_t resolution_ms,
                       std::vector<store::WindowSummary>* out);

}  // namespace vigil::tsdb::chunk

// Compacted blocks (docs/format/block.md, encoding 2): every sample of one series in one
// 2-hour block, as the compactor writes them. Timestamps are delta-of-delta varints;
// values are scaled decimal integers (delta or delta-of-delta varints, whichever is
// smaller) when every value of the block is a short decimal, otherwise XOR'd IEEE-754
// bits in byte planes; zstd compresses the whole. Decode dispatches on a row's encoding
// (XOR chunks or blocks), so readers need not know which one a row holds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/batch.h"

namespace vigil::tsdb::chunk {

inline constexpr uint8_t kBlockEncoding = 2;

// Encodes samples in strictly increasing time order (the caller sorts and de-duplicates)
// into a block. Every double round-trips bit for bit.
std::string EncodeBlock(std::span<const model::Sample> samples);

// Appends the block's samples to `out`. DataLoss when the bytes are not a valid block;
// `out` is then left as it was.
Status DecodeBlock(std::string_view bytes, std::vector<model::Sample>* out);

// Appends the samples of a row of either encoding (kXorEncoding, kBlockEncoding) to
// `out`; DataLoss for an unknown encoding or damaged bytes.
Status DecodeChunk(int encoding, std::string_view bytes, std::vector<model::Sample>* out);

}  // namespace vigil::tsdb::chunk

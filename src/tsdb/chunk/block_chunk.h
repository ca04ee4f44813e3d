// Compacted blocks (docs/format/block.md): every sample of one series in one 2-hour
// block, as the compactor writes them. Timestamps are delta-of-deltas; values are scaled
// decimal integers (deltas or delta-of-deltas, whichever is smaller) when every value of
// the block is a short decimal, both entropy coded (symbol_stream.h), otherwise XOR'd
// IEEE-754 bits in byte planes under zstd. Encodings 5 (four word-wise rANS states a
// stream instead of sixteen), 4 (four byte-wise), 3 (two byte-wise) and 2 (an adaptive
// range coder, range_coder.h) are still read. DecodeChunk dispatches on
// a row's encoding (XOR chunks or blocks), so readers need not know which one a row holds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/batch.h"
#include "store/store.h"

namespace vigil::tsdb::chunk {

// What EncodeBlock writes: symbol streams of sixteen word-wise rANS states
// (symbol_stream.h, since 2026-12-06, the sixteenth pass). Blocks written before are
// encoding 5 (four word-wise states), before that encoding 4 (four byte-wise states),
// before 2026-12-05 encoding 3 (two), before 2026-12 encoding 2 (range coded).
inline constexpr uint8_t kBlockEncoding = 6;
inline constexpr uint8_t kFourWordStatesBlockEncoding = 5;
inline constexpr uint8_t kByteWiseBlockEncoding = 4;
inline constexpr uint8_t kTwoStateBlockEncoding = 3;
inline constexpr uint8_t kRangeCodedBlockEncoding = 2;

// Encodes samples in strictly increasing time order (the caller sorts and de-duplicates)
// into a block (kBlockEncoding). Every double round-trips bit for bit.
std::string EncodeBlock(std::span<const model::Sample> samples);

// Appends the block's samples to `out`, or with `picks` only those the picks need (and
// the block's last, which a later block's first sample may be the next of): every
// block of a series thinned alike still gives each pick time its sample. DataLoss when
// the bytes are not a valid block; `out` is then left as it was. DecodeRangeCodedBlock
// reads encoding 2.
Status DecodeBlock(std::string_view bytes, std::vector<model::Sample>* out,
                   const store::StepPicks* picks = nullptr);
Status DecodeRangeCodedBlock(std::string_view bytes, std::vector<model::Sample>* out,
                             const store::StepPicks* picks = nullptr);

// Appends the samples of a row of any encoding (XOR chunks or either block's) to
// `out`; DataLoss for an unknown encoding or damaged bytes. `picks` as DecodeBlock's
// (XOR chunks are appended whole).
Status DecodeChunk(int encoding, std::string_view bytes, std::vector<model::Sample>* out,
                   const store::StepPicks* picks = nullptr);

}  // namespace vigil::tsdb::chunk

// Streams of small unsigned integers (the zigzagged residues of compacted blocks,
// docs/format/block.md, encoding 3), entropy coded with rANS (Duda's asymmetric numeral
// systems, in the byte-wise form of Giesen's rans_byte) over a table of frequencies
// counted on the stream itself. Values 0 … 15 are symbols of their own; larger ones are
// coded as their bit length, their bits below the leading 1 kept apart, verbatim.
//
// Why not the adaptive range coder of encoding 2 (range_coder.h): decoding a symbol is
// one table lookup and a multiplication here, against a search through adaptive
// frequencies there — 3–4× faster to read, for the same bytes (the table costs what the
// adaptive model spent learning).
//
// Thread safety: a reader belongs to one thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vigil::tsdb::chunk {

inline constexpr int kStreamDirectValues = 16;                       // 0 … 15
inline constexpr int kStreamSymbols = kStreamDirectValues + 64 - 4;  // + bit lengths 5 … 64
inline constexpr int kStreamScaleBits = 10;                          // frequencies sum to 1,024
inline constexpr int kMaxStreamStates = 4;

// Appends the stream coding `values` to `out` (docs/format/block.md, "Symbol streams")
// with `states` rANS states taking turns, 2 (encoding 3) or 4 (encoding 4); the reader
// must be told the same number.
void PutSymbolStream(std::span<const uint64_t> values, int states, std::string* out);

class SymbolStreamReader {
 public:
  // Takes a stream of `states` states from the front of `*in`; false when its table or
  // lengths are damaged.
  bool Open(std::string_view* in, int states);

  // The stream's values, as many as were put (the block's count) — or fewer, the rest
  // in a later call.
  void Read(uint64_t* out, size_t n);

  // True when every value was read as written: all bytes used, the state back at its
  // start, no read past the end.
  bool Finished() const;

  static constexpr uint32_t kTotal = 1u << kStreamScaleBits;
  static constexpr uint32_t kLow = 1u << 23;  // the state stays in [kLow, 256 × kLow)

 private:
  // Each slot's decoding step in one word, so that a value costs one table load: the
  // slot's offset inside its symbol's range (bits 0–9), the symbol's frequency (bits
  // 10–20) and the symbol (bits 24–31). Filled by Open: a reader is made per block, so
  // filling must cost little (1,024 stores).
  std::array<uint32_t, kTotal> slot_;
  uint64_t Long(uint8_t symbol);
  // The states take turns (value i, state i mod states): each value's decoding waits on
  // the one before it of its own state only, so the processor overlaps them.
  template <int kStates>
  void ReadWith(uint64_t* out, size_t n);
  int states_ = 2;
  uint32_t state_[kMaxStreamStates] = {};
  size_t read_ = 0;  // values read so far
  const char* next_ = nullptr;
  const char* end_ = nullptr;
  std::string_view raw_;       // the verbatim low bits of long values
  uint64_t raw_position_ = 0;  // in bits
  bool failed_ = false;
};

}  // namespace vigil::tsdb::chunk

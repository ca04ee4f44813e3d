// Streams of small unsigned integers (the zigzagged residues of compacted blocks,
// docs/format/block.md, encodings 3 to 6), entropy coded with rANS (Duda's asymmetric numeral
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
inline constexpr int kMaxStreamStates = 16;

// How a stream's rANS states are laid out: how many take turns, and how each
// renormalizes — a byte at a time, the state kept in [2²³, 2³¹) (encodings 3 and 4), or
// a 16-bit word at a time, kept in [2¹⁶, 2³²) (encodings 5 and 6). A word-wise state
// takes at most one word a value, so a value's step has no loop and no branch: about half
// the instructions of the byte-wise one, the bulk of a long query's decoding.
//
// Encoding 6's streams say themselves how many states they have (states = 0 here):
// sixteen, read as two vectors of eight where the processor has AVX2 (a round of 16
// values in about the instructions 4 values take a state at a time), when the stream
// has kSixteenStatesFrom values or more and their 48 more bytes are at most half of it;
// else four (a near-constant series keeps its few bytes).
struct StreamLayout {
  int states = 0;
  bool words = true;
};
inline constexpr StreamLayout kTwoStatesBytes{.states = 2, .words = false};   // encoding 3
inline constexpr StreamLayout kFourStatesBytes{.states = 4, .words = false};  // encoding 4
inline constexpr StreamLayout kFourStatesWords{.states = 4, .words = true};   // encoding 5
inline constexpr StreamLayout kStatesInStream{.states = 0, .words = true};    // encoding 6
inline constexpr size_t kSixteenStatesFrom = 512;

// Appends the stream coding `values` to `out` (docs/format/block.md, "Symbol streams")
// in `layout`; the reader must be told the same layout.
void PutSymbolStream(std::span<const uint64_t> values, StreamLayout layout, std::string* out);

class SymbolStreamReader {
 public:
  // Takes a stream of `layout` from the front of `*in`; false when its table, states or
  // lengths are damaged.
  bool Open(std::string_view* in, StreamLayout layout);

  // The stream's values, as many as were put (the block's count) — or fewer, the rest
  // in a later call.
  void Read(uint64_t* out, size_t n);

  // True when every value was read as written: all bytes used, the state back at its
  // start, no read past the end.
  bool Finished() const;

  static constexpr uint32_t kTotal = 1u << kStreamScaleBits;
  static constexpr uint32_t kLow = 1u << 23;      // a byte-wise state stays in [kLow, 2³¹)
  static constexpr uint32_t kLowWord = 1u << 16;  // a word-wise one in [kLowWord, 2³²)

 private:
  // Each slot's decoding step in one word, so that a value costs one table load: the
  // slot's offset inside its symbol's range (bits 0–9), the symbol's frequency (bits
  // 10–20) and the symbol (bits 24–31). Filled by Open: a reader is made per block, so
  // filling must cost little (1,024 stores).
  // 7 slots of padding past the table, for FillSlots's spill.
  std::array<uint32_t, kTotal + 7> slot_;
  uint64_t Long(uint8_t symbol);
  // The states take turns (value i, state i mod states): each value's decoding waits on
  // the one before it of its own state only, so the processor overlaps them.
  template <int kStates, bool kWords>
  void ReadWith(uint64_t* out, size_t n);
  // Sixteen word-wise states as two vectors of eight (AVX2): whole rounds of 16 values
  // from a round's start (the stream's last bytes read from a copy padded with zeros);
  // returns how many.
  size_t ReadRoundsAvx2(uint64_t* out, size_t n);
  StreamLayout layout_;  // the states told or, in encoding 6, read
  uint32_t state_[kMaxStreamStates] = {};
  size_t read_ = 0;  // values read so far
  const char* next_ = nullptr;
  const char* end_ = nullptr;
  std::string_view raw_;       // the verbatim low bits of long values
  uint64_t raw_position_ = 0;  // in bits
  bool failed_ = false;
};

}  // namespace vigil::tsdb::chunk

// The decoder of blocks of encoding 2 (docs/format/block.md), written until 2026-12 and
// still read: an adaptive order-0 range coder (Subbotin's carry-less one) over streams
// of small unsigned integers. Values 0 … 15 are symbols of their own; larger ones are
// coded as their bit length, then their low bits verbatim. Symbol frequencies adapt as
// the stream goes. Blocks are now written with symbol_stream.h, 2–3× faster to read: a
// symbol here costs a search through the adaptive frequencies.
//
// Decoding divides by no variable: the model's total by a table of reciprocals, the code
// by searching with multiplications.
//
// Thread safety: a decoder belongs to one thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::tsdb::chunk {

// Adaptive frequencies of the symbols, as the encoder kept them.
class SymbolModel {
 public:
  static constexpr int kDirect = 16;                 // values coded as one symbol
  static constexpr int kSymbols = kDirect + 64 - 4;  // + bit lengths 5 … 64
  SymbolModel();
  uint32_t total() const { return total_; }
  uint32_t frequency(int symbol) const { return frequency_[symbol]; }
  // The symbol s with cumulative(s) * unit <= offset < cumulative(s + 1) * unit (where
  // cumulative(s) sums the frequencies of the symbols before s), and its
  // cumulative frequency; -1 when offset >= total() * unit. The decoder's search, by
  // multiplication rather than by dividing offset by unit.
  [[gnu::always_inline]] int Find(uint32_t offset, uint32_t unit, uint32_t* cumulative) const {
    // No overflow: cumulative frequencies times the unit stay within the coder's range.
    uint32_t sum = 0;
    for (int i = 0; i < kSymbols; ++i) {
      const uint32_t next = sum + frequency_[i];
      if (offset < next * unit) {
        *cumulative = sum;
        return i;
      }
      sum = next;
    }
    return -1;
  }
  [[gnu::always_inline]] void Update(int symbol) {
    frequency_[symbol] += kIncrement;
    total_ += kIncrement;
    if (total_ > kMaxTotal) Halve();
  }
  // Each use adds kIncrement to a frequency; all are halved when the total would pass
  // kMaxTotal, which keeps them below the coder's precision.
  static constexpr uint32_t kIncrement = 32;
  static constexpr uint32_t kMaxTotal = (1u << 14) - kIncrement;

 private:
  void Halve();
  std::array<uint32_t, kSymbols> frequency_;
  uint32_t total_ = 0;
};

// n / d for 32-bit n and 1 < d <= SymbolModel::kMaxTotal, exactly, by one multiplication:
// with M = floor((2^64 - 1) / d) + 1, n / d == (n * M) >> 64 (Lemire, Kaser and Kurz,
// "Faster remainder by direct computation", 2019). `reciprocals` is
// ModelTotalReciprocals(), M for every d.
const uint64_t* ModelTotalReciprocals();
[[gnu::always_inline]] inline uint32_t DivideByModelTotal(uint32_t n, uint32_t d,
                                                          const uint64_t* reciprocals) {
  __extension__ using Uint128 = unsigned __int128;
  return static_cast<uint32_t>((static_cast<Uint128>(reciprocals[d]) * n) >> 64);
}

// The coder's renormalization bounds (Subbotin's): a byte moves when the top byte of the
// interval is settled, or the range falls below kBottom.
inline constexpr uint32_t kRangeTop = 1u << 24;
inline constexpr uint32_t kRangeBottom = 1u << 16;

// Decoding is inline: it is the inner loop of reading compacted blocks.
class RangeDecoder {
 public:
  explicit RangeDecoder(std::string_view in);
  [[gnu::always_inline]] uint64_t Get(SymbolModel& model) {
    range_ = DivideByModelTotal(range_, model.total(), reciprocals_);
    uint32_t cumulative = 0;
    int symbol = model.Find(code_ - low_, range_, &cumulative);
    if (symbol < 0) [[unlikely]] {  // past the model's total: no encoder wrote this
      failed_ = true;
      symbol = SymbolModel::kSymbols - 1;
      cumulative = model.total() - model.frequency(symbol);
    }
    Consume(cumulative, model.frequency(symbol));
    model.Update(symbol);
    if (symbol < SymbolModel::kDirect) [[likely]]
      return static_cast<uint64_t>(symbol);
    return GetLong(symbol);
  }
  uint64_t GetBits(int n);
  // True when the input ran out or held an impossible code: the stream is damaged.
  bool failed() const { return failed_; }

 private:
  [[gnu::always_inline]] void Consume(uint32_t cumulative, uint32_t frequency) {
    low_ += cumulative * range_;
    range_ *= frequency;
    while ((low_ ^ (low_ + range_)) < kRangeTop ||
           (range_ < kRangeBottom && ((range_ = -low_ & (kRangeBottom - 1)), true))) {
      code_ = (code_ << 8) | NextByte();
      low_ <<= 8;
      range_ <<= 8;
    }
  }
  uint8_t NextByte() {
    if (position_ >= in_.size()) [[unlikely]] {
      failed_ = true;
      return 0;
    }
    return static_cast<uint8_t>(in_[position_++]);
  }
  // A symbol that stands for a bit length: the value's bits below its leading 1 follow.
  uint64_t GetLong(int symbol);

  const uint64_t* reciprocals_ = ModelTotalReciprocals();
  std::string_view in_;
  size_t position_ = 0;
  uint32_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
  uint32_t code_ = 0;
  bool failed_ = false;
};

}  // namespace vigil::tsdb::chunk

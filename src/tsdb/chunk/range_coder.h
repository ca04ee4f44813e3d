// An adaptive order-0 range coder for streams of small unsigned integers (zigzagged
// deltas of the compacted blocks, docs/format/block.md). Values 0 … 15 are symbols of
// their own; larger ones are coded as their bit length, then their low bits verbatim.
// Symbol frequencies adapt as the stream goes, so a block needs no table: a stream of
// steps of a few values costs close to its entropy (2.1 bits for TSBS-like integer
// walks, where zstd spends 3.5–4). The coder is Subbotin's carry-less range coder.
//
// Thread safety: an encoder or decoder belongs to one thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::tsdb::chunk {

// Adaptive frequencies of the symbols, shared by the encoder and decoder's rules.
class SymbolModel {
 public:
  static constexpr int kDirect = 16;                 // values coded as one symbol
  static constexpr int kSymbols = kDirect + 64 - 4;  // + bit lengths 5 … 64
  SymbolModel();
  uint32_t total() const { return total_; }
  uint32_t frequency(int symbol) const { return frequency_[symbol]; }
  uint32_t cumulative(int symbol) const;
  // The symbol whose cumulative range holds `target` (< total()).
  int Find(uint32_t target, uint32_t* cumulative) const;
  void Update(int symbol);

 private:
  std::array<uint32_t, kSymbols> frequency_;
  uint32_t total_ = 0;
};

class RangeEncoder {
 public:
  void Put(uint64_t value, SymbolModel& model);
  // n <= 64 bits as they are (each value equally likely).
  void PutBits(uint64_t bits, int n);
  // The coded bytes; the encoder is spent afterwards.
  std::string Finish();

 private:
  void Encode(uint32_t cumulative, uint32_t frequency, uint32_t total);
  std::string out_;
  uint32_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
};

class RangeDecoder {
 public:
  explicit RangeDecoder(std::string_view in);
  uint64_t Get(SymbolModel& model);
  uint64_t GetBits(int n);
  // True when the input ran out or held an impossible code: the stream is damaged.
  bool failed() const { return failed_; }

 private:
  uint32_t Frequency(uint32_t total);
  void Consume(uint32_t cumulative, uint32_t frequency);
  uint8_t NextByte();
  std::string_view in_;
  size_t position_ = 0;
  uint32_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
  uint32_t code_ = 0;
  bool failed_ = false;
};

}  // namespace vigil::tsdb::chunk

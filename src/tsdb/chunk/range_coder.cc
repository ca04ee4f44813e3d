#include "tsdb/chunk/range_coder.h"

#include <array>

namespace vigil::tsdb::chunk {
namespace {

constexpr uint32_t kMaxTotal = SymbolModel::kMaxTotal;
static_assert(kMaxTotal + SymbolModel::kIncrement < kRangeBottom);

}  // namespace

SymbolModel::SymbolModel() {
  frequency_.fill(1);
  total_ = kSymbols;
}

void SymbolModel::Halve() {
  total_ = 0;
  for (uint32_t& f : frequency_) {
    f = (f + 1) / 2;
    total_ += f;
  }
}

RangeDecoder::RangeDecoder(std::string_view in) : in_(in) {
  for (int i = 0; i < 4; ++i) code_ = (code_ << 8) | NextByte();
}

const uint64_t* ModelTotalReciprocals() {
  static const auto* table = [] {
    auto* t = new std::array<uint64_t, kMaxTotal + 1>{};
    for (uint32_t d = 2; d <= kMaxTotal; ++d) (*t)[d] = ~uint64_t{0} / d + 1;
    return t;
  }();
  return table->data();
}

uint64_t RangeDecoder::GetBits(int n) {
  uint64_t bits = 0;
  for (int shift = 0; shift < n; shift += 8) {
    const int width = n - shift < 8 ? n - shift : 8;
    range_ >>= width;
    uint32_t v = (code_ - low_) / range_;  // rare: only large values' low bits
    if (v >> width != 0) {
      failed_ = true;
      v = (1u << width) - 1;
    }
    Consume(v, 1);
    bits |= static_cast<uint64_t>(v) << shift;
  }
  return bits;
}

uint64_t RangeDecoder::GetLong(int symbol) {
  const int length = symbol - SymbolModel::kDirect + 5;
  return (uint64_t{1} << (length - 1)) | GetBits(length - 1);
}

}  // namespace vigil::tsdb::chunk

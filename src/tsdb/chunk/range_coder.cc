#include "tsdb/chunk/range_coder.h"

#include <array>
#include <bit>

namespace vigil::tsdb::chunk {
namespace {

constexpr uint32_t kTop = kRangeTop;
constexpr uint32_t kBottom = kRangeBottom;
constexpr uint32_t kMaxTotal = SymbolModel::kMaxTotal;
static_assert(kMaxTotal + SymbolModel::kIncrement < kBottom);

int SymbolOf(uint64_t value) {
  if (value < SymbolModel::kDirect) return static_cast<int>(value);
  return SymbolModel::kDirect + std::bit_width(value) - 5;  // bit length 5 … 64
}

}  // namespace

SymbolModel::SymbolModel() {
  frequency_.fill(1);
  total_ = kSymbols;
}

uint32_t SymbolModel::cumulative(int symbol) const {
  uint32_t sum = 0;
  for (int i = 0; i < symbol; ++i) sum += frequency_[i];
  return sum;
}

void SymbolModel::Halve() {
  total_ = 0;
  for (uint32_t& f : frequency_) {
    f = (f + 1) / 2;
    total_ += f;
  }
}

void RangeEncoder::Encode(uint32_t cumulative, uint32_t frequency, uint32_t total) {
  range_ /= total;
  low_ += cumulative * range_;
  range_ *= frequency;
  while ((low_ ^ (low_ + range_)) < kTop ||
         (range_ < kBottom && ((range_ = -low_ & (kBottom - 1)), true))) {
    out_.push_back(static_cast<char>(low_ >> 24));
    low_ <<= 8;
    range_ <<= 8;
  }
}

void RangeEncoder::PutBits(uint64_t bits, int n) {
  for (; n > 0; n -= 8) {
    const int width = n < 8 ? n : 8;
    Encode(static_cast<uint32_t>(bits & ((1u << width) - 1)), 1, 1u << width);
    bits >>= width;
  }
}

void RangeEncoder::Put(uint64_t value, SymbolModel& model) {
  const int symbol = SymbolOf(value);
  Encode(model.cumulative(symbol), model.frequency(symbol), model.total());
  model.Update(symbol);
  // The bits below the leading 1 of a value coded by its bit length.
  if (symbol >= SymbolModel::kDirect) PutBits(value, std::bit_width(value) - 1);
}

std::string RangeEncoder::Finish() {
  for (int i = 0; i < 4; ++i) {
    out_.push_back(static_cast<char>(low_ >> 24));
    low_ <<= 8;
  }
  return std::move(out_);
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

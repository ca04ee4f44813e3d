#include "tsdb/chunk/symbol_stream.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "tsdb/varint.h"

namespace vigil::tsdb::chunk {
namespace {

constexpr uint32_t kTotal = SymbolStreamReader::kTotal;
constexpr uint32_t kLow = SymbolStreamReader::kLow;

int SymbolOf(uint64_t value) {
  if (value < kStreamDirectValues) return static_cast<int>(value);
  return kStreamDirectValues + std::bit_width(value) - 5;  // bit length 5 … 64
}

// Bits appended least significant first, packed into bytes from their low bit up.
class BitWriter {
 public:
  void Put(uint64_t bits, int n) {
    for (int i = 0; i < n; ++i) {
      if (used_ % 8 == 0) bytes_.push_back(0);
      bytes_.back() = static_cast<char>(static_cast<uint8_t>(bytes_.back()) |
                                        (((bits >> i) & 1) << (used_ % 8)));
      ++used_;
    }
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
  uint64_t used_ = 0;
};

// Frequencies summing to kTotal, each symbol that occurs at least 1, in proportion to
// its count (rounded; the most frequent symbol takes up the difference).
std::array<uint32_t, kStreamSymbols> Normalized(const std::array<uint64_t, kStreamSymbols>& counts,
                                                uint64_t n) {
  std::array<uint32_t, kStreamSymbols> frequency{};
  int64_t sum = 0;
  for (int s = 0; s < kStreamSymbols; ++s) {
    if (counts[s] == 0) continue;
    frequency[s] = static_cast<uint32_t>(std::max<uint64_t>(1, (counts[s] * kTotal + n / 2) / n));
    sum += frequency[s];
  }
  while (sum != kTotal) {
    // The largest frequency moves: it stays above 1 (at most 76 symbols share kTotal).
    const auto largest = std::max_element(frequency.begin(), frequency.end());
    const int64_t change =
        std::clamp<int64_t>(kTotal - sum, 1 - static_cast<int64_t>(*largest), kTotal);
    *largest = static_cast<uint32_t>(*largest + change);
    sum += change;
  }
  return frequency;
}

}  // namespace

void PutSymbolStream(std::span<const uint64_t> values, std::string* out) {
  std::array<uint64_t, kStreamSymbols> counts{};
  std::vector<uint8_t> symbols(values.size());
  BitWriter raw;
  for (size_t i = 0; i < values.size(); ++i) {
    const int symbol = SymbolOf(values[i]);
    symbols[i] = static_cast<uint8_t>(symbol);
    ++counts[symbol];
    if (symbol >= kStreamDirectValues) raw.Put(values[i], std::bit_width(values[i]) - 1);
  }
  const std::array<uint32_t, kStreamSymbols> frequency = Normalized(counts, values.size());
  std::array<uint32_t, kStreamSymbols> start{};
  int present = 0;
  for (int s = 0, sum = 0; s < kStreamSymbols; ++s) {
    start[s] = static_cast<uint32_t>(sum);
    sum += static_cast<int>(frequency[s]);
    present += frequency[s] > 0;
  }
  PutVarint(out, static_cast<uint64_t>(present));
  for (int s = 0; s < kStreamSymbols; ++s) {
    if (frequency[s] == 0) continue;
    out->push_back(static_cast<char>(s));
    PutVarint(out, frequency[s]);
  }
  PutVarint(out, raw.bytes().size());
  *out += raw.bytes();
  // rANS codes backwards: the last value first, so that the reader goes forwards. The
  // bytes come out in reverse too. Value i belongs to state i % 2.
  std::string coded;
  uint32_t state[2] = {kLow, kLow};
  for (size_t i = symbols.size(); i-- > 0;) {
    uint32_t& x = state[i % 2];
    const uint32_t f = frequency[symbols[i]];
    const uint32_t limit = ((kLow >> kStreamScaleBits) << 8) * f;
    while (x >= limit) {
      coded.push_back(static_cast<char>(x & 0xFF));
      x >>= 8;
    }
    x = ((x / f) << kStreamScaleBits) + x % f + start[symbols[i]];
  }
  for (uint32_t x : {state[1], state[0]}) {  // reversed: state 0's four bytes come first
    for (int i = 0; i < 4; ++i) {
      coded.push_back(static_cast<char>(x & 0xFF));
      x >>= 8;
    }
  }
  std::reverse(coded.begin(), coded.end());
  PutVarint(out, coded.size());
  *out += coded;
}

namespace {

// slots[i] = entry + i for i < count, four at a time: a reader fills 1,024 slots for each
// block it opens, about as many as the values it then decodes.
void FillSlots(uint32_t* slots, uint32_t entry, uint32_t count) {
  using Four = uint32_t __attribute__((vector_size(16)));
  Four four = {entry, entry + 1, entry + 2, entry + 3};
  uint32_t i = 0;
  for (; i + 4 <= count; i += 4) {
    std::memcpy(slots + i, &four, sizeof four);
    four += 4;
  }
  for (; i < count; ++i) slots[i] = entry + i;
}

}  // namespace

bool SymbolStreamReader::Open(std::string_view* in) {
  uint64_t present = 0;
  if (!TakeVarint(in, &present) || present == 0 || present > kStreamSymbols) return false;
  uint32_t sum = 0;
  int previous = -1;
  for (uint64_t i = 0; i < present; ++i) {
    uint64_t frequency = 0;
    if (in->empty()) return false;
    const int symbol = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    if (symbol <= previous || symbol >= kStreamSymbols || !TakeVarint(in, &frequency) ||
        frequency == 0 || frequency > kTotal - sum) {
      return false;
    }
    const uint32_t entry = static_cast<uint32_t>(symbol) << 24 | static_cast<uint32_t>(frequency)
                                                                     << kStreamScaleBits;
    FillSlots(slot_.data() + sum, entry, static_cast<uint32_t>(frequency));
    sum += static_cast<uint32_t>(frequency);
    previous = symbol;
  }
  if (sum != kTotal) return false;
  uint64_t raw_size = 0, coded_size = 0;
  if (!TakeVarint(in, &raw_size) || raw_size > in->size()) return false;
  raw_ = in->substr(0, raw_size);
  in->remove_prefix(raw_size);
  if (!TakeVarint(in, &coded_size) || coded_size < 8 || coded_size > in->size()) return false;
  next_ = in->data();
  end_ = in->data() + coded_size;
  in->remove_prefix(coded_size);
  for (uint32_t& state : state_) {
    state = 0;
    for (int i = 0; i < 4; ++i) state = (state << 8) | static_cast<uint8_t>(*next_++);
  }
  return true;
}

void SymbolStreamReader::Read(uint64_t* out, size_t n) {
  // The states and the position in locals, so that they live in registers; `first` is
  // the state whose turn it is.
  const size_t turn = read_ % 2;
  uint32_t first = state_[turn], second = state_[1 - turn];
  const char* next = next_;
  const char* const end = end_;
  bool failed = false;
  auto step = [&](uint32_t& x) -> uint64_t {
    const uint32_t entry = slot_[x & (kTotal - 1)];
    const uint32_t symbol = entry >> 24;
    x = (entry >> kStreamScaleBits & 0x7FF) * (x >> kStreamScaleBits) + (entry & (kTotal - 1));
    // x was at least 2²³ and lost at most 10 bits, so it takes 0, 1 or 2 bytes to bring
    // it back. Without branches: which one depends on the data, and a branch would be
    // mispredicted about once in four values.
    if (end - next >= 2) [[likely]] {
      const uint32_t bytes = (x < kLow) + (x < (kLow >> 8));
      const uint32_t word =
          static_cast<uint32_t>(static_cast<uint8_t>(next[0])) << 8 | static_cast<uint8_t>(next[1]);
      x = static_cast<uint32_t>((uint64_t{x} << (8 * bytes)) | (word >> (16 - 8 * bytes)));
      next += bytes;
    } else {
      while (x < kLow) {
        if (next == end) {
          failed = true;
          break;
        }
        x = (x << 8) | static_cast<uint8_t>(*next++);
      }
    }
    if (symbol < kStreamDirectValues) [[likely]]
      return symbol;
    return Long(static_cast<uint8_t>(symbol));
  };
  size_t i = 0;
  for (; i + 1 < n; i += 2) {
    out[i] = step(first);
    out[i + 1] = step(second);
  }
  if (i < n) out[i] = step(first);
  state_[turn] = first;
  state_[1 - turn] = second;
  next_ = next;
  read_ += n;
  failed_ |= failed;
}

uint64_t SymbolStreamReader::Long(uint8_t symbol) {
  const int low_bits = symbol - kStreamDirectValues + 4;  // bit length 5 … 64, less the top 1
  if (raw_position_ + static_cast<uint64_t>(low_bits) > raw_.size() * 8) {
    failed_ = true;
    return 0;
  }
  uint64_t bits = 0;
  for (int i = 0; i < low_bits;) {
    // A byte's worth (or what is left of it) at a time.
    const uint64_t byte = static_cast<uint8_t>(raw_[raw_position_ / 8]);
    const int offset = static_cast<int>(raw_position_ % 8);
    const int take = std::min(8 - offset, low_bits - i);
    bits |= ((byte >> offset) & ((1u << take) - 1)) << i;
    i += take;
    raw_position_ += static_cast<uint64_t>(take);
  }
  return (uint64_t{1} << low_bits) | bits;
}

bool SymbolStreamReader::Finished() const {
  return !failed_ && next_ == end_ && state_[0] == kLow && state_[1] == kLow &&
         (raw_position_ + 7) / 8 == raw_.size();
}

}  // namespace vigil::tsdb::chunk

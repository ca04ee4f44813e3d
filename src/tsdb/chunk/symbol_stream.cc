#include "tsdb/chunk/symbol_stream.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "tsdb/varint.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The steps of ReadWith inlined, so that its states stay in registers: a state whose
// address a closure keeps lives in memory, a store and a load more on each value's path.
#define VIGIL_INLINE __attribute__((always_inline))

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

void PutSymbolStream(std::span<const uint64_t> values, StreamLayout layout, std::string* out) {
  const bool states_in_stream = layout.states == 0;
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
  int states = layout.states;
  if (states_in_stream) {
    // Sixteen when there are values enough and their 48 more bytes are at most half
    // the stream (its coded bits estimated from the table, and the raw ones).
    double bits = static_cast<double>(raw.bytes().size()) * 8;
    for (int s = 0; s < kStreamSymbols; ++s) {
      if (counts[s] == 0) continue;
      bits += static_cast<double>(counts[s]) * (kStreamScaleBits - std::log2(frequency[s]));
    }
    states = values.size() >= kSixteenStatesFrom && bits / 8 >= 2 * 48 ? 16 : 4;
  }
  PutVarint(out, static_cast<uint64_t>(present));
  for (int s = 0; s < kStreamSymbols; ++s) {
    if (frequency[s] == 0) continue;
    out->push_back(static_cast<char>(s));
    PutVarint(out, frequency[s]);
  }
  PutVarint(out, raw.bytes().size());
  *out += raw.bytes();
  if (states_in_stream) out->push_back(static_cast<char>(states));
  // rANS codes backwards: the last value first, so that the reader goes forwards. The
  // bytes come out in reverse too. Value i belongs to state i % states. Before a symbol
  // of frequency f the state is brought below f × 2¹³ (bytes) or f × 2²² (words), so that
  // coding it keeps it below 2³¹ or 2³²; the reader takes back what went out here.
  const uint32_t low = layout.words ? SymbolStreamReader::kLowWord : kLow;
  std::string coded;
  std::array<uint32_t, kMaxStreamStates> state;
  state.fill(low);
  for (size_t i = symbols.size(); i-- > 0;) {
    uint32_t& x = state[i % static_cast<size_t>(states)];
    const uint32_t f = frequency[symbols[i]];
    if (layout.words) {
      if (uint64_t{x} >= uint64_t{f} << (32 - kStreamScaleBits)) {  // at most once
        coded.push_back(static_cast<char>(x >> 8 & 0xFF));  // reversed below: low byte first
        coded.push_back(static_cast<char>(x & 0xFF));
        x >>= 16;
      }
    } else {
      const uint32_t limit = ((kLow >> kStreamScaleBits) << 8) * f;
      while (x >= limit) {
        coded.push_back(static_cast<char>(x & 0xFF));
        x >>= 8;
      }
    }
    x = ((x / f) << kStreamScaleBits) + x % f + start[symbols[i]];
  }
  for (int k = states - 1; k >= 0; --k) {  // reversed: state 0's four bytes come first
    uint32_t x = state[k];
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

// slots[i] = entry + i for i < count, eight at a time and past count up to the next
// multiple of eight: the symbols are filled in ascending order, so what spills over is
// written again by the next one (the last one spills into the table's padding). A reader
// fills 1,024 slots for each block it opens, about as many as the values it then decodes.
void FillSlots(uint32_t* slots, uint32_t entry, uint32_t count) {
  using Four = uint32_t __attribute__((vector_size(16)));
  Four low = {entry, entry + 1, entry + 2, entry + 3};
  Four high = low + 4;
  for (uint32_t i = 0; i < count; i += 8) {
    std::memcpy(slots + i, &low, sizeof low);
    std::memcpy(slots + i + 4, &high, sizeof high);
    low += 8;
    high += 8;
  }
}

}  // namespace

bool SymbolStreamReader::Open(std::string_view* in, StreamLayout layout) {
  const bool states_in_stream = layout.states == 0;
  const bool known = layout.words ? (layout.states == 4 || states_in_stream)
                                  : (layout.states == 2 || layout.states == 4);
  if (!known) return false;
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
  layout_ = layout;
  if (states_in_stream) {
    if (in->empty()) return false;
    layout_.states = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    if (layout_.states != 4 && layout_.states != 16) return false;
  }
  const int states = layout_.states;
  if (!TakeVarint(in, &coded_size) || coded_size < 4 * static_cast<uint64_t>(states) ||
      coded_size > in->size()) {
    return false;
  }
  next_ = in->data();
  end_ = in->data() + coded_size;
  in->remove_prefix(coded_size);
  read_ = 0;
  raw_position_ = 0;
  failed_ = false;
  for (int k = 0; k < states; ++k) {
    uint32_t& state = state_[k];
    state = 0;
    for (int i = 0; i < 4; ++i) state = (state << 8) | static_cast<uint8_t>(*next_++);
  }
  return true;
}

namespace {

// Whether this processor has AVX2 (and POPCNT, which every AVX2 one has).
bool HasAvx2() {
#if defined(__x86_64__)
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
  return has;
#else
  return false;
#endif
}

}  // namespace

void SymbolStreamReader::Read(uint64_t* out, size_t n) {
  if (layout_.words && layout_.states == 16) {
    const size_t done = HasAvx2() && read_ % 16 == 0 ? ReadRoundsAvx2(out, n) : 0;
    return ReadWith<16, true>(out + done, n - done);  // the rest, and without AVX2
  }
  if (layout_.words) return ReadWith<4, true>(out, n);
  if (layout_.states == 2) return ReadWith<2, false>(out, n);
  return ReadWith<4, false>(out, n);
}

template <int kStates, bool kWords>
void SymbolStreamReader::ReadWith(uint64_t* out, size_t n) {
  // The states and the position in locals, so that they live in registers; x[k] is the
  // state of the k-th value from here.
  // Only ever indexed by constants (folds over kEach), or it would live in memory.
  constexpr auto kEach = std::make_index_sequence<kStates>{};
  uint32_t x[kStates];
  [&]<size_t... k>(std::index_sequence<k...>) { ((x[k] = state_[(read_ + k) % kStates]), ...); }
  (kEach);
  const char* next = next_;
  const char* const end = end_;
  bool failed = false;
  // A value's decoding step, then what brings its state back to at least 2¹⁶ (words) or
  // 2²³ (bytes). A byte-wise state was at least 2²³ and lost at most 10 bits, so it
  // takes 0, 1 or 2 bytes. They are
  // taken by shifts, without branches: which one depends on the data, and a branch would
  // be mispredicted about once in four values.
  auto decode = [&](uint32_t& x) VIGIL_INLINE -> uint32_t {
    const uint32_t entry = slot_[x & (kTotal - 1)];
    x = (entry >> kStreamScaleBits & 0x7FF) * (x >> kStreamScaleBits) + (entry & (kTotal - 1));
    return entry >> 24;
  };
  auto value_of = [&](uint32_t symbol) VIGIL_INLINE -> uint64_t {
    if (symbol < kStreamDirectValues) [[likely]]
      return symbol;
    return Long(static_cast<uint8_t>(symbol));
  };
  // The two bytes at `next`: a word-wise stream's next word (its low byte first), or a
  // byte-wise stream's next two bytes (the first one most significant).
  auto two_bytes = [&]() VIGIL_INLINE -> uint32_t {
    uint16_t word;
    std::memcpy(&word, next, 2);  // one load
    const bool low_first = std::endian::native == std::endian::little;
    if (kWords != low_first) word = static_cast<uint16_t>(word << 8 | word >> 8);
    return word;
  };
  auto fast_step = [&](uint32_t& x) VIGIL_INLINE -> uint64_t {  // at least 2 bytes left
    const uint32_t symbol = decode(x);
    if constexpr (kWords) {
      // At least 64 (its frequency × 2⁶) once decoded: one word brings it back. Taken
      // by masks, not a branch (taken about once in ten values, unpredictably).
      const uint32_t take = x < kLowWord;
      x = x << (16 * take) | (two_bytes() & (0u - take));
      next += 2 * take;
    } else {
      const uint32_t bytes = (x < kLow) + (x < (kLow >> 8));
      // x and both bytes in one word, shifted down by the bytes not taken.
      x = static_cast<uint32_t>(((uint64_t{x} << 16) | two_bytes()) >> (16 - 8 * bytes));
      next += bytes;
    }
    return value_of(symbol);
  };
  auto careful_step = [&](uint32_t& x) VIGIL_INLINE -> uint64_t {  // near the end of the bytes
    const uint32_t symbol = decode(x);
    if constexpr (kWords) {
      if (x < kLowWord) {
        if (end - next < 2) {
          failed = true;
        } else {
          x = x << 16 | two_bytes();
          next += 2;
        }
      }
    } else {
      while (x < kLow) {
        if (next == end) {
          failed = true;
          break;
        }
        x = (x << 8) | static_cast<uint8_t>(*next++);
      }
    }
    return value_of(symbol);
  };
  // Whole rounds of the states while a round cannot run out of bytes, then the rest (the
  // states keep their turns).
  // A round is spelt out state by state (a fold), so that each state stays in a register.
  size_t i = 0;
  for (; i + kStates <= n && end - next >= 2 * kStates; i += kStates) {
    [&]<size_t... k>(std::index_sequence<k...>) VIGIL_INLINE {
      ((out[i + k] = fast_step(x[k])), ...);
    }
    (kEach);
  }
  for (; i < n; i += kStates) {
    [&]<size_t... k>(std::index_sequence<k...>) VIGIL_INLINE {
      ((i + k < n ? (out[i + k] = careful_step(x[k])) : 0), ...);
    }
    (kEach);
  }
  [&]<size_t... k>(std::index_sequence<k...>) { ((state_[(read_ + k) % kStates] = x[k]), ...); }
  (kEach);
  next_ = next;
  read_ += n;
  failed_ |= failed;
}

#if defined(__x86_64__)
namespace {

#define VIGIL_AVX2 __attribute__((target("avx2,popcnt")))

// For each mask of the four states of a vector half that take a word, the bytes
// (for _mm_shuffle_epi8) that move the next words, in the states' order, into those
// states' low 16 bits, the rest zero.
struct HalfShuffles {
  uint8_t bytes[16][16];
};
constexpr HalfShuffles MakeHalfShuffles() {
  HalfShuffles shuffles{};
  for (int mask = 0; mask < 16; ++mask) {
    int word = 0;
    for (int state = 0; state < 4; ++state) {
      uint8_t* lane = shuffles.bytes[mask] + 4 * state;
      const bool takes = (mask >> state & 1) != 0;
      lane[0] = takes ? static_cast<uint8_t>(2 * word) : 0x80;
      lane[1] = takes ? static_cast<uint8_t>(2 * word + 1) : 0x80;
      lane[2] = lane[3] = 0x80;
      word += takes;
    }
  }
  return shuffles;
}
alignas(16) constexpr HalfShuffles kHalfShuffles = MakeHalfShuffles();

// Decodes one value in each of eight word-wise states (the value's symbol into
// *symbols) and brings back each state below 2¹⁶ with the next word, taken in the
// states' order from `next`, which reads at most 24 bytes and moves on at most 16.
VIGIL_AVX2 inline __m256i StepEight(__m256i x, const uint32_t* slots, const char*& next,
                                    __m256i* symbols) {
  const __m256i slot_mask = _mm256_set1_epi32(SymbolStreamReader::kTotal - 1);
  const __m256i entry = _mm256_i32gather_epi32(reinterpret_cast<const int*>(slots),
                                               _mm256_and_si256(x, slot_mask), 4);
  const __m256i frequency =
      _mm256_and_si256(_mm256_srli_epi32(entry, kStreamScaleBits), _mm256_set1_epi32(0x7FF));
  *symbols = _mm256_srli_epi32(entry, 24);
  x = _mm256_add_epi32(_mm256_mullo_epi32(frequency, _mm256_srli_epi32(x, kStreamScaleBits)),
                       _mm256_and_si256(entry, slot_mask));
  const __m256i below = _mm256_cmpeq_epi32(_mm256_min_epu32(x, _mm256_set1_epi32(0xFFFF)), x);
  const int takes = _mm256_movemask_ps(_mm256_castsi256_ps(below));
  const int low = takes & 15, high = takes >> 4;
  const __m128i low_words = _mm_loadu_si128(reinterpret_cast<const __m128i*>(next));
  next += 2 * __builtin_popcount(static_cast<unsigned>(low));
  const __m128i high_words = _mm_loadu_si128(reinterpret_cast<const __m128i*>(next));
  next += 2 * __builtin_popcount(static_cast<unsigned>(high));
  const __m256i shuffle =
      _mm256_set_m128i(_mm_load_si128(reinterpret_cast<const __m128i*>(kHalfShuffles.bytes[high])),
                       _mm_load_si128(reinterpret_cast<const __m128i*>(kHalfShuffles.bytes[low])));
  const __m256i words = _mm256_shuffle_epi8(_mm256_set_m128i(high_words, low_words), shuffle);
  return _mm256_blendv_epi8(x, _mm256_or_si256(_mm256_slli_epi32(x, 16), words), below);
}

// A bit for each of eight symbols that stands for a long value.
VIGIL_AVX2 inline unsigned LongLanes(__m256i symbols) {
  const __m256i longs = _mm256_cmpgt_epi32(symbols, _mm256_set1_epi32(kStreamDirectValues - 1));
  return static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(longs)));
}

}  // namespace

VIGIL_AVX2 size_t SymbolStreamReader::ReadRoundsAvx2(uint64_t* out, size_t n) {
  __m256i first = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state_));
  __m256i second = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state_ + 8));
  size_t i = 0;
  // Rounds of 16 values from `next` while `more()`; a round reads at most 40 bytes
  // from `next` (its two halves 24 each, the second from at most 16 on).
  auto rounds = [&](const char*& next, auto more) VIGIL_AVX2 {
    for (; i + 16 <= n && more(next); i += 16) {
      __m256i first_symbols, second_symbols;
      first = StepEight(first, slot_.data(), next, &first_symbols);
      second = StepEight(second, slot_.data(), next, &second_symbols);
      uint64_t* const o = out + i;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o),
                          _mm256_cvtepu32_epi64(_mm256_castsi256_si128(first_symbols)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 4),
                          _mm256_cvtepu32_epi64(_mm256_extracti128_si256(first_symbols, 1)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 8),
                          _mm256_cvtepu32_epi64(_mm256_castsi256_si128(second_symbols)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 12),
                          _mm256_cvtepu32_epi64(_mm256_extracti128_si256(second_symbols, 1)));
      // The long ones' values, in order: their low bits are read in order.
      for (unsigned longs = LongLanes(first_symbols) | LongLanes(second_symbols) << 8; longs != 0;
           longs &= longs - 1) {
        uint64_t& value = o[std::countr_zero(longs)];
        value = Long(static_cast<uint8_t>(value));
      }
    }
  };
  const char* next = next_;
  rounds(next, [&](const char* at) { return end_ - at >= 48; });
  // The last bytes from a copy with zeros after them, so that rounds may read past
  // them; a round that takes more words than there are is damage.
  alignas(32) char rest[128] = {};
  const size_t left = static_cast<size_t>(end_ - next);  // < 48 unless n ran out
  if (i + 16 <= n && left < 48) {
    std::memcpy(rest, next, left);
    const char* at = rest;
    rounds(at, [&](const char* at) { return at <= rest + left; });
    if (at > rest + left) {
      failed_ = true;
      at = rest + left;
    }
    next += at - rest;
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(state_), first);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(state_ + 8), second);
  next_ = next;
  read_ += i;
  return i;
}
#else
size_t SymbolStreamReader::ReadRoundsAvx2(uint64_t*, size_t) { return 0; }
#endif

uint64_t SymbolStreamReader::Long(uint8_t symbol) {
  const int low_bits = symbol - kStreamDirectValues + 4;  // bit length 5 … 64, less the top 1
  if (raw_position_ + static_cast<uint64_t>(low_bits) > raw_.size() * 8) {
    failed_ = true;
    return 0;
  }
  const size_t byte = raw_position_ / 8;
  const int offset = static_cast<int>(raw_position_ % 8);
  if (byte + 8 <= raw_.size() && offset + low_bits <= 64) {  // one load (most of them)
    uint64_t word;
    std::memcpy(&word, raw_.data() + byte, 8);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    raw_position_ += static_cast<uint64_t>(low_bits);
    return (uint64_t{1} << low_bits) | ((word >> offset) & ((uint64_t{1} << low_bits) - 1));
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
  for (int k = 0; k < layout_.states; ++k) {
    if (state_[k] != (layout_.words ? kLowWord : kLow)) return false;
  }
  return !failed_ && next_ == end_ && (raw_position_ + 7) / 8 == raw_.size();
}

}  // namespace vigil::tsdb::chunk

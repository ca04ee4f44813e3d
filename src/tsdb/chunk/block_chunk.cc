#include "tsdb/chunk/block_chunk.h"

#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>

#include "core/check.h"
#include "tsdb/chunk/decimal.h"
#include "tsdb/chunk/range_coder.h"
#include "tsdb/chunk/symbol_stream.h"
#include "tsdb/chunk/xor_chunk.h"
#include "tsdb/varint.h"

namespace vigil::tsdb::chunk {
namespace {

// The first byte of a block: how its values are written.
enum ValueKind : uint8_t { kScaledDecimals = 0, kXorPlanes = 1 };
// Timestamps range-coded, or regular: t0 and a step in the header.
enum Timing : uint8_t { kCodedTimes = 0, kRegularTimes = 1 };
// Delta or delta-of-delta, for scaled values.
enum Order : uint8_t { kDelta = 1, kDeltaOfDelta = 2 };

// For the XOR planes of values that are no short decimals.
constexpr int kZstdLevel = 9;
// A 2-hour block at one sample a millisecond; bounds what damaged bytes make us allocate.
constexpr uint64_t kMaxSamples = 2 * 3'600'000;

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool Byte(uint8_t* out) {
    if (position_ >= data_.size()) return false;
    *out = static_cast<uint8_t>(data_[position_++]);
    return true;
  }
  bool Varint(uint64_t* out) {
    std::string_view rest = data_.substr(position_);
    const bool ok = TakeVarint(&rest, out);
    position_ = data_.size() - rest.size();
    return ok;
  }
  size_t remaining() const { return data_.size() - position_; }
  std::string_view Take(size_t n) {
    std::string_view part = data_.substr(position_, n);
    position_ += part.size();
    return part;
  }
  // Gives back the last n bytes taken.
  void Untake(size_t n) { position_ -= n; }

 private:
  std::string_view data_;
  size_t position_ = 0;
};

// The residues of a sequence, zigzagged: x₀, then x₁ − x₀, then each delta's change
// (order 2) or each delta (order 1). Differences wrap in 64 bits, so any int64 sequence
// round-trips.
void Residues(const std::vector<uint64_t>& xs, Order order, std::vector<uint64_t>* out) {
  out->resize(xs.size());
  uint64_t previous = 0, previous_delta = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const uint64_t delta = xs[i] - previous;
    const uint64_t residue = i == 0                        ? xs[0]
                             : (i == 1 || order == kDelta) ? delta
                                                           : delta - previous_delta;
    (*out)[i] = ZigZag(residue);
    previous_delta = delta;
    previous = xs[i];
  }
}

// xs[i] = x + xs[0] + … + xs[i] for i < n (each unzigzagged first with kUnZigZag), in
// place, four at a time: a running carry plus each four's own prefix sum (two shifted
// adds). Wraps at 64 bits, as the encoder's differences.
template <bool kUnZigZag>
[[gnu::always_inline]] inline void PrefixSum(uint64_t* xs, size_t n, uint64_t x) {
  using Four = uint64_t __attribute__((vector_size(32)));
  const Four zero = {0, 0, 0, 0};
  Four carry = {x, x, x, x};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    Four v;
    std::memcpy(&v, xs + i, sizeof v);
    if constexpr (kUnZigZag) v = (v >> 1) ^ (zero - (v & 1));
    v += __builtin_shufflevector(v, zero, 4, 0, 1, 2);
    v += __builtin_shufflevector(v, zero, 4, 4, 0, 1);
    v += carry;
    std::memcpy(xs + i, &v, sizeof v);
    carry = __builtin_shufflevector(v, v, 3, 3, 3, 3);
  }
  x = carry[0];
  for (; i < n; ++i) xs[i] = x += kUnZigZag ? UnZigZag(xs[i]) : xs[i];
}

// PrefixSum compiled for AVX2 (four lanes an add) and for any x86-64 (two), the better
// one chosen at load: undoing the residues is a pass over every value a query decodes.
__attribute__((target_clones("avx2", "default"))) void SumResidues(uint64_t* xs, size_t n,
                                                                   uint64_t x) {
  PrefixSum<true>(xs, n, x);
}
__attribute__((target_clones("avx2", "default"))) void SumDeltas(uint64_t* xs, size_t n,
                                                                 uint64_t x) {
  PrefixSum<false>(xs, n, x);
}

// Undoes Residues in place.
void Integrate(uint64_t* xs, size_t n, Order order) {
  if (n == 0) return;
  xs[0] = UnZigZag(xs[0]);
  if (order == kDelta || n == 1) return SumResidues(xs + 1, n - 1, xs[0]);
  xs[1] = UnZigZag(xs[1]);  // the first delta; then each delta-of-delta
  SumResidues(xs + 2, n - 2, xs[1]);
  SumDeltas(xs + 1, n - 1, xs[0]);
}

// A rough cost of a residue stream, to choose the order: the sum of bit lengths.
uint64_t Cost(const std::vector<uint64_t>& residues) {
  uint64_t bits = 0;
  for (uint64_t r : residues) bits += static_cast<uint64_t>(std::bit_width(r));
  return bits;
}

// The fewest decimals that write all values but at most one in 8 exactly (the others,
// such as NaN, ±Inf, −0.0 or a long fraction, are stored verbatim as exceptions), or -1
// when there are none.
int DecimalsFor(std::span<const model::Sample> samples) {
  std::array<size_t, kMaxDecimals + 2> needing{};  // [d]: values exact from d decimals on
  int64_t k;
  for (const model::Sample& s : samples) {
    int d = 0;
    while (d <= kMaxDecimals && !ScaledExactly(s.value, d, &k)) ++d;
    ++needing[d];
  }
  size_t exact = 0;
  for (int d = 0; d <= kMaxDecimals; ++d) {
    exact += needing[d];
    if (samples.size() - exact <= samples.size() / 8) return d;
  }
  return -1;
}

}  // namespace

std::string EncodeBlock(std::span<const model::Sample> samples) {
  const int decimals = DecimalsFor(samples);
  const ValueKind kind = decimals >= 0 ? kScaledDecimals : kXorPlanes;
  std::string block(1, static_cast<char>(kind));
  PutVarint(&block, samples.size());

  std::vector<uint64_t> xs(samples.size()), residues;
  for (size_t i = 0; i < samples.size(); ++i)
    xs[i] = static_cast<uint64_t>(samples[i].timestamp_ms);
  Residues(xs, kDeltaOfDelta, &residues);
  // Timestamps at a fixed step (sensors, simulations, backfills) are t0 and the step in
  // the header: nothing to decode for them.
  const bool regular = samples.size() >= 2 && std::all_of(residues.begin() + 2, residues.end(),
                                                          [](uint64_t r) { return r == 0; });
  block.push_back(static_cast<char>(regular ? kRegularTimes : kCodedTimes));
  std::string body;  // after the header
  if (regular) {
    PutVarint(&block, residues[0]);
    PutVarint(&block, residues[1]);
  } else {
    PutSymbolStream(residues, kStatesInStream, &body);
  }

  if (kind == kScaledDecimals) {
    // Exceptions: their index gaps and bits first; in the sequence they repeat the value
    // before them.
    std::vector<size_t> exceptions;
    int64_t k = 0;
    for (size_t i = 0; i < samples.size(); ++i) {
      if (!ScaledExactly(samples[i].value, decimals, &k)) exceptions.push_back(i);
      xs[i] = static_cast<uint64_t>(k);
    }
    PutVarint(&body, exceptions.size());
    size_t previous_index = 0;
    for (size_t i : exceptions) {
      PutVarint(&body, i - previous_index);
      const uint64_t bits = std::bit_cast<uint64_t>(samples[i].value);
      for (int byte = 0; byte < 8; ++byte) body.push_back(static_cast<char>(bits >> (8 * byte)));
      previous_index = i;
    }
    std::vector<uint64_t> by_delta;
    Residues(xs, kDelta, &by_delta);
    Residues(xs, kDeltaOfDelta, &residues);
    const Order order = Cost(residues) < Cost(by_delta) ? kDeltaOfDelta : kDelta;
    if (order == kDelta) residues.swap(by_delta);
    block.push_back(static_cast<char>(decimals));
    block.push_back(static_cast<char>(order));
    PutSymbolStream(residues, kStatesInStream, &body);
    return block + body;
  }
  // XOR with the previous value, written as 8 planes of bytes, most significant first
  // (sign, exponent and high mantissa bytes, which rarely change, sit together), then
  // compressed with zstd.
  std::string planes;
  uint64_t previous = 0;
  planes.reserve(8 * samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const uint64_t bits = std::bit_cast<uint64_t>(samples[i].value);
    xs[i] = bits ^ previous;
    previous = bits;
  }
  for (int plane = 7; plane >= 0; --plane) {
    for (uint64_t x : xs) planes.push_back(static_cast<char>((x >> (8 * plane)) & 0xFF));
  }
  block += body;
  const size_t at = block.size();
  block.resize(at + ZSTD_compressBound(planes.size()));
  const size_t n =
      ZSTD_compress(block.data() + at, block.size() - at, planes.data(), planes.size(), kZstdLevel);
  VIGIL_CHECK(!ZSTD_isError(n), std::string("zstd: ") + ZSTD_getErrorName(n));
  block.resize(at + n);
  return block;
}

namespace {

// What the two block encodings share: the header, and everything but how the residues
// are entropy coded.
struct BlockHeader {
  uint8_t kind = 0;
  uint64_t count = 0;
  uint8_t timing = 0;
  uint64_t t0 = 0, step = 0;
  uint8_t decimals = 0, order = 0;
};

Status ReadHeader(Reader& in, BlockHeader* h) {
  if (!in.Byte(&h->kind) || (h->kind != kScaledDecimals && h->kind != kXorPlanes)) {
    return DataLossError("block: unknown value kind " + std::to_string(h->kind));
  }
  if (!in.Varint(&h->count) || h->count == 0 || h->count > kMaxSamples) {
    return DataLossError("block: bad sample count");
  }
  if (!in.Byte(&h->timing) || (h->timing != kCodedTimes && h->timing != kRegularTimes) ||
      (h->timing == kRegularTimes &&
       (h->count < 2 || !in.Varint(&h->t0) || !in.Varint(&h->step)))) {
    return DataLossError("block: bad timestamps header");
  }
  h->t0 = UnZigZag(h->t0);
  h->step = UnZigZag(h->step);
  if (h->kind == kScaledDecimals &&
      (!in.Byte(&h->decimals) || !in.Byte(&h->order) || h->decimals > kMaxDecimals ||
       (h->order != kDelta && h->order != kDeltaOfDelta))) {
    return DataLossError("block: bad scaled values header");
  }
  return OkStatus();
}

// The samples sample_of(0) .. sample_of(n - 1) as iterators, for vector::insert to
// construct them in place: resize would first write zeros over the room, a pass over as
// much memory as the decoding itself writes.
template <typename SampleOf>
struct MadeSamples {
  using iterator_category = std::forward_iterator_tag;
  using value_type = model::Sample;
  using difference_type = std::ptrdiff_t;
  using pointer = const model::Sample*;
  using reference = model::Sample;
  const SampleOf* sample_of = nullptr;
  size_t i = 0;
  model::Sample operator*() const { return (*sample_of)(i); }
  MadeSamples& operator++() {
    ++i;
    return *this;
  }
  MadeSamples operator++(int) {
    MadeSamples before = *this;
    ++i;
    return before;
  }
  bool operator==(const MadeSamples& other) const { return i == other.i; }
};

// values[i] = the bits of k / p, for k = values[i] as an int64: a scaled decimal's value.
// Division, not a multiplication by 1 / p: the encoder promised k / p bit for bit. Four
// at a time, the conversion to double done by adding 1.5 × 2⁵² to the bits (exact for
// |k| < 2⁵¹, checked), as the processor has no packed one below AVX-512; compiled twice,
// for AVX2 (four lanes a division) and for any x86-64 (two), the better one chosen at load.
// A day's rate over 100 series divides 864,000 values.
__attribute__((target_clones("avx2", "default"))) void DivideInPlace(uint64_t* values, size_t n,
                                                                     double p) {
  using Bits = uint64_t __attribute__((vector_size(32)));
  using Doubles = double __attribute__((vector_size(32)));
  constexpr uint64_t kOneAndAHalfTimesTwoTo52 = 0x4338000000000000;
  constexpr double kShift = 0x1.8p52;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    Bits k;
    std::memcpy(&k, values + i, sizeof k);
    const Bits outside = (k + (uint64_t{1} << 51)) >> 52;  // nonzero unless |k| < 2⁵¹
    if ((outside[0] | outside[1] | outside[2] | outside[3]) != 0) break;
    const Bits shifted = k + kOneAndAHalfTimesTwoTo52;
    Doubles quotient;
    std::memcpy(&quotient, &shifted, sizeof quotient);  // no call: no vector argument
    quotient = (quotient - kShift) / p;
    std::memcpy(values + i, &quotient, sizeof quotient);
  }
  for (; i < n; ++i) {
    values[i] = std::bit_cast<uint64_t>(static_cast<double>(static_cast<int64_t>(values[i])) / p);
  }
}

// Under regular timing (sample i at t₀ + i × step), the index of the last sample at or
// before each of n picks, the first `offset` ≥ 0 after t₀, the next `pick_step` apart,
// into `out`, once each (picks closer than the samples may share one); returns how many.
// i = offset div step is carried from pick to pick instead of divided again, in locals
// that stay in registers: a division a pick was a tenth of a long query's time.
size_t RegularPickIndices(int64_t offset, int64_t pick_step, int64_t step, size_t n,
                          uint32_t* out) {
  const int64_t whole = pick_step / step, part = pick_step % step;
  int64_t i = offset / step, rest = offset % step, previous = -1;
  size_t written = 0;
  for (size_t j = 0; j < n; ++j) {
    out[written] = static_cast<uint32_t>(i);
    written += i != previous;
    previous = i;
    i += whole;
    rest += part;
    if (rest >= step) {
      rest -= step;
      ++i;
    }
  }
  return written;
}

// The indices of the samples `picks` needs of a block of `count` ≥ 2 samples (time_of(i)
// sample i's time, ascending; t₀ + i × step under regular timing), ascending, into `kept`: for
// each pick time inside the block, the last sample at or before it, and the last
// sample. False when that would keep most of them anyway (emit all then).
template <typename TimeOf>
bool PickedIndices(const store::StepPicks& picks, size_t count, TimeOf time_of,
                   const BlockHeader& h, std::vector<uint32_t>* kept) {
  kept->clear();
  const int64_t first_t = time_of(0), last_t = time_of(count - 1);
  if (picks.step <= 0) return false;
  if (picks.count == 0 || picks.At(picks.count - 1) < first_t) {
    kept->push_back(static_cast<uint32_t>(count - 1));
    return true;
  }
  size_t k = 0;  // the first pick at or after the block's first sample
  if (picks.first < first_t) k = static_cast<size_t>((first_t - picks.first - 1) / picks.step + 1);
  if (k < picks.count && picks.At(k) < last_t &&
      std::min(picks.count - k, static_cast<size_t>((last_t - picks.At(k)) / picks.step) + 1) >=
          count / 2) {
    return false;
  }
  if (h.timing == kRegularTimes) {
    size_t n = 0;  // the picks from the k-th before the block's last sample (k < count)
    if (picks.At(k) < last_t) {
      n = std::min(picks.count - k,
                   static_cast<size_t>((last_t - picks.At(k) - 1) / picks.step) + 1);
    }
    kept->resize(n);
    kept->resize(RegularPickIndices(picks.At(k) - first_t, picks.step, static_cast<int64_t>(h.step),
                                    n, kept->data()));
  } else {
    size_t i = 0;  // the last sample at or before the pick
    for (; k < picks.count && picks.At(k) < last_t; ++k) {
      while (time_of(i + 1) <= picks.At(k)) ++i;  // ends before the last: t < last_t
      if (kept->empty() || kept->back() != i) kept->push_back(static_cast<uint32_t>(i));
    }
  }
  kept->push_back(static_cast<uint32_t>(count - 1));
  return true;
}

// Decodes a block to the end of `out`, given the header and an entropy decoder for its
// residues (`times(out, n)`, `values(out, n)`; `exceptions(&list)` reads the exceptions;
// `damaged()` after each). The residues are decoded into scratch buffers first, so that
// `out` is only appended to once the whole block has been read: on DataLoss it is as it
// was. With `picks`, only the samples they need are appended (DecodeBlock).
template <typename Coder>
Status DecodeBody(const BlockHeader& h, Reader& in, Coder& coder, std::vector<model::Sample>* out,
                  const store::StepPicks* picks) {
  const size_t count = h.count;
  auto fail = [](std::string_view why) { return DataLossError("block: " + std::string(why)); };
  // Scratch kept per thread for blocks of usual size (no allocation, no zeroing per block);
  // a larger block gets its own, freed after.
  constexpr size_t kKeptScratch = size_t{1} << 16;
  thread_local std::vector<uint64_t> kept_times, kept_values;
  std::vector<uint64_t> own_times, own_values;
  std::vector<uint64_t>& times_scratch = count <= kKeptScratch ? kept_times : own_times;
  std::vector<uint64_t>& values_scratch = count <= kKeptScratch ? kept_values : own_values;
  if (times_scratch.size() < count) times_scratch.resize(count);
  if (values_scratch.size() < count) values_scratch.resize(count);
  uint64_t* const times = times_scratch.data();
  uint64_t* const values = values_scratch.data();  // each value's bits once decoded
  if (h.timing == kRegularTimes) {
    // Strictly increasing when the step is positive and the last one fits.
    int64_t last = 0;
    if (static_cast<int64_t>(h.step) <= 0 ||
        __builtin_mul_overflow(static_cast<int64_t>(count - 1), static_cast<int64_t>(h.step),
                               &last) ||
        __builtin_add_overflow(last, static_cast<int64_t>(h.t0), &last)) {
      return fail("timestamps out of order");
    }
  } else {
    coder.times(times, count);
    if (coder.damaged()) return fail("coded timestamps damaged");
    Integrate(times, count, kDeltaOfDelta);  // wraps as the encoder's
    for (size_t i = 1; i < count; ++i) {
      if (static_cast<int64_t>(times[i]) <= static_cast<int64_t>(times[i - 1])) {
        return fail("timestamps out of order");
      }
    }
  }
  const int64_t t0 = static_cast<int64_t>(h.t0), step = static_cast<int64_t>(h.step);
  auto regular_time = [=](size_t i) { return t0 + static_cast<int64_t>(i) * step; };
  auto coded_time = [=](size_t i) { return static_cast<int64_t>(times[i]); };
  // The samples to emit: all, or those at the indices in `kept`.
  thread_local std::vector<uint32_t> kept;
  const bool thinned =
      picks != nullptr && count >= 2 &&
      (h.timing == kRegularTimes ? PickedIndices(*picks, count, regular_time, h, &kept)
                                 : PickedIndices(*picks, count, coded_time, h, &kept));
  const size_t emitted = thinned ? kept.size() : count;
  // The block's samples, appended to `out` once everything was read; time_of(i) gives
  // sample i's timestamp, value_of(i) its value. Returns where the first one went.
  auto emit = [&](auto time_of, auto value_of) {
    // Geometric: a series' blocks go into one vector.
    if (out->capacity() < out->size() + emitted) {
      out->reserve(std::max<size_t>(out->size() + emitted, 2 * out->capacity()));
    }
    const size_t base = out->size();
    auto append = [&](auto sample_of) {
      using Made = MadeSamples<decltype(sample_of)>;
      out->insert(out->end(), Made{&sample_of, 0}, Made{&sample_of, emitted});
    };
    if (thinned) {
      const uint32_t* at = kept.data();
      append([&](size_t j) { return model::Sample{time_of(at[j]), value_of(at[j])}; });
    } else {
      append([&](size_t i) { return model::Sample{time_of(i), value_of(i)}; });
    }
    return out->data() + base;
  };
  // The timestamps as emit wants them: computed for regular ones, else decoded.
  auto with_times = [&](auto value_of) {
    if (h.timing == kRegularTimes) return emit(regular_time, value_of);
    return emit(coded_time, value_of);
  };
  if (h.kind == kScaledDecimals) {
    std::vector<std::pair<uint64_t, uint64_t>> exceptions;  // index, bits
    if (Status read = coder.exceptions(count, &exceptions); !read.ok()) {
      return fail(read.message());
    }
    coder.values(values, count);
    if (coder.damaged()) return fail("coded stream damaged");
    if (in.remaining() != 0) return fail("trailing bytes");
    Integrate(values, count, static_cast<Order>(h.order));
    model::Sample* samples;
    if (h.decimals == 0) {
      samples = with_times(
          [=](size_t i) { return static_cast<double>(static_cast<int64_t>(values[i])); });
    } else if (!thinned) {
      DivideInPlace(values, count, PowerOfTen(h.decimals));
      samples = with_times([=](size_t i) { return std::bit_cast<double>(values[i]); });
    } else {  // the few kept ones only
      const double p = PowerOfTen(h.decimals);
      samples = with_times(
          [=](size_t i) { return static_cast<double>(static_cast<int64_t>(values[i])) / p; });
    }
    for (const auto& [i, bits] : exceptions) {
      size_t j = i;  // where sample i went
      if (thinned) {
        const auto at = std::lower_bound(kept.begin(), kept.end(), i);
        if (at == kept.end() || *at != i) continue;
        j = static_cast<size_t>(at - kept.begin());
      }
      samples[j].value = std::bit_cast<double>(bits);
    }
    return OkStatus();
  }
  if (coder.damaged()) return fail("coded stream damaged");
  const std::string_view frame = in.Take(in.remaining());
  const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size != 8 * count) return fail("bad value planes");
  std::string planes(size, '\0');
  const size_t n = ZSTD_decompress(planes.data(), planes.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != size) return fail("value planes damaged");
  uint64_t previous = 0;
  for (size_t i = 0; i < count; ++i) {
    uint64_t x = 0;
    for (int plane = 7; plane >= 0; --plane) {
      x |= static_cast<uint64_t>(static_cast<uint8_t>(planes[(7 - plane) * count + i]))
           << (8 * plane);
    }
    previous ^= x;
    values[i] = previous;
  }
  with_times([=](size_t i) { return std::bit_cast<double>(values[i]); });
  return OkStatus();
}

// Encodings 6 to 3: a symbol stream each for the timestamps and the values,
// exceptions as varints and raw bytes between them.
class StreamCoder {
 public:
  StreamCoder(Reader& in, StreamLayout layout) : in_(in), layout_(layout) {}
  bool OpenTimes() {
    times_open_ = true;
    return Open(&times_);
  }
  void times(uint64_t* out, size_t n) { times_.Read(out, n); }
  void values(uint64_t* out, size_t n) { values_.Read(out, n); }
  bool damaged() const {
    return (times_open_ && !times_.Finished()) || (values_open_ && !values_.Finished());
  }
  // The exceptions, then the values' stream.
  Status exceptions(size_t count, std::vector<std::pair<uint64_t, uint64_t>>* out) {
    uint64_t n = 0;
    if (!in_.Varint(&n) || n > count) return DataLossError("bad exception count");
    uint64_t index = 0;
    for (uint64_t e = 0; e < n; ++e) {
      uint64_t gap = 0;
      if (!in_.Varint(&gap) || gap >= count - index || in_.remaining() < 8) {
        return DataLossError("bad exception index");
      }
      index += gap;
      uint64_t bits = 0;
      const std::string_view raw = in_.Take(8);
      for (int byte = 0; byte < 8; ++byte) {
        bits |= static_cast<uint64_t>(static_cast<uint8_t>(raw[byte])) << (8 * byte);
      }
      out->emplace_back(index, bits);
    }
    values_open_ = true;
    if (!Open(&values_)) return DataLossError("bad value stream");
    return OkStatus();
  }

 private:
  bool Open(SymbolStreamReader* reader) {
    std::string_view rest = in_.Take(in_.remaining());
    const bool ok = reader->Open(&rest, layout_);
    in_.Untake(rest.size());
    return ok;
  }
  Reader& in_;
  const StreamLayout layout_;
  SymbolStreamReader times_, values_;
  bool times_open_ = false, values_open_ = false;
};

// Encoding 2 (read only): one adaptive range-coded stream of timestamps, exceptions and
// values, its length first.
class RangeCoder {
 public:
  explicit RangeCoder(std::string_view coded) : decoder_(coded) {}
  void times(uint64_t* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = decoder_.Get(time_model_);
  }
  void values(uint64_t* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = decoder_.Get(value_model_);
  }
  bool damaged() const { return decoder_.failed(); }
  Status exceptions(size_t count, std::vector<std::pair<uint64_t, uint64_t>>* out) {
    SymbolModel exception_model;
    const uint64_t n = decoder_.Get(exception_model);
    if (n > count) return DataLossError("bad exception count");
    uint64_t index = 0;
    for (uint64_t e = 0; e < n; ++e) {
      index += decoder_.Get(exception_model);
      if (index >= count) return DataLossError("bad exception index");
      out->emplace_back(index, decoder_.GetBits(64));
    }
    return OkStatus();
  }

 private:
  RangeDecoder decoder_;
  SymbolModel time_model_, value_model_;
};

// Encodings 6 to 3: symbol streams of `layout`.
Status DecodeStreamBlock(std::string_view bytes, StreamLayout layout,
                         std::vector<model::Sample>* out, const store::StepPicks* picks) {
  Reader in(bytes);
  BlockHeader header;
  VIGIL_RETURN_IF_ERROR(ReadHeader(in, &header));
  StreamCoder coder(in, layout);
  if (header.timing == kCodedTimes && !coder.OpenTimes()) {
    return DataLossError("block: bad timestamp stream");
  }
  return DecodeBody(header, in, coder, out, picks);
}

}  // namespace

Status DecodeBlock(std::string_view bytes, std::vector<model::Sample>* out,
                   const store::StepPicks* picks) {
  return DecodeStreamBlock(bytes, kStatesInStream, out, picks);
}

Status DecodeRangeCodedBlock(std::string_view bytes, std::vector<model::Sample>* out,
                             const store::StepPicks* picks) {
  Reader in(bytes);
  BlockHeader header;
  VIGIL_RETURN_IF_ERROR(ReadHeader(in, &header));
  uint64_t coded_size = 0;
  if (!in.Varint(&coded_size) || coded_size > in.remaining()) {
    return DataLossError("block: bad coded length");
  }
  RangeCoder coder(in.Take(coded_size));
  return DecodeBody(header, in, coder, out, picks);
}

Status DecodeChunk(int encoding, std::string_view bytes, std::vector<model::Sample>* out,
                   const store::StepPicks* picks) {
  switch (encoding) {
    case kXorEncoding:
      return DecodeXorChunk(bytes, out);
    case kRangeCodedBlockEncoding:
      return DecodeRangeCodedBlock(bytes, out, picks);
    case kTwoStateBlockEncoding:
      return DecodeStreamBlock(bytes, kTwoStatesBytes, out, picks);
    case kByteWiseBlockEncoding:
      return DecodeStreamBlock(bytes, kFourStatesBytes, out, picks);
    case kFourWordStatesBlockEncoding:
      return DecodeStreamBlock(bytes, kFourStatesWords, out, picks);
    case kBlockEncoding:
      return DecodeBlock(bytes, out, picks);
    default:
      return DataLossError("unknown chunk encoding " + std::to_string(encoding));
  }
}

}  // namespace vigil::tsdb::chunk

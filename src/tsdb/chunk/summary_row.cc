#include "tsdb/chunk/summary_row.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "tsdb/chunk/decimal.h"
#include "tsdb/varint.h"

namespace vigil::tsdb::chunk {
namespace {

constexpr uint8_t kVersion = 1;
// The byte after the version holds the decimals and how counter corrections are kept:
// none (every one is +0.0), per summary (a header bit says which have one), or not at all
// (a gauge that goes down in many windows, more than a quarter and at least 2: rate and
// increase read its samples instead).
constexpr uint8_t kDecimalsMask = 0x3F;
constexpr uint8_t kSomeResets = 0x40;
constexpr uint8_t kResetsLeftOut = 0x80;
// A residue this large or larger is written verbatim: its zigzag and tag must fit 64 bits.
constexpr int64_t kMaxResidue = int64_t{1} << 60;

// The prediction of a sum: count × the middle of min and max (scaled, |each| <= 2^53), or
// 0 when that is out of range.
int64_t PredictSum(int64_t count, int64_t min, int64_t max) {
  int64_t product;
  if (__builtin_mul_overflow(count, min + max, &product) || product / 2 > kMaxResidue ||
      product / 2 < -kMaxResidue) {
    return 0;
  }
  return product / 2;
}

// A value: the zigzagged residue from `predicted`, shifted left by one, when it is a
// decimal of `decimals`; else a 1 and its 8 bytes. Returns the scaled value (0 when
// verbatim), the next values' prediction.
int64_t PutValue(std::string* out, double v, int decimals, int64_t predicted) {
  int64_t k;
  // |k| <= 2^53 and |predicted| <= 2^60: the difference cannot overflow.
  if (ScaledExactly(v, decimals, &k) && std::abs(k - predicted) < kMaxResidue) {
    PutVarint(out, ZigZag(static_cast<uint64_t>(k - predicted)) << 1);
    return k;
  }
  PutVarint(out, 1);
  const uint64_t bits = std::bit_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(bits >> (8 * i)));
  return 0;
}

bool TakeValue(std::string_view* in, double power, int64_t predicted, double* v, int64_t* k) {
  uint64_t tagged;
  if (!TakeVarint(in, &tagged)) return false;
  if ((tagged & 1) == 0) {
    // Unsigned: damaged bytes wrap instead of overflowing.
    *k = static_cast<int64_t>(static_cast<uint64_t>(predicted) + UnZigZag(tagged >> 1));
    *v = static_cast<double>(*k) / power;
    return true;
  }
  if (tagged != 1 || in->size() < 8) return false;
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= uint64_t{static_cast<uint8_t>((*in)[i])} << (8 * i);
  in->remove_prefix(8);
  *v = std::bit_cast<double>(bits);
  *k = 0;
  return true;
}

void PutSigned(std::string* out, int64_t v) { PutVarint(out, ZigZag(static_cast<uint64_t>(v))); }
// Adds a zigzagged residue to `*v`; false when the bytes end or the sum overflows.
bool TakeResidue(std::string_view* in, int64_t* v) {
  uint64_t u;
  if (!TakeVarint(in, &u)) return false;
  return !__builtin_add_overflow(*v, static_cast<int64_t>(UnZigZag(u)), v);
}

bool HasReset(const store::WindowSummary& s) { return std::bit_cast<uint64_t>(s.resets) != 0; }

// The fewest decimals that write every min, max, first and last exactly; 0 when none do.
int DecimalsFor(std::span<const store::WindowSummary> summaries) {
  for (int d = 0; d <= kMaxDecimals; ++d) {
    int64_t k;
    const bool all = std::all_of(summaries.begin(), summaries.end(), [&](const auto& s) {
      return ScaledExactly(s.min, d, &k) && ScaledExactly(s.max, d, &k) &&
             ScaledExactly(s.first, d, &k) && ScaledExactly(s.last, d, &k);
    });
    if (all) return d;
  }
  return 0;
}

}  // namespace

bool SummariesHaveResets(std::string_view row) {
  return row.size() < 2 || (static_cast<uint8_t>(row[1]) & kResetsLeftOut) == 0;
}

std::string EncodeSummaries(std::span<const store::WindowSummary> summaries,
                            int64_t resolution_ms) {
  std::string out;
  const int decimals = DecimalsFor(summaries);
  const auto with_resets = static_cast<size_t>(
      std::count_if(summaries.begin(), summaries.end(), [](const auto& s) { return HasReset(s); }));
  const uint8_t resets = with_resets == 0                                         ? 0
                         : with_resets * 4 > summaries.size() && with_resets >= 2 ? kResetsLeftOut
                                                                                  : kSomeResets;
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(decimals | resets));
  PutVarint(&out, summaries.size());
  if (!summaries.empty()) PutSigned(&out, summaries.front().end_ms / resolution_ms);
  int64_t window = summaries.empty() ? 0 : summaries.front().end_ms / resolution_ms - 1;
  int64_t count = 0, first_offset = 0, last_offset = 0, last = 0;
  for (const store::WindowSummary& s : summaries) {
    const int64_t w = s.end_ms / resolution_ms;
    const int64_t f = s.first_ms - (s.end_ms - resolution_ms);  // in [1, resolution]
    const int64_t l = s.end_ms - s.last_ms;                     // in [0, resolution)
    // The windows since the last one, whether count and offsets are the last one's, and
    // whether a counter correction follows.
    const bool same = s.count == count && f == first_offset && l == last_offset;
    const bool reset = resets == kSomeResets && HasReset(s);
    PutVarint(&out, static_cast<uint64_t>(w - window - 1) << 2 | (same ? 2 : 0) | (reset ? 1 : 0));
    window = w;
    if (!same) {
      PutSigned(&out, s.count - count);
      PutSigned(&out, f - first_offset);
      PutSigned(&out, l - last_offset);
      count = s.count;
      first_offset = f;
      last_offset = l;
    }
    const int64_t min = PutValue(&out, s.min, decimals, last);
    const int64_t max = PutValue(&out, s.max, decimals, min);
    PutValue(&out, s.first, decimals, min);
    last = PutValue(&out, s.last, decimals, min);
    PutValue(&out, s.sum, decimals, PredictSum(s.count, min, max));
    if (reset) PutValue(&out, s.resets, decimals, 0);
  }
  return out;
}

Status DecodeSummaries(std::string_view bytes, int64_t resolution_ms,
                       std::vector<store::WindowSummary>* out) {
  const auto bad = [&](std::string_view what) {
    return DataLossError("tier row: " + std::string(what));
  };
  std::string_view in = bytes;
  if (in.size() < 2 || static_cast<uint8_t>(in[0]) != kVersion) return bad("unknown version");
  const int decimals = static_cast<uint8_t>(in[1]) & kDecimalsMask;
  const uint8_t resets = static_cast<uint8_t>(in[1]) & ~kDecimalsMask;
  if (decimals > kMaxDecimals || resets == (kSomeResets | kResetsLeftOut)) {
    return bad("bad decimals");
  }
  in.remove_prefix(2);
  uint64_t n;
  // Every summary takes at least 6 bytes: damaged counts allocate nothing.
  if (!TakeVarint(&in, &n) || n > in.size() / 6) return bad("bad count");
  const double power = PowerOfTen(decimals);
  const size_t before = out->size();
  out->reserve(before + n);
  const int64_t max_window = INT64_MAX / resolution_ms - 1;
  int64_t window = 0, count = 0, first_offset = 0, last_offset = 0, last = 0;
  if (n > 0 && (!TakeResidue(&in, &window) || window <= -max_window || window >= max_window)) {
    return bad("bad first window");
  }
  --window;
  for (uint64_t i = 0; i < n; ++i) {
    store::WindowSummary s;
    int64_t k, min = 0, max = 0;
    uint64_t header;
    bool ok = TakeVarint(&in, &header) &&
              (header >> 2) < static_cast<uint64_t>(max_window - 1 - window) &&
              ((header & 1) == 0 || resets == kSomeResets);
    if (ok) window += static_cast<int64_t>(header >> 2) + 1;
    if (ok && (header & 2) == 0) {
      ok = TakeResidue(&in, &count) && TakeResidue(&in, &first_offset) &&
           TakeResidue(&in, &last_offset);
    }
    ok = ok && count > 0 && first_offset >= 1 && first_offset <= resolution_ms &&
         last_offset >= 0 && last_offset < resolution_ms &&
         TakeValue(&in, power, last, &s.min, &min) && TakeValue(&in, power, min, &s.max, &max) &&
         TakeValue(&in, power, min, &s.first, &k) && TakeValue(&in, power, min, &s.last, &last) &&
         TakeValue(&in, power, PredictSum(count, min, max), &s.sum, &k) &&
         ((header & 1) == 0 || TakeValue(&in, power, 0, &s.resets, &k));
    if (!ok) {
      out->resize(before);
      return bad("damaged summary");
    }
    if (resets == kResetsLeftOut) s.resets = std::numeric_limits<double>::quiet_NaN();
    s.end_ms = window * resolution_ms;
    s.count = count;
    s.first_ms = s.end_ms - resolution_ms + first_offset;
    s.last_ms = s.end_ms - last_offset;
    if (s.last_ms < s.first_ms) {
      out->resize(before);
      return bad("last sample before the first");
    }
    out->push_back(s);
  }
  if (!in.empty()) {
    out->resize(before);
    return bad("trailing bytes");
  }
  return OkStatus();
}

}  // namespace vigil::tsdb::chunk

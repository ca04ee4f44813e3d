// Values as the compacted formats write them (docs/format/block.md, tier.md): signed
// residues zigzagged into small unsigned ones, and doubles that are short decimals as the
// integer k of k / 10^decimals, bit for bit.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace vigil::tsdb::chunk {

inline constexpr int kMaxDecimals = 12;
inline constexpr int64_t kMaxExactInteger = int64_t{1} << 53;

inline uint64_t ZigZag(uint64_t v) {
  return (v << 1) ^ static_cast<uint64_t>(static_cast<int64_t>(v) >> 63);
}
inline uint64_t UnZigZag(uint64_t v) { return (v >> 1) ^ (~(v & 1) + 1); }

inline double PowerOfTen(int n) {
  double p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;  // exact up to 1e22
}

// v as k / 10^decimals with |k| <= 2^53, bit for bit; false when it is not such a decimal.
inline bool ScaledExactly(double v, int decimals, int64_t* k) {
  const double p = PowerOfTen(decimals);
  const double scaled = v * p;
  if (!(std::fabs(scaled) <= static_cast<double>(kMaxExactInteger))) return false;  // NaN too
  const int64_t candidate = std::llround(scaled);
  if (std::bit_cast<uint64_t>(static_cast<double>(candidate) / p) != std::bit_cast<uint64_t>(v)) {
    return false;
  }
  *k = candidate;
  return true;
}

}  // namespace vigil::tsdb::chunk

#include "core/format_float.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace vigil {
namespace {

// The digits of 0 <= n < 10^8, all eight (leading zeros too), two at a time from a table:
// the four pairs do not wait on each other, where std::to_chars divides by 100 in a chain.
void WriteEightDigits(char* out, uint32_t n) {
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  const uint32_t high = n / 10000, low = n % 10000;
  std::memcpy(out, kPairs + 2 * (high / 100), 2);
  std::memcpy(out + 2, kPairs + 2 * (high % 100), 2);
  std::memcpy(out + 4, kPairs + 2 * (low / 100), 2);
  std::memcpy(out + 6, kPairs + 2 * (low % 100), 2);
}

// How many decimal digits n > 0 has.
int DigitCount(uint64_t n) {
  static constexpr uint64_t kPowers[] = {1,
                                         10,
                                         100,
                                         1000,
                                         10000,
                                         100000,
                                         1000000,
                                         10000000,
                                         100000000,
                                         1000000000,
                                         10000000000,
                                         100000000000,
                                         1000000000000,
                                         10000000000000,
                                         100000000000000,
                                         1000000000000000,
                                         10000000000000000,
                                         100000000000000000,
                                         1000000000000000000,
                                         10000000000000000000u};
  const int guess = (std::bit_width(n) * 1233) >> 12;  // log10 from log2, maybe one short
  return guess + (n >= kPowers[guess] ? 1 : 0);
}

// Go's 'f' with the shortest digits: no exponent, however large or small. The digits are
// Dragonbox's (fmt's, the algorithm behind its "{}"), laid out here around the decimal
// point: std::to_chars's fixed form took 58 ns a value, and writes a large value's exact
// integer where Go (so Prometheus) pads the shortest digits with zeros.
char* WriteFixed(char* out, double value) {
  if (std::signbit(value)) {
    *out++ = '-';
    value = -value;
  }
  if (value == 0) {
    *out++ = '0';
    return out;
  }
  const auto decimal = fmt::detail::dragonbox::to_decimal(value);
  // A double's shortest significand has at most 17 digits: written right-aligned in the
  // first 24 bytes, so that 24 bytes from where they start can always be copied at once
  // (a copy of a fixed size takes no call; `out` has room for it).
  char padded[48] = {};
  const uint64_t significand = decimal.significand;
  WriteEightDigits(padded, static_cast<uint32_t>(significand / 10'000'000'000'000'000));
  WriteEightDigits(padded + 8, static_cast<uint32_t>(significand / 100'000'000 % 100'000'000));
  WriteEightDigits(padded + 16, static_cast<uint32_t>(significand % 100'000'000));
  const int count = DigitCount(significand);
  const char* digits = padded + 24 - count;
  const int point = count + decimal.exponent;  // digits before the decimal point
  if (point > 0 && point < count) {            // dd.ddd
    std::memcpy(out, digits, 24);
    out[point] = '.';
    std::memcpy(out + point + 1, digits + point, 24);
    return out + count + 1;
  }
  if (point <= 0) {  // 0.ddd, 0.000ddd
    *out++ = '0';
    *out++ = '.';
    for (int i = 0; i < -point; ++i) *out++ = '0';
    std::memcpy(out, digits, 24);
    return out + count;
  }
  std::memcpy(out, digits, 24);  // ddd, ddd000
  out += count;
  for (int i = count; i < point; ++i) *out++ = '0';
  return out;
}

}  // namespace

char* WriteFloat(char* out, double value, FloatStyle style) {
  auto copy = [out](std::string_view text) {
    std::memcpy(out, text.data(), text.size());
    return out + text.size();
  };
  if (std::isnan(value)) return copy("NaN");
  if (std::isinf(value)) return copy(value > 0 ? "+Inf" : "-Inf");
  if (style == FloatStyle::kFixed) return WriteFixed(out, value);
  // The shortest digits, in scientific form: "1.234567e+06".
  char* end = std::to_chars(out, out + kMaxFloatChars, value, std::chars_format::scientific).ptr;
  char* e = std::find(out, end, 'e');
  int exponent = 0;
  std::from_chars(e + 2, end, exponent);  // after "e+" or "e-"
  if (e[1] == '-') exponent = -exponent;
  // Go's 'g' with the shortest digits writes the exponent form when the exponent is below
  // -4 or at least 6 (so 1234567 is "1.234567e+06"); 'e' always.
  if (style == FloatStyle::kShortest && exponent >= -4 && exponent < 6) {
    return WriteFixed(out, value);
  }
  // Go writes the exponent with two digits at least: "1e+06", not "1e+6".
  if (end - e == 3) {
    e[3] = e[2];
    e[2] = '0';
    ++end;
  }
  return end;
}

char* WriteFixedHundredths(char* out, double value) {
  // Below 2⁴⁰ a double's rounding interval is narrower than 2⁻¹², so when the double
  // nearest to h / 100 is the value, no other number of at most two decimals reads back
  // as it: those decimals, trailing zeros dropped, are the shortest digits.
  const double magnitude = std::fabs(value);
  if (!(magnitude < 0x1p40)) return nullptr;  // NaN too
  const auto hundredths = static_cast<uint64_t>(magnitude * 100 + 0.5);
  if (static_cast<double>(hundredths) / 100 != magnitude) return nullptr;
  if (std::signbit(value)) *out++ = '-';
  out = std::to_chars(out, out + 16, hundredths / 100).ptr;
  if (const auto cents = static_cast<uint32_t>(hundredths % 100); cents != 0) {
    *out++ = '.';
    *out++ = static_cast<char>('0' + cents / 10);
    if (cents % 10 != 0) *out++ = static_cast<char>('0' + cents % 10);
  }
  return out;
}

void AppendFloat(std::string* out, double value, FloatStyle style) {
  char text[kMaxFloatChars];
  out->append(text, WriteFloat(text, value, style));
}

std::string FormatFloat(double value, FloatStyle style) {
  std::string out;
  AppendFloat(&out, value, style);
  return out;
}

}  // namespace vigil

#include "core/format_float.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace vigil {

void AppendFloat(std::string* out, double value, FloatStyle style) {
  if (std::isnan(value)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    *out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buffer[400];
  if (style == FloatStyle::kFixed) {
    auto result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed);
    out->append(buffer, result.ptr);
    return;
  }
  // The shortest digits, in scientific form: "1.234567e+06".
  auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string text(buffer, result.ptr);
  const size_t e = text.find('e');
  const int exponent = std::atoi(text.c_str() + e + 1);
  // Go's 'g' with the shortest digits writes the exponent form when the exponent is below
  // -4 or at least 6 (so 1234567 is "1.234567e+06"); 'e' always.
  if (style == FloatStyle::kShortest && exponent >= -4 && exponent < 6) {
    result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed);
    out->append(buffer, result.ptr);
    return;
  }
  // Go writes the exponent with two digits at least: "1e+06", not "1e+6".
  if (text.size() - e == 3) text.insert(e + 2, "0");
  *out += text;
}

std::string FormatFloat(double value, FloatStyle style) {
  std::string out;
  AppendFloat(&out, value, style);
  return out;
}

}  // namespace vigil

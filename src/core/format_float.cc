#include "core/format_float.h"

#include <charconv>
#include <cmath>

namespace vigil {

std::string FormatFloat(double value, FloatStyle style) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[400];
  auto result = style == FloatStyle::kFixed ? std::to_chars(buffer, buffer + sizeof(buffer), value,
                                                            std::chars_format::fixed)
                                            : std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, result.ptr);
  if (style == FloatStyle::kShortest) {
    // to_chars writes "1e+21" and "1e-07"; Go writes the exponent with two digits at least.
    if (size_t e = text.find('e'); e != std::string::npos && text.size() - e == 3) {
      text.insert(e + 2, "0");
    }
  }
  return text;
}

}  // namespace vigil

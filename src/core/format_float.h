// FormatFloat: the one way vigil writes a sample value as text, in the styles of the
// systems it speaks with. kFixed is Prometheus's HTTP API and PromQL's (Go's
// strconv.FormatFloat(v, 'f', -1, 64)): 1e21 is "1000000000000000000000". kShortest is the
// text exposition format's and alert templates' (Go's 'g', -1): 1e21 is "1e+21", 1234567
// is "1.234567e+06", 0.0001 is "0.0001". kExponent is the alert API's value (Go's 'e', -1):
// 1 is "1e+00". All give the shortest digits that read back as the same double, and "NaN",
// "+Inf", "-Inf".
//
// Thread safety: pure function.
#pragma once

#include <string>

namespace vigil {

enum class FloatStyle { kFixed, kShortest, kExponent };

std::string FormatFloat(double value, FloatStyle style);
// The same, appended to *out: query answers write a million values, a string each cost.
void AppendFloat(std::string* out, double value, FloatStyle style);
// The most characters a value takes: 5e-324 in the fixed form is "0." and 324 digits.
inline constexpr size_t kMaxFloatChars = 400;
// The same, written at `out`, which has room for kMaxFloatChars; returns the end.
char* WriteFloat(char* out, double value, FloatStyle style);
// kFixed's text of a value of at most two decimals below 2⁴⁰ in magnitude (an integer, a
// reading in hundredths: most instruments' and counters'), written without the search
// for the shortest digits, which takes most of WriteFloat's time; nullptr, with nothing
// written, for any other value. Writers of a series' values try it until it first fails,
// so that values of other kinds pay one failed try a series.
char* WriteFixedHundredths(char* out, double value);

}  // namespace vigil

// Prometheus naming rules, shared by the data model, the metrics registry and the
// config validator: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]*.
//
// Thread safety: pure functions.
#pragma once

#include <string_view>

namespace vigil {

bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates).
bool IsValidUtf8(std::string_view text);

}  // namespace vigil

// Writes a syntax tree back as PromQL text in Prometheus's canonical form (its parser's
// String()): `sum by (job) (rate(x{a="b"}[5m] offset 1m))`, `a / on (b) group_left (c) d`.
// What /api/v1/format_query answers; parsing the text again gives the same tree.
//
// Operator chains are written with an explicit stack, as the engine walks them.
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "query/ast.h"

namespace vigil::query {

std::string Format(const Node& node);

// Milliseconds as a Prometheus duration: 1h30m, 5m, 1d, 500ms, 0s.
std::string FormatDuration(int64_t ms);

}  // namespace vigil::query

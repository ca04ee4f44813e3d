// Parses PromQL (Prometheus 3's grammar, float samples) into the syntax tree of ast.h,
// type-checked as Prometheus's parser checks it, with its messages prefixed by the line and
// column of the fault: `1:8: parse error: unexpected end of input`. docs/http-api.md.
//
// Hostile input cannot exhaust the stack: operator chains (`1+1+…`, `---x`) are read
// with explicit stacks, and any other nesting deeper than kMaxNesting is refused with
// InvalidArgument. Queries longer than 64 KiB are refused.
//
// Thread safety: pure functions.
#pragma once

#include <memory>
#include <string_view>

#include "core/status.h"
#include "query/ast.h"

namespace vigil::query {

Result<std::unique_ptr<Node>> Parse(std::string_view text);

// A series selector alone (`boiler_pressure_out{area="boiler"}`, `{__name__=~"node_.*"}`)
// as its matchers; InvalidArgument for an expression that is more than a selector.
Result<std::vector<model::Matcher>> ParseSelector(std::string_view text);

// "5m", "1h30m", "1y" … (Prometheus durations: ms, s, m, h, d, w, y) to milliseconds;
// InvalidArgument for anything else or a duration that is not positive.
Result<int64_t> ParseDurationMs(std::string_view text);

}  // namespace vigil::query

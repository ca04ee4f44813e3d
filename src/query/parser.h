// Parses the PromQL subset of ast.h. Anything outside it (offset, @, subqueries,
// vector-to-vector operators, other functions …) is rejected with InvalidArgument naming
// the construct: `unsupported: offset modifier`; malformed text with the position:
// `parse error at char 7: expected "}"`.
//
// Thread safety: pure function.
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

// "5m", "1h30m" … (Prometheus durations) to milliseconds; InvalidArgument otherwise.
Result<int64_t> ParseDurationMs(std::string_view text);

}  // namespace vigil::query

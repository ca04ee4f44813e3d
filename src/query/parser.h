// Parses PromQL (Prometheus 3's grammar, float samples) into the syntax tree of ast.h,
// type-checked as Prometheus's parser checks it, with its messages prefixed by the line and
// column of the fault: `1:8: parse error: unexpected end of input`. docs/http-api.md.
//
// Hostile input cannot exhaust the stack: operator chains (`1+1+…`, `---x`) are read
// with explicit stacks, and any other nesting deeper than kMaxNesting is refused with
// InvalidArgument. Queries longer than 64 KiB are refused.
//
// Selectors alone, and durations, are read by model/selector.h, whose lexer this parser
// extends.
//
// Thread safety: pure functions.
#pragma once

#include <memory>
#include <string_view>

#include "core/status.h"
#include "query/ast.h"

namespace vigil::query {

Result<std::unique_ptr<Node>> Parse(std::string_view text);

}  // namespace vigil::query

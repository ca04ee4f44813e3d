// The query language's syntax tree: the subset of PromQL that vigil evaluates (docs/
// http-api.md, "Query language"): numbers, instant and range vector selectors with the
// four matchers, rate/increase/<agg>_over_time, sum/avg/min/max/count with by/without,
// arithmetic and comparison between a vector or scalar and a scalar.
//
// Thread safety: immutable after parsing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/matcher.h"

namespace vigil::query {

enum class NodeKind { kNumber, kVectorSelector, kMatrixSelector, kCall, kAggregate, kBinary };

struct Node {
  NodeKind kind = NodeKind::kNumber;
  double number = 0;                        // kNumber
  std::vector<model::Matcher> matchers;     // selectors
  int64_t range_ms = 0;                     // kMatrixSelector
  std::string name;                         // kCall: function; kAggregate and kBinary: operator
  std::vector<std::unique_ptr<Node>> args;  // kCall: 1; kAggregate: 1; kBinary: 2
  bool without = false;                     // kAggregate: `without (…)` rather than `by (…)`
  std::vector<std::string> grouping;        // kAggregate
  bool return_bool = false;                 // kBinary comparison with `bool`
};

}  // namespace vigil::query

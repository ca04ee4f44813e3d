// The query language's syntax tree: PromQL as Prometheus 3 defines it (docs/http-api.md,
// "Query language"). The parser (parser.h) builds it already type-checked, so the engine
// (engine.h) can rely on every node's operands having the types its operator needs.
//
// A tree may be deep only through chains of binary and unary operators (`1+1+…+1`); every
// other kind of nesting is bounded by the parser (kMaxNesting). Code that walks the whole
// tree must therefore not recurse through operator chains: the destructor and the engine
// walk them with explicit stacks.
//
// Thread safety: immutable after parsing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/matcher.h"

namespace vigil::query {

// What an expression evaluates to (Prometheus's parser.ValueType).
enum class ValueType { kScalar, kVector, kMatrix, kString };
const char* ValueTypeName(ValueType type);  // "scalar", "instant vector", "range vector", "string"

enum class NodeKind {
  kNumber,          // 42, 0x3d, Inf
  kString,          // "text"
  kVectorSelector,  // x{a="b"} offset 5m @ 100
  kMatrixSelector,  // x{a="b"}[5m] offset 5m @ 100
  kSubquery,        // <expr>[1h:5m] offset 5m @ 100
  kCall,            // rate(x[5m])
  kAggregate,       // sum by (a) (x), topk(3, x)
  kBinary,          // a + on(b) group_left(c) d
  kUnary,           // -x
  kParen,           // (x)
};

enum class AtModifier { kNone, kTimestamp, kStart, kEnd };

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

// How the two sides of a binary operator between vectors are matched.
struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  bool on = false;                   // on(...) rather than ignoring(...)
  std::vector<std::string> labels;   // the labels of on(...) / ignoring(...)
  std::vector<std::string> include;  // group_left(...) / group_right(...) labels
};

struct Function;  // functions.h

struct Node {
  NodeKind kind = NodeKind::kNumber;
  ValueType type = ValueType::kScalar;  // what the node evaluates to
  size_t position = 0;                  // byte offset in the query, for messages

  double number = 0;  // kNumber
  std::string text;   // kString: the value; kCall, kAggregate, kBinary, kUnary: the operator

  // kVectorSelector, kMatrixSelector (the selector's), kSubquery (the subquery's).
  std::vector<model::Matcher> matchers;
  int64_t range_ms = 0;   // kMatrixSelector, kSubquery
  int64_t step_ms = 0;    // kSubquery; 0 = the default resolution
  int64_t offset_ms = 0;  // positive looks back
  AtModifier at = AtModifier::kNone;
  int64_t at_ms = 0;  // AtModifier::kTimestamp

  const Function* function = nullptr;       // kCall
  std::vector<std::unique_ptr<Node>> args;  // operands (kAggregate: [param,] expression)

  bool without = false;               // kAggregate: without(...) rather than by(...)
  std::vector<std::string> grouping;  // kAggregate

  bool return_bool = false;                // kBinary: comparison with `bool`
  std::optional<VectorMatching> matching;  // kBinary between two vectors

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees children with an explicit stack: an operator chain may be thousands deep.
  ~Node();

  // The expression the aggregation reduces (its last operand) and its parameter, if any.
  const Node& AggregateExpression() const { return *args.back(); }
  const Node* AggregateParameter() const { return args.size() > 1 ? args[0].get() : nullptr; }
};

// Deepest nesting of parentheses, calls, aggregations and subqueries the parser accepts.
// Chains of binary operators do not count; they are evaluated without recursion.
inline constexpr int kMaxNesting = 200;

}  // namespace vigil::query

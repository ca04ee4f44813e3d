#include "query/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "core/names.h"
#include "model/selector.h"
#include "query/functions.h"

namespace vigil::query {

Node::~Node() {
  std::vector<std::unique_ptr<Node>> pending;
  for (auto& child : args) {
    if (child) pending.push_back(std::move(child));
  }
  while (!pending.empty()) {
    std::unique_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    for (auto& child : node->args) {
      if (child) pending.push_back(std::move(child));
    }
    // `node` now has no children left to free recursively.
  }
}

namespace {

using model::Token;

constexpr std::string_view kAggregations[] = {
    "sum",    "avg",  "count",   "min",          "max",      "group",  "stddev",
    "stdvar", "topk", "bottomk", "count_values", "quantile", "limitk", "limit_ratio"};

bool IsAggregation(std::string_view word) {
  return std::find(std::begin(kAggregations), std::end(kAggregations), word) !=
         std::end(kAggregations);
}
bool AggregationTakesParameter(std::string_view op) {
  return op == "topk" || op == "bottomk" || op == "count_values" || op == "quantile" ||
         op == "limitk" || op == "limit_ratio";
}

// Words that end an operand or introduce a modifier; never metric names.
bool IsKeyword(std::string_view word) {
  static constexpr std::string_view kKeywords[] = {
      "and",      "or",         "unless",      "atan2",  "bool", "on",
      "ignoring", "group_left", "group_right", "offset", "by",   "without"};
  return std::find(std::begin(kKeywords), std::end(kKeywords), word) != std::end(kKeywords);
}

bool IsComparisonOperator(std::string_view op) {
  return op == "==" || op == "!=" || op == ">" || op == "<" || op == ">=" || op == "<=";
}
bool IsSetOperator(std::string_view op) { return op == "and" || op == "or" || op == "unless"; }

// Binding strength of binary operators, Prometheus's: ^ binds tightest and to the right.
constexpr int kUnaryPrecedence = 5;  // as * and /, so -2^2 is -(2^2) and -a*b is (-a)*b
int Precedence(std::string_view op) {
  if (op == "or") return 1;
  if (op == "and" || op == "unless") return 2;
  if (IsComparisonOperator(op)) return 3;
  if (op == "+" || op == "-") return 4;
  if (op == "*" || op == "/" || op == "%" || op == "atan2") return 5;
  if (op == "^") return 6;
  return 0;
}

// One operator waiting on the parser's stack for its right operand.
struct PendingOperator {
  std::string op;
  bool unary = false;
  size_t position = 0;
  bool return_bool = false;
  std::optional<VectorMatching> matching;
  int precedence = 0;
  bool right_associative = false;
};

class Parser : public model::SelectorLexer {
 public:
  explicit Parser(std::string_view text) : SelectorLexer(text) {}

  Result<std::unique_ptr<Node>> ParseAll() {
    VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> node, ParseExpression());
    if (token_ != Token::kEnd) return Unexpected("");
    return node;
  }

 private:
  bool IsReservedWord(std::string_view word) const override {
    return IsKeyword(word) || IsAggregation(word);
  }

  // --- expressions ------------------------------------------------------------------------

  // A whole expression: operands joined by binary operators and prefixed by unary ones,
  // reduced by precedence with explicit stacks (no recursion along a chain).
  Result<std::unique_ptr<Node>> ParseExpression() {
    if (++nesting_ > kMaxNesting) {
      return Error(fmt::format("expression nested more than {} levels deep", kMaxNesting));
    }
    std::vector<std::unique_ptr<Node>> operands;
    std::vector<PendingOperator> operators;
    while (true) {
      while (token_ == Token::kPlus || token_ == Token::kMinus) {
        operators.push_back({.op = token_ == Token::kPlus ? "+" : "-",
                             .unary = true,
                             .position = start_,
                             .precedence = kUnaryPrecedence,
                             .right_associative = true});
        Advance();
      }
      VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> operand, ParseOperand());
      operands.push_back(std::move(operand));
      std::optional<PendingOperator> next;
      VIGIL_ASSIGN_OR_RETURN(next, ReadBinaryOperator());
      if (!next) break;
      while (!operators.empty() &&
             (operators.back().precedence > next->precedence ||
              (operators.back().precedence == next->precedence && !next->right_associative))) {
        VIGIL_RETURN_IF_ERROR(Reduce(&operands, &operators));
      }
      operators.push_back(*std::move(next));
    }
    while (!operators.empty()) VIGIL_RETURN_IF_ERROR(Reduce(&operands, &operators));
    --nesting_;
    return std::move(operands.back());
  }

  // The binary operator at the current token with its modifiers, or nullopt when the
  // expression ends here.
  Result<std::optional<PendingOperator>> ReadBinaryOperator() {
    std::string op;
    switch (token_) {
      case Token::kPlus:
        op = "+";
        break;
      case Token::kMinus:
        op = "-";
        break;
      case Token::kStar:
        op = "*";
        break;
      case Token::kSlash:
        op = "/";
        break;
      case Token::kPercent:
        op = "%";
        break;
      case Token::kCaret:
        op = "^";
        break;
      case Token::kEqualEqual:
        op = "==";
        break;
      case Token::kNotEqual:
        op = "!=";
        break;
      case Token::kGreater:
        op = ">";
        break;
      case Token::kLess:
        op = "<";
        break;
      case Token::kGreaterEqual:
        op = ">=";
        break;
      case Token::kLessEqual:
        op = "<=";
        break;
      case Token::kIdentifier:
        if (value_ == "and" || value_ == "or" || value_ == "unless" || value_ == "atan2") {
          op = value_;
          break;
        }
        return std::optional<PendingOperator>();
      default:
        return std::optional<PendingOperator>();
    }
    PendingOperator pending{
        .op = op, .position = start_, .precedence = Precedence(op), .right_associative = op == "^"};
    Advance();
    if (AtWord("bool")) {
      if (!IsComparisonOperator(op)) {
        return Error("bool modifier can only be used on comparison operators");
      }
      pending.return_bool = true;
      Advance();
    }
    if (AtWord("on") || AtWord("ignoring")) {
      VectorMatching matching;
      matching.on = value_ == "on";
      Advance();
      VIGIL_ASSIGN_OR_RETURN(matching.labels, ParseLabelList("grouping opts"));
      if (AtWord("group_left") || AtWord("group_right")) {
        matching.card = value_ == "group_left" ? Cardinality::kManyToOne : Cardinality::kOneToMany;
        Advance();
        if (token_ == Token::kLeftParen) {
          VIGIL_ASSIGN_OR_RETURN(matching.include, ParseLabelList("grouping opts"));
        }
      }
      pending.matching = std::move(matching);
    } else if (AtWord("group_left") || AtWord("group_right")) {
      return Unexpected("in binary expression", "\"on\" or \"ignoring\" before it");
    }
    return std::optional<PendingOperator>(std::move(pending));
  }

  // Applies the operator on top of the stack to its operands, checking their types.
  Status Reduce(std::vector<std::unique_ptr<Node>>* operands,
                std::vector<PendingOperator>* operators) {
    PendingOperator op = std::move(operators->back());
    operators->pop_back();
    auto node = std::make_unique<Node>();
    node->position = op.position;
    node->text = op.op;
    if (op.unary) {
      std::unique_ptr<Node> operand = std::move(operands->back());
      operands->pop_back();
      if (operand->type != ValueType::kScalar && operand->type != ValueType::kVector) {
        return ErrorAt(op.position,
                       fmt::format("unary expression only allowed on expressions of type scalar or "
                                   "instant vector, got \"{}\"",
                                   ValueTypeName(operand->type)));
      }
      if (operand->kind == NodeKind::kNumber) {  // folded, as Prometheus's parser does
        if (op.op == "-") operand->number = -operand->number;
        operand->position = op.position;
        operands->push_back(std::move(operand));
        return OkStatus();
      }
      node->kind = NodeKind::kUnary;
      node->type = operand->type;
      node->args.push_back(std::move(operand));
      operands->push_back(std::move(node));
      return OkStatus();
    }
    std::unique_ptr<Node> right = std::move(operands->back());
    operands->pop_back();
    std::unique_ptr<Node> left = std::move(operands->back());
    operands->pop_back();
    node->kind = NodeKind::kBinary;
    node->return_bool = op.return_bool;
    const bool scalar_left = left->type == ValueType::kScalar;
    const bool scalar_right = right->type == ValueType::kScalar;
    auto operand_ok = [](const Node& n) {
      return n.type == ValueType::kScalar || n.type == ValueType::kVector;
    };
    if (!operand_ok(*left) || !operand_ok(*right)) {
      return ErrorAt(op.position,
                     "binary expression must contain only scalar and instant vector types");
    }
    if (IsComparisonOperator(op.op) && !op.return_bool && scalar_left && scalar_right) {
      return ErrorAt(op.position, "comparisons between scalars must use BOOL modifier");
    }
    if (IsSetOperator(op.op) && (scalar_left || scalar_right)) {
      return ErrorAt(
          op.position,
          fmt::format("set operator \"{}\" not allowed in binary scalar expression", op.op));
    }
    if (op.matching && (scalar_left || scalar_right)) {
      return ErrorAt(op.position, "vector matching only allowed between instant vectors");
    }
    if (!scalar_left && !scalar_right) {
      VectorMatching matching = op.matching ? *op.matching : VectorMatching{};
      if (IsSetOperator(op.op)) {
        if (matching.card == Cardinality::kManyToOne || matching.card == Cardinality::kOneToMany) {
          return ErrorAt(op.position,
                         fmt::format("no grouping allowed for \"{}\" operation", op.op));
        }
        matching.card = Cardinality::kManyToMany;
      }
      for (const std::string& label : matching.include) {
        if (matching.on && std::find(matching.labels.begin(), matching.labels.end(), label) !=
                               matching.labels.end()) {
          return ErrorAt(
              op.position,
              fmt::format("label \"{}\" must not occur in ON and GROUP clause at once", label));
        }
      }
      node->matching = std::move(matching);
    }
    node->type = scalar_left && scalar_right ? ValueType::kScalar : ValueType::kVector;
    node->args.push_back(std::move(left));
    node->args.push_back(std::move(right));
    operands->push_back(std::move(node));
    return OkStatus();
  }

  // A primary expression with its postfix modifiers: [range], [range:step], offset, @.
  Result<std::unique_ptr<Node>> ParseOperand() {
    VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> node, ParsePrimary());
    while (true) {
      if (token_ == Token::kLeftBracket) {
        VIGIL_ASSIGN_OR_RETURN(node, ParseRange(std::move(node)));
      } else if (AtWord("offset")) {
        VIGIL_RETURN_IF_ERROR(ParseOffset(node.get()));
      } else if (token_ == Token::kAt) {
        VIGIL_RETURN_IF_ERROR(ParseAt(node.get()));
      } else {
        return node;
      }
    }
  }

  static bool TakesModifiers(const Node& node) {
    return node.kind == NodeKind::kVectorSelector || node.kind == NodeKind::kMatrixSelector ||
           node.kind == NodeKind::kSubquery;
  }

  // A positive or signed duration: a duration literal or a number of seconds.
  Result<int64_t> ParseDurationValue(const char* context, bool allow_sign) {
    bool negative = false;
    if (allow_sign && (token_ == Token::kMinus || token_ == Token::kPlus)) {
      negative = token_ == Token::kMinus;
      Advance();
    }
    if (token_ != Token::kDuration && token_ != Token::kNumber) {
      return Unexpected(context, "number or duration");
    }
    const double seconds = number_;
    if (!std::isfinite(seconds) || std::fabs(seconds) > 9.2e15) {
      return Error("duration out of range");
    }
    Advance();
    const auto ms = static_cast<int64_t>(std::llround(seconds * 1000));
    return negative ? -ms : ms;
  }

  Result<std::unique_ptr<Node>> ParseRange(std::unique_ptr<Node> node) {
    const size_t open = start_;
    Advance();
    VIGIL_ASSIGN_OR_RETURN(int64_t range, ParseDurationValue("in subquery or range", false));
    if (token_ == Token::kColon) {
      Advance();
      int64_t step = 0;
      if (token_ != Token::kRightBracket) {
        VIGIL_ASSIGN_OR_RETURN(step, ParseDurationValue("in subquery selector", false));
      }
      VIGIL_RETURN_IF_ERROR(Expect(Token::kRightBracket, "in subquery selector", "\"]\""));
      if (node->type != ValueType::kVector) {
        return ErrorAt(open, fmt::format("subquery is only allowed on instant vector, got {}",
                                         ValueTypeName(node->type)));
      }
      if (range <= 0) return ErrorAt(open, "range must be greater than 0");  // as 0s
      if (step < 0) return ErrorAt(open, "step must be greater than 0");
      auto subquery = std::make_unique<Node>();
      subquery->kind = NodeKind::kSubquery;
      subquery->type = ValueType::kMatrix;
      subquery->position = node->position;
      subquery->range_ms = range;
      subquery->step_ms = step;
      subquery->args.push_back(std::move(node));
      return subquery;
    }
    VIGIL_RETURN_IF_ERROR(Expect(Token::kRightBracket, "in subquery or range", "\":\" or \"]\""));
    if (node->kind != NodeKind::kVectorSelector) {
      return ErrorAt(open, "ranges only allowed for vector selectors");
    }
    if (offset_set_.count(node.get())) {
      return ErrorAt(open, "no offset modifiers allowed before range");
    }
    if (node->at != AtModifier::kNone) return ErrorAt(open, "no @ modifiers allowed before range");
    if (range <= 0) return ErrorAt(open, "range must be greater than 0");
    node->kind = NodeKind::kMatrixSelector;
    node->type = ValueType::kMatrix;
    node->range_ms = range;
    return node;
  }

  Status ParseOffset(Node* node) {
    const size_t at = start_;
    Advance();
    VIGIL_ASSIGN_OR_RETURN(int64_t offset, ParseDurationValue("in offset", true));
    if (!TakesModifiers(*node)) {
      return ErrorAt(at,
                     "offset modifier must be preceded by an instant vector selector or range "
                     "vector selector or a subquery");
    }
    if (node->offset_ms != 0 || offset_set_.count(node)) {
      return ErrorAt(at, "offset may not be set multiple times");
    }
    offset_set_.insert(node);
    node->offset_ms = offset;
    return OkStatus();
  }

  Status ParseAt(Node* node) {
    const size_t at = start_;
    Advance();
    AtModifier modifier = AtModifier::kTimestamp;
    int64_t at_ms = 0;
    if (AtWord("start") || AtWord("end")) {
      modifier = value_ == "start" ? AtModifier::kStart : AtModifier::kEnd;
      Advance();
      VIGIL_RETURN_IF_ERROR(Expect(Token::kLeftParen, "in @", "\"(\""));
      VIGIL_RETURN_IF_ERROR(Expect(Token::kRightParen, "in @", "\")\""));
    } else {
      bool negative = false;
      if (token_ == Token::kMinus || token_ == Token::kPlus) {
        negative = token_ == Token::kMinus;
        Advance();
      }
      if (token_ != Token::kNumber && token_ != Token::kDuration) {
        return Unexpected("in @", "timestamp");
      }
      const double seconds = negative ? -number_ : number_;
      if (!std::isfinite(seconds) || std::fabs(seconds) > 9.2e15) {
        return ErrorAt(at, "timestamp out of bounds for @ modifier: " + value_);
      }
      at_ms = static_cast<int64_t>(std::llround(seconds * 1000));
      Advance();
    }
    if (!TakesModifiers(*node)) {
      return ErrorAt(at,
                     "@ modifier must be preceded by an instant vector selector or range vector "
                     "selector or a subquery");
    }
    if (node->at != AtModifier::kNone) {
      return ErrorAt(at, "@ <timestamp> may not be set multiple times");
    }
    node->at = modifier;
    node->at_ms = at_ms;
    return OkStatus();
  }

  Result<std::unique_ptr<Node>> ParsePrimary() {
    auto node = std::make_unique<Node>();
    node->position = start_;
    switch (token_) {
      case Token::kNumber:
      case Token::kDuration:
        node->number = number_;
        Advance();
        return node;
      case Token::kString:
        node->kind = NodeKind::kString;
        node->type = ValueType::kString;
        node->text = value_;
        Advance();
        return node;
      case Token::kLeftParen: {
        Advance();
        VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> inner, ParseExpression());
        VIGIL_RETURN_IF_ERROR(Expect(Token::kRightParen, "in paren expression", "\")\""));
        node->kind = NodeKind::kParen;
        node->type = inner->type;
        node->args.push_back(std::move(inner));
        return node;
      }
      case Token::kLeftBrace:
        node->kind = NodeKind::kVectorSelector;
        node->type = ValueType::kVector;
        VIGIL_RETURN_IF_ERROR(ParseMatchers(&node->matchers, ""));
        VIGIL_RETURN_IF_ERROR(CheckSelector(node->matchers, node->position));
        return node;
      case Token::kIdentifier:
        break;
      default:
        return Unexpected("");
    }
    std::string word = value_;
    std::string lower = word;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == "inf" || lower == "nan") {
      node->number = lower == "inf" ? std::numeric_limits<double>::infinity()
                                    : std::numeric_limits<double>::quiet_NaN();
      Advance();
      return node;
    }
    if (IsAggregation(word)) return ParseAggregation(std::move(node));
    if (IsKeyword(word)) return Unexpected("");
    Advance();
    if (token_ == Token::kLeftParen) return ParseCall(std::move(node), word);
    // A selector that starts with the metric name.
    node->kind = NodeKind::kVectorSelector;
    node->type = ValueType::kVector;
    auto name = model::Matcher::Create(model::MatchType::kEqual, "__name__", word);
    if (!name.ok()) return ErrorAt(node->position, name.status().message());
    node->matchers.push_back(*std::move(name));
    if (token_ == Token::kLeftBrace) VIGIL_RETURN_IF_ERROR(ParseMatchers(&node->matchers, word));
    VIGIL_RETURN_IF_ERROR(CheckSelector(node->matchers, node->position));
    return node;
  }

  // "(a, b, …)" — label names, keywords allowed, a trailing comma allowed.
  Result<std::vector<std::string>> ParseLabelList(const char* context) {
    VIGIL_RETURN_IF_ERROR(Expect(Token::kLeftParen, context, "\"(\""));
    std::vector<std::string> labels;
    while (token_ != Token::kRightParen) {
      if (token_ != Token::kIdentifier && token_ != Token::kString) {
        return Unexpected(context, "label");
      }
      if (token_ == Token::kIdentifier && value_.find(':') != std::string::npos) {
        return Error(
            fmt::format("unexpected identifier \"{}\" in {}, expected label", value_, context));
      }
      if (!IsValidLabelName(value_)) {
        return Error(fmt::format("invalid label name \"{}\"", value_));
      }
      labels.push_back(value_);
      Advance();
      if (token_ == Token::kComma) {
        Advance();
      } else if (token_ != Token::kRightParen) {
        return Unexpected(context, "\",\" or \")\"");
      }
    }
    Advance();
    return labels;
  }

  Result<std::unique_ptr<Node>> ParseCall(std::unique_ptr<Node> node, const std::string& name) {
    const Function* function = FindFunction(name);
    if (function == nullptr) {
      return ErrorAt(node->position, fmt::format("unknown function with name \"{}\"", name));
    }
    Advance();  // (
    node->kind = NodeKind::kCall;
    node->function = function;
    node->text = name;
    node->type = function->return_type;
    while (token_ != Token::kRightParen) {
      VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> arg, ParseExpression());
      node->args.push_back(std::move(arg));
      if (token_ == Token::kComma) {
        Advance();
        if (token_ == Token::kRightParen) return Unexpected("in call", "expression");
      } else if (token_ != Token::kRightParen) {
        return Unexpected("in call", "\",\" or \")\"");
      }
    }
    Advance();
    const size_t given = node->args.size();
    const size_t required = function->arg_types.size() - (function->variadic > 0 ? 1 : 0);
    if (function->variadic == 0 && given != function->arg_types.size()) {
      return ErrorAt(node->position,
                     fmt::format("expected {} argument(s) in call to \"{}\", got {}",
                                 function->arg_types.size(), name, given));
    }
    if (function->variadic != 0 && given < required) {
      return ErrorAt(node->position,
                     fmt::format("expected at least {} argument(s) in call to \"{}\", got {}",
                                 required, name, given));
    }
    if (function->variadic > 0 &&
        given > function->arg_types.size() + static_cast<size_t>(function->variadic) - 1) {
      return ErrorAt(node->position,
                     fmt::format("expected at most {} argument(s) in call to \"{}\", got {}",
                                 function->arg_types.size() + function->variadic - 1, name, given));
    }
    for (size_t i = 0; i < given; ++i) {
      const ValueType want = function->arg_types[std::min(i, function->arg_types.size() - 1)];
      if (node->args[i]->type != want) {
        return ErrorAt(node->args[i]->position,
                       fmt::format("expected type {} in call to function \"{}\", got {}",
                                   ValueTypeName(want), name, ValueTypeName(node->args[i]->type)));
      }
    }
    return node;
  }

  Result<std::unique_ptr<Node>> ParseAggregation(std::unique_ptr<Node> node) {
    node->kind = NodeKind::kAggregate;
    node->type = ValueType::kVector;
    node->text = value_;
    Advance();
    bool grouped = false;
    if (AtWord("by") || AtWord("without")) {
      node->without = value_ == "without";
      Advance();
      VIGIL_ASSIGN_OR_RETURN(node->grouping, ParseLabelList("grouping opts"));
      grouped = true;
    }
    if (token_ != Token::kLeftParen) {
      return Unexpected("in aggregation", "\"(\"");
    }
    Advance();
    while (token_ != Token::kRightParen) {
      VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> arg, ParseExpression());
      node->args.push_back(std::move(arg));
      if (token_ == Token::kComma) {
        Advance();
      } else if (token_ != Token::kRightParen) {
        return Unexpected("in aggregation", "\",\" or \")\"");
      }
    }
    Advance();
    if (!grouped && (AtWord("by") || AtWord("without"))) {
      node->without = value_ == "without";
      Advance();
      VIGIL_ASSIGN_OR_RETURN(node->grouping, ParseLabelList("grouping opts"));
    }
    const size_t want = AggregationTakesParameter(node->text) ? 2 : 1;
    if (node->args.size() != want) {
      return ErrorAt(node->position,
                     fmt::format("wrong number of arguments for aggregate expression provided, "
                                 "expected {}, got {}",
                                 want, node->args.size()));
    }
    if (node->AggregateExpression().type != ValueType::kVector) {
      return ErrorAt(node->AggregateExpression().position,
                     fmt::format("expected type instant vector in aggregation expression, got {}",
                                 ValueTypeName(node->AggregateExpression().type)));
    }
    if (const Node* param = node->AggregateParameter()) {
      const ValueType need = node->text == "count_values" ? ValueType::kString : ValueType::kScalar;
      if (param->type != need) {
        return ErrorAt(param->position,
                       fmt::format("expected type {} in aggregation parameter, got {}",
                                   ValueTypeName(need), ValueTypeName(param->type)));
      }
    }
    return node;
  }

  int nesting_ = 0;
  std::set<const Node*> offset_set_;  // nodes with an offset, even a zero one
};

}  // namespace

Result<std::unique_ptr<Node>> Parse(std::string_view text) {
  if (text.size() > 64 * 1024) return InvalidArgumentError("query longer than 64 KiB");
  Parser parser(text);
  return parser.ParseAll();
}

}  // namespace vigil::query

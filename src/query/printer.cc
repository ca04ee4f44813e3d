#include "query/printer.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/format_float.h"
#include "query/functions.h"

namespace vigil::query {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

std::string Modifiers(const Node& node) {
  std::string out;
  switch (node.at) {
    case AtModifier::kTimestamp:
      out += fmt::format(" @ {:.3f}", static_cast<double>(node.at_ms) / 1000);
      break;
    case AtModifier::kStart:
      out += " @ start()";
      break;
    case AtModifier::kEnd:
      out += " @ end()";
      break;
    case AtModifier::kNone:
      break;
  }
  if (node.offset_ms > 0) out += " offset " + FormatDuration(node.offset_ms);
  if (node.offset_ms < 0) out += " offset -" + FormatDuration(-node.offset_ms);
  return out;
}

std::string Selector(const Node& node) {
  std::string name;
  std::vector<std::string> matchers;
  for (const model::Matcher& m : node.matchers) {
    if (name.empty() && m.name() == model::kMetricNameLabel &&
        m.type() == model::MatchType::kEqual && !m.value().empty()) {
      name = m.value();
      continue;
    }
    matchers.push_back(m.ToString());
  }
  std::sort(matchers.begin(), matchers.end());
  std::string out = name;
  if (!matchers.empty()) {
    out += "{";
    for (size_t i = 0; i < matchers.size(); ++i) out += (i ? "," : "") + matchers[i];
    out += "}";
  }
  return out;
}

bool IsOperator(const Node& n) {
  return n.kind == NodeKind::kBinary || n.kind == NodeKind::kUnary || n.kind == NodeKind::kParen;
}

std::string Operator(const Node& node, std::vector<std::string>& operands);

// Every node but operators; those go through Format's stack.
std::string Leaf(const Node& node) {
  switch (node.kind) {
    case NodeKind::kNumber:
      return FormatFloat(node.number, FloatStyle::kFixed);
    case NodeKind::kString:
      return Quote(node.text);
    case NodeKind::kVectorSelector:
      return Selector(node) + Modifiers(node);
    case NodeKind::kMatrixSelector:
      return Selector(node) + "[" + FormatDuration(node.range_ms) + "]" + Modifiers(node);
    case NodeKind::kSubquery:
      return Format(*node.args[0]) + "[" + FormatDuration(node.range_ms) + ":" +
             (node.step_ms > 0 ? FormatDuration(node.step_ms) : "") + "]" + Modifiers(node);
    case NodeKind::kCall: {
      std::vector<std::string> args;
      for (const auto& a : node.args) args.push_back(Format(*a));
      return node.text + "(" + Join(args) + ")";
    }
    case NodeKind::kAggregate: {
      std::string out = node.text;
      if (node.without) {
        out += " without (" + Join(node.grouping) + ") ";
      } else if (!node.grouping.empty()) {
        out += " by (" + Join(node.grouping) + ") ";
      }
      out += "(";
      if (const Node* param = node.AggregateParameter()) out += Format(*param) + ", ";
      return out + Format(node.AggregateExpression()) + ")";
    }
    default:
      return "";
  }
}

std::string Operator(const Node& node, std::vector<std::string>& operands) {
  if (node.kind == NodeKind::kParen) return "(" + operands[0] + ")";
  if (node.kind == NodeKind::kUnary) return node.text + operands[0];
  std::string matching;
  if (node.matching && (!node.matching->labels.empty() || node.matching->on)) {
    matching =
        fmt::format(" {} ({})", node.matching->on ? "on" : "ignoring", Join(node.matching->labels));
    if (node.matching->card == Cardinality::kManyToOne ||
        node.matching->card == Cardinality::kOneToMany) {
      matching += fmt::format(" group_{} ({})",
                              node.matching->card == Cardinality::kManyToOne ? "left" : "right",
                              Join(node.matching->include));
    }
  }
  return operands[0] + " " + node.text + (node.return_bool ? " bool" : "") + matching + " " +
         operands[1];
}

}  // namespace

std::string Format(const Node& root) {
  if (!IsOperator(root)) return Leaf(root);
  struct Frame {
    const Node* node;
    size_t next = 0;
    std::vector<std::string> operands;
  };
  std::vector<Frame> frames;
  frames.push_back({&root});
  while (true) {
    Frame& frame = frames.back();
    if (frame.next < frame.node->args.size()) {
      const Node& child = *frame.node->args[frame.next++];
      if (IsOperator(child)) {
        frames.push_back({&child});
      } else {
        frame.operands.push_back(Leaf(child));
      }
      continue;
    }
    std::string text = Operator(*frame.node, frame.operands);
    frames.pop_back();
    if (frames.empty()) return text;
    frames.back().operands.push_back(std::move(text));
  }
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  struct Unit {
    const char* name;
    int64_t size;
    bool exact;  // years and weeks only when they divide evenly: 90d, not 12w6d
  };
  static constexpr Unit kUnits[] = {{"y", 365 * 86'400'000LL, true},
                                    {"w", 7 * 86'400'000LL, true},
                                    {"d", 86'400'000LL, false},
                                    {"h", 3'600'000, false},
                                    {"m", 60'000, false},
                                    {"s", 1000, false},
                                    {"ms", 1, false}};
  for (const Unit& unit : kUnits) {
    if (unit.exact && ms % unit.size != 0) continue;
    if (const int64_t n = ms / unit.size; n > 0) {
      out += std::to_string(n) + unit.name;
      ms -= n * unit.size;
    }
  }
  return out;
}

}  // namespace vigil::query

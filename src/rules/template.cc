#include "rules/template.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "core/format_float.h"
#include "core/options.h"

namespace vigil::rules {
namespace {

// What a pipeline is made of (Go's parse.PipeNode and friends).
struct Pipeline;
struct Operand {
  enum class Kind { kDot, kField, kVariable, kFunction, kString, kNumber, kBool, kNil, kPipeline };
  Kind kind = Kind::kNil;
  std::string name;                 // variable ("$labels") or function name
  std::vector<std::string> fields;  // .A.B after the operand
  std::string text;                 // string literal
  double number = 0;
  bool boolean = false;
  std::shared_ptr<Pipeline> pipeline;
};
struct Command {
  std::vector<Operand> operands;
};
struct Pipeline {
  std::vector<std::string> declare;  // $x := …, or $i, $x := … in range
  bool assign = false;               // $x = …
  std::vector<Command> commands;
};

const std::set<std::string, std::less<>>& KnownFunctions() {
  static const std::set<std::string, std::less<>> names = {
      // Go's text/template
      "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
      "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
      // Prometheus's template.go
      "query", "first", "label", "value", "strvalue", "args", "reReplaceAll", "safeHtml", "match",
      "title", "toUpper", "toLower", "graphLink", "tableLink", "sortByLabel", "humanize",
      "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "toTime",
      "pathPrefix", "externalURL", "parseDuration", "stripPort", "stripDomain"};
  return names;
}

}  // namespace

struct Template::Node {
  enum class Kind { kText, kAction, kIf, kWith, kRange };
  Kind kind = Kind::kText;
  std::string text;
  Pipeline pipeline;
  std::vector<Node> body;
  std::vector<Node> otherwise;  // else
};

namespace {

using Node = Template::Node;

// ---- Parsing ----------------------------------------------------------------------------

struct Item {
  bool action = false;
  std::string text;  // literal text, or the action's content without delimiters
};

Result<std::vector<Item>> Split(std::string_view text) {
  std::vector<Item> items;
  size_t at = 0;
  while (at < text.size()) {
    size_t open = text.find("{{", at);
    if (open == std::string_view::npos) {
      items.push_back({false, std::string(text.substr(at))});
      break;
    }
    std::string literal(text.substr(at, open - at));
    size_t start = open + 2;
    bool trim_left = start + 1 < text.size() && text[start] == '-' &&
                     std::isspace(static_cast<unsigned char>(text[start + 1]));
    if (trim_left) {
      start += 2;
      while (!literal.empty() && std::isspace(static_cast<unsigned char>(literal.back())))
        literal.pop_back();
    }
    if (!literal.empty()) items.push_back({false, std::move(literal)});
    // The action ends at the first "}}" outside a string literal.
    size_t close = std::string_view::npos;
    char quote = 0;
    for (size_t i = start; i + 1 < text.size(); ++i) {
      char c = text[i];
      if (quote) {
        if (c == '\\' && quote != '`')
          ++i;
        else if (c == quote)
          quote = 0;
      } else if (c == '"' || c == '`' || c == '\'') {
        quote = c;
      } else if (c == '}' && text[i + 1] == '}') {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos) return InvalidArgumentError("unclosed action");
    std::string_view inside = text.substr(start, close - start);
    at = close + 2;
    if (inside.size() >= 2 && inside[inside.size() - 1] == '-' &&
        std::isspace(static_cast<unsigned char>(inside[inside.size() - 2]))) {
      inside.remove_suffix(1);
      while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
    }
    std::string_view trimmed = inside;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
      trimmed.remove_prefix(1);
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
      trimmed.remove_suffix(1);
    if (trimmed.starts_with("/*")) {
      if (!trimmed.ends_with("*/")) return InvalidArgumentError("unclosed comment");
      continue;
    }
    if (trimmed.empty()) return InvalidArgumentError("missing value for command");
    items.push_back({true, std::string(trimmed)});
  }
  return items;
}

struct Token {
  enum class Kind {
    kIdent,
    kField,
    kVariable,
    kString,
    kNumber,
    kPipe,
    kOpen,
    kClose,
    kDeclare,
    kAssign,
    kComma,
    kDot,
    kEnd
  };
  Kind kind = Kind::kEnd;
  std::string text;
};

Result<std::vector<Token>> Lex(std::string_view s) {
  std::vector<Token> tokens;
  size_t i = 0;
  auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '|') {
      tokens.push_back({Token::Kind::kPipe, "|"}), ++i;
    } else if (c == '(') {
      tokens.push_back({Token::Kind::kOpen, "("}), ++i;
    } else if (c == ')') {
      tokens.push_back({Token::Kind::kClose, ")"}), ++i;
    } else if (c == ',') {
      tokens.push_back({Token::Kind::kComma, ","}), ++i;
    } else if (c == ':' && i + 1 < s.size() && s[i + 1] == '=') {
      tokens.push_back({Token::Kind::kDeclare, ":="}), i += 2;
    } else if (c == '=') {
      tokens.push_back({Token::Kind::kAssign, "="}), ++i;
    } else if (c == '"' || c == '`') {
      std::string value;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (c == '"' && s[j] == '\\' && j + 1 < s.size()) {
          char e = s[++j];
          value += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        } else {
          value += s[j];
        }
      }
      if (j >= s.size()) return InvalidArgumentError("unterminated quoted string");
      tokens.push_back({Token::Kind::kString, std::move(value)});
      i = j + 1;
    } else if (c == '\'') {
      size_t j = s.find('\'', i + 1);
      if (j == std::string_view::npos)
        return InvalidArgumentError("unterminated character constant");
      tokens.push_back({Token::Kind::kNumber,
                        std::to_string(j > i + 1 ? static_cast<unsigned char>(s[i + 1]) : 0)});
      i = j + 1;
    } else if (c == '$') {
      size_t j = i + 1;
      while (j < s.size() && ident_char(s[j])) ++j;
      tokens.push_back({Token::Kind::kVariable, std::string(s.substr(i, j - i))});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               ((c == '-' || c == '+' || c == '.') && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t j = i + 1;
      while (j < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.' || s[j] == '_' ||
              ((s[j] == '-' || s[j] == '+') && (s[j - 1] == 'e' || s[j - 1] == 'E'))))
        ++j;
      tokens.push_back({Token::Kind::kNumber, std::string(s.substr(i, j - i))});
      i = j;
    } else if (c == '.') {
      size_t j = i + 1;
      while (j < s.size() && ident_char(s[j])) ++j;
      if (j == i + 1)
        tokens.push_back({Token::Kind::kDot, "."});
      else
        tokens.push_back({Token::Kind::kField, std::string(s.substr(i + 1, j - i - 1))});
      i = j;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && ident_char(s[j])) ++j;
      tokens.push_back({Token::Kind::kIdent, std::string(s.substr(i, j - i))});
      i = j;
    } else {
      return InvalidArgumentError("unexpected \"" + std::string(1, c) + "\" in command");
    }
  }
  tokens.push_back({Token::Kind::kEnd, ""});
  return tokens;
}

class Parser {
 public:
  Result<std::vector<Node>> ParseAll(const std::vector<Item>& items) {
    std::string stop;
    VIGIL_ASSIGN_OR_RETURN(auto list, ParseList(items, stop));
    if (!stop.empty()) return InvalidArgumentError("unexpected {{" + stop + "}}");
    return list;
  }

 private:
  // Reads nodes until an {{end}} or {{else …}}, which it leaves in `stop` (the action).
  Result<std::vector<Node>> ParseList(const std::vector<Item>& items, std::string& stop) {
    std::vector<Node> list;
    stop.clear();
    while (at_ < items.size()) {
      const Item& item = items[at_++];
      if (!item.action) {
        list.push_back({Node::Kind::kText, item.text, {}, {}, {}});
        continue;
      }
      std::string_view action = item.text;
      std::string_view word = action.substr(0, action.find_first_of(" \t\n("));
      if (word == "end" || word == "else") {
        if (word == "end" && action != "end") return InvalidArgumentError("unexpected end");
        stop = std::string(action);
        return list;
      }
      if (word == "if" || word == "with" || word == "range") {
        VIGIL_ASSIGN_OR_RETURN(Node node,
                               ParseControl(items, std::string(word), action.substr(word.size())));
        list.push_back(std::move(node));
        continue;
      }
      if (word == "define" || word == "template" || word == "block" || word == "break" ||
          word == "continue")
        return InvalidArgumentError("{{" + std::string(word) + "}} is not supported");
      Node node{Node::Kind::kAction, {}, {}, {}, {}};
      VIGIL_ASSIGN_OR_RETURN(node.pipeline, ParsePipelineText(action, /*control=*/false));
      list.push_back(std::move(node));
    }
    return list;
  }

  Result<Node> ParseControl(const std::vector<Item>& items, const std::string& word,
                            std::string_view rest) {
    Node node;
    node.kind = word == "if"     ? Node::Kind::kIf
                : word == "with" ? Node::Kind::kWith
                                 : Node::Kind::kRange;
    size_t scope = variables_.size();
    VIGIL_ASSIGN_OR_RETURN(node.pipeline, ParsePipelineText(rest, /*control=*/true));
    std::string stop;
    VIGIL_ASSIGN_OR_RETURN(node.body, ParseList(items, stop));
    if (stop.empty()) return InvalidArgumentError("unexpected EOF: missing {{end}}");
    if (stop != "end") {
      std::string_view rest_of_else = std::string_view(stop).substr(4);
      while (!rest_of_else.empty() && std::isspace(static_cast<unsigned char>(rest_of_else[0])))
        rest_of_else.remove_prefix(1);
      if (rest_of_else.empty()) {
        VIGIL_ASSIGN_OR_RETURN(node.otherwise, ParseList(items, stop));
        if (stop != "end") return InvalidArgumentError("expected {{end}}, found {{" + stop + "}}");
      } else {
        // {{else if …}} / {{else with …}}: a nested control that shares this one's {{end}}.
        std::string_view inner = rest_of_else.substr(0, rest_of_else.find_first_of(" \t\n("));
        if (inner != word || word == "range")
          return InvalidArgumentError("unexpected {{else " + std::string(inner) + "}}");
        VIGIL_ASSIGN_OR_RETURN(Node nested,
                               ParseControl(items, word, rest_of_else.substr(inner.size())));
        node.otherwise.push_back(std::move(nested));
      }
    }
    variables_.resize(scope);
    return node;
  }

  Result<Pipeline> ParsePipelineText(std::string_view text, bool control) {
    VIGIL_ASSIGN_OR_RETURN(tokens_, Lex(text));
    next_ = 0;
    VIGIL_ASSIGN_OR_RETURN(Pipeline pipeline, ParsePipeline(control, /*top=*/true));
    if (tokens_[next_].kind != Token::Kind::kEnd)
      return InvalidArgumentError("unexpected \"" + tokens_[next_].text + "\" in command");
    return pipeline;
  }

  Result<Pipeline> ParsePipeline(bool control, bool top) {
    Pipeline pipeline;
    if (top) {
      // $x := …, $x = …, $i, $x := … (range only)
      size_t look = next_;
      std::vector<std::string> names;
      while (tokens_[look].kind == Token::Kind::kVariable) {
        names.push_back(tokens_[look].text);
        ++look;
        if (tokens_[look].kind == Token::Kind::kComma && control)
          ++look;
        else
          break;
      }
      Token::Kind after = tokens_[look].kind;
      if (!names.empty() && (after == Token::Kind::kDeclare || after == Token::Kind::kAssign)) {
        if (after == Token::Kind::kAssign && !Defined(names[0]))
          return InvalidArgumentError("undefined variable \"" + names[0] + "\"");
        pipeline.declare = names;
        pipeline.assign = after == Token::Kind::kAssign;
        next_ = look + 1;
      }
    }
    while (true) {
      Command command;
      while (true) {
        Token::Kind kind = tokens_[next_].kind;
        if (kind == Token::Kind::kEnd || kind == Token::Kind::kPipe || kind == Token::Kind::kClose)
          break;
        VIGIL_ASSIGN_OR_RETURN(Operand operand, ParseOperand());
        command.operands.push_back(std::move(operand));
      }
      if (command.operands.empty()) return InvalidArgumentError("missing value for command");
      pipeline.commands.push_back(std::move(command));
      if (tokens_[next_].kind != Token::Kind::kPipe) break;
      ++next_;
    }
    if (!pipeline.assign)
      for (const auto& name : pipeline.declare) variables_.push_back(name);
    return pipeline;
  }

  Result<Operand> ParseOperand() {
    const Token& token = tokens_[next_++];
    Operand operand;
    switch (token.kind) {
      case Token::Kind::kDot:
        operand.kind = Operand::Kind::kDot;
        break;
      case Token::Kind::kField:
        operand.kind = Operand::Kind::kField;
        operand.fields.push_back(token.text);
        break;
      case Token::Kind::kVariable:
        if (!Defined(token.text))
          return InvalidArgumentError("undefined variable \"" + token.text + "\"");
        operand.kind = Operand::Kind::kVariable;
        operand.name = token.text;
        break;
      case Token::Kind::kString:
        operand.kind = Operand::Kind::kString;
        operand.text = token.text;
        break;
      case Token::Kind::kNumber: {
        operand.kind = Operand::Kind::kNumber;
        char* end = nullptr;
        std::string digits = token.text;
        digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
        operand.number = std::strtod(digits.c_str(), &end);
        if (digits.empty() || *end != '\0')
          return InvalidArgumentError("bad number syntax: \"" + token.text + "\"");
        break;
      }
      case Token::Kind::kIdent:
        if (token.text == "true" || token.text == "false") {
          operand.kind = Operand::Kind::kBool;
          operand.boolean = token.text == "true";
        } else if (token.text == "nil") {
          operand.kind = Operand::Kind::kNil;
        } else if (KnownFunctions().contains(token.text)) {
          operand.kind = Operand::Kind::kFunction;
          operand.name = token.text;
        } else {
          return InvalidArgumentError("function \"" + token.text + "\" not defined");
        }
        break;
      case Token::Kind::kOpen: {
        operand.kind = Operand::Kind::kPipeline;
        VIGIL_ASSIGN_OR_RETURN(Pipeline inner, ParsePipeline(false, /*top=*/false));
        if (tokens_[next_].kind != Token::Kind::kClose)
          return InvalidArgumentError("unclosed left paren");
        ++next_;
        operand.pipeline = std::make_shared<Pipeline>(std::move(inner));
        break;
      }
      default:
        return InvalidArgumentError("unexpected \"" + token.text + "\" in operand");
    }
    // Field chains: $labels.instance, .Labels.job, (first $x).Value
    while (tokens_[next_].kind == Token::Kind::kField && operand.kind != Operand::Kind::kFunction &&
           operand.kind != Operand::Kind::kString && operand.kind != Operand::Kind::kNumber) {
      operand.fields.push_back(tokens_[next_++].text);
    }
    return operand;
  }

  bool Defined(const std::string& name) const {
    return std::find(variables_.begin(), variables_.end(), name) != variables_.end();
  }

  size_t at_ = 0;
  std::vector<Token> tokens_;
  size_t next_ = 0;
  std::vector<std::string> variables_ = {"$", "$labels", "$externalLabels", "$externalURL",
                                         "$value"};
};

// ---- Values and functions ---------------------------------------------------------------

struct Value {
  enum class Kind { kNil, kBool, kNumber, kString, kLabels, kSamples, kSample, kRoot };
  Kind kind = Kind::kNil;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::map<std::string, std::string> labels;
  std::vector<TemplateSample> samples;  // kSamples; kSample holds one
};

Value Number(double n) { return {Value::Kind::kNumber, false, n, {}, {}, {}}; }
Value String(std::string s) { return {Value::Kind::kString, false, 0, std::move(s), {}, {}}; }
Value Bool(bool b) { return {Value::Kind::kBool, b, 0, {}, {}, {}}; }
Value LabelsValue(const model::Labels& labels) {
  Value v{Value::Kind::kLabels, false, 0, {}, {}, {}};
  for (const auto& label : labels) v.labels[std::string(label.name)] = std::string(label.value);
  return v;
}

bool Truth(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil:
      return false;
    case Value::Kind::kBool:
      return v.boolean;
    case Value::Kind::kNumber:
      return v.number != 0;
    case Value::Kind::kString:
      return !v.text.empty();
    case Value::Kind::kLabels:
      return !v.labels.empty();
    case Value::Kind::kSamples:
      return !v.samples.empty();
    default:
      return true;
  }
}

std::string MapText(const std::map<std::string, std::string>& labels) {
  std::string out = "map[";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ' ';
    first = false;
    out += k + ":" + v;
  }
  return out + "]";
}

std::string SampleText(const TemplateSample& s) {
  std::map<std::string, std::string> labels;
  for (const auto& l : s.labels) labels[std::string(l.name)] = std::string(l.value);
  return "{" + MapText(labels) + " " + FormatFloat(s.value, FloatStyle::kShortest) + "}";
}

std::string Text(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil:
      return "<no value>";
    case Value::Kind::kBool:
      return v.boolean ? "true" : "false";
    case Value::Kind::kNumber:
      return FormatFloat(v.number, FloatStyle::kShortest);
    case Value::Kind::kString:
      return v.text;
    case Value::Kind::kLabels:
      return MapText(v.labels);
    case Value::Kind::kSample:
      return SampleText(v.samples.at(0));
    case Value::Kind::kSamples: {
      std::string out = "[";
      for (size_t i = 0; i < v.samples.size(); ++i)
        out += (i ? " " : "") + SampleText(v.samples[i]);
      return out + "]";
    }
    case Value::Kind::kRoot:
      return "{…}";
  }
  return "";
}

// Prometheus converts a template function's number argument from a number or a string.
Result<double> ToFloat(const Value& v) {
  if (v.kind == Value::Kind::kNumber) return v.number;
  if (v.kind == Value::Kind::kString) {
    char* end = nullptr;
    double d = std::strtod(v.text.c_str(), &end);
    if (v.text.empty() || *end != '\0')
      return InvalidArgumentError("strconv.ParseFloat: parsing \"" + v.text + "\": invalid syntax");
    return d;
  }
  if (v.kind == Value::Kind::kBool) return v.boolean ? 1.0 : 0.0;
  return InvalidArgumentError("can't convert " + Text(v) + " to float");
}

std::string GoG(double v, int precision) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

// Go's fmt.Sprintf for the verbs alert templates use: %v %s %d %f %e %g %q %x %%, with
// flags, width and precision.
std::string Printf(const std::string& format, const std::vector<Value>& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    size_t j = i + 1;
    std::string spec = "%";
    while (j < format.size() && std::strchr("-+ 0#", format[j])) spec += format[j++];
    while (j < format.size() &&
           (std::isdigit(static_cast<unsigned char>(format[j])) || format[j] == '.'))
      spec += format[j++];
    if (j >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = format[j];
    i = j;
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (next >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const Value& arg = args[next++];
    char buf[512];
    if (arg.kind == Value::Kind::kNumber) {
      double n = arg.number;
      switch (verb) {
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
          if (std::isnan(n) || std::isinf(n)) {
            out += GoG(n, 6);
          } else {
            std::snprintf(buf, sizeof buf, (spec + verb).c_str(), n);
            out += buf;
          }
          break;
        case 'd':
        case 'x':
        case 'X':
          if (n == std::floor(n) && std::fabs(n) < 9.2e18) {
            std::snprintf(buf, sizeof buf, (spec + "ll" + verb).c_str(), static_cast<long long>(n));
            out += buf;
          } else {
            out += std::string("%!") + verb + "(float64=" + Text(arg) + ")";
          }
          break;
        case 'v':
        case 's': {
          std::string text = Text(arg);
          std::snprintf(buf, sizeof buf, (spec + "s").c_str(), text.c_str());
          out += verb == 's' ? std::string("%!s(float64=") + text + ")" : std::string(buf);
          break;
        }
        default:
          out += std::string("%!") + verb + "(float64=" + Text(arg) + ")";
      }
      continue;
    }
    std::string text = Text(arg);
    if (verb == 'q') text = "\"" + text + "\"";
    if (verb == 'd' || verb == 'f' || verb == 'e' || verb == 'g') {
      out += std::string("%!") + verb + "(string=" + text + ")";
      continue;
    }
    std::snprintf(buf, sizeof buf, (spec + "s").c_str(), text.c_str());
    out += text.size() < sizeof buf - 1 ? std::string(buf) : text;
  }
  for (; next < args.size(); ++next) out += "%!(EXTRA " + Text(args[next]) + ")";
  return out;
}

// Go's net.SplitHostPort: "[::1]:80" and "host:80" split; anything else is left whole.
void SplitHostPort(const std::string& host_port, std::string& host, std::string& port) {
  if (host_port.starts_with('[')) {
    size_t close = host_port.find("]:");
    if (close == std::string::npos) return;
    host = host_port.substr(1, close - 1);
    port = host_port.substr(close + 2);
    return;
  }
  size_t colon = host_port.find(':');
  if (colon == std::string::npos || host_port.find(':', colon + 1) != std::string::npos) return;
  host = host_port.substr(0, colon);
  port = host_port.substr(colon + 1);
}

bool LooksLikeIp(const std::string& host) {
  if (host.find(':') != std::string::npos) return true;
  int dots = 0;
  for (char c : host) {
    if (c == '.')
      ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return dots == 3;
}

int Compare(const Value& a, const Value& b, bool& comparable) {
  comparable = true;
  if (a.kind == Value::Kind::kNumber && b.kind == Value::Kind::kNumber)
    return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
  if (a.kind == Value::Kind::kString && b.kind == Value::Kind::kString)
    return a.text.compare(b.text) < 0 ? -1 : a.text == b.text ? 0 : 1;
  if (a.kind == Value::Kind::kBool && b.kind == Value::Kind::kBool)
    return a.boolean == b.boolean ? 0 : a.boolean ? 1 : -1;
  comparable = false;
  return 0;
}

std::string Title(std::string s) {
  bool start = true;
  for (char& c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      if (start) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      start = false;
    } else {
      start = true;
    }
  }
  return s;
}

std::string HumanizeTimestamp(double seconds) {
  if (std::isnan(seconds) || std::isinf(seconds)) return GoG(seconds, 4);
  auto whole = static_cast<time_t>(std::floor(seconds));
  long nanos = std::lround((seconds - std::floor(seconds)) * 1e9);
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (nanos > 0) {
    char frac[32];
    std::snprintf(frac, sizeof frac, ".%09ld", nanos);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + " +0000 UTC";
}

// ---- Execution --------------------------------------------------------------------------

class Executor {
 public:
  explicit Executor(const TemplateData& data) : data_(data) {
    Value root;
    root.kind = Value::Kind::kRoot;
    variables_ = {{"$", root},
                  {"$labels", LabelsValue(data.labels)},
                  {"$externalLabels", Value{Value::Kind::kLabels, false, 0, {}, {}, {}}},
                  {"$externalURL", String(data.external_url)},
                  {"$value", Number(data.value)}};
    dot_ = root;
  }

  Status Run(const std::vector<Node>& list, std::string& out) {
    for (const Node& node : list) {
      if (++steps_ > 100'000) return ResourceExhaustedError("template runs too long");
      switch (node.kind) {
        case Node::Kind::kText:
          out += node.text;
          break;
        case Node::Kind::kAction: {
          VIGIL_ASSIGN_OR_RETURN(Value v, RunPipeline(node.pipeline));
          if (node.pipeline.declare.empty()) out += Text(v);
          break;
        }
        case Node::Kind::kIf:
        case Node::Kind::kWith: {
          size_t scope = variables_.size();
          VIGIL_ASSIGN_OR_RETURN(Value v, RunPipeline(node.pipeline));
          Status status;
          if (Truth(v)) {
            Value saved = dot_;
            if (node.kind == Node::Kind::kWith) dot_ = v;
            status = Run(node.body, out);
            dot_ = saved;
          } else {
            status = Run(node.otherwise, out);
          }
          variables_.resize(scope);
          VIGIL_RETURN_IF_ERROR(status);
          break;
        }
        case Node::Kind::kRange:
          VIGIL_RETURN_IF_ERROR(RunRange(node, out));
          break;
      }
    }
    return OkStatus();
  }

 private:
  Status RunRange(const Node& node, std::string& out) {
    size_t scope = variables_.size();
    Pipeline pipeline = node.pipeline;
    std::vector<std::string> names = pipeline.declare;
    pipeline.declare.clear();
    VIGIL_ASSIGN_OR_RETURN(Value v, RunPipeline(pipeline));
    std::vector<std::pair<Value, Value>> elements;  // (key, element)
    if (v.kind == Value::Kind::kSamples) {
      for (size_t i = 0; i < v.samples.size(); ++i) {
        Value element{Value::Kind::kSample, false, 0, {}, {}, {v.samples[i]}};
        elements.emplace_back(Number(static_cast<double>(i)), std::move(element));
      }
    } else if (v.kind == Value::Kind::kLabels) {
      for (const auto& [k, value] : v.labels) elements.emplace_back(String(k), String(value));
    } else if (v.kind != Value::Kind::kNil) {
      return InvalidArgumentError("range can't iterate over " + Text(v));
    }
    Value saved = dot_;
    Status status;
    for (auto& [key, element] : elements) {
      variables_.resize(scope);
      if (names.size() == 1) variables_.emplace_back(names[0], element);
      if (names.size() == 2) {
        variables_.emplace_back(names[0], key);
        variables_.emplace_back(names[1], element);
      }
      dot_ = element;
      status = Run(node.body, out);
      if (!status.ok()) break;
    }
    dot_ = saved;
    variables_.resize(scope);
    VIGIL_RETURN_IF_ERROR(status);
    if (elements.empty()) return Run(node.otherwise, out);
    return OkStatus();
  }

  Result<Value> RunPipeline(const Pipeline& pipeline) {
    Value result;
    bool have = false;
    for (const Command& command : pipeline.commands) {
      VIGIL_ASSIGN_OR_RETURN(result, RunCommand(command, have ? &result : nullptr));
      have = true;
    }
    if (pipeline.assign) {
      for (auto it = variables_.rbegin(); it != variables_.rend(); ++it)
        if (it->first == pipeline.declare[0]) it->second = result;
    } else if (!pipeline.declare.empty()) {
      variables_.emplace_back(pipeline.declare.back(), result);
    }
    return result;
  }

  Result<Value> RunCommand(const Command& command, const Value* piped) {
    const Operand& head = command.operands[0];
    if (head.kind != Operand::Kind::kFunction) {
      if (command.operands.size() > 1 || piped)
        return InvalidArgumentError("can't give argument to non-function " + head.name);
      return Evaluate(head);
    }
    std::vector<Value> args;
    for (size_t i = 1; i < command.operands.size(); ++i) {
      VIGIL_ASSIGN_OR_RETURN(Value v, Evaluate(command.operands[i]));
      args.push_back(std::move(v));
    }
    if (piped) args.push_back(*piped);
    return Call(head.name, args);
  }

  Result<Value> Evaluate(const Operand& operand) {
    Value v;
    switch (operand.kind) {
      case Operand::Kind::kDot:
      case Operand::Kind::kField:
        v = dot_;
        break;
      case Operand::Kind::kVariable:
        for (auto it = variables_.rbegin(); it != variables_.rend(); ++it) {
          if (it->first == operand.name) {
            v = it->second;
            break;
          }
        }
        break;
      case Operand::Kind::kString:
        return String(operand.text);
      case Operand::Kind::kNumber:
        return Number(operand.number);
      case Operand::Kind::kBool:
        return Bool(operand.boolean);
      case Operand::Kind::kNil:
        return Value{};
      case Operand::Kind::kFunction:
        return Call(operand.name, {});
      case Operand::Kind::kPipeline: {
        VIGIL_ASSIGN_OR_RETURN(v, RunPipeline(*operand.pipeline));
        break;
      }
    }
    for (const auto& field : operand.fields) {
      VIGIL_ASSIGN_OR_RETURN(v, Field(v, field));
    }
    return v;
  }

  Result<Value> Field(const Value& v, const std::string& name) {
    switch (v.kind) {
      case Value::Kind::kRoot:
        if (name == "Labels") return LabelsValue(data_.labels);
        if (name == "ExternalLabels") return Value{Value::Kind::kLabels, false, 0, {}, {}, {}};
        if (name == "ExternalURL") return String(data_.external_url);
        if (name == "Value") return Number(data_.value);
        break;
      case Value::Kind::kLabels: {
        auto it = v.labels.find(name);
        return String(it == v.labels.end() ? "" : it->second);
      }
      case Value::Kind::kSample:
        if (name == "Labels") return LabelsValue(v.samples[0].labels);
        if (name == "Value") return Number(v.samples[0].value);
        break;
      default:
        break;
    }
    return InvalidArgumentError("can't evaluate field " + name + " in " + Text(v));
  }

  Result<Value> One(const std::string& name, const std::vector<Value>& args, size_t count) {
    if (args.size() != count)
      return InvalidArgumentError("wrong number of args for " + name + ": want " +
                                  std::to_string(count) + " got " + std::to_string(args.size()));
    return Value{};
  }

  Result<Value> Call(const std::string& name, const std::vector<Value>& args) {
    auto number_fn = [&](auto format) -> Result<Value> {
      VIGIL_RETURN_IF_ERROR(One(name, args, 1).status());
      VIGIL_ASSIGN_OR_RETURN(double v, ToFloat(args[0]));
      return String(format(v));
    };
    if (name == "humanize") return number_fn(Humanize);
    if (name == "humanize1024") return number_fn(Humanize1024);
    if (name == "humanizeDuration") return number_fn(HumanizeDuration);
    if (name == "humanizePercentage") return number_fn(HumanizePercentage);
    if (name == "humanizeTimestamp") return number_fn(HumanizeTimestamp);
    if (name == "printf") {
      if (args.empty() || args[0].kind != Value::Kind::kString)
        return InvalidArgumentError("printf needs a format string");
      return String(Printf(args[0].text, {args.begin() + 1, args.end()}));
    }
    if (name == "print") {
      std::string out;
      for (size_t i = 0; i < args.size(); ++i) {
        bool strings = i > 0 && (args[i].kind == Value::Kind::kString ||
                                 args[i - 1].kind == Value::Kind::kString);
        if (i > 0 && !strings) out += ' ';
        out += Text(args[i]);
      }
      return String(out);
    }
    if (name == "query") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 1).status());
      if (!data_.query) return FailedPreconditionError("query is not available here");
      VIGIL_ASSIGN_OR_RETURN(auto samples, data_.query(Text(args[0])));
      return Value{Value::Kind::kSamples, false, 0, {}, {}, std::move(samples)};
    }
    if (name == "first") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 1).status());
      if (args[0].kind != Value::Kind::kSamples)
        return InvalidArgumentError("first of a non-vector");
      if (args[0].samples.empty())
        return InvalidArgumentError("first() called on vector with no elements");
      return Value{Value::Kind::kSample, false, 0, {}, {}, {args[0].samples[0]}};
    }
    if (name == "value" || name == "strvalue") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 1).status());
      if (args[0].kind != Value::Kind::kSample)
        return InvalidArgumentError(name + " of a non-sample");
      if (name == "value") return Number(args[0].samples[0].value);
      return String(std::string(args[0].samples[0].labels.Get("__value__")));
    }
    if (name == "label") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 2).status());
      if (args[1].kind != Value::Kind::kSample)
        return InvalidArgumentError("label of a non-sample");
      return String(std::string(args[1].samples[0].labels.Get(Text(args[0]))));
    }
    if (name == "sortByLabel") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 2).status());
      Value v = args[1];
      std::string label = Text(args[0]);
      std::stable_sort(v.samples.begin(), v.samples.end(), [&](const auto& a, const auto& b) {
        return a.labels.Get(label) < b.labels.Get(label);
      });
      return v;
    }
    if (name == "toUpper" || name == "toLower" || name == "title" || name == "safeHtml") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 1).status());
      std::string s = Text(args[0]);
      if (name == "title") return String(Title(s));
      if (name == "safeHtml") return String(s);
      for (char& c : s)
        c = static_cast<char>(name == "toUpper" ? std::toupper(static_cast<unsigned char>(c))
                                                : std::tolower(static_cast<unsigned char>(c)));
      return String(s);
    }
    if (name == "match") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 2).status());
      RE2 re(Text(args[0]), RE2::Quiet);
      if (!re.ok()) return InvalidArgumentError("error parsing regexp: " + re.error());
      return Bool(RE2::PartialMatch(Text(args[1]), re));
    }
    if (name == "reReplaceAll") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 3).status());
      RE2 re(Text(args[0]), RE2::Quiet);
      if (!re.ok()) return InvalidArgumentError("error parsing regexp: " + re.error());
      // Go's $1 and ${1} are RE2's \1.
      std::string go = Text(args[1]), rewrite;
      for (size_t i = 0; i < go.size(); ++i) {
        if (go[i] == '\\')
          rewrite += "\\\\";
        else if (go[i] == '$' && i + 1 < go.size() &&
                 std::isdigit(static_cast<unsigned char>(go[i + 1])))
          rewrite += '\\';
        else if (go[i] == '$' && i + 2 < go.size() && go[i + 1] == '{') {
          size_t close = go.find('}', i);
          if (close == std::string::npos)
            rewrite += '$';
          else
            rewrite += "\\" + go.substr(i + 2, close - i - 2), i = close;
        } else
          rewrite += go[i];
      }
      std::string text = Text(args[2]);
      RE2::GlobalReplace(&text, re, rewrite);
      return String(text);
    }
    if (name == "stripPort" || name == "stripDomain") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 1).status());
      const std::string host_port = Text(args[0]);
      std::string host = host_port, port;
      SplitHostPort(host_port, host, port);
      if (name == "stripPort") return String(host);
      if (LooksLikeIp(host)) return String(host_port);
      host = host.substr(0, host.find('.'));
      if (port.empty()) return String(host);
      return String(host.find(':') != std::string::npos ? "[" + host + "]:" + port
                                                        : host + ":" + port);
    }
    if (name == "parseDuration") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 1).status());
      VIGIL_ASSIGN_OR_RETURN(auto d, config::ParseDuration(Text(args[0])));
      return Number(static_cast<double>(d.count()) / 1000.0);
    }
    if (name == "not") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 1).status());
      return Bool(!Truth(args[0]));
    }
    if (name == "and" || name == "or") {
      if (args.empty()) return InvalidArgumentError(name + " needs arguments");
      for (const Value& v : args)
        if (Truth(v) == (name == "or")) return v;
      return args.back();
    }
    if (name == "len") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 1).status());
      const Value& v = args[0];
      if (v.kind == Value::Kind::kString) return Number(static_cast<double>(v.text.size()));
      if (v.kind == Value::Kind::kLabels) return Number(static_cast<double>(v.labels.size()));
      if (v.kind == Value::Kind::kSamples) return Number(static_cast<double>(v.samples.size()));
      return InvalidArgumentError("len of " + Text(v));
    }
    if (name == "index") {
      VIGIL_RETURN_IF_ERROR(One(name, args, 2).status());
      if (args[0].kind == Value::Kind::kLabels) return Field(args[0], Text(args[1]));
      if (args[0].kind == Value::Kind::kSamples && args[1].kind == Value::Kind::kNumber) {
        auto i = static_cast<size_t>(args[1].number);
        if (args[1].number < 0 || i >= args[0].samples.size())
          return InvalidArgumentError("index out of range");
        return Value{Value::Kind::kSample, false, 0, {}, {}, {args[0].samples[i]}};
      }
      return InvalidArgumentError("can't index " + Text(args[0]));
    }
    if (name == "eq" || name == "ne" || name == "lt" || name == "le" || name == "gt" ||
        name == "ge") {
      if (args.size() < 2) return InvalidArgumentError("missing argument for comparison");
      bool comparable = false;
      if (name == "eq") {
        for (size_t i = 1; i < args.size(); ++i) {
          int c = Compare(args[0], args[i], comparable);
          if (!comparable) return InvalidArgumentError("incompatible types for comparison");
          if (c == 0) return Bool(true);
        }
        return Bool(false);
      }
      int c = Compare(args[0], args[1], comparable);
      if (!comparable) return InvalidArgumentError("incompatible types for comparison");
      if (name == "ne") return Bool(c != 0);
      if (name == "lt") return Bool(c < 0);
      if (name == "le") return Bool(c <= 0);
      if (name == "gt") return Bool(c > 0);
      return Bool(c >= 0);
    }
    return UnimplementedError("template function " + name + " is not supported by vigil");
  }

  const TemplateData& data_;
  std::vector<std::pair<std::string, Value>> variables_;
  Value dot_;
  int steps_ = 0;
};

}  // namespace

Result<Template> Template::Parse(std::string_view text) {
  VIGIL_ASSIGN_OR_RETURN(auto items, Split(text));
  Parser parser;
  VIGIL_ASSIGN_OR_RETURN(auto list, parser.ParseAll(items));
  auto root = std::make_shared<Node>();
  root->body = std::move(list);
  Template t;
  t.root_ = std::move(root);
  return t;
}

Result<std::string> Template::Render(const TemplateData& data) const {
  std::string out;
  if (!root_) return out;
  Executor executor(data);
  VIGIL_RETURN_IF_ERROR(executor.Run(root_->body, out));
  return out;
}

std::string Template::Expand(const TemplateData& data) const {
  auto out = Render(data);
  if (!out.ok()) return "<error expanding template: " + out.status().message() + ">";
  return *std::move(out);
}

std::string Humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return GoG(v, 4);
  static const char* const kBig[] = {"", "k", "M", "G", "T", "P", "E", "Z", "Y"};
  static const char* const kSmall[] = {"", "m", "u", "n", "p", "f", "a", "z", "y"};
  size_t i = 0;
  if (std::fabs(v) >= 1) {
    while (std::fabs(v) >= 1000 && i + 1 < std::size(kBig)) v /= 1000, ++i;
    return GoG(v, 4) + kBig[i];
  }
  while (std::fabs(v) < 1 && i + 1 < std::size(kSmall)) v *= 1000, ++i;
  return GoG(v, 4) + kSmall[i];
}

std::string Humanize1024(double v) {
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) return GoG(v, 4);
  static const char* const kPrefixes[] = {"", "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
  size_t i = 0;
  while (std::fabs(v) >= 1024 && i + 1 < std::size(kPrefixes)) v /= 1024, ++i;
  return GoG(v, 4) + kPrefixes[i];
}

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return GoG(v, 4);
  if (v == 0) return "0s";
  if (std::fabs(v) >= 1) {
    std::string sign = v < 0 ? "-" : "";
    v = std::fabs(v);
    auto whole = static_cast<int64_t>(v);
    int64_t seconds = whole % 60, minutes = (whole / 60) % 60, hours = (whole / 3600) % 24,
            days = whole / 86400;
    auto text = [](int64_t n) { return std::to_string(n); };
    if (days != 0)
      return sign + text(days) + "d " + text(hours) + "h " + text(minutes) + "m " + text(seconds) +
             "s";
    if (hours != 0) return sign + text(hours) + "h " + text(minutes) + "m " + text(seconds) + "s";
    if (minutes != 0) return sign + text(minutes) + "m " + text(seconds) + "s";
    return sign + GoG(v, 4) + "s";
  }
  static const char* const kPrefixes[] = {"", "m", "u", "n", "p", "f", "a", "z", "y"};
  size_t i = 0;
  while (std::fabs(v) < 1 && i + 1 < std::size(kPrefixes)) v *= 1000, ++i;
  return GoG(v, 4) + kPrefixes[i] + "s";
}

std::string HumanizePercentage(double v) { return GoG(v * 100, 4) + "%"; }

}  // namespace vigil::rules

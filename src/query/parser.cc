#include "query/parser.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include "core/options.h"

namespace vigil::query {
namespace {

const std::set<std::string, std::less<>> kFunctions = {
    "rate",          "increase",      "avg_over_time",   "min_over_time",
    "max_over_time", "sum_over_time", "count_over_time", "last_over_time"};
const std::set<std::string, std::less<>> kAggregations = {"sum", "avg", "min", "max", "count"};
// Known PromQL words we do not evaluate, so the error can name them.
const std::set<std::string, std::less<>> kUnsupportedAggregations = {
    "topk", "bottomk", "quantile", "stddev", "stdvar", "count_values", "group", "limitk"};

enum class Token {
  kEnd,
  kIdentifier,
  kNumber,
  kString,
  kDuration,
  kLeftBrace,
  kRightBrace,
  kLeftParen,
  kRightParen,
  kLeftBracket,
  kRightBracket,
  kComma,
  kAssign,
  kNotEqual,
  kRegexMatch,
  kRegexNoMatch,
  kEqualEqual,
  kGreater,
  kLess,
  kGreaterEqual,
  kLessEqual,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kCaret,
  kColon,
  kAt
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { Advance(); }

  Result<std::unique_ptr<Node>> ParseAll() {
    auto node = ParseExpression(0);
    if (!node.ok()) return node;
    if (token_ != Token::kEnd || bad_char_ || unterminated_) {
      return Error("unexpected " + Describe());
    }
    return node;
  }

 private:
  // --- lexer ---
  void SkipSpace() {
    while (pos_ < text_.size()) {
      if (std::isspace(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      } else if (text_[pos_] == '#') {  // comment to the end of the line
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  void Advance() {
    SkipSpace();
    start_ = pos_;
    value_.clear();
    if (pos_ >= text_.size()) {
      token_ = Token::kEnd;
      return;
    }
    const char c = text_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':') {
      while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                     text_[pos_] == '_' || text_[pos_] == ':')) {
        ++pos_;
      }
      value_ = std::string(text_.substr(start_, pos_ - start_));
      token_ = Token::kIdentifier;
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && pos_ + 1 < text_.size() &&
         std::isdigit(static_cast<unsigned char>(text_[pos_ + 1])))) {
      // A number, or a duration such as 5m or 1h30m inside [].
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
              ((text_[pos_] == '+' || text_[pos_] == '-') &&
               (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E')))) {
        ++pos_;
      }
      value_ = std::string(text_.substr(start_, pos_ - start_));
      const bool duration = std::any_of(value_.begin(), value_.end(),
                                        [](char ch) {
                                          return ch == 's' || ch == 'm' || ch == 'h' || ch == 'd' ||
                                                 ch == 'w' || ch == 'y';
                                        }) &&
                            value_.find_first_of("xX") == std::string::npos;
      token_ = duration ? Token::kDuration : Token::kNumber;
      return;
    }
    if (c == '"' || c == '\'' || c == '`') {
      ++pos_;
      while (pos_ < text_.size() && text_[pos_] != c) {
        if (text_[pos_] == '\\' && c != '`' && pos_ + 1 < text_.size()) {
          const char e = text_[++pos_];
          value_ += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          value_ += text_[pos_];
        }
        ++pos_;
      }
      if (pos_ >= text_.size()) {
        token_ = Token::kEnd;
        unterminated_ = true;
        return;
      }
      ++pos_;
      token_ = Token::kString;
      return;
    }
    ++pos_;
    auto next_is = [&](char next) { return pos_ < text_.size() && text_[pos_] == next; };
    switch (c) {
      case '{':
        token_ = Token::kLeftBrace;
        return;
      case '}':
        token_ = Token::kRightBrace;
        return;
      case '(':
        token_ = Token::kLeftParen;
        return;
      case ')':
        token_ = Token::kRightParen;
        return;
      case '[':
        token_ = Token::kLeftBracket;
        return;
      case ']':
        token_ = Token::kRightBracket;
        return;
      case ',':
        token_ = Token::kComma;
        return;
      case '+':
        token_ = Token::kPlus;
        return;
      case '-':
        token_ = Token::kMinus;
        return;
      case '*':
        token_ = Token::kStar;
        return;
      case '/':
        token_ = Token::kSlash;
        return;
      case '%':
        token_ = Token::kPercent;
        return;
      case '^':
        token_ = Token::kCaret;
        return;
      case '@':
        token_ = Token::kAt;
        return;
      case '=':
        if (next_is('=')) {
          ++pos_;
          token_ = Token::kEqualEqual;
          return;
        }
        if (next_is('~')) {
          ++pos_;
          token_ = Token::kRegexMatch;
          return;
        }
        token_ = Token::kAssign;
        return;
      case '!':
        if (next_is('=')) {
          ++pos_;
          token_ = Token::kNotEqual;
          return;
        }
        if (next_is('~')) {
          ++pos_;
          token_ = Token::kRegexNoMatch;
          return;
        }
        break;
      case '>':
        if (next_is('=')) {
          ++pos_;
          token_ = Token::kGreaterEqual;
          return;
        }
        token_ = Token::kGreater;
        return;
      case '<':
        if (next_is('=')) {
          ++pos_;
          token_ = Token::kLessEqual;
          return;
        }
        token_ = Token::kLess;
        return;
      default:
        break;
    }
    token_ = Token::kEnd;
    bad_char_ = true;
  }

  std::string Describe() const {
    if (token_ == Token::kEnd) return "end of input";
    return "\"" + std::string(text_.substr(start_, pos_ - start_)) + "\"";
  }

  Status Error(const std::string& what) const {
    if (unterminated_)
      return InvalidArgumentError(
          fmt::format("parse error at char {}: unterminated string", start_ + 1));
    if (bad_char_) {
      return InvalidArgumentError(fmt::format("parse error at char {}: unexpected character \"{}\"",
                                              start_ + 1, text_.substr(start_, 1)));
    }
    return InvalidArgumentError(fmt::format("parse error at char {}: {}", start_ + 1, what));
  }
  static Status Unsupported(const std::string& what) {
    return InvalidArgumentError("unsupported: " + what);
  }
  Status Expect(Token t, const char* what) {
    if (token_ != t) return Error(fmt::format("expected {}, found {}", what, Describe()));
    Advance();
    return OkStatus();
  }

  // --- grammar ---
  static int Precedence(Token t) {
    switch (t) {
      case Token::kEqualEqual:
      case Token::kNotEqual:
      case Token::kGreater:
      case Token::kLess:
      case Token::kGreaterEqual:
      case Token::kLessEqual:
        return 1;
      case Token::kPlus:
      case Token::kMinus:
        return 2;
      case Token::kStar:
      case Token::kSlash:
      case Token::kPercent:
        return 3;
      case Token::kCaret:
        return 4;
      default:
        return 0;
    }
  }

  Result<std::unique_ptr<Node>> ParseExpression(int min_precedence) {
    auto left = ParseUnary();
    if (!left.ok()) return left;
    while (true) {
      const int precedence = Precedence(token_);
      if (precedence == 0 || precedence < min_precedence) break;
      const bool right_associative = token_ == Token::kCaret;
      auto node = std::make_unique<Node>();
      node->kind = NodeKind::kBinary;
      node->name = std::string(text_.substr(start_, pos_ - start_));
      Advance();
      if (token_ == Token::kIdentifier && value_ == "bool") {
        if (precedence != 1) return Error("bool is only allowed after a comparison");
        node->return_bool = true;
        Advance();
      }
      if (token_ == Token::kIdentifier && (value_ == "on" || value_ == "ignoring" ||
                                           value_ == "group_left" || value_ == "group_right")) {
        return Unsupported("vector matching (" + value_ + ")");
      }
      // ^ is right-associative; the others left.
      auto right = ParseExpression(right_associative ? precedence : precedence + 1);
      if (!right.ok()) return right;
      node->args.push_back(*std::move(left));
      node->args.push_back(*std::move(right));
      left = std::move(node);
    }
    return left;
  }

  Result<std::unique_ptr<Node>> ParseUnary() {
    if (token_ == Token::kMinus || token_ == Token::kPlus) {
      const bool negate = token_ == Token::kMinus;
      Advance();
      auto operand = ParseExpression(4);  // binds tighter than * but looser than ^
      if (!operand.ok()) return operand;
      if (!negate) return operand;
      if ((*operand)->kind == NodeKind::kNumber) {
        (*operand)->number = -(*operand)->number;
        return operand;
      }
      auto node = std::make_unique<Node>();
      node->kind = NodeKind::kBinary;
      node->name = "*";
      auto minus_one = std::make_unique<Node>();
      minus_one->number = -1;
      node->args.push_back(std::move(minus_one));
      node->args.push_back(*std::move(operand));
      return node;
    }
    auto primary = ParsePrimary();
    if (!primary.ok()) return primary;
    if (token_ == Token::kIdentifier && value_ == "offset") return Unsupported("offset modifier");
    if (token_ == Token::kAt) return Unsupported("@ modifier");
    if (token_ == Token::kLeftBracket) {
      if ((*primary)->kind != NodeKind::kVectorSelector) {
        return Unsupported("subquery (a range on anything but a selector)");
      }
      Advance();
      if (token_ != Token::kDuration) return Error("expected a duration such as 5m in []");
      auto range = ParseDurationMs(value_);
      if (!range.ok()) return Error(range.status().message());
      Advance();
      if (token_ == Token::kColon || (token_ == Token::kIdentifier && value_[0] == ':')) {
        return Unsupported("subquery");
      }
      VIGIL_RETURN_IF_ERROR(Expect(Token::kRightBracket, "\"]\""));
      (*primary)->kind = NodeKind::kMatrixSelector;
      (*primary)->range_ms = *range;
      if (token_ == Token::kIdentifier && value_ == "offset") return Unsupported("offset modifier");
      if (token_ == Token::kAt) return Unsupported("@ modifier");
    }
    return primary;
  }

  Result<std::unique_ptr<Node>> ParsePrimary() {
    auto node = std::make_unique<Node>();
    switch (token_) {
      case Token::kNumber: {
        char* end = nullptr;
        node->number = std::strtod(value_.c_str(), &end);
        if (end != value_.c_str() + value_.size()) return Error("bad number " + Describe());
        Advance();
        return node;
      }
      case Token::kString:
        return Unsupported("string literal");
      case Token::kLeftParen: {
        Advance();
        auto inner = ParseExpression(0);
        if (!inner.ok()) return inner;
        VIGIL_RETURN_IF_ERROR(Expect(Token::kRightParen, "\")\""));
        return inner;
      }
      case Token::kLeftBrace:
        node->kind = NodeKind::kVectorSelector;
        VIGIL_RETURN_IF_ERROR(ParseMatchers(node.get()));
        return CheckSelector(std::move(node));
      case Token::kIdentifier:
        break;
      default:
        return Error("unexpected " + Describe());
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
    const size_t word_start = start_;
    Advance();
    if (kUnsupportedAggregations.count(word)) return Unsupported("aggregation " + word);
    if (kAggregations.count(word)) return ParseAggregation(std::move(word));
    if (token_ == Token::kLeftParen) {
      if (!kFunctions.count(word)) return Unsupported("function " + word + "()");
      Advance();
      node->kind = NodeKind::kCall;
      node->name = word;
      auto arg = ParseExpression(0);
      if (!arg.ok()) return arg;
      if (token_ == Token::kComma) return Error(word + "() takes one argument");
      VIGIL_RETURN_IF_ERROR(Expect(Token::kRightParen, "\")\""));
      if ((*arg)->kind != NodeKind::kMatrixSelector) {
        return InvalidArgumentError(
            fmt::format("parse error at char {}: {}() expects a range vector such as x[5m]",
                        word_start + 1, word));
      }
      node->args.push_back(*std::move(arg));
      return node;
    }
    // A selector starting with the metric name.
    node->kind = NodeKind::kVectorSelector;
    auto name = model::Matcher::Create(model::MatchType::kEqual, "__name__", word);
    if (!name.ok()) return Error("bad metric name " + word);
    node->matchers.push_back(*std::move(name));
    if (token_ == Token::kLeftBrace) VIGIL_RETURN_IF_ERROR(ParseMatchers(node.get()));
    return CheckSelector(std::move(node));
  }

  Result<std::unique_ptr<Node>> CheckSelector(std::unique_ptr<Node> node) {
    // As Prometheus: at least one matcher that does not match the empty string.
    for (const auto& m : node->matchers) {
      if (!m.Matches(std::string_view())) return node;
    }
    return Error("vector selector must contain at least one non-empty matcher");
  }

  Status ParseMatchers(Node* node) {
    VIGIL_RETURN_IF_ERROR(Expect(Token::kLeftBrace, "\"{\""));
    while (token_ != Token::kRightBrace) {
      if (token_ != Token::kIdentifier) return Error("expected a label name, found " + Describe());
      std::string label = value_;
      Advance();
      model::MatchType type;
      switch (token_) {
        case Token::kAssign:
          type = model::MatchType::kEqual;
          break;
        case Token::kNotEqual:
          type = model::MatchType::kNotEqual;
          break;
        case Token::kRegexMatch:
          type = model::MatchType::kRegexMatch;
          break;
        case Token::kRegexNoMatch:
          type = model::MatchType::kRegexNoMatch;
          break;
        default:
          return Error("expected =, !=, =~ or !~, found " + Describe());
      }
      Advance();
      if (token_ != Token::kString)
        return Error("expected a quoted label value, found " + Describe());
      auto matcher = model::Matcher::Create(type, label, value_);
      if (!matcher.ok()) return Error(matcher.status().message());
      node->matchers.push_back(*std::move(matcher));
      Advance();
      if (token_ == Token::kComma) {
        Advance();
      } else if (token_ != Token::kRightBrace) {
        return Error("expected \",\" or \"}\", found " + Describe());
      }
    }
    Advance();
    return OkStatus();
  }

  Status ParseGrouping(Node* node) {
    node->without = value_ == "without";
    Advance();
    VIGIL_RETURN_IF_ERROR(Expect(Token::kLeftParen, "\"(\""));
    while (token_ != Token::kRightParen) {
      if (token_ != Token::kIdentifier) return Error("expected a label name, found " + Describe());
      node->grouping.push_back(value_);
      Advance();
      if (token_ == Token::kComma) {
        Advance();
      } else if (token_ != Token::kRightParen) {
        return Error("expected \",\" or \")\", found " + Describe());
      }
    }
    Advance();
    return OkStatus();
  }

  Result<std::unique_ptr<Node>> ParseAggregation(std::string op) {
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::kAggregate;
    node->name = std::move(op);
    bool grouped = false;
    if (token_ == Token::kIdentifier && (value_ == "by" || value_ == "without")) {
      VIGIL_RETURN_IF_ERROR(ParseGrouping(node.get()));
      grouped = true;
    }
    VIGIL_RETURN_IF_ERROR(Expect(Token::kLeftParen, "\"(\""));
    auto arg = ParseExpression(0);
    if (!arg.ok()) return arg;
    if (token_ == Token::kComma) return Error(node->name + " takes one argument");
    VIGIL_RETURN_IF_ERROR(Expect(Token::kRightParen, "\")\""));
    node->args.push_back(*std::move(arg));
    if (!grouped && token_ == Token::kIdentifier && (value_ == "by" || value_ == "without")) {
      VIGIL_RETURN_IF_ERROR(ParseGrouping(node.get()));
    }
    return node;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t start_ = 0;
  Token token_ = Token::kEnd;
  std::string value_;
  bool unterminated_ = false;
  bool bad_char_ = false;
};

}  // namespace

Result<int64_t> ParseDurationMs(std::string_view text) {
  auto d = config::ParseDuration(text);
  if (!d.ok() || d->count() <= 0) {
    return InvalidArgumentError("bad duration \"" + std::string(text) + "\"");
  }
  return d->count();
}

Result<std::unique_ptr<Node>> Parse(std::string_view text) {
  if (text.size() > 64 * 1024) return InvalidArgumentError("query longer than 64 KiB");
  Parser parser(text);
  return parser.ParseAll();
}

Result<std::vector<model::Matcher>> ParseSelector(std::string_view text) {
  VIGIL_ASSIGN_OR_RETURN(std::unique_ptr<Node> node, Parse(text));
  if (node->kind != NodeKind::kVectorSelector)
    return InvalidArgumentError("not a series selector (such as name{label=\"value\"})");
  return std::move(node->matchers);
}

}  // namespace vigil::query

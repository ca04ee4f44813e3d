#include "model/selector.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <limits>

namespace vigil::model {
namespace {

// Prometheus durations: one or more <integer><unit>, units from largest to smallest.
Result<int64_t> ParseDurationText(std::string_view text) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {{"y", 365 * 86'400'000LL},
                                                                    {"w", 7 * 86'400'000LL},
                                                                    {"d", 86'400'000LL},
                                                                    {"h", 3'600'000},
                                                                    {"ms", 1},
                                                                    {"m", 60'000},
                                                                    {"s", 1000}};
  if (text.empty()) return InvalidArgumentError("empty duration string");
  std::string_view rest = text;
  int64_t total = 0;
  int64_t last_size = std::numeric_limits<int64_t>::max();
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    if (digits == 0 || digits > 18) {
      return InvalidArgumentError(fmt::format("not a valid duration string: \"{}\"", text));
    }
    const int64_t number = std::strtoll(std::string(rest.substr(0, digits)).c_str(), nullptr, 10);
    rest.remove_prefix(digits);
    bool found = false;
    for (const auto& [unit, size] : kUnits) {
      if (rest.substr(0, unit.size()) != unit) continue;
      if (size >= last_size) {
        return InvalidArgumentError(fmt::format("not a valid duration string: \"{}\"", text));
      }
      if (number > (std::numeric_limits<int64_t>::max() - total) / size) {
        return InvalidArgumentError("duration out of range");
      }
      total += number * size;
      last_size = size;
      rest.remove_prefix(unit.size());
      found = true;
      break;
    }
    if (!found) {
      return InvalidArgumentError(fmt::format("not a valid duration string: \"{}\"", text));
    }
  }
  return total;
}

}  // namespace

SelectorLexer::SelectorLexer(std::string_view text) : text_(text) { Advance(); }

void SelectorLexer::SkipSpace() {
  while (pos_ < text_.size()) {
    if (std::isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    } else if (text_[pos_] == '#') {  // a comment to the end of the line
      while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
    } else {
      break;
    }
  }
}

bool SelectorLexer::IsIdentifierStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool SelectorLexer::IsIdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}

void SelectorLexer::Advance() {
  SkipSpace();
  start_ = pos_;
  value_.clear();
  if (pos_ >= text_.size()) {
    token_ = Token::kEnd;
    return;
  }
  const char c = text_[pos_];
  if (IsIdentifierStart(c) && !(c == ':' && in_brackets_)) {
    while (pos_ < text_.size() && IsIdentifierChar(text_[pos_])) ++pos_;
    value_ = std::string(text_.substr(start_, pos_ - start_));
    token_ = Token::kIdentifier;
    return;
  }
  if (std::isdigit(static_cast<unsigned char>(c)) ||
      (c == '.' && pos_ + 1 < text_.size() &&
       std::isdigit(static_cast<unsigned char>(text_[pos_ + 1])))) {
    LexNumberOrDuration();
    return;
  }
  if (c == '"' || c == '\'' || c == '`') {
    LexString(c);
    return;
  }
  ++pos_;
  auto next_is = [&](char next) {
    if (pos_ < text_.size() && text_[pos_] == next) {
      ++pos_;
      return true;
    }
    return false;
  };
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
      in_brackets_ = true;  // where ':' separates a subquery's range and step
      token_ = Token::kLeftBracket;
      return;
    case ']':
      in_brackets_ = false;
      token_ = Token::kRightBracket;
      return;
    case ',':
      token_ = Token::kComma;
      return;
    case ':':
      token_ = Token::kColon;
      return;
    case '@':
      token_ = Token::kAt;
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
    case '=':
      token_ = next_is('=')   ? Token::kEqualEqual
               : next_is('~') ? Token::kRegexMatch
                              : Token::kAssign;
      return;
    case '!':
      if (next_is('=')) {
        token_ = Token::kNotEqual;
        return;
      }
      if (next_is('~')) {
        token_ = Token::kRegexNoMatch;
        return;
      }
      break;
    case '>':
      token_ = next_is('=') ? Token::kGreaterEqual : Token::kGreater;
      return;
    case '<':
      token_ = next_is('=') ? Token::kLessEqual : Token::kLess;
      return;
    default:
      break;
  }
  token_ = Token::kBadCharacter;
}

void SelectorLexer::LexNumberOrDuration() {
  while (pos_ < text_.size() &&
         (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
          text_[pos_] == '_' ||
          ((text_[pos_] == '+' || text_[pos_] == '-') &&
           (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E') &&
           !(text_.substr(start_, 2) == "0x" || text_.substr(start_, 2) == "0X")))) {
    ++pos_;
  }
  value_ = std::string(text_.substr(start_, pos_ - start_));
  char* end = nullptr;
  number_ = std::strtod(value_.c_str(), &end);
  const bool hex_float = value_.find_first_of("pP") != std::string::npos &&
                         (value_.rfind("0x", 0) == 0 || value_.rfind("0X", 0) == 0);
  if (end == value_.c_str() + value_.size() && !hex_float &&
      value_.find('_') == std::string::npos) {
    token_ = Token::kNumber;
    return;
  }
  auto duration = ParseDurationText(value_);
  if (duration.ok()) {
    token_ = Token::kDuration;
    number_ = static_cast<double>(*duration) / 1000;
    return;
  }
  token_ = Token::kBadCharacter;
  bad_number_ = true;
}

void SelectorLexer::LexString(char quote) {
  ++pos_;
  while (pos_ < text_.size() && text_[pos_] != quote) {
    char ch = text_[pos_];
    if (ch == '\\' && quote != '`' && pos_ + 1 < text_.size()) {
      ch = text_[++pos_];
      switch (ch) {
        case 'n':
          value_ += '\n';
          break;
        case 't':
          value_ += '\t';
          break;
        case 'r':
          value_ += '\r';
          break;
        case 'a':
          value_ += '\a';
          break;
        case 'b':
          value_ += '\b';
          break;
        case 'f':
          value_ += '\f';
          break;
        case 'v':
          value_ += '\v';
          break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7': {
          int code = 0, digits = 0;
          while (digits < 3 && pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '7') {
            code = code * 8 + (text_[pos_++] - '0');
            ++digits;
          }
          --pos_;
          value_ += static_cast<char>(code & 0xff);
          break;
        }
        case 'x':
        case 'u':
        case 'U': {
          const int width = ch == 'x' ? 2 : ch == 'u' ? 4 : 8;
          uint32_t code = 0;
          int digits = 0;
          while (digits < width && pos_ + 1 < text_.size() &&
                 std::isxdigit(static_cast<unsigned char>(text_[pos_ + 1]))) {
            const char h = text_[++pos_];
            code = code * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                         ? h - '0'
                                                         : std::tolower(h) - 'a' + 10);
            ++digits;
          }
          if (ch == 'x') {
            value_ += static_cast<char>(code);
          } else {
            AppendUtf8(code);
          }
          break;
        }
        default:
          value_ += ch;
          break;  // \\ \" \' and anything else as itself
      }
    } else {
      value_ += ch;
    }
    ++pos_;
  }
  if (pos_ >= text_.size()) {
    token_ = Token::kUnterminatedString;
    return;
  }
  ++pos_;
  token_ = Token::kString;
}

void SelectorLexer::AppendUtf8(uint32_t code) {
  if (code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) code = 0xFFFD;
  if (code < 0x80) {
    value_ += static_cast<char>(code);
  } else if (code < 0x800) {
    value_ += static_cast<char>(0xC0 | (code >> 6));
    value_ += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    value_ += static_cast<char>(0xE0 | (code >> 12));
    value_ += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    value_ += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    value_ += static_cast<char>(0xF0 | (code >> 18));
    value_ += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    value_ += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    value_ += static_cast<char>(0x80 | (code & 0x3F));
  }
}

bool SelectorLexer::AtWord(std::string_view word) const {
  return token_ == Token::kIdentifier && value_ == word;
}

Status SelectorLexer::ErrorAt(size_t position, const std::string& what) const {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < position && i < text_.size(); ++i) {
    if (text_[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return InvalidArgumentError(fmt::format("{}:{}: parse error: {}", line, column, what));
}
Status SelectorLexer::Error(const std::string& what) const { return ErrorAt(start_, what); }

std::string SelectorLexer::Describe() const {
  const std::string_view raw = text_.substr(start_, pos_ - start_);
  switch (token_) {
    case Token::kEnd:
      return "end of input";
    case Token::kIdentifier:
      return IsReservedWord(value_) ? fmt::format("<{}>", value_)
                                    : fmt::format("identifier \"{}\"", raw);
    case Token::kNumber:
      return fmt::format("number \"{}\"", raw);
    case Token::kDuration:
      return fmt::format("duration \"{}\"", raw);
    case Token::kString:
      return fmt::format("string {}", raw);
    case Token::kLeftParen:
      return "\"(\"";
    case Token::kRightParen:
      return "right parenthesis \")\"";
    case Token::kLeftBrace:
      return "\"{\"";
    case Token::kRightBrace:
      return "\"}\"";
    case Token::kLeftBracket:
      return "\"[\"";
    case Token::kRightBracket:
      return "\"]\"";
    case Token::kComma:
      return "\",\"";
    default:
      return fmt::format("\"{}\"", raw);
  }
}

// The error for the current token, which does not fit; `context` like "in label matching".
Status SelectorLexer::Unexpected(const std::string& context, const std::string& expected) const {
  if (token_ == Token::kUnterminatedString) return Error("unterminated quoted string");
  if (token_ == Token::kBadCharacter) {
    if (bad_number_) {
      return Error(fmt::format("bad number or duration syntax: \"{}\"", value_));
    }
    return Error(fmt::format("unexpected character: '{}'", text_.substr(start_, 1)));
  }
  std::string message = "unexpected " + Describe();
  if (!context.empty()) message += " " + context;
  if (!expected.empty()) message += ", expected " + expected;
  return Error(message);
}

Status SelectorLexer::Expect(Token token, const char* context, const char* expected) {
  if (token_ != token) return Unexpected(context, expected);
  Advance();
  return OkStatus();
}

Status SelectorLexer::CheckSelector(const std::vector<Matcher>& matchers, size_t position) const {
  // As Prometheus: at least one matcher that does not match the empty string.
  for (const auto& m : matchers) {
    if (!m.Matches(std::string_view())) return OkStatus();
  }
  return ErrorAt(position, "vector selector must contain at least one non-empty matcher");
}

Status SelectorLexer::ParseMatchers(std::vector<Matcher>* matchers,
                                    const std::string& metric_name) {
  VIGIL_RETURN_IF_ERROR(Expect(Token::kLeftBrace, "in label matching", "\"{\""));
  while (token_ != Token::kRightBrace) {
    std::string label;
    if (token_ == Token::kIdentifier) {
      label = value_;
    } else if (token_ == Token::kString) {
      label = value_;  // a quoted name; alone, the metric name (Prometheus 3)
    } else {
      return Unexpected("in label matching", "label matching operator");
    }
    const bool quoted = token_ == Token::kString;
    const size_t label_position = start_;
    Advance();
    if (quoted && (token_ == Token::kComma || token_ == Token::kRightBrace)) {
      if (!metric_name.empty() || HasNameMatcher(*matchers)) {
        return ErrorAt(label_position, "metric name must not be set twice");
      }
      auto m = Matcher::Create(MatchType::kEqual, "__name__", label);
      if (!m.ok()) return ErrorAt(label_position, m.status().message());
      matchers->push_back(*std::move(m));
    } else {
      MatchType type;
      switch (token_) {
        case Token::kAssign:
          type = MatchType::kEqual;
          break;
        case Token::kNotEqual:
          type = MatchType::kNotEqual;
          break;
        case Token::kRegexMatch:
          type = MatchType::kRegexMatch;
          break;
        case Token::kRegexNoMatch:
          type = MatchType::kRegexNoMatch;
          break;
        default:
          return Unexpected("in label matching", "label matching operator");
      }
      Advance();
      if (token_ != Token::kString) return Unexpected("in label matching", "string");
      if (label == kMetricNameLabel && !metric_name.empty()) {
        return ErrorAt(label_position,
                       fmt::format("metric name must not be set twice: \"{}\" or \"{}\"",
                                   metric_name, value_));
      }
      auto matcher = Matcher::Create(type, label, value_);
      if (!matcher.ok()) return ErrorAt(label_position, matcher.status().message());
      matchers->push_back(*std::move(matcher));
      Advance();
    }
    if (token_ == Token::kComma) {
      Advance();
    } else if (token_ != Token::kRightBrace) {
      return Unexpected("in label matching", "\",\" or \"}\"");
    }
  }
  Advance();
  return OkStatus();
}

bool SelectorLexer::HasNameMatcher(const std::vector<Matcher>& matchers) {
  for (const auto& m : matchers) {
    if (m.name() == kMetricNameLabel) return true;
  }
  return false;
}

Result<int64_t> ParseDurationMs(std::string_view text) {
  auto ms = ParseDurationText(text);
  if (!ms.ok() || *ms <= 0) {
    return InvalidArgumentError("bad duration \"" + std::string(text) + "\"");
  }
  return *ms;
}

Result<std::vector<Matcher>> ParseSelector(std::string_view text) {
  if (text.size() > 64 * 1024) return InvalidArgumentError("selector longer than 64 KiB");
  struct SelectorParser : SelectorLexer {
    using SelectorLexer::SelectorLexer;
    Result<std::vector<Matcher>> Parse() {
      std::vector<Matcher> matchers;
      std::string name;
      if (token_ == Token::kIdentifier) {
        name = value_;
        auto matcher = Matcher::Create(MatchType::kEqual, std::string(kMetricNameLabel), name);
        if (!matcher.ok()) return ErrorAt(start_, matcher.status().message());
        matchers.push_back(*std::move(matcher));
        Advance();
        if (token_ == Token::kLeftBrace) VIGIL_RETURN_IF_ERROR(ParseMatchers(&matchers, name));
      } else if (token_ == Token::kLeftBrace) {
        VIGIL_RETURN_IF_ERROR(ParseMatchers(&matchers, ""));
      } else {
        return Unexpected("", "series selector (such as name{label=\"value\"})");
      }
      if (token_ != Token::kEnd) {
        if (token_ == Token::kBadCharacter || token_ == Token::kUnterminatedString) {
          return Unexpected("");
        }
        return InvalidArgumentError("not a series selector (such as name{label=\"value\"})");
      }
      VIGIL_RETURN_IF_ERROR(CheckSelector(matchers, 0));
      return matchers;
    }
  };
  return SelectorParser(text).Parse();
}

}  // namespace vigil::model

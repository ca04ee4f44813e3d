// The text form of series selectors and durations as PromQL writes them:
// `name{label="value", other=~"re.*"}` and `5m`, `1h30m`. ParseSelector reads a selector
// wherever one is configured or asked for (match[] parameters, alert expressions,
// pipeline filters, live subscriptions); SelectorLexer is PromQL's lexer, on which this
// parser and the full language's (query/parser.cc) are built, so a selector reads the
// same everywhere. Errors carry the line and column of the fault, as Prometheus's do:
// `1:5: parse error: unexpected "}" in label matching, expected string`.
//
// Thread safety: ParseSelector and ParseDurationMs are pure functions; a SelectorLexer
// belongs to one parse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/matcher.h"

namespace vigil::model {

// A series selector alone (`boiler_pressure_out{area="boiler"}`, `{__name__=~"node_.*"}`)
// as its matchers, of which one at least must not match the empty string;
// InvalidArgument for anything more or less than a selector.
Result<std::vector<Matcher>> ParseSelector(std::string_view text);

// "5m", "1h30m", "1y" … (Prometheus durations: ms, s, m, h, d, w, y) to milliseconds;
// InvalidArgument for anything else or a duration that is not positive.
Result<int64_t> ParseDurationMs(std::string_view text);

enum class Token {
  kEnd,
  kBadCharacter,
  kUnterminatedString,
  kIdentifier,
  kNumber,
  kDuration,
  kString,
  kLeftBrace,
  kRightBrace,
  kLeftParen,
  kRightParen,
  kLeftBracket,
  kRightBracket,
  kComma,
  kColon,
  kAt,
  kAssign,      // =
  kNotEqual,    // !=
  kRegexMatch,  // =~
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
};

// PromQL's tokens over `text`, one at a time: token_ is the current one (value_ its
// text, unquoted for strings; number_ its value for numbers and durations, in seconds),
// start_ where it begins. A parser derives from it and reads with Advance.
class SelectorLexer {
 public:
  explicit SelectorLexer(std::string_view text);
  virtual ~SelectorLexer() = default;

 protected:
  void Advance();
  bool AtWord(std::string_view word) const;

  // Errors at a position or at the current token, with "line:column: parse error: ".
  Status ErrorAt(size_t position, const std::string& what) const;
  Status Error(const std::string& what) const;
  // The error for the current token, which does not fit; `context` like "in label matching".
  Status Unexpected(const std::string& context, const std::string& expected = "") const;
  Status Expect(Token token, const char* context, const char* expected);

  // "{label op "value", …}" appended to `matchers`; `metric_name` is the name written
  // before the brace, if any (a second name is an error).
  Status ParseMatchers(std::vector<Matcher>* matchers, const std::string& metric_name);
  // As Prometheus: at least one matcher that does not match the empty string.
  Status CheckSelector(const std::vector<Matcher>& matchers, size_t position) const;

  // Words an error names as <word> rather than as an identifier (PromQL's keywords).
  virtual bool IsReservedWord(std::string_view) const { return false; }

  std::string_view text_;
  size_t pos_ = 0;
  size_t start_ = 0;
  Token token_ = Token::kEnd;
  std::string value_;
  double number_ = 0;
  bool bad_number_ = false;
  bool in_brackets_ = false;

 private:
  void SkipSpace();
  static bool IsIdentifierStart(char c);
  static bool IsIdentifierChar(char c);
  void LexNumberOrDuration();
  void LexString(char quote);
  void AppendUtf8(uint32_t code);
  std::string Describe() const;
  static bool HasNameMatcher(const std::vector<Matcher>& matchers);
};

}  // namespace vigil::model

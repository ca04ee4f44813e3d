#include "model/matcher.h"

#include <re2/re2.h>

#include "core/names.h"

namespace vigil::model {

Result<Matcher> Matcher::Create(MatchType type, std::string name, std::string value) {
  if (!IsValidLabelName(name)) return InvalidArgumentError("invalid label name \"" + name + "\"");
  std::shared_ptr<re2::RE2> re;
  if (type == MatchType::kRegexMatch || type == MatchType::kRegexNoMatch) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_dot_nl(true);  // as Prometheus: . matches a newline
    re = std::make_shared<re2::RE2>("^(?:" + value + ")$", options);
    if (!re->ok()) {
      return InvalidArgumentError("invalid regex \"" + value + "\": " + re->error());
    }
  }
  return Matcher(type, std::move(name), std::move(value), std::move(re));
}

bool Matcher::Matches(std::string_view value) const {
  switch (type_) {
    case MatchType::kEqual:
      return value == value_;
    case MatchType::kNotEqual:
      return value != value_;
    case MatchType::kRegexMatch:
      return re2::RE2::FullMatch(value, *re_);
    case MatchType::kRegexNoMatch:
      return !re2::RE2::FullMatch(value, *re_);
  }
  return false;
}

std::string Matcher::ToString() const {
  static constexpr const char* kOps[] = {"=", "!=", "=~", "!~"};
  std::string escaped;
  for (char c : value_) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return name_ + kOps[static_cast<int>(type_)] + "\"" + escaped + "\"";
}

bool MatchesAll(const std::vector<Matcher>& matchers, const Labels& labels) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels)) return false;
  }
  return true;
}

}  // namespace vigil::model

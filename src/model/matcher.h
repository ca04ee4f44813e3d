// A label matcher, as in Prometheus selectors: name = "v", != "v", =~ "re", !~ "re".
// Regexes are RE2 (Prometheus's syntax) and fully anchored. An absent label matches as
// the empty string. Used by queries, store selects, pipeline filters and WebSocket
// subscriptions.
//
// Thread safety: immutable once built; Matches may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/labels.h"

namespace re2 {
class RE2;
}

namespace vigil::model {

enum class MatchType { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

class Matcher {
 public:
  // InvalidArgument for an invalid label name or regex.
  static Result<Matcher> Create(MatchType type, std::string name, std::string value);

  bool Matches(std::string_view value) const;
  bool Matches(const Labels& labels) const { return Matches(labels.Get(name_)); }

  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  // `name="value"`, `name=~"re"` ...
  std::string ToString() const;

 private:
  Matcher(MatchType type, std::string name, std::string value, std::shared_ptr<re2::RE2> re)
      : type_(type), name_(std::move(name)), value_(std::move(value)), re_(std::move(re)) {}
  MatchType type_;
  std::string name_;
  std::string value_;
  std::shared_ptr<re2::RE2> re_;
};

// True when every matcher matches.
bool MatchesAll(const std::vector<Matcher>& matchers, const Labels& labels);

}  // namespace vigil::model

// Typed option descriptions (name, type, default, range, help) and the values they
// yield. One description drives config-file validation (core/config.h), command-line
// help, docs/configuration.md and docs/sensors.md, so they cannot disagree.
//
// Thread safety: values; immutable once built.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace vigil::config {

enum class OptionType {
  kString,
  kInt,
  kFloat,  // an integer is accepted too
  kBool,
  kDuration,  // "500ms", "1s", "1m30s", or a number of seconds
  kLabels,    // a table of label name -> string value
  kStrings,   // an array of strings
};

using LabelMap = std::map<std::string, std::string, std::less<>>;
using StringList = std::vector<std::string>;
using OptionValue = std::variant<std::string, int64_t, double, bool, std::chrono::milliseconds,
                                 LabelMap, StringList>;

struct OptionSpec {
  std::string name;
  OptionType type;
  std::string help;
  // Absent: the option is required.
  std::optional<OptionValue> default_value;
  // Inclusive bounds for numbers; for durations, in seconds.
  std::optional<double> min;
  std::optional<double> max;
  // For strings: the allowed values (empty: any).
  std::vector<std::string> choices;
  // A further check of a well-typed value; returns the reason it is wrong.
  std::function<std::optional<std::string>(const OptionValue&)> check;
};

// "string", "integer", "float", "boolean", "duration", "table of labels", "array of strings".
std::string_view TypeName(OptionType type);
// The value as a user would write it in TOML: "1s", 15.5, "info", { unit = "bar" }.
std::string FormatValue(const OptionValue& value);

// Parses Prometheus-style durations: a sequence of <number><unit>, units ms, s, m, h, d, w;
// "0" alone is zero.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Checks a well-typed value against the spec's range, choices and check; returns the
// reason when it does not fit.
std::optional<std::string> CheckValue(const OptionSpec& spec, const OptionValue& value);

// The validated values of one table, defaults filled in. Getters check the type: asking
// for a name the schema does not have, or with the wrong type, is a bug.
class OptionValues {
 public:
  void Set(const std::string& name, OptionValue value) { values_[name] = std::move(value); }
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // nullptr when unset.
  const OptionValue* Find(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
  }

  const std::string& String(const std::string& name) const { return Get<std::string>(name); }
  int64_t Int(const std::string& name) const { return Get<int64_t>(name); }
  double Float(const std::string& name) const { return Get<double>(name); }
  bool Bool(const std::string& name) const { return Get<bool>(name); }
  std::chrono::milliseconds Duration(const std::string& name) const {
    return Get<std::chrono::milliseconds>(name);
  }
  const LabelMap& Labels(const std::string& name) const { return Get<LabelMap>(name); }
  const StringList& Strings(const std::string& name) const { return Get<StringList>(name); }

 private:
  template <typename T>
  const T& Get(const std::string& name) const {
    auto it = values_.find(name);
    VIGIL_CHECK(it != values_.end(), "option not set: " + name);
    VIGIL_CHECK(std::holds_alternative<T>(it->second), "option of another type: " + name);
    return std::get<T>(it->second);
  }
  std::map<std::string, OptionValue> values_;
};

// Returns the specs' defaults; required options stay unset.
OptionValues Defaults(const std::vector<OptionSpec>& specs);

// What is wrong with options taken together (min above max, one target of a list that is
// not a URL), each problem tied to the option it is about: its name, with [i] for an element
// of a list. As a Status: InvalidArgument with one "key: reason" line per problem, which the
// config loader (core/config.h) reports at each key's line.
class OptionProblems {
 public:
  void Add(std::string_view key, std::string_view reason);
  bool empty() const { return text_.empty(); }
  Status ToStatus() const;

 private:
  std::string text_;
};

}  // namespace vigil::config

#include "core/options.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace vigil::config {

std::string_view TypeName(OptionType type) {
  switch (type) {
    case OptionType::kString:
      return "string";
    case OptionType::kInt:
      return "integer";
    case OptionType::kFloat:
      return "float";
    case OptionType::kBool:
      return "boolean";
    case OptionType::kDuration:
      return "duration";
    case OptionType::kLabels:
      return "table of labels";
    case OptionType::kStrings:
      return "array of strings";
  }
  return "?";
}

namespace {

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  static constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  std::string out;
  for (const auto& [size, unit] : kUnits) {
    if (ms >= size) {
      out += std::to_string(ms / size) + unit;
      ms %= size;
    }
  }
  return out;
}

}  // namespace

std::string FormatValue(const OptionValue& value) {
  struct Formatter {
    std::string operator()(const std::string& s) const { return "\"" + s + "\""; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      std::string s = fmt::format("{}", d);
      if (s.find_first_of(".eE") == std::string::npos && std::isfinite(d)) s += ".0";
      return s;
    }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::chrono::milliseconds d) const {
      return "\"" + FormatDuration(d) + "\"";
    }
    std::string operator()(const LabelMap& labels) const {
      if (labels.empty()) return "{}";
      std::string out = "{ ";
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out += ", ";
        first = false;
        out += k + " = \"" + v + "\"";
      }
      return out + " }";
    }
    std::string operator()(const StringList& strings) const {
      std::string out = "[";
      for (const auto& s : strings) out += (out.size() > 1 ? ", \"" : "\"") + s + "\"";
      return out + "]";
    }
  };
  return std::visit(Formatter{}, value);
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.empty()) return InvalidArgumentError("empty duration");
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"ms", 1},        {"s", 1000},       {"m", 60'000},
      {"h", 3'600'000}, {"d", 86'400'000}, {"w", 604'800'000}};
  std::string_view rest = text;
  int64_t total = 0;
  size_t last_unit = 0;  // index into kUnits + 1 of the previous unit: units must descend
  while (!rest.empty()) {
    int64_t number = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), number);
    if (ec != std::errc() || end == rest.data() || number < 0) {
      return InvalidArgumentError("invalid duration \"" + std::string(text) +
                                  "\" (expected e.g. 500ms, 15s, 1m30s, 2h)");
    }
    rest.remove_prefix(end - rest.data());
    size_t unit_index = 0;
    for (size_t i = 0; i < std::size(kUnits); ++i) {
      // "ms" must be tried before "m".
      if (rest.substr(0, kUnits[i].first.size()) == kUnits[i].first) {
        unit_index = i + 1;
        break;
      }
    }
    if (unit_index == 0) {
      return InvalidArgumentError("invalid duration \"" + std::string(text) +
                                  "\": a number needs a unit (ms, s, m, h, d, w)");
    }
    const auto& [unit, size] = kUnits[unit_index - 1];
    if (last_unit != 0 && size >= kUnits[last_unit - 1].second) {
      return InvalidArgumentError("invalid duration \"" + std::string(text) +
                                  "\": units must go from largest to smallest");
    }
    if (number > (INT64_MAX - total) / size) {
      return InvalidArgumentError("duration \"" + std::string(text) + "\" is too long");
    }
    total += number * size;
    last_unit = unit_index;
    rest.remove_prefix(unit.size());
  }
  return std::chrono::milliseconds(total);
}

std::optional<std::string> CheckValue(const OptionSpec& spec, const OptionValue& value) {
  std::optional<double> number;
  if (const auto* i = std::get_if<int64_t>(&value)) number = static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&value)) {
    if (!std::isfinite(*d)) return "must be a finite number";
    number = *d;
  }
  if (const auto* ms = std::get_if<std::chrono::milliseconds>(&value)) {
    number = static_cast<double>(ms->count()) / 1000.0;
  }
  if (number) {
    std::string unit = spec.type == OptionType::kDuration ? "s" : "";
    if (spec.min && *number < *spec.min) {
      return fmt::format("must be at least {}{}, got {}{}", *spec.min, unit, *number, unit);
    }
    if (spec.max && *number > *spec.max) {
      return fmt::format("must be at most {}{}, got {}{}", *spec.max, unit, *number, unit);
    }
  }
  if (const auto* s = std::get_if<std::string>(&value); s && !spec.choices.empty()) {
    bool found = false;
    for (const auto& choice : spec.choices) found = found || choice == *s;
    if (!found) {
      std::string list;
      for (const auto& choice : spec.choices) list += (list.empty() ? "" : ", ") + choice;
      return "must be one of " + list + ", got \"" + *s + "\"";
    }
  }
  if (spec.check) return spec.check(value);
  return std::nullopt;
}

OptionValues Defaults(const std::vector<OptionSpec>& specs) {
  OptionValues values;
  for (const auto& spec : specs) {
    if (spec.default_value) values.Set(spec.name, *spec.default_value);
  }
  return values;
}

void OptionProblems::Add(std::string_view key, std::string_view reason) {
  if (!text_.empty()) text_ += '\n';
  text_.append(key).append(": ").append(reason);
}

Status OptionProblems::ToStatus() const {
  return text_.empty() ? OkStatus() : InvalidArgumentError(text_);
}

}  // namespace vigil::config

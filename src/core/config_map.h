// A config section declared once, as fluent-bit's config map declares a plugin's options:
// each option is bound to the field of a struct it fills. Its type follows from the
// field's type and its default is the field's value in a default-constructed struct, so
// a key's name, type, default, range and help are written in one place, next to the
// struct; the loader (core/config.h) validates with the section's spec and Read fills the
// struct. docs/configuration.md is checked against these declarations (roles/config_test).
//
//   SectionMap<SinkConfig> sink("sink", "The JSON-lines file sink.");
//   sink.Option("max_size_mb", &SinkConfig::max_size_mb, "Rotated at this size.").Range(1, 1024);
//
// Thread safety: build once, then read-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/config.h"
#include "core/options.h"

namespace vigil::config {

// How a field of type F holds an option's value: its OptionType and the conversions.
template <typename F>
struct FieldType;

template <>
struct FieldType<std::string> {
  static constexpr OptionType kType = OptionType::kString;
  static OptionValue To(const std::string& v) { return v; }
  static std::string From(const OptionValue& v) { return std::get<std::string>(v); }
};
template <>
struct FieldType<bool> {
  static constexpr OptionType kType = OptionType::kBool;
  static OptionValue To(bool v) { return v; }
  static bool From(const OptionValue& v) { return std::get<bool>(v); }
};
template <>
struct FieldType<double> {
  static constexpr OptionType kType = OptionType::kFloat;
  static OptionValue To(double v) { return v; }
  static double From(const OptionValue& v) { return std::get<double>(v); }
};
template <>
struct FieldType<std::chrono::milliseconds> {
  static constexpr OptionType kType = OptionType::kDuration;
  static OptionValue To(std::chrono::milliseconds v) { return v; }
  static std::chrono::milliseconds From(const OptionValue& v) {
    return std::get<std::chrono::milliseconds>(v);
  }
};
template <>
struct FieldType<StringList> {
  static constexpr OptionType kType = OptionType::kStrings;
  static OptionValue To(const StringList& v) { return v; }
  static StringList From(const OptionValue& v) { return std::get<StringList>(v); }
};
template <>
struct FieldType<LabelMap> {
  static constexpr OptionType kType = OptionType::kLabels;
  static OptionValue To(const LabelMap& v) { return v; }
  static LabelMap From(const OptionValue& v) { return std::get<LabelMap>(v); }
};
// Any integer field (int64_t, int, size_t ...) is an integer option; its range keeps the
// value inside the field's type.
template <typename F>
requires(std::is_integral_v<F> && !std::is_same_v<F, bool>) struct FieldType<F> {
  static constexpr OptionType kType = OptionType::kInt;
  static OptionValue To(F v) { return static_cast<int64_t>(v); }
  static F From(const OptionValue& v) { return static_cast<F>(std::get<int64_t>(v)); }
};

// Narrows a declared option: chain the calls in the statement that declares it.
class OptionDeclaration {
 public:
  explicit OptionDeclaration(OptionSpec& spec) : spec_(spec) {}
  // Inclusive bounds; for durations, in seconds.
  OptionDeclaration& Range(double min, double max) {
    spec_.min = min;
    spec_.max = max;
    return *this;
  }
  // The values a string may take.
  OptionDeclaration& Choices(std::vector<std::string> choices) {
    spec_.choices = std::move(choices);
    return *this;
  }
  // A further check of a well-typed value; returns the reason it is wrong.
  OptionDeclaration& Check(std::function<std::optional<std::string>(const OptionValue&)> check) {
    spec_.check = std::move(check);
    return *this;
  }

 private:
  OptionSpec& spec_;
};

template <typename T>
class SectionMap {
 public:
  SectionMap(std::string name, std::string help) {
    spec_.name = std::move(name);
    spec_.help = std::move(help);
  }

  // Declares the option `name` bound to `field`.
  template <typename F>
  OptionDeclaration Option(std::string name, F T::*field, std::string help) {
    return Bind<F>(
        std::move(name), [field](T& t) -> F& { return t.*field; }, std::move(help));
  }
  // Declares an option bound to a field reached through `access` (T&) -> F&, for a field
  // of a nested struct.
  template <typename Access>
  OptionDeclaration Option(std::string name, Access access, std::string help) {
    using F = std::remove_reference_t<std::invoke_result_t<Access, T&>>;
    return Bind<F>(std::move(name), std::move(access), std::move(help));
  }
  // A duration option kept as whole milliseconds in an integer field.
  OptionDeclaration DurationMs(std::string name, int64_t T::*field, std::string help) {
    const T defaults{};
    spec_.options.push_back(OptionSpec{std::move(name), OptionType::kDuration, std::move(help),
                                       std::chrono::milliseconds(defaults.*field)});
    readers_.push_back(
        [field, key = spec_.options.back().name](const OptionValues& values, T& out) {
          out.*field = values.Duration(key).count();
        });
    return OptionDeclaration(spec_.options.back());
  }

  // The section as the loader validates it.
  const SectionSpec& spec() const { return spec_; }
  // Fills `out` from a loaded section (every option set, defaults filled in).
  void Read(const OptionValues& values, T& out) const {
    for (const auto& read : readers_) read(values, out);
  }

 private:
  template <typename F, typename Access>
  OptionDeclaration Bind(std::string name, Access access, std::string help) {
    T defaults{};
    spec_.options.push_back(OptionSpec{std::move(name), FieldType<F>::kType, std::move(help),
                                       FieldType<F>::To(access(defaults))});
    if constexpr (FieldType<F>::kType == OptionType::kInt) {
      spec_.options.back().min = static_cast<double>(std::numeric_limits<F>::min());
      spec_.options.back().max = static_cast<double>(std::numeric_limits<F>::max());
    }
    readers_.push_back(
        [access, key = spec_.options.back().name](const OptionValues& values, T& out) {
          const OptionValue* value = values.Find(key);
          VIGIL_CHECK(value != nullptr, "option not set: " + key);
          access(out) = FieldType<F>::From(*value);
        });
    return OptionDeclaration(spec_.options.back());
  }

  SectionSpec spec_;
  std::vector<std::function<void(const OptionValues&, T&)>> readers_;
};

}  // namespace vigil::config

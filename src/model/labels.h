// Labels identify a series: sorted (name, value) pairs, names valid per Prometheus
// rules, the metric name under __name__. Pairs with empty values are dropped, as in
// Prometheus (an empty label is an absent label). The canonical text form is
// `metric{a="b",c="d"}` with \\, \" and \n escaped; Hash() is xxHash3 over the pairs.
// docs/architecture.md (Data model).
//
// Thread safety: values; a Labels changes only through Set.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vigil::model {

inline constexpr std::string_view kMetricNameLabel = "__name__";

struct Label {
  std::string name;
  std::string value;
  auto operator<=>(const Label&) const = default;
};

class Labels {
 public:
  Labels() = default;

  // Validates and sorts: every name a valid label name, no name twice, __name__ (if
  // present) a valid metric name, values valid UTF-8. Empty values are dropped.
  static Result<Labels> FromPairs(std::vector<Label> pairs);
  // For literals in code and tests; a bad pair is a bug.
  static Labels Of(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);

  // The value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricNameLabel); }
  // Sets `name` to `value` in place (removes it when `value` is empty). `name` must be
  // valid. With is the same on a copy.
  void Set(std::string_view name, std::string_view value);
  Labels With(std::string_view name, std::string_view value) const;

  const std::vector<Label>& pairs() const { return pairs_; }
  size_t size() const { return pairs_.size(); }
  bool empty() const { return pairs_.empty(); }
  auto begin() const { return pairs_.begin(); }
  auto end() const { return pairs_.end(); }

  uint64_t Hash() const;
  std::string ToString() const;

  auto operator<=>(const Labels&) const = default;
  bool operator==(const Labels&) const = default;

 private:
  explicit Labels(std::vector<Label> sorted) : pairs_(std::move(sorted)) {}
  std::vector<Label> pairs_;
};

struct LabelsHash {
  size_t operator()(const Labels& labels) const { return labels.Hash(); }
};

}  // namespace vigil::model

// Labels identify a series: sorted (name, value) pairs, names valid per Prometheus
// rules, the metric name under __name__. Pairs with empty values are dropped, as in
// Prometheus (an empty label is an absent label). The canonical text form is
// `metric{a="b",c="d"}` with \\, \" and \n escaped; Hash() is xxHash3 over the pairs.
// docs/architecture.md (Data model).
//
// A Labels keeps its pairs in one block of bytes, each name and value preceded by its
// length (a varint): one allocation per series, compared and hashed as one run of bytes,
// read without scanning for ends. Iterating yields LabelRefs, views into it. The block is
// sized exactly and the object is 16 bytes (a std::string would be 32): the embedded
// store keeps a Labels in each of a million series records.
//
// Thread safety: values; a Labels changes only through Set.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace vigil::model {

inline constexpr std::string_view kMetricNameLabel = "__name__";

// A label to build Labels from.
struct Label {
  std::string name;
  std::string value;
  auto operator<=>(const Label&) const = default;
};

// A label inside a Labels, valid while that Labels lives unchanged.
struct LabelRef {
  std::string_view name;
  std::string_view value;
  auto operator<=>(const LabelRef&) const = default;
  operator Label() const { return {std::string(name), std::string(value)}; }  // a copy
};

// The bytes of a label set held elsewhere, read as a Labels is: Labels::view(), or the
// embedded store's series records, which keep their labels' bytes inside them (one
// allocation a series instead of two). Valid while those bytes live unchanged.
class LabelsView {
 public:
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = LabelRef;
    using difference_type = std::ptrdiff_t;
    using pointer = const LabelRef*;
    using reference = const LabelRef&;

    Iterator() = default;
    const LabelRef& operator*() const { return current_; }
    const LabelRef* operator->() const { return &current_; }
    Iterator& operator++() {
      next_ = Read(next_, end_, &current_);
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const Iterator& other) const {
      return current_.name.data() == other.current_.name.data();
    }

   private:
    friend class LabelsView;
    friend class Labels;
    Iterator(const char* begin, const char* end) : next_(begin), end_(end) { ++*this; }
    // The label at `at` into `out` (an empty name at the end); where the next begins.
    static const char* Read(const char* at, const char* end, LabelRef* out) {
      if (at == end) {
        *out = {std::string_view(end, 0), {}};
        return end;
      }
      at = ReadString(at, &out->name);
      return ReadString(at, &out->value);
    }
    static const char* ReadString(const char* at, std::string_view* out) {
      size_t size = 0;
      for (int shift = 0;; shift += 7) {
        const auto byte = static_cast<unsigned char>(*at++);
        size |= static_cast<size_t>(byte & 0x7f) << shift;
        if (byte < 0x80) break;
      }
      *out = std::string_view(at, size);
      return at + size;
    }
    const char* next_ = nullptr;
    const char* end_ = nullptr;
    LabelRef current_;
  };

  LabelsView() = default;
  // `text` as Labels keeps it (view().text()).
  explicit LabelsView(std::string_view text) : text_(text) {}

  std::string_view Get(std::string_view name) const;  // "" when absent
  std::string_view MetricName() const { return Get(kMetricNameLabel); }
  size_t size() const { return static_cast<size_t>(std::distance(begin(), end())); }
  bool empty() const { return text_.empty(); }
  Iterator begin() const { return Iterator(text_.data(), text_.data() + text_.size()); }
  Iterator end() const {
    Iterator end;
    end.current_.name = std::string_view(text_.data() + text_.size(), 0);
    return end;
  }
  uint64_t Hash() const;
  std::string ToString() const;
  std::strong_ordering operator<=>(const LabelsView& other) const;
  bool operator==(const LabelsView& other) const { return text_ == other.text_; }
  std::string_view text() const { return text_; }

 private:
  std::string_view text_;
};

class Labels {
 public:
  using Iterator = LabelsView::Iterator;

  Labels() = default;
  explicit Labels(LabelsView view);  // a copy
  Labels(const Labels& other) { *this = other; }
  Labels& operator=(const Labels& other);
  Labels(Labels&& other) noexcept { *this = std::move(other); }
  Labels& operator=(Labels&& other) noexcept {  // leaves `other` empty
    text_ = std::move(other.text_);
    bytes_ = std::exchange(other.bytes_, 0);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  // Validates and sorts: every name a valid label name, no name twice, __name__ (if
  // present) a valid metric name, values valid UTF-8. Empty values are dropped.
  static Result<Labels> FromPairs(std::vector<Label> pairs);
  // For literals in code and tests; a bad pair is a bug.
  static Labels Of(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);

  LabelsView view() const { return LabelsView(text()); }
  // The value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const { return view().Get(name); }
  std::string_view MetricName() const { return Get(kMetricNameLabel); }
  // Sets `name` to `value` in place (removes it when `value` is empty). `name` must be
  // valid (and a __name__ a valid metric name). With is the same on a copy.
  void Set(std::string_view name, std::string_view value);
  Labels With(std::string_view name, std::string_view value) const;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Iterator begin() const { return view().begin(); }
  Iterator end() const { return view().end(); }

  uint64_t Hash() const { return view().Hash(); }
  std::string ToString() const { return view().ToString(); }

  // Pair by pair: by name, then by value.
  std::strong_ordering operator<=>(const Labels& other) const { return view() <=> other.view(); }
  bool operator==(const Labels& other) const { return text() == other.text(); }

 private:
  std::string_view text() const { return {text_.get(), bytes_}; }
  // A Labels of `pairs` labels whose text is `bytes` long, its text not yet written.
  static Labels WithRoom(size_t bytes, size_t pairs);

  // Per label, sorted by name: varint size, name, varint size, value. Null when empty.
  std::unique_ptr<char[]> text_;
  uint32_t bytes_ = 0;
  uint32_t size_ = 0;
};

struct LabelsHash {
  size_t operator()(const Labels& labels) const { return labels.Hash(); }
};

// Bounds on one series' label set, checked where series enter vigil (HTTP writes, the
// datamanager) so that no store meets a label set it cannot index: Prometheus's
// label_limit, label_name_length_limit and label_value_length_limit. 0: no bound.
struct LabelLimits {
  size_t max_labels = 64;  // __name__ included
  size_t max_name_length = 256;
  size_t max_value_length = 2048;  // bytes
};

// Why a label set is refused at ingest; the names are the `reason` label of the counters.
enum class LabelViolation { kNone, kEmpty, kTooMany, kNameTooLong, kValueTooLong };
std::string_view LabelViolationName(LabelViolation violation);  // "label_limit" ...

// The first rule `labels` breaks: no labels at all (Prometheus refuses an empty label set;
// an empty value is an absent label, dropped by FromPairs), or a limit. `why` (may be null)
// gets a sentence naming the series, cut to a readable length.
LabelViolation CheckLabelLimits(const Labels& labels, const LabelLimits& limits, std::string* why);

}  // namespace vigil::model

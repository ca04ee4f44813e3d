#include "model/labels.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "core/names.h"

namespace vigil::model {

namespace {
// The bytes PutString writes for s.
size_t StringBytes(std::string_view s) {
  size_t bytes = 1;
  for (size_t size = s.size(); size >= 0x80; size >>= 7) ++bytes;
  return bytes + s.size();
}

// Writes s's size (a varint) and s at `at`; returns where the next begins.
char* PutString(char* at, std::string_view s) {
  size_t size = s.size();
  while (size >= 0x80) {
    *at++ = static_cast<char>((size & 0x7f) | 0x80);
    size >>= 7;
  }
  *at++ = static_cast<char>(size);
  std::memcpy(at, s.data(), s.size());
  return at + s.size();
}
}  // namespace

Labels Labels::WithRoom(size_t bytes, size_t pairs) {
  VIGIL_CHECK(bytes <= UINT32_MAX, "label set too large");
  Labels labels;
  if (bytes > 0) labels.text_ = std::make_unique_for_overwrite<char[]>(bytes);
  labels.bytes_ = static_cast<uint32_t>(bytes);
  labels.size_ = static_cast<uint32_t>(pairs);
  return labels;
}

Labels::Labels(LabelsView view) {
  if (view.empty()) return;
  const std::string_view text = view.text();
  Labels copy = WithRoom(text.size(), view.size());
  std::memcpy(copy.text_.get(), text.data(), text.size());
  *this = std::move(copy);
}

Labels& Labels::operator=(const Labels& other) {
  if (this == &other) return *this;
  Labels copy = WithRoom(other.bytes_, other.size_);
  if (other.bytes_ > 0) std::memcpy(copy.text_.get(), other.text_.get(), other.bytes_);
  return *this = std::move(copy);
}

Result<Labels> Labels::FromPairs(std::vector<Label> pairs) {
  std::erase_if(pairs, [](const Label& l) { return l.value.empty(); });
  std::sort(pairs.begin(), pairs.end());
  size_t bytes = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const Label& label = pairs[i];
    if (!IsValidLabelName(label.name)) {
      return InvalidArgumentError("invalid label name \"" + label.name + "\"");
    }
    if (i > 0 && pairs[i - 1].name == label.name) {
      return InvalidArgumentError("label \"" + label.name + "\" given twice");
    }
    if (label.name == kMetricNameLabel && !IsValidMetricName(label.value)) {
      return InvalidArgumentError("invalid metric name \"" + label.value + "\"");
    }
    if (!IsValidUtf8(label.value)) {
      return InvalidArgumentError("value of label \"" + label.name + "\" is not valid UTF-8");
    }
    bytes += StringBytes(label.name) + StringBytes(label.value);
  }
  Labels labels = WithRoom(bytes, pairs.size());
  char* at = labels.text_.get();
  for (const Label& label : pairs) {
    at = PutString(at, label.name);
    at = PutString(at, label.value);
  }
  return labels;
}

Labels Labels::Of(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  std::vector<Label> labels;
  for (const auto& [name, value] : pairs) labels.push_back({std::string(name), std::string(value)});
  auto result = FromPairs(std::move(labels));
  VIGIL_CHECK(result.ok(), result.status().ToString());
  return std::move(result).value();
}

std::string_view LabelsView::Get(std::string_view name) const {
  // A scan: a series has a handful of labels. The pairs are sorted, so it stops at the
  // first name that sorts after `name`.
  if (name.empty()) return {};
  const auto first = static_cast<unsigned char>(name[0]);
  const char* at = text_.data();
  const char* end = at + text_.size();
  LabelRef label;
  while (at != end) {
    at = Iterator::Read(at, end, &label);
    if (label.name.size() == name.size() &&
        std::memcmp(label.name.data(), name.data(), name.size()) == 0)
      return label.value;
    if (static_cast<unsigned char>(label.name[0]) > first) break;  // names are never empty
  }
  return {};
}

void Labels::Set(std::string_view name, std::string_view value) {
  if (Get(name) == value && IsValidLabelName(name)) return;  // as it is (absent: empty)
  *this = With(name, value);
}

Labels Labels::With(std::string_view name, std::string_view value) const {
  VIGIL_CHECK(IsValidLabelName(name), "invalid label name");
  // Find where `name` is, or where it would go.
  const char* base = text_.get();
  const char* end = base + bytes_;
  const char* at = base;
  const char* next = end;
  LabelRef label;
  while (at != end) {
    next = Iterator::Read(at, end, &label);
    if (label.name >= name) break;
    at = next;
  }
  const bool present = at != end && label.name == name;
  if (present && label.value == value) return *this;
  const char* after = present ? next : at;
  // The new text in one allocation: what comes before, the label, what comes after.
  const size_t added = value.empty() ? 0 : StringBytes(name) + StringBytes(value);
  Labels out = WithRoom((at - base) + added + (end - after),
                        size_ - (present ? 1 : 0) + (value.empty() ? 0 : 1));
  char* to = out.text_.get();
  if (at != base) to = static_cast<char*>(std::memcpy(to, base, at - base)) + (at - base);
  if (!value.empty()) {
    to = PutString(to, name);
    to = PutString(to, value);
  }
  if (end != after) std::memcpy(to, after, end - after);
  return out;
}

uint64_t LabelsView::Hash() const {
  // Every name and value carries its size, so that {a="bc"} and {ab="c"} differ.
  return XXH3_64bits(text_.data(), text_.size());
}

std::strong_ordering LabelsView::operator<=>(const LabelsView& other) const {
  return std::lexicographical_compare_three_way(begin(), end(), other.begin(), other.end());
}

std::string LabelsView::ToString() const {
  std::string out(MetricName());
  out += '{';
  bool first = true;
  for (const auto& label : *this) {
    if (label.name == kMetricNameLabel) continue;
    if (!first) out += ',';
    first = false;
    out += label.name;
    out += "=\"";
    for (char c : label.value) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '"') {
        out += "\\\"";
      } else if (c == '\n') {
        out += "\\n";
      } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        // Control bytes (a NUL from a hostile writer) never reach a log or a page raw.
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[(c >> 4) & 0xf];
        out += kHex[c & 0xf];
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string_view LabelViolationName(LabelViolation violation) {
  switch (violation) {
    case LabelViolation::kNone:
      return "none";
    case LabelViolation::kEmpty:
      return "empty_labels";
    case LabelViolation::kTooMany:
      return "label_limit";
    case LabelViolation::kNameTooLong:
      return "label_name_length_limit";
    case LabelViolation::kValueTooLong:
      return "label_value_length_limit";
  }
  return "unknown";
}

LabelViolation CheckLabelLimits(const Labels& labels, const LabelLimits& limits, std::string* why) {
  auto refuse = [&](LabelViolation violation, const std::string& reason) {
    if (why != nullptr) {
      std::string series = labels.ToString();
      if (series.size() > 200) series = series.substr(0, 200) + "...";
      *why = "series " + series + " refused: " + reason;
    }
    return violation;
  };
  if (labels.empty()) return refuse(LabelViolation::kEmpty, "it has no labels");
  if (limits.max_labels > 0 && labels.size() > limits.max_labels) {
    return refuse(LabelViolation::kTooMany, std::to_string(labels.size()) +
                                                " labels, more than label_limit " +
                                                std::to_string(limits.max_labels));
  }
  for (const auto& label : labels) {
    if (limits.max_name_length > 0 && label.name.size() > limits.max_name_length) {
      return refuse(LabelViolation::kNameTooLong,
                    "a label name of " + std::to_string(label.name.size()) +
                        " bytes, longer than label_name_length_limit " +
                        std::to_string(limits.max_name_length));
    }
    if (limits.max_value_length > 0 && label.value.size() > limits.max_value_length) {
      return refuse(LabelViolation::kValueTooLong,
                    "label " + std::string(label.name.substr(0, 64)) + " has a value of " +
                        std::to_string(label.value.size()) +
                        " bytes, longer than label_value_length_limit " +
                        std::to_string(limits.max_value_length));
    }
  }
  return LabelViolation::kNone;
}

}  // namespace vigil::model

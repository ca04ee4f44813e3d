#include "model/labels.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "core/names.h"

namespace vigil::model {

namespace {
void AppendString(std::string& text, std::string_view s) {
  size_t size = s.size();
  while (size >= 0x80) {
    text += static_cast<char>((size & 0x7f) | 0x80);
    size >>= 7;
  }
  text += static_cast<char>(size);
  text += s;
}
}  // namespace

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
    bytes += label.name.size() + label.value.size() + 2;  // more for sizes over 127
  }
  Labels labels;
  labels.text_.reserve(bytes);
  for (const Label& label : pairs) {
    AppendString(labels.text_, label.name);
    AppendString(labels.text_, label.value);
  }
  labels.size_ = static_cast<uint32_t>(pairs.size());
  return labels;
}

Labels Labels::Of(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  std::vector<Label> labels;
  for (const auto& [name, value] : pairs) labels.push_back({std::string(name), std::string(value)});
  auto result = FromPairs(std::move(labels));
  VIGIL_CHECK(result.ok(), result.status().ToString());
  return std::move(result).value();
}

std::string_view Labels::Get(std::string_view name) const {
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
  VIGIL_CHECK(IsValidLabelName(name), "invalid label name");
  // Find where `name` is, or where it would go.
  const char* base = text_.data();
  const char* end = base + text_.size();
  const char* at = base;
  const char* next = end;
  LabelRef label;
  while (at != end) {
    next = Iterator::Read(at, end, &label);
    if (label.name >= name) break;
    at = next;
  }
  const size_t offset = at - base;
  const bool present = at != end && label.name == name;
  if (present && label.value == value) return;
  std::string replacement;
  if (!value.empty()) {
    AppendString(replacement, name);
    AppendString(replacement, value);
  }
  text_.replace(offset, present ? static_cast<size_t>(next - at) : 0, replacement);
  if (present && value.empty()) --size_;
  if (!present && !value.empty()) ++size_;
}

Labels Labels::With(std::string_view name, std::string_view value) const {
  Labels copy = *this;
  copy.Set(name, value);
  return copy;
}

uint64_t Labels::Hash() const {
  // Every name and value carries its size, so that {a="bc"} and {ab="c"} differ.
  return XXH3_64bits(text_.data(), text_.size());
}

std::strong_ordering Labels::operator<=>(const Labels& other) const {
  return std::lexicographical_compare_three_way(begin(), end(), other.begin(), other.end());
}

std::string Labels::ToString() const {
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
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace vigil::model

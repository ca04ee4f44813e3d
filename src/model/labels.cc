#include "model/labels.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "core/names.h"

namespace vigil::model {

Result<Labels> Labels::FromPairs(std::vector<Label> pairs) {
  std::erase_if(pairs, [](const Label& l) { return l.value.empty(); });
  std::sort(pairs.begin(), pairs.end());
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
  }
  return Labels(std::move(pairs));
}

Labels Labels::Of(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  std::vector<Label> labels;
  for (const auto& [name, value] : pairs) labels.push_back({std::string(name), std::string(value)});
  auto result = FromPairs(std::move(labels));
  VIGIL_CHECK(result.ok(), result.status().ToString());
  return std::move(result).value();
}

std::string_view Labels::Get(std::string_view name) const {
  // A scan, not a binary search: a series has a handful of labels, and comparing lengths
  // and first bytes (held inline) rules most of them out without a call to memcmp. The
  // pairs are sorted, so the scan stops at the first name that sorts after `name`.
  if (name.empty()) return {};
  const auto first = static_cast<unsigned char>(name[0]);
  for (const Label& label : pairs_) {
    const auto c = static_cast<unsigned char>(label.name[0]);
    if (c > first) break;
    if (c == first && label.name.size() == name.size() &&
        std::memcmp(label.name.data(), name.data(), name.size()) == 0) {
      return label.value;
    }
  }
  return {};
}

void Labels::Set(std::string_view name, std::string_view value) {
  VIGIL_CHECK(IsValidLabelName(name), "invalid label name");
  auto it = std::lower_bound(pairs_.begin(), pairs_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  bool present = it != pairs_.end() && it->name == name;
  if (value.empty()) {
    if (present) pairs_.erase(it);
  } else if (present) {
    if (it->value != value) it->value = std::string(value);
  } else {
    pairs_.insert(it, Label{std::string(name), std::string(value)});
  }
}

Labels Labels::With(std::string_view name, std::string_view value) const {
  Labels copy = *this;
  copy.Set(name, value);
  return copy;
}

uint64_t Labels::Hash() const {
  // Name and value separated by 0xff, a byte that valid UTF-8 never holds, so that
  // {a="bc"} and {ab="c"} differ.
  thread_local std::string buffer;
  buffer.clear();
  for (const auto& label : pairs_) {
    buffer += label.name;
    buffer += '\xff';
    buffer += label.value;
    buffer += '\xff';
  }
  return XXH3_64bits(buffer.data(), buffer.size());
}

std::string Labels::ToString() const {
  std::string out(MetricName());
  out += '{';
  bool first = true;
  for (const auto& label : pairs_) {
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

#include "model/json_values.h"

#include <cmath>
#include <limits>
#include <optional>

namespace vigil::model {

nlohmann::json JsonFromDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return value;
}

Result<double> DoubleFromJson(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "+Inf" || s == "Inf") return std::numeric_limits<double>::infinity();
    if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  }
  return InvalidArgumentError("expected a number or \"NaN\", \"+Inf\", \"-Inf\"");
}

Result<int64_t> Int64FromJson(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return InvalidArgumentError("integer out of range");
    }
    return static_cast<int64_t>(value.get<uint64_t>());
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return InvalidArgumentError("expected an integer");
}

nlohmann::json JsonFromLabels(const Labels& labels) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& label : labels) object[label.name] = label.value;
  return object;
}

Result<Labels> LabelsFromJson(const nlohmann::json& object) {
  if (!object.is_object()) return InvalidArgumentError("labels must be an object");
  std::vector<Label> pairs;
  for (const auto& [name, value] : object.items()) {
    if (!value.is_string()) {
      return InvalidArgumentError("value of label \"" + name + "\" must be a string");
    }
    pairs.push_back({name, value.get<std::string>()});
  }
  return Labels::FromPairs(std::move(pairs));
}

namespace {
void AppendJsonString(std::string& out, std::string_view text) {
  out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

std::string LabelsJsonText(const Labels& labels) {
  std::string out = "{";
  for (const LabelRef& label : labels) {
    if (out.size() > 1) out += ',';
    AppendJsonString(out, label.name);
    out += ':';
    AppendJsonString(out, label.value);
  }
  out += '}';
  return out;
}

namespace {
// LabelsJsonText's usual output, `{"name":"value",…}` without escapes or spaces, read
// without building a JSON tree (a store opening a million series rows reads it a million
// times); nullopt for anything else, which the full parser then reads.
std::optional<Labels> LabelsFromPlainJsonObject(std::string_view text) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}' ||
      text.find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  text = text.substr(1, text.size() - 2);
  auto take_string = [&](std::string_view* out) {
    if (text.empty() || text.front() != '"') return false;
    const size_t end = text.find('"', 1);
    if (end == std::string_view::npos) return false;
    *out = text.substr(1, end - 1);
    text.remove_prefix(end + 1);
    return true;
  };
  auto take = [&](char c) {
    if (text.empty() || text.front() != c) return false;
    text.remove_prefix(1);
    return true;
  };
  std::vector<Label> pairs;
  while (!text.empty()) {
    std::string_view name, value;
    if (!pairs.empty() && !take(',')) return std::nullopt;
    if (!take_string(&name) || !take(':') || !take_string(&value)) return std::nullopt;
    pairs.push_back({std::string(name), std::string(value)});
  }
  auto labels = Labels::FromPairs(std::move(pairs));
  if (!labels.ok()) return std::nullopt;
  return *std::move(labels);
}
}  // namespace

Result<Labels> LabelsFromJsonText(std::string_view text) {
  if (std::optional<Labels> plain = LabelsFromPlainJsonObject(text)) return *std::move(plain);
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return InvalidArgumentError("labels are not JSON");
  return LabelsFromJson(parsed);
}

}  // namespace vigil::model

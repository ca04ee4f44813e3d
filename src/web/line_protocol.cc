#include "web/line_protocol.h"

#include <charconv>
#include <cmath>
#include <unordered_map>

#include "core/names.h"

namespace vigil::web {
namespace {

// The first unescaped `stop` (or `stop2`) at or after `from`, outside double quotes
// when `quotes`; npos when none.
size_t FindUnescaped(std::string_view s, size_t from, char stop, char stop2 = '\0',
                     bool quotes = false) {
  if (stop2 == '\0') stop2 = stop;
  bool in_quotes = false;
  for (size_t i = from; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (quotes && c == '"') in_quotes = !in_quotes;
    if (!in_quotes && (c == stop || c == stop2)) return i;
  }
  return std::string_view::npos;
}

// Hashes std::string and std::string_view alike, for lookups without a copy.
struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() &&
        (s[i + 1] == ',' || s[i + 1] == '=' || s[i + 1] == ' ' || s[i + 1] == '\\' ||
         s[i + 1] == '"')) {
      ++i;
    }
    out.push_back(s[i]);
  }
  return out;
}

// A valid Prometheus name: invalid characters become '_', a leading digit gets '_'.
std::string Sanitize(std::string_view s, bool metric) {
  std::string out;
  for (char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (metric && c == ':');
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

Result<int64_t> ScaleToMs(int64_t t, std::string_view precision) {
  if (precision.empty() || precision == "ns" || precision == "n") return t / 1'000'000;
  if (precision == "us" || precision == "u") return t / 1000;
  if (precision == "ms") return t;
  if (precision == "s") return t * 1000;
  if (precision == "m") return t * 60'000;
  if (precision == "h") return t * 3'600'000;
  return InvalidArgumentError("unknown precision \"" + std::string(precision) +
                              "\" (ns, us, ms, s, m or h)");
}

// The field value as a number; nullopt for a string; error for garbage.
Result<std::optional<double>> FieldValue(std::string_view v) {
  if (v.empty()) return InvalidArgumentError("empty field value");
  if (v.front() == '"') {
    if (v.size() < 2 || v.back() != '"') return InvalidArgumentError("unterminated string field");
    return std::optional<double>();
  }
  if (v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE")
    return std::optional<double>(1);
  if (v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE")
    return std::optional<double>(0);
  if (v.back() == 'i' || v.back() == 'u') {
    int64_t n = 0;
    auto digits = v.substr(0, v.size() - 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      return InvalidArgumentError("bad integer field value \"" + std::string(v) + "\"");
    }
    return std::optional<double>(static_cast<double>(n));
  }
  double d = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return InvalidArgumentError("bad field value \"" + std::string(v) + "\"");
  }
  return std::optional<double>(d);
}

}  // namespace

Result<LineProtocolResult> ParseLineProtocol(std::string_view body, std::string_view precision,
                                             int64_t now_ms) {
  VIGIL_RETURN_IF_ERROR(ScaleToMs(0, precision).status());
  LineProtocolResult result;
  // Per distinct `measurement,tags` text: its labels, and its fields' series, found by
  // their text (no allocation per line once seen).
  struct KeyInfo {
    model::Labels labels;
    std::unordered_map<std::string, size_t, TextHash, std::equal_to<>> fields;
  };
  std::unordered_map<std::string, KeyInfo, TextHash, std::equal_to<>> keys;
  std::unordered_map<model::Labels, size_t, model::LabelsHash> series_by_labels;
  int64_t line_number = 0;
  while (!body.empty()) {
    const size_t newline = body.find('\n');
    std::string_view line = body.substr(0, newline);
    body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](const std::string& why) {
      return InvalidArgumentError("line " + std::to_string(line_number) + ": " + why);
    };
    // measurement[,tags] fields [timestamp]
    const size_t key_end = FindUnescaped(line, 0, ' ');
    if (key_end == std::string_view::npos) return fail("no fields");
    const std::string_view key = line.substr(0, key_end);
    std::string_view rest = line.substr(key_end + 1);
    const size_t fields_end = FindUnescaped(rest, 0, ' ', ' ', /*quotes=*/true);
    const std::string_view fields = rest.substr(0, fields_end);
    int64_t timestamp_ms = now_ms;
    if (fields_end != std::string_view::npos) {
      std::string_view ts = rest.substr(fields_end + 1);
      while (!ts.empty() && ts.back() == ' ') ts.remove_suffix(1);
      if (!ts.empty()) {
        int64_t t = 0;
        auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
        if (ec != std::errc() || end != ts.data() + ts.size()) {
          return fail("bad timestamp \"" + std::string(ts) + "\"");
        }
        timestamp_ms = *ScaleToMs(t, precision);
      }
    }
    if (fields.empty()) return fail("no fields");

    // The measurement and tags, parsed once per distinct key.
    auto cached = keys.find(key);
    if (cached == keys.end()) {
      size_t comma = FindUnescaped(key, 0, ',');
      const std::string measurement = Unescape(key.substr(0, comma));
      if (measurement.empty()) return fail("empty measurement");
      std::vector<model::Label> pairs;
      pairs.push_back({"__name__", Sanitize(measurement, true)});  // field suffix added below
      while (comma != std::string_view::npos) {
        const size_t next = FindUnescaped(key, comma + 1, ',');
        const std::string_view tag =
            key.substr(comma + 1, next == std::string_view::npos ? next : next - comma - 1);
        const size_t eq = FindUnescaped(tag, 0, '=');
        if (eq == std::string_view::npos || eq == 0)
          return fail("bad tag \"" + std::string(tag) + "\"");
        pairs.push_back(
            {Sanitize(Unescape(tag.substr(0, eq)), false), Unescape(tag.substr(eq + 1))});
        comma = next;
      }
      auto labels = model::Labels::FromPairs(pairs);
      if (!labels.ok()) return fail(labels.status().message());
      cached = keys.emplace(std::string(key), KeyInfo{*std::move(labels), {}}).first;
    }
    KeyInfo& info = cached->second;

    size_t start = 0;
    while (start <= fields.size()) {
      const size_t comma = FindUnescaped(fields, start, ',', ',', /*quotes=*/true);
      const std::string_view field = fields.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      const size_t eq = FindUnescaped(field, 0, '=');
      if (eq == std::string_view::npos || eq == 0)
        return fail("bad field \"" + std::string(field) + "\"");
      auto value = FieldValue(field.substr(eq + 1));
      if (!value.ok()) return fail(value.status().message());
      if (value->has_value()) {
        const std::string_view field_name = field.substr(0, eq);
        auto slot = info.fields.find(field_name);
        if (slot == info.fields.end()) {
          const std::string name =
              Sanitize(std::string(info.labels.MetricName()) + "_" + Unescape(field_name), true);
          model::Labels labels = info.labels.With("__name__", name);
          // Two spellings of one series (escapes, sanitized names) share one entry.
          auto [by_labels, added] =
              series_by_labels.try_emplace(labels, result.batch.series.size());
          if (added) result.batch.series.push_back({std::move(labels), {}});
          slot = info.fields.emplace(std::string(field_name), by_labels->second).first;
        }
        result.batch.series[slot->second].samples.push_back({timestamp_ms, **value});
      } else {
        ++result.skipped_string_fields;
      }
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    ++result.lines;
  }
  return result;
}

}  // namespace vigil::web

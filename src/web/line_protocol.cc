#include "web/line_protocol.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "core/hash_slots.h"

namespace vigil::web {
namespace {

// The first unescaped `stop` at or after `from`; npos when none. For keys, which have
// no quotes. memchr finds candidates; an odd run of backslashes before one escapes it.
size_t FindUnescaped(std::string_view s, size_t from, char stop) {
  while (from < s.size()) {
    const void* found = std::memchr(s.data() + from, stop, s.size() - from);
    if (found == nullptr) return std::string_view::npos;
    const size_t at = static_cast<size_t>(static_cast<const char*>(found) - s.data());
    size_t backslashes = 0;
    while (backslashes < at && s[at - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return at;
    from = at + 1;
  }
  return std::string_view::npos;
}

// Hashes std::string and std::string_view alike, for lookups without a copy.
struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return XXH3_64bits(s.data(), s.size()); }
};
template <typename T>
using TextMap = std::unordered_map<std::string, T, TextHash, std::equal_to<>>;

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

// A valid Prometheus name, in place: invalid characters become '_', a leading digit gets '_'.
void SanitizeInPlace(std::string& s, bool metric) {
  for (char& c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || (metric && c == ':');
    if (!ok) c = '_';
  }
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) s.insert(0, "_");
}

std::string Sanitize(std::string_view s, bool metric) {
  std::string out(s);
  SanitizeInPlace(out, metric);
  return out;
}

// Timestamps in `precision` to milliseconds: t * multiply / divide.
struct Scale {
  int64_t multiply = 1;
  int64_t divide = 1;
};

Result<Scale> ParsePrecision(std::string_view precision) {
  if (precision.empty() || precision == "ns" || precision == "n") return Scale{1, 1'000'000};
  if (precision == "us" || precision == "u") return Scale{1, 1000};
  if (precision == "ms") return Scale{1, 1};
  if (precision == "s") return Scale{1000, 1};
  if (precision == "m") return Scale{60'000, 1};
  if (precision == "h") return Scale{3'600'000, 1};
  return InvalidArgumentError("unknown precision \"" + std::string(precision) +
                              "\" (ns, us, ms, s, m or h)");
}

// An optionally signed decimal integer that must fill `text`.
bool ParseInteger(std::string_view text, int64_t* out) {
  const char* p = text.data();
  const char* end = p + text.size();
  const bool negative = p != end && *p == '-';
  const char* digits = p + (negative ? 1 : 0);
  if (digits == end || end - digits > 18) {  // empty, or possibly beyond int64: the slow way
    auto [last, ec] = std::from_chars(p, end, *out);
    return ec == std::errc() && last == end;
  }
  int64_t n = 0;
  for (const char* d = digits; d != end; ++d) {
    const unsigned digit = static_cast<unsigned char>(*d) - '0';
    if (digit > 9) return false;
    n = n * 10 + digit;
  }
  *out = negative ? -n : n;
  return true;
}

// The end (past the suffix) of an integer field value (`-42i`, `7u`) starting at `from`
// and followed by a comma, a space or the end; 0 when the value is not one.
size_t ScanIntegerField(std::string_view s, size_t from) {
  size_t i = from;
  if (i < s.size() && s[i] == '-') ++i;
  const size_t digits = i;
  while (i < s.size() && static_cast<unsigned>(static_cast<unsigned char>(s[i]) - '0') < 10u) ++i;
  if (i == digits || i - digits > 18 || i >= s.size() || (s[i] != 'i' && s[i] != 'u')) return 0;
  ++i;
  return i == s.size() || s[i] == ',' || s[i] == ' ' ? i : 0;
}

// A field's value as a number; nullopt for a string; error for garbage.
Result<std::optional<double>> FieldValue(std::string_view v) {
  if (v.empty()) return InvalidArgumentError("empty field value");
  const char last = v.back();
  if (last == 'i' || last == 'u') {
    int64_t n = 0;
    if (!ParseInteger(v.substr(0, v.size() - 1), &n)) {
      return InvalidArgumentError("bad integer field value \"" + std::string(v) + "\"");
    }
    return std::optional<double>(static_cast<double>(n));
  }
  if (v.front() == '"') return std::optional<double>();
  if (v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE")
    return std::optional<double>(1);
  if (v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE")
    return std::optional<double>(0);
  double d = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return InvalidArgumentError("bad field value \"" + std::string(v) + "\"");
  }
  return std::optional<double>(d);
}

// What the parser keeps per distinct tag set (a key's labels but its measurement). Keys
// that spell it differently (tag order, escapes, names that sanitize alike) share it, and
// its series are told apart by metric name: a scan of a few, a map past that.
constexpr size_t kScannedSeries = 64;
struct TagSet {
  model::Labels tags;
  std::vector<uint32_t> series;  // indexes in the batch's series
  TextMap<uint32_t> by_metric;   // filled once there are more than kScannedSeries

  // The index of this tag set's series named `metric` in `all`, added when new.
  uint32_t SeriesNamed(const std::string& metric, std::vector<model::Series>& all) {
    if (series.size() > kScannedSeries) {
      if (auto it = by_metric.find(metric); it != by_metric.end()) return it->second;
    } else {
      for (uint32_t s : series) {
        if (all[s].labels.MetricName() == metric) return s;
      }
    }
    const auto added = static_cast<uint32_t>(all.size());
    all.push_back({tags.With(model::kMetricNameLabel, metric), {}});
    series.push_back(added);
    if (series.size() > kScannedSeries) {
      if (by_metric.empty()) {
        for (uint32_t s : series) by_metric.emplace(all[s].labels.MetricName(), s);
      } else {
        by_metric.emplace(metric, added);
      }
    }
    return added;
  }
};

// What the parser keeps per distinct `measurement,tags` text.
struct KeyInfo {
  uint32_t tag_set = 0;
  std::string measurement;  // sanitized: the metric names' prefix
  // The series of each field, in the order the last line of the key had them: lines of
  // one key usually repeat their order, so a field is found by one compare, else by a
  // scan of these, else through its tag set (no map per key: in a body where each key
  // comes once, as from many hosts, it would cost more than it saves).
  std::vector<std::pair<std::string, uint32_t>> order;
};

// A sample and the index of its series, in body order.
struct PendingSample {
  uint32_t series;
  model::Sample sample;
};

}  // namespace

Result<LineProtocolResult> ParseLineProtocol(std::string_view body, std::string_view precision,
                                             int64_t now_ms) {
  VIGIL_ASSIGN_OR_RETURN(const Scale scale, ParsePrecision(precision));
  LineProtocolResult result;
  TextMap<KeyInfo> keys;
  std::vector<TagSet> tag_sets;
  HashSlots tag_sets_by_tags;  // tags hash -> index in tag_sets + 1
  auto tag_set_hash = [&](uint64_t plus_one) { return tag_sets[plus_one - 1].tags.Hash(); };
  std::vector<PendingSample> pending;
  std::string metric;  // a field's metric name, built in place
  const size_t body_bytes = body.size();
  int64_t line_number = 0;
  while (!body.empty()) {
    const size_t newline = body.find('\n');
    std::string_view line = body.substr(0, newline);
    body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](std::string_view why) {
      return InvalidArgumentError("line " + std::to_string(line_number) + ": " + std::string(why));
    };
    // measurement[,tags] fields [timestamp]
    const size_t key_end = FindUnescaped(line, 0, ' ');
    if (key_end == std::string_view::npos) return fail("no fields");
    const std::string_view key = line.substr(0, key_end);
    const std::string_view rest = line.substr(key_end + 1);
    if (rest.empty() || rest.front() == ' ') return fail("no fields");

    // The measurement and tags, parsed once per distinct key.
    auto cached = keys.find(key);
    if (cached == keys.end()) {
      size_t comma = FindUnescaped(key, 0, ',');
      const std::string measurement = Unescape(key.substr(0, comma));
      if (measurement.empty()) return fail("empty measurement");
      std::vector<model::Label> pairs;
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
      auto tags = model::Labels::FromPairs(std::move(pairs));
      if (!tags.ok()) return fail(tags.status().message());
      if (!tags->Get(model::kMetricNameLabel).empty()) {
        return fail("label \"__name__\" given twice");  // the measurement names the series
      }
      const uint64_t hash = tags->Hash();
      uint64_t tag_set_plus_one =
          tag_sets_by_tags.Find(hash, [&](uint64_t i) { return tag_sets[i - 1].tags == *tags; });
      if (tag_set_plus_one == 0) {
        tag_sets.push_back({*std::move(tags), {}, {}});
        tag_set_plus_one = tag_sets.size();
        tag_sets_by_tags.Insert(hash, tag_set_plus_one, tag_set_hash);
      }
      cached = keys.emplace(std::string(key), KeyInfo{static_cast<uint32_t>(tag_set_plus_one - 1),
                                                      Sanitize(measurement, true),
                                                      {}})
                   .first;
    }
    KeyInfo& info = cached->second;

    // Fields, in one pass: name=value[,name=value…], then a space and the timestamp.
    const size_t line_start = pending.size();
    const char* p = rest.data();
    const size_t n = rest.size();
    size_t i = 0;
    size_t field_index = 0;
    std::string_view timestamp;
    while (true) {
      const size_t name_start = i;
      // The name the last line of this key had here, if it is this one.
      const std::string* predicted =
          field_index < info.order.size() ? &info.order[field_index].first : nullptr;
      const bool as_before = predicted != nullptr && n - i > predicted->size() &&
                             std::memcmp(p + i, predicted->data(), predicted->size()) == 0 &&
                             p[i + predicted->size()] == '=';
      if (as_before) {
        i += predicted->size();
      } else {
        while (i < n && p[i] != '=' && p[i] != ',' && p[i] != ' ') i += p[i] == '\\' ? 2 : 1;
        if (i >= n || p[i] != '=' || i == name_start) {
          return fail("bad field \"" + std::string(rest.substr(name_start, i - name_start)) + "\"");
        }
      }
      const std::string_view name = rest.substr(name_start, i - name_start);
      const size_t value_start = ++i;
      std::optional<double> value;
      if (const size_t end = ScanIntegerField(rest, i); end != 0) {
        // The common integer field (`42i`), read in the same pass.
        int64_t integer = 0;
        (void)ParseInteger(rest.substr(i, end - 1 - i), &integer);
        value = static_cast<double>(integer);
        i = end;
      } else {
        if (i < n && p[i] == '"') {
          for (++i; i < n && p[i] != '"'; ++i) i += p[i] == '\\' ? 1 : 0;
          if (i >= n) return fail("unterminated string field");
          if (++i < n && p[i] != ',' && p[i] != ' ') return fail("text after a string field");
        } else {
          while (i < n && p[i] != ',' && p[i] != ' ') ++i;
        }
        auto parsed = FieldValue(rest.substr(value_start, i - value_start));
        if (!parsed.ok()) return fail(parsed.status().message());
        value = *parsed;
      }
      if (value.has_value()) {
        uint32_t series = 0;
        if (as_before) {
          series = info.order[field_index].second;
        } else {
          // A scan only over a few fields: a line of thousands must not cost their square.
          auto slot = info.order.size() > kScannedSeries
                          ? info.order.end()
                          : std::find_if(info.order.begin(), info.order.end(),
                                         [&](const auto& field) { return field.first == name; });
          if (slot != info.order.end()) {
            series = slot->second;
          } else {
            metric.assign(info.measurement);
            metric += '_';
            metric += Unescape(name);
            SanitizeInPlace(metric, true);
            // Two spellings of one series (escapes, sanitized names) share one entry.
            series = tag_sets[info.tag_set].SeriesNamed(metric, result.batch.series);
          }
          if (field_index >= info.order.size()) info.order.resize(field_index + 1);
          info.order[field_index] = {std::string(name), series};
        }
        pending.push_back({series, {0, *value}});
        ++field_index;
      } else {
        ++result.skipped_string_fields;
      }
      if (i >= n) break;
      if (p[i] == ' ') {
        timestamp = rest.substr(i + 1);
        break;
      }
      ++i;  // the comma
    }

    int64_t timestamp_ms = now_ms;
    while (!timestamp.empty() && timestamp.back() == ' ') timestamp.remove_suffix(1);
    if (!timestamp.empty()) {
      int64_t t = 0;
      if (!ParseInteger(timestamp, &t))
        return fail("bad timestamp \"" + std::string(timestamp) + "\"");
      timestamp_ms = t / scale.divide * scale.multiply;
    }
    for (size_t s = line_start; s < pending.size(); ++s)
      pending[s].sample.timestamp_ms = timestamp_ms;
    if (result.lines == 0 && !pending.empty()) {
      // Room for the whole body at the first line's density (as many series, at most).
      const size_t samples = pending.size() * body_bytes / (line.size() + 1) + 16;
      pending.reserve(samples);
      result.batch.series.reserve(samples);
      // A tag set a line, at most.
      tag_sets_by_tags.Reserve(body_bytes / (line.size() + 1) + 16, tag_set_hash);
    }
    ++result.lines;
  }

  // Each series' samples in one allocation, in body order.
  std::vector<uint32_t> counts(result.batch.series.size());
  for (const PendingSample& s : pending) ++counts[s.series];
  for (size_t s = 0; s < counts.size(); ++s) result.batch.series[s].samples.reserve(counts[s]);
  for (const PendingSample& s : pending) result.batch.series[s.series].samples.push_back(s.sample);
  return result;
}

}  // namespace vigil::web

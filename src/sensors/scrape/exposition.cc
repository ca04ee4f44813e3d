#include "sensors/scrape/exposition.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/names.h"

namespace vigil::sensors::scrape {
namespace {

bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}

// A cursor over one line.
class Line {
 public:
  explicit Line(std::string_view text) : text_(text) {}
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void SkipSpaces() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  std::string_view Name() {
    const size_t start = pos_;
    if (!AtEnd() && IsNameStart(text_[pos_])) {
      ++pos_;
      while (!AtEnd() && IsNameChar(text_[pos_])) ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  std::string_view Token() {
    const size_t start = pos_;
    while (!AtEnd() && text_[pos_] != ' ' && text_[pos_] != '\t') ++pos_;
    return text_.substr(start, pos_ - start);
  }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  // A double-quoted label value with \\, \" and \n escapes.
  bool QuotedValue(std::string* out) {
    if (!Consume('"')) return false;
    out->clear();
    while (!AtEnd()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (AtEnd()) return false;
        const char e = text_[pos_++];
        if (e == 'n') {
          out->push_back('\n');
        } else if (e == '\\' || e == '"') {
          out->push_back(e);
        } else {
          return false;
        }
      } else {
        out->push_back(c);
      }
    }
    return false;
  }
  std::string_view Rest() const { return AtEnd() ? std::string_view() : text_.substr(pos_); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::optional<double> ParseValue(std::string_view v) {
  if (v == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (v == "+Inf" || v == "Inf") return std::numeric_limits<double>::infinity();
  if (v == "-Inf") return -std::numeric_limits<double>::infinity();
  if (!v.empty() && v[0] == '+') v.remove_prefix(1);
  double d = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) return std::nullopt;
  return d;
}

// HELP text with its escapes (\\, \n and, in OpenMetrics, \") undone; an unknown escape is
// kept as written, as Prometheus does.
std::string UnescapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char next = text[i + 1];
    if (next == '\\' || next == '"') {
      out += next;
      ++i;
    } else if (next == 'n') {
      out += '\n';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

Format FormatFromContentType(std::string_view content_type) {
  return content_type.rfind("application/openmetrics-text", 0) == 0 ? Format::kOpenMetrics
                                                                    : Format::kPrometheusText;
}

Status ParseExposition(std::string_view body, Format format, const ParseLimits& limits,
                       const std::function<void(ScrapedSample&&)>& on_sample,
                       std::map<std::string, Metadata>* metadata) {
  const bool open_metrics = format == Format::kOpenMetrics;
  size_t line_number = 0;
  size_t samples = 0;
  bool eof = false;
  std::vector<model::Label> pairs;
  std::string value_text;
  while (!body.empty()) {
    const size_t newline = body.find('\n');
    std::string_view text = body.substr(0, newline);
    body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
    ++line_number;
    auto fail = [&](const std::string& why) {
      return InvalidArgumentError("line " + std::to_string(line_number) + ": " + why);
    };
    if (eof) {
      if (text.empty() && body.empty()) break;  // the newline after # EOF
      return fail("content after # EOF");
    }
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.empty()) {
      if (open_metrics) return fail("empty line");
      continue;
    }
    Line line(text);
    if (text[0] == '#') {
      line.Consume('#');
      line.SkipSpaces();
      const std::string_view keyword = line.Token();
      if (keyword == "EOF" && open_metrics) {
        eof = true;
        continue;
      }
      if (keyword != "HELP" && keyword != "TYPE" && keyword != "UNIT") {
        if (open_metrics) return fail("unknown comment \"# " + std::string(keyword) + "\"");
        continue;  // a plain comment in 0.0.4
      }
      line.SkipSpaces();
      const std::string_view name = line.Name();
      if (name.empty()) return fail("# " + std::string(keyword) + " without a metric name");
      line.SkipSpaces();
      std::string_view rest = line.Rest();
      if (keyword == "TYPE") {
        static const char* kTypes[] = {"counter", "gauge", "histogram", "summary",       "untyped",
                                       "unknown", "info",  "stateset",  "gaugehistogram"};
        bool known = false;
        for (const char* t : kTypes) known = known || rest == t;
        if (!known) return fail("unknown metric type \"" + std::string(rest) + "\"");
      }
      if (metadata) {
        Metadata& m = (*metadata)[std::string(name)];
        // Prometheus's words: 0.0.4's "untyped" is its "unknown".
        if (keyword == "TYPE") m.type = rest == "untyped" ? "unknown" : std::string(rest);
        if (keyword == "HELP") m.help = UnescapeHelp(rest);
        if (keyword == "UNIT") m.unit = std::string(rest);
      }
      continue;
    }
    // name{labels} value [timestamp] [# exemplar]
    const std::string_view name = line.Name();
    if (name.empty()) return fail("expected a metric name");
    pairs.clear();
    pairs.push_back({std::string(model::kMetricNameLabel), std::string(name)});
    if (line.Consume('{')) {
      while (true) {
        line.SkipSpaces();
        if (line.Consume('}')) break;
        const std::string_view label = line.Name();
        if (label.empty()) return fail("expected a label name");
        line.SkipSpaces();
        if (!line.Consume('=')) return fail("expected = after label " + std::string(label));
        line.SkipSpaces();
        if (!line.QuotedValue(&value_text))
          return fail("bad quoted value of label " + std::string(label));
        pairs.push_back({std::string(label), value_text});
        line.SkipSpaces();
        if (line.Consume(',')) continue;
        if (line.Consume('}')) break;
        return fail("expected , or } in the labels");
      }
    }
    if (line.Peek() != ' ' && line.Peek() != '\t') return fail("expected a space before the value");
    line.SkipSpaces();
    const std::string_view value_token = line.Token();
    auto value = ParseValue(value_token);
    if (!value) return fail("bad value \"" + std::string(value_token) + "\"");
    ScrapedSample sample;
    sample.value = *value;
    line.SkipSpaces();
    if (!line.AtEnd() && line.Peek() != '#') {
      const std::string_view ts = line.Token();
      if (open_metrics) {
        auto seconds = ParseValue(ts);
        if (!seconds || !std::isfinite(*seconds))
          return fail("bad timestamp \"" + std::string(ts) + "\"");
        sample.timestamp_ms = static_cast<int64_t>(std::llround(*seconds * 1000));
      } else {
        int64_t ms = 0;
        auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), ms);
        if (ec != std::errc() || end != ts.data() + ts.size()) {
          return fail("bad timestamp \"" + std::string(ts) + "\"");
        }
        sample.timestamp_ms = ms;
      }
      line.SkipSpaces();
    }
    if (!line.AtEnd() && !(open_metrics && line.Peek() == '#')) {
      return fail("unexpected \"" + std::string(line.Rest()) + "\" after the value");
    }
    auto labels = model::Labels::FromPairs(std::move(pairs));
    pairs = {};
    if (!labels.ok()) return fail(labels.status().message());
    sample.labels = *std::move(labels);
    if (limits.max_samples > 0 && ++samples > limits.max_samples) {
      return ResourceExhaustedError("more than " + std::to_string(limits.max_samples) +
                                    " samples (the sample limit)");
    }
    on_sample(std::move(sample));
  }
  if (open_metrics && !eof)
    return InvalidArgumentError("line " + std::to_string(line_number) + ": missing # EOF");
  return OkStatus();
}

}  // namespace vigil::sensors::scrape

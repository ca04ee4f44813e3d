// Table tests in the format of Prometheus's own PromQL test files (promql/promqltest):
// `load <interval>` blocks of series in expanding notation (`0+10x5`, `_`, `stale`) and
// `eval instant at <time> <query>` / `eval range from <t> to <t> step <d> <query>` /
// `eval_fail …` blocks with the expected results. The cases in testdata/*.test are ours,
// written for vigil's engine after reading Prometheus's; each runs against a MemoryStore.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "model/batch.h"
#include "model/selector.h"
#include "query/engine.h"
#include "query/parser.h"
#include "store/memory_store.h"

namespace vigil::query {
namespace {

using model::Labels;

std::string Trim(std::string s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// "5m" or "300" (seconds) to milliseconds.
int64_t DurationMs(const std::string& text) {
  auto ms = model::ParseDurationMs(text);
  if (ms.ok()) return *ms;
  return static_cast<int64_t>(std::stod(text) * 1000);
}

double ParseNumber(const std::string& text) {
  if (text == "Inf" || text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  return std::stod(text);
}

// `metric{a="b"}` (or `{a="b"}`, or nothing for a scalar) and the rest of the line.
std::pair<Labels, std::string> SplitSeries(const std::string& line) {
  size_t end = 0;
  if (line[0] != '{') {
    while (end < line.size() && line[end] != '{' && line[end] != ' ' && line[end] != '\t') ++end;
  }
  std::string metric = line.substr(0, end);
  std::vector<model::Label> pairs;
  if (!metric.empty()) pairs.push_back({"__name__", metric});
  if (end < line.size() && line[end] == '{') {
    const size_t close = line.find('}', end);
    std::string inside = line.substr(end + 1, close - end - 1);
    std::stringstream in(inside);
    std::string pair;
    while (std::getline(in, pair, ',')) {
      pair = Trim(pair);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      std::string value = Trim(pair.substr(eq + 1));
      pairs.push_back({Trim(pair.substr(0, eq)), value.substr(1, value.size() - 2)});
    }
    end = close + 1;
  }
  auto labels = Labels::FromPairs(std::move(pairs));
  EXPECT_TRUE(labels.ok()) << line;
  return {labels.ok() ? *labels : Labels(), Trim(line.substr(end))};
}

// Prometheus's expanding notation: `1 2 _ 3`, `0+10x3` (0 10 20 30), `5-1x2`, `_x3`,
// `stale`; nullopt for a missing value.
std::vector<std::optional<double>> ExpandValues(const std::string& text) {
  std::vector<std::optional<double>> out;
  std::stringstream in(text);
  std::string item;
  while (in >> item) {
    if (item == "_") {
      out.push_back(std::nullopt);
    } else if (item == "stale") {
      double stale;
      const uint64_t bits = model::kStaleNaNBits;
      std::memcpy(&stale, &bits, sizeof stale);
      out.push_back(stale);
    } else if (const size_t x = item.find('x');
               x != std::string::npos && item.rfind("0x", 0) != 0) {
      const int times = std::stoi(item.substr(x + 1));
      const std::string base = item.substr(0, x);
      if (base == "_") {
        for (int i = 0; i < times; ++i) out.push_back(std::nullopt);
        continue;
      }
      size_t sign = base.find_first_of("+-", 1);
      const double start = ParseNumber(base.substr(0, sign));
      const double delta = sign == std::string::npos ? 0 : ParseNumber(base.substr(sign));
      for (int i = 0; i <= times; ++i) out.push_back(start + delta * i);
    } else {
      out.push_back(ParseNumber(item));
    }
  }
  return out;
}

bool AlmostEqual(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  return std::fabs(a - b) <= 1e-6 * std::max(std::fabs(a), std::fabs(b));
}

struct Expected {
  Labels labels;
  std::vector<std::optional<double>> values;
};

class TestFile {
 public:
  explicit TestFile(std::string path) : path_(std::move(path)) {}

  void Run() {
    std::ifstream in(path_);
    ASSERT_TRUE(in) << path_;
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    for (size_t i = 0; i < lines.size();) {
      const std::string line = Trim(lines[i]);
      if (line.empty() || line[0] == '#') {
        ++i;
        continue;
      }
      // The block: this command and the indented lines after it.
      std::vector<std::string> body;
      const size_t at = i++;
      while (i < lines.size() && !lines[i].empty() && (lines[i][0] == ' ' || lines[i][0] == '\t')) {
        if (!Trim(lines[i]).empty() && Trim(lines[i])[0] != '#') body.push_back(Trim(lines[i]));
        ++i;
      }
      const std::string where = path_ + ":" + std::to_string(at + 1);
      if (line.rfind("load ", 0) == 0) {
        Load(DurationMs(Trim(line.substr(5))), body);
      } else if (line.rfind("clear", 0) == 0) {
        store_ = std::make_unique<store::MemoryStore>();
      } else if (line.rfind("eval", 0) == 0) {
        Eval(line, body, where);
      } else {
        ADD_FAILURE() << where << ": unknown command " << line;
      }
    }
  }

 private:
  void Load(int64_t interval, const std::vector<std::string>& body) {
    model::Batch batch;
    for (const std::string& line : body) {
      auto [labels, rest] = SplitSeries(line);
      model::Series series{labels, {}};
      auto values = ExpandValues(rest);
      for (size_t i = 0; i < values.size(); ++i) {
        if (values[i]) series.samples.push_back({static_cast<int64_t>(i) * interval, *values[i]});
      }
      batch.series.push_back(std::move(series));
    }
    ASSERT_TRUE(store_->Append(batch).ok());
  }

  void Eval(const std::string& line, const std::vector<std::string>& body,
            const std::string& where) {
    std::stringstream in(line);
    std::string command, kind;
    in >> command >> kind;
    const bool expect_fail = command == "eval_fail";
    const bool ordered = command == "eval_ordered";
    Engine engine(*store_);
    Result<QueryResult> result = InvalidArgumentError("not run");
    std::string query;
    if (kind == "instant") {
      std::string at_word, at;
      in >> at_word >> at;
      std::getline(in, query);
      query = Trim(query);
      result = engine.Instant(query, DurationMs(at));
    } else {
      std::string from_word, from, to_word, to, step_word, step;
      in >> from_word >> from >> to_word >> to >> step_word >> step;
      std::getline(in, query);
      query = Trim(query);
      result = engine.Range(query, DurationMs(from), DurationMs(to), DurationMs(step));
    }
    SCOPED_TRACE(where + ": " + query);
    if (expect_fail) {
      EXPECT_FALSE(result.ok()) << "expected an error";
      if (!result.ok() && !body.empty() && body[0].rfind("expected_fail_message ", 0) == 0) {
        EXPECT_EQ(result.status().message(), body[0].substr(22));
      }
      return;
    }
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    std::vector<Expected> expected;
    for (const std::string& l : body) {
      if (std::isdigit(static_cast<unsigned char>(l[0])) || l[0] == '-' || l == "NaN" ||
          l == "Inf" || l == "+Inf") {
        expected.push_back({Labels(), ExpandValues(l)});  // a scalar
      } else {
        auto [labels, rest] = SplitSeries(l);
        expected.push_back({labels, ExpandValues(rest)});
      }
    }
    if (result->type == ValueType::kScalar) {
      ASSERT_EQ(expected.size(), 1u);
      ASSERT_FALSE(result->series.empty());
      EXPECT_TRUE(AlmostEqual(*expected[0].values[0], result->series[0].points[0].value))
          << "want " << *expected[0].values[0] << ", got " << result->series[0].points[0].value;
      return;
    }
    std::map<std::string, const SeriesResult*> got;
    for (const SeriesResult& s : result->series) got[s.labels.ToString()] = &s;
    std::string got_list;
    for (const auto& [name, s] : got) got_list += "\n  " + name;
    ASSERT_EQ(got.size(), expected.size()) << "got:" << got_list;
    for (size_t e = 0; e < expected.size(); ++e) {
      const std::string name = expected[e].labels.ToString();
      auto it = got.find(name);
      ASSERT_NE(it, got.end()) << "missing " << name << "; got:" << got_list;
      const SeriesResult& s = *it->second;
      if (ordered) {
        EXPECT_EQ(result->series[e].labels.ToString(), name) << "order";
      }
      if (kind == "instant") {
        ASSERT_EQ(s.points.size(), 1u) << name;
        EXPECT_TRUE(AlmostEqual(*expected[e].values[0], s.points[0].value))
            << name << ": want " << *expected[e].values[0] << ", got " << s.points[0].value;
        continue;
      }
      // A range result: the expected values per step, `_` where there is no point.
      std::string want, have;
      for (const auto& v : expected[e].values) want += v ? std::to_string(*v) + " " : "_ ";
      std::vector<std::optional<double>> per_step;
      std::stringstream header(line);
      std::string skip, from, to, step;
      header >> skip >> skip >> skip >> from >> skip >> to >> skip >> step;
      for (int64_t t = DurationMs(from); t <= DurationMs(to); t += DurationMs(step)) {
        std::optional<double> v;
        for (const auto& p : s.points) {
          if (p.timestamp_ms == t) v = p.value;
        }
        per_step.push_back(v);
      }
      for (const auto& v : per_step) have += v ? std::to_string(*v) + " " : "_ ";
      bool same = per_step.size() == expected[e].values.size();
      for (size_t i = 0; same && i < per_step.size(); ++i) {
        same = per_step[i].has_value() == expected[e].values[i].has_value() &&
               (!per_step[i] || AlmostEqual(*per_step[i], *expected[e].values[i]));
      }
      EXPECT_TRUE(same) << name << "\n  want " << want << "\n  got  " << have;
    }
  }

  std::string path_;
  std::unique_ptr<store::MemoryStore> store_ = std::make_unique<store::MemoryStore>();
};

TEST(PromqlTestFiles, EveryCaseAnswersAsPrometheus) {
  const std::filesystem::path dir = std::filesystem::path(VIGIL_QUERY_TESTDATA);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".test") continue;
    SCOPED_TRACE(entry.path().filename().string());
    TestFile(entry.path().string()).Run();
    ++files;
  }
  EXPECT_GT(files, 0);
}

}  // namespace
}  // namespace vigil::query

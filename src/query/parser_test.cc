#include "query/parser.h"

#include <gtest/gtest.h>

#include <string>

#include "query/printer.h"

namespace vigil::query {
namespace {

std::string ErrorOf(std::string_view text) {
  auto node = Parse(text);
  return node.ok() ? "" : node.status().message();
}

std::unique_ptr<Node> Parsed(std::string_view text) {
  auto node = Parse(text);
  EXPECT_TRUE(node.ok()) << text << ": " << node.status().ToString();
  return node.ok() ? *std::move(node) : nullptr;
}

TEST(Parser, SelectorsWithAllFourMatchers) {
  auto node = Parsed(R"(boiler_pressure_out{agent="a", unit!="bar", server=~"s.*", site!~'x|y',})");
  ASSERT_TRUE(node);
  EXPECT_EQ(node->kind, NodeKind::kVectorSelector);
  ASSERT_EQ(node->matchers.size(), 5u);
  EXPECT_EQ(node->matchers[0].ToString(), R"(__name__="boiler_pressure_out")");
  EXPECT_EQ(node->matchers[3].type(), model::MatchType::kRegexMatch);
  auto braces_only = Parsed(R"({__name__=~"node_.*"}[5m])");
  ASSERT_TRUE(braces_only);
  EXPECT_EQ(braces_only->kind, NodeKind::kMatrixSelector);
  EXPECT_EQ(braces_only->range_ms, 300'000);
  auto quoted_name = Parsed(R"({"up", job="x"})");
  ASSERT_TRUE(quoted_name);
  EXPECT_EQ(quoted_name->matchers[0].ToString(), R"(__name__="up")");
}

TEST(Parser, PrecedenceAndAssociativityAsPrometheus) {
  // ^ is right-associative and binds tighter than unary minus; the rest are left-associative.
  auto power = Parsed("2 ^ 3 ^ 2");
  ASSERT_TRUE(power);
  EXPECT_EQ(power->args[1]->kind, NodeKind::kBinary);  // 2 ^ (3 ^ 2)
  auto minus = Parsed("a - b - c");
  ASSERT_TRUE(minus);
  EXPECT_EQ(minus->args[0]->kind, NodeKind::kBinary);  // (a - b) - c
  auto unary = Parsed("-a ^ 2");
  ASSERT_TRUE(unary);
  EXPECT_EQ(unary->kind, NodeKind::kUnary);  // -(a ^ 2)
  auto unary_times = Parsed("-a * 2");
  ASSERT_TRUE(unary_times);
  EXPECT_EQ(unary_times->kind, NodeKind::kBinary);  // (-a) * 2
  EXPECT_EQ(unary_times->args[0]->kind, NodeKind::kUnary);
  auto sets = Parsed("a or b and c unless d");
  ASSERT_TRUE(sets);
  EXPECT_EQ(sets->text, "or");  // a or ((b and c) unless d)
  EXPECT_EQ(sets->args[1]->text, "unless");
  auto comparison = Parsed("a + b > c * d");
  ASSERT_TRUE(comparison);
  EXPECT_EQ(comparison->text, ">");
  EXPECT_EQ(Parsed("-1")->number, -1);  // folded into the literal
}

TEST(Parser, ModifiersMatchingAndSubqueries) {
  auto matched = Parsed("a / on(job, instance) group_left(version) b");
  ASSERT_TRUE(matched);
  ASSERT_TRUE(matched->matching.has_value());
  EXPECT_TRUE(matched->matching->on);
  EXPECT_EQ(matched->matching->card, Cardinality::kManyToOne);
  EXPECT_EQ(matched->matching->include, std::vector<std::string>{"version"});
  auto set = Parsed("a and ignoring(x) b");
  EXPECT_EQ(set->matching->card, Cardinality::kManyToMany);
  auto offset = Parsed("rate(x[5m] offset -1h @ 1700000000)");
  ASSERT_TRUE(offset);
  const Node& m = *offset->args[0];
  EXPECT_EQ(m.offset_ms, -3'600'000);
  EXPECT_EQ(m.at, AtModifier::kTimestamp);
  EXPECT_EQ(m.at_ms, 1'700'000'000'000);
  auto subquery = Parsed("max_over_time(rate(x[1m])[1h:5m] @ end())");
  ASSERT_TRUE(subquery);
  EXPECT_EQ(subquery->args[0]->kind, NodeKind::kSubquery);
  EXPECT_EQ(subquery->args[0]->step_ms, 300'000);
  EXPECT_EQ(subquery->args[0]->at, AtModifier::kEnd);
  auto aggregation = Parsed("topk by (job) (3, x)");
  ASSERT_TRUE(aggregation);
  EXPECT_EQ(aggregation->AggregateParameter()->number, 3);
  EXPECT_EQ(Parsed("sum(x) without (a,)")->grouping, std::vector<std::string>{"a"});
  EXPECT_EQ(Parsed("0x3d")->number, 61);
  EXPECT_EQ(Parsed("1h")->number, 3600);  // a duration is a number of seconds (Prometheus 3)
}

TEST(Parser, TypeErrorsAsPrometheusWordsThem) {
  EXPECT_EQ(ErrorOf("rate(x)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got "
            "instant vector");
  EXPECT_EQ(ErrorOf("1 > 2"),
            "1:3: parse error: comparisons between scalars must use BOOL modifier");
  EXPECT_EQ(ErrorOf("x + on(a) 1"),
            "1:3: parse error: vector matching only allowed between instant vectors");
  EXPECT_EQ(ErrorOf("x and 1"),
            "1:3: parse error: set operator \"and\" not allowed in binary scalar expression");
  EXPECT_EQ(ErrorOf("x + bool y"),
            "1:5: parse error: bool modifier can only be used on comparison operators");
  EXPECT_EQ(ErrorOf("sum(x[5m])"),
            "1:5: parse error: expected type instant vector in aggregation expression, got range "
            "vector");
  EXPECT_EQ(ErrorOf("label_replace(x)"),
            "1:1: parse error: expected 5 argument(s) in call to \"label_replace\", got 1");
  EXPECT_EQ(ErrorOf("foo(x)"), "1:1: parse error: unknown function with name \"foo\"");
  EXPECT_EQ(ErrorOf("sum(x) offset 5m"),
            "1:8: parse error: offset modifier must be preceded by an instant vector selector or "
            "range vector selector or a subquery");
  EXPECT_EQ(ErrorOf("(x)[5m]"), "1:4: parse error: ranges only allowed for vector selectors");
  EXPECT_EQ(ErrorOf("x[5m] offset 1m offset 1m"),
            "1:17: parse error: offset may not be set multiple times");
  EXPECT_EQ(ErrorOf("-x[5m]"),
            "1:1: parse error: unary expression only allowed on expressions of type scalar or "
            "instant vector, got \"range vector\"");
  EXPECT_EQ(ErrorOf("foo{__name__=\"bar\"}"),
            "1:5: parse error: metric name must not be set twice: \"foo\" or \"bar\"");
}

TEST(Parser, MalformedQueriesSayWhere) {
  EXPECT_EQ(ErrorOf("x{a=\"b\""),
            "1:8: parse error: unexpected end of input in label matching, expected \",\" or \"}\"");
  EXPECT_EQ(ErrorOf("{a=~\".*\"}"),
            "1:1: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(ErrorOf("x{a=\"unterminated}"), "1:5: parse error: unterminated quoted string");
  EXPECT_EQ(ErrorOf("1 +"), "1:4: parse error: unexpected end of input");
  EXPECT_EQ(ErrorOf("x $"), "1:3: parse error: unexpected character: '$'");
  EXPECT_EQ(ErrorOf("x\n  + )"), "2:5: parse error: unexpected right parenthesis \")\"");
  EXPECT_FALSE(ErrorOf("x[5x]").empty());
  EXPECT_FALSE(ErrorOf("").empty());
}

// A crafted query must never exhaust the stack: deep nesting is refused, long operator
// chains are read (and evaluated) without recursion. The shapes of issue #26.
TEST(Parser, HostileNestingIsRefusedAndLongChainsAreRead) {
  auto repeat = [](std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  EXPECT_EQ(ErrorOf(repeat("(", 10000) + "1" + repeat(")", 10000)),
            "1:201: parse error: expression nested more than 200 levels deep");
  EXPECT_FALSE(ErrorOf(repeat("sum(", 6000) + "x" + repeat(")", 6000)).empty());
  EXPECT_FALSE(ErrorOf(repeat("abs(", 6000) + "x" + repeat(")", 6000)).empty());
  auto negated = Parse(repeat("-", 30000) + "1");
  ASSERT_TRUE(negated.ok());
  EXPECT_EQ((*negated)->number, 1);
  EXPECT_TRUE(Parse(repeat("-", 30000) + "x").ok());
  EXPECT_TRUE(Parse("1" + repeat("+1", 20000)).ok());
  EXPECT_TRUE(Parse("2" + repeat("^2", 20000)).ok());
  EXPECT_TRUE(Parse(repeat("(", 150) + "1" + repeat(")", 150)).ok());
}

// Format writes Prometheus's canonical text, and that text parses to the same tree.
TEST(Printer, CanonicalTextThatParsesBack) {
  const std::pair<const char*, const char*> cases[] = {
      {"x", "x"},
      {"x{b='1', a=~\"2\"}", "x{a=~\"2\",b=\"1\"}"},
      {"rate(x[5m] offset -90s @ 100)", "rate(x[5m] @ 100.000 offset -1m30s)"},
      {"sum(x) by (a,b)", "sum by (a, b) (x)"},
      {"topk without () (3, x)", "topk without () (3, x)"},
      {"a + on(b) group_left(c) d", "a + on (b) group_left (c) d"},
      {"a > bool ignoring(x) b", "a > bool ignoring (x) b"},
      {"a and b", "a and b"},
      {"-(x)^2", "-(x) ^ 2"},
      {"max_over_time(deriv(x[1h])[1d:5m] @ start())",
       "max_over_time(deriv(x[1h])[1d:5m] @ start())"},
      {"label_replace(x, 'a', \"$1\", 'b', '(.*)')",
       "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")"},
      {"1.5e3 + Inf", "1500 + +Inf"},
  };
  for (const auto& [text, want] : cases) {
    auto node = Parse(text);
    ASSERT_TRUE(node.ok()) << text << ": " << node.status().ToString();
    EXPECT_EQ(Format(**node), want) << text;
    auto again = Parse(Format(**node));
    ASSERT_TRUE(again.ok()) << want;
    EXPECT_EQ(Format(**again), want);
  }
  EXPECT_EQ(FormatDuration(90 * 86'400'000LL), "90d");
  EXPECT_EQ(FormatDuration(14 * 86'400'000LL), "2w");
  EXPECT_EQ(FormatDuration(3'661'500), "1h1m1s500ms");
  std::string chain = "1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  EXPECT_EQ(Format(**Parse(chain)), chain);  // no recursion along the chain
}

}  // namespace
}  // namespace vigil::query

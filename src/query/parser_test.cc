#include "query/parser.h"

#include <gtest/gtest.h>

namespace vigil::query {
namespace {

std::string ErrorOf(std::string_view text) {
  auto node = Parse(text);
  return node.ok() ? "" : node.status().message();
}

TEST(Parser, SelectorsWithAllFourMatchers) {
  auto node = Parse(R"(boiler_pressure_out{agent="a", unit!="bar", server=~"s.*", site!~'x|y'})");
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ((*node)->kind, NodeKind::kVectorSelector);
  ASSERT_EQ((*node)->matchers.size(), 5u);
  EXPECT_EQ((*node)->matchers[0].ToString(), R"(__name__="boiler_pressure_out")");
  EXPECT_EQ((*node)->matchers[3].type(), model::MatchType::kRegexMatch);
  auto braces_only = Parse(R"({__name__=~"node_.*"}[5m])");
  ASSERT_TRUE(braces_only.ok());
  EXPECT_EQ((*braces_only)->kind, NodeKind::kMatrixSelector);
  EXPECT_EQ((*braces_only)->range_ms, 300'000);
}

TEST(Parser, FunctionsAggregationsAndArithmetic) {
  auto node = Parse("sum by (agent) (rate(x_total[1m])) * 60 > 2");
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ((*node)->kind, NodeKind::kBinary);
  EXPECT_EQ((*node)->name, ">");
  const Node& product = *(*node)->args[0];
  EXPECT_EQ(product.name, "*");
  const Node& sum = *product.args[0];
  EXPECT_EQ(sum.kind, NodeKind::kAggregate);
  EXPECT_EQ(sum.grouping, std::vector<std::string>{"agent"});
  EXPECT_EQ(sum.args[0]->name, "rate");
  auto trailing = Parse("max(x) without (server, unit)");
  ASSERT_TRUE(trailing.ok());
  EXPECT_TRUE((*trailing)->without);
  auto power = Parse("-2 ^ 2");
  ASSERT_TRUE(power.ok());
  EXPECT_EQ((*power)->kind, NodeKind::kBinary);  // -(2^2), as PromQL
}

TEST(Parser, UnsupportedConstructsAreNamed) {
  EXPECT_EQ(ErrorOf("x offset 5m"), "unsupported: offset modifier");
  EXPECT_EQ(ErrorOf("x @ 100"), "unsupported: @ modifier");
  EXPECT_EQ(ErrorOf("histogram_quantile(0.9, x)"), "unsupported: function histogram_quantile()");
  EXPECT_EQ(ErrorOf("topk(3, x)"), "unsupported: aggregation topk");
  EXPECT_EQ(ErrorOf("rate(x[5m:1m])"), "unsupported: subquery");
  EXPECT_EQ(ErrorOf("a + on(job) b"), "unsupported: vector matching (on)");
  EXPECT_EQ(ErrorOf("\"text\""), "unsupported: string literal");
}

TEST(Parser, MalformedQueriesSayWhere) {
  EXPECT_EQ(ErrorOf("x{a=\"b\""),
            "parse error at char 8: expected \",\" or \"}\", found end of input");
  EXPECT_EQ(ErrorOf("rate(x)"),
            "parse error at char 1: rate() expects a range vector such as x[5m]");
  EXPECT_EQ(ErrorOf("{a=~\".*\"}"),
            "parse error at char 10: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(ErrorOf("x{a=\"unterminated}"), "parse error at char 5: unterminated string");
  EXPECT_EQ(ErrorOf("1 +"), "parse error at char 4: unexpected end of input");
  EXPECT_EQ(ErrorOf("x $"), "parse error at char 3: unexpected character \"$\"");
  EXPECT_FALSE(ErrorOf("x[5x]").empty());
  EXPECT_FALSE(ErrorOf("").empty());
}

}  // namespace
}  // namespace vigil::query

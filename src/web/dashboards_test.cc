#include "web/dashboards.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace vigil::web {
namespace {

nlohmann::json Find(const nlohmann::json& list, const std::string& name) {
  for (const auto& listed : list) {
    if (listed["name"] == name) return listed;
  }
  return nullptr;
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Dashboards, TheBuiltInOnesAreValidDefinitionsWithTheOverviewFirst) {
  nlohmann::json list = ListDashboards("");
  ASSERT_GE(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "overview");
  for (const auto& listed : list) {
    EXPECT_EQ(listed["source"], "built-in");
    ASSERT_TRUE(listed.contains("definition")) << listed.dump();
    EXPECT_EQ(DashboardDefinitionError(listed["definition"]), "") << listed["name"];
  }
}

TEST(Dashboards, AUsersFileAddsADashboardOrReplacesABuiltInOne) {
  testing::TempDir dir;
  Write(dir.path() + "/pumps.json",
        R"({"title": "Pumps", "rows": [{"title": "Flow", "panels": [
             {"type": "chart", "unit": "bytes", "queries": [{"expr": "pump_flow"}]}]}]})");
  Write(dir.path() + "/vigil.json", R"({"title": "Mine", "rows": []})");
  Write(dir.path() + "/notes.txt", "not a dashboard");
  nlohmann::json list = ListDashboards(dir.path());
  EXPECT_EQ(Find(list, "pumps")["definition"]["title"], "Pumps");
  EXPECT_EQ(Find(list, "pumps")["source"], dir.path() + "/pumps.json");
  EXPECT_EQ(Find(list, "vigil")["definition"]["title"], "Mine");
  EXPECT_TRUE(Find(list, "notes").is_null());
  EXPECT_EQ(list[0]["name"], "overview");
}

TEST(Dashboards, ABrokenFileIsListedWithWhereAndWhy) {
  testing::TempDir dir;
  Write(dir.path() + "/syntax.json", "{\"title\": \"x\",\n  \"rows\": [,]}");
  Write(dir.path() + "/typo.json",
        R"({"title": "x", "rows": [{"panels": [{"type": "gauge", "queries": []}]}]})");
  nlohmann::json list = ListDashboards(dir.path());
  const std::string syntax = Find(list, "syntax")["error"];
  EXPECT_EQ(syntax.rfind(dir.path() + "/syntax.json: not JSON: parse error at line 2, column ", 0),
            0u)
      << syntax;
  EXPECT_EQ(Find(list, "typo")["error"],
            dir.path() +
                "/typo.json: rows/0: panels/0: unknown type \"gauge\": use chart, stat, table, "
                "sensors, alerts or targets");
  EXPECT_FALSE(Find(list, "typo").contains("definition"));
}

TEST(Dashboards, DefinitionErrorsNameTheKeyThatIsWrong) {
  auto error = [](const char* text) {
    return DashboardDefinitionError(nlohmann::json::parse(text));
  };
  EXPECT_EQ(error(R"({"rows": []})"), "needs \"title\"");
  EXPECT_EQ(error(R"({"title": "x", "rows": [], "colour": 1})"), "unknown key \"colour\"");
  EXPECT_EQ(error(R"({"title": "x", "rows": [{"panels": [{"type": "chart"}]}]})"),
            "rows/0: panels/0: a chart needs \"queries\": [{\"expr\": \"…\"}, …]");
  EXPECT_EQ(error(R"({"title": "x", "rows": [{"panels": [{"type": "chart",
                      "queries": [{"expr": 1}]}]}]})"),
            "rows/0: panels/0: queries/0: \"expr\" must be a string");
  EXPECT_EQ(error(R"({"title": "x", "rows": [{"panels": [{"type": "table", "by": "t",
                      "columns": [{"title": "up"}]}]}]})"),
            "rows/0: panels/0: columns/0: needs \"expr\"");
  EXPECT_EQ(error(R"({"title": "x", "rows": [{"panels": [{"type": "stat", "rate": "yes",
                      "queries": [{"expr": "x"}]}]}]})"),
            "rows/0: panels/0: \"rate\" must be true or false");
}

}  // namespace
}  // namespace vigil::web

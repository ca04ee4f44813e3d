#include "rules/rule_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "testing/shell.h"
#include "testing/temp_dir.h"

namespace vigil::rules {
namespace {

using ::testing::HasSubstr;

const std::string kTestdata = std::string(VIGIL_SOURCE_DIR) + "/src/rules/testdata";

// Every file under testdata/good and testdata/bad, and the bundled pack (config/rules),
// checked by vigil and by Prometheus's promtool on the same machine: they must agree on which load,
// and each of vigil's errors carries the file, line and column.
TEST(RuleFileTest, AcceptsWhatPromtoolAcceptsAndRejectsWhatItRejects) {
  ASSERT_EQ(vigil::testing::RunShell("command -v promtool").exit_code, 0)
      << "promtool (Debian's prometheus package) is needed: scripts/install-deps";
  int files = 0;
  const std::string pack = std::string(VIGIL_SOURCE_DIR) + "/config/rules";
  for (const std::string folder : {"good", "bad", "pack"}) {
    const std::string dir = folder == "pack" ? pack : kTestdata + "/" + folder;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string path = entry.path().string();
      auto promtool = vigil::testing::RunShell("promtool check rules '" + path + "' 2>&1");
      LoadedRules ours = LoadRuleFiles({path}, "");
      EXPECT_EQ(ours.ok(), promtool.exit_code == 0)
          << path << "\npromtool: " << promtool.output
          << "\nvigil: " << (ours.errors.empty() ? "" : ours.errors[0]);
      EXPECT_EQ(ours.ok(), folder != "bad") << path;
      for (const auto& error : ours.errors)
        EXPECT_TRUE(std::regex_search(error, std::regex("^" + path + ":[0-9]+:[0-9]+: "))) << error;
      ++files;
    }
  }
  EXPECT_GE(files, 23);
}

TEST(RuleFileTest, ReadsGroupsAndRules) {
  LoadedRules loaded = LoadRuleFiles({"good/*.yml"}, kTestdata);
  ASSERT_TRUE(loaded.ok()) << loaded.errors[0];
  EXPECT_EQ(loaded.files.size(), 4u);
  ASSERT_EQ(loaded.groups.size(), 4u);
  EXPECT_EQ(loaded.groups[0].name, "nothing-yet");  // files in name order
  const GroupSpec& alerts = loaded.groups[2];
  EXPECT_EQ(alerts.name, "node-alerts");
  EXPECT_EQ(alerts.limit, 100);
  EXPECT_EQ(alerts.interval_ms, 0);
  ASSERT_EQ(alerts.rules.size(), 3u);
  const RuleSpec& fs = alerts.rules[0];
  EXPECT_EQ(fs.kind, RuleKind::kAlert);
  EXPECT_EQ(fs.name, "NodeFilesystemAlmostOutOfSpace");
  EXPECT_EQ(fs.for_ms, 30 * 60'000);
  EXPECT_EQ(fs.keep_firing_for_ms, 5 * 60'000);
  EXPECT_EQ(fs.labels.at("severity"), "warning");
  EXPECT_EQ(fs.line, 15);
  const GroupSpec& recording = loaded.groups[1];
  EXPECT_EQ(recording.interval_ms, 15'000);
  EXPECT_EQ(recording.rules[1].kind, RuleKind::kRecord);
  EXPECT_EQ(recording.rules[1].labels.at("source"), "rules");
}

TEST(RuleFileTest, EveryErrorInOnePassAtItsLine) {
  LoadedRules loaded = ParseRuleFile("r.yml", R"(groups:
- name: g
  interval: 1x
  rules:
  - alert: A
    expr: up ==
  - record: bad-name
    expr: up
    for: 1m
  - alert: B
    expr: up
    annotations:
      summary: "{{ humanise $value }}"
    severity: page
)");
  ASSERT_EQ(loaded.errors.size(), 6u) << ::testing::PrintToString(loaded.errors);
  EXPECT_THAT(loaded.errors[0], HasSubstr("r.yml:3:13: not a valid duration string: \"1x\""));
  EXPECT_THAT(loaded.errors,
              ::testing::Contains(HasSubstr("r.yml:14:5: field severity not found")));
  EXPECT_THAT(loaded.errors,
              ::testing::Contains(
                  HasSubstr("r.yml:6:11: group \"g\", rule 1, \"A\": could not parse expression")));
  EXPECT_THAT(loaded.errors,
              ::testing::Contains(
                  HasSubstr("r.yml:7:13: group \"g\", rule 2, \"bad-name\": invalid field 'for'")));
  EXPECT_THAT(loaded.errors,
              ::testing::Contains(HasSubstr("invalid recording rule name: bad-name")));
  EXPECT_THAT(
      loaded.errors,
      ::testing::Contains(HasSubstr(
          "annotation \"summary\": template: __alert_B: function \"humanise\" not defined")));
  EXPECT_TRUE(loaded.groups.empty());
}

TEST(RuleFileTest, MissingFilesAndEmptyGlobs) {
  vigil::testing::TempDir dir;
  LoadedRules none = LoadRuleFiles({"rules/*.yml"}, dir.path());
  EXPECT_TRUE(none.ok());
  EXPECT_TRUE(none.files.empty());
  LoadedRules missing = LoadRuleFiles({"rules/host.yml"}, dir.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.errors[0], HasSubstr("rules/host.yml: cannot read the rule file"));
}

}  // namespace
}  // namespace vigil::rules

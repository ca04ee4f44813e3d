#include "core/config.h"

#include <gtest/gtest.h>

namespace vigil::config {
namespace {

using std::chrono::milliseconds;

Schema TestSchema() {
  Schema schema;
  schema.sections.push_back(
      {"agent",
       "",
       {OptionSpec{"flush_interval", OptionType::kDuration, "", milliseconds(1000), 0.01, 60.0},
        OptionSpec{"max", OptionType::kInt, "", int64_t{10}, 1.0, 100.0},
        OptionSpec{"mode",
                   OptionType::kString,
                   "",
                   std::string("block"),
                   std::nullopt,
                   std::nullopt,
                   {"block", "reject"}},
        OptionSpec{"on", OptionType::kBool, "", true}}});
  SectionSpec sensors{"sensors",
                      "",
                      {OptionSpec{"name", OptionType::kString, "", std::nullopt},
                       OptionSpec{"type", OptionType::kString, "", std::string("walk")},
                       OptionSpec{"labels", OptionType::kLabels, "", LabelMap{}}},
                      true};
  sensors.extra_options = [](const OptionValues& common) -> Result<std::vector<OptionSpec>> {
    if (common.String("type") != "walk") return InvalidArgumentError("type: unknown sensor type");
    return std::vector<OptionSpec>{OptionSpec{"min", OptionType::kFloat, "", std::nullopt}};
  };
  schema.sections.push_back(std::move(sensors));
  return schema;
}

std::string ErrorOf(std::string_view text) {
  auto loaded = ParseConfig(text, "t.toml", TestSchema());
  Status status = loaded.ok() ? loaded->ToStatus() : loaded.status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  return status.message();
}

TEST(ParseConfig, EmptyFileGivesDefaults) {
  auto loaded = ParseConfig("", "t.toml", TestSchema());
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->sections.at("agent").Duration("flush_interval"), milliseconds(1000));
  EXPECT_EQ(loaded->sections.at("agent").String("mode"), "block");
  EXPECT_TRUE(loaded->repeated.at("sensors").empty());
}

TEST(ParseConfig, ReadsValuesAndTypeSpecificOptions) {
  auto loaded = ParseConfig(
      "[agent]\nflush_interval = \"250ms\"\nmax = 20\n\n"
      "[[sensors]]\nname = \"p\"\nmin = 3\nlabels = { unit = \"bar\" }\n",
      "t.toml", TestSchema());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->sections.at("agent").Duration("flush_interval"), milliseconds(250));
  EXPECT_EQ(loaded->sections.at("agent").Int("max"), 20);
  const auto& sensor = loaded->repeated.at("sensors").at(0);
  EXPECT_EQ(sensor.values.Float("min"), 3.0);  // an integer is a fine float
  EXPECT_EQ(sensor.values.Labels("labels").at("unit"), "bar");
  EXPECT_EQ(sensor.where, "t.toml:5:1");
}

TEST(ParseConfig, SyntaxErrorNamesFileLineAndColumn) {
  EXPECT_EQ(ErrorOf("[agent]\nmax = = 3\n").substr(0, 12), "t.toml:2:7: ");
}

TEST(ParseConfig, UnknownSectionAndKeyAreErrors) {
  EXPECT_EQ(ErrorOf("[zzz]\nmax = 3\n"), "t.toml:1:2: zzz: unknown section");
  EXPECT_EQ(ErrorOf("[agent]\nzzz = 3\n"), "t.toml:2:1: agent.zzz: unknown key");
}

TEST(ParseConfig, WrongTypeIsAnError) {
  EXPECT_EQ(ErrorOf("[agent]\nmax = \"3\"\n"),
            "t.toml:2:7: agent.max: expected an integer, got a string");
  EXPECT_EQ(ErrorOf("[agent]\non = 1\n"),
            "t.toml:2:6: agent.on: expected a boolean, got an integer");
  EXPECT_EQ(ErrorOf("agent = 3\n"), "t.toml:1:9: agent: expected a table ([agent])");
}

TEST(ParseConfig, OutOfRangeAndBadChoiceAreErrors) {
  EXPECT_EQ(ErrorOf("[agent]\nmax = 1000\n"),
            "t.toml:2:7: agent.max: must be at most 100, got 1000");
  EXPECT_EQ(ErrorOf("[agent]\nflush_interval = \"5ms\"\n"),
            "t.toml:2:18: agent.flush_interval: must be at least 0.01s, got 0.005s");
  EXPECT_EQ(ErrorOf("[agent]\nflush_interval = \"soon\"\n"),
            "t.toml:2:18: agent.flush_interval: invalid duration \"soon\" (expected e.g. 500ms, "
            "15s, 1m30s, 2h)");
  EXPECT_EQ(ErrorOf("[agent]\nmode = \"drop\"\n"),
            "t.toml:2:8: agent.mode: must be one of block, reject, got \"drop\"");
}

TEST(ParseConfig, InvalidLabelNameIsAnError) {
  EXPECT_EQ(ErrorOf("[[sensors]]\nname = \"p\"\nmin = 1\nlabels = { \"bad-name\" = \"x\" }\n"),
            "t.toml:4:12: sensors[0].labels.bad-name: invalid label name (must match "
            "[a-zA-Z_][a-zA-Z0-9_]* and not start with __)");
  EXPECT_EQ(ErrorOf("[[sensors]]\nname = \"p\"\nmin = 1\nlabels = { unit = 3 }\n"),
            "t.toml:4:19: sensors[0].labels.unit: expected a string, got an integer");
}

TEST(ParseConfig, MissingRequiredKeyIsAnError) {
  EXPECT_EQ(ErrorOf("[[sensors]]\nmin = 1\n"),
            "t.toml:1:1: sensors[0].name: required key is missing");
  EXPECT_EQ(ErrorOf("[[sensors]]\nname = \"p\"\n"),
            "t.toml:1:1: sensors[0].min: required key is missing");
}

TEST(ParseConfig, TypeSelectsOptionsAndUnknownTypeIsAnError) {
  EXPECT_EQ(ErrorOf("[[sensors]]\nname = \"p\"\ntype = \"nope\"\nzzz = 1\n"),
            "t.toml:3:8: sensors[0].type: unknown sensor type");
  EXPECT_EQ(ErrorOf("[[sensors]]\nname = \"p\"\nmin = 1\nmax = 2\n"),
            "t.toml:4:1: sensors[0].max: unknown key");
}

TEST(ParseConfig, EveryErrorIsReportedInFileOrder) {
  std::string message = ErrorOf("[agent]\nmax = 0\nmode = \"x\"\n[oops]\n");
  EXPECT_EQ(message,
            "t.toml:2:7: agent.max: must be at least 1, got 0\n"
            "t.toml:3:8: agent.mode: must be one of block, reject, got \"x\"\n"
            "t.toml:4:2: oops: unknown section");
}

TEST(ParseConfig, MisspeltKeysAndChoicesGetASuggestion) {
  EXPECT_EQ(ErrorOf("[agnet]\n[agent]\nmaxx = 1\nmode = \"blok\"\n[[sensors]]\nname = \"p\"\n"
                    "min = 1\nlables = {}\nzzz = 1\n"),
            "t.toml:1:2: agnet: unknown section; did you mean `agent`?\n"
            "t.toml:3:1: agent.maxx: unknown key; did you mean `max`?\n"
            "t.toml:4:8: agent.mode: must be one of block, reject, got \"blok\"; did you mean "
            "`block`?\n"
            "t.toml:8:1: sensors[0].lables: unknown key; did you mean `labels`?\n"
            "t.toml:9:1: sensors[0].zzz: unknown key");
}

TEST(ParseConfig, ProblemsFoundLaterAreReportedAtTheirKeyInFileOrder) {
  auto loaded =
      ParseConfig("[[sensors]]\nname = \"a\"\nmin = 1\nlabels = { x = \"1\" }\n[agent]\nmax = 0\n",
                  "t.toml", TestSchema());
  ASSERT_TRUE(loaded.ok());
  const ConfigEntry& entry = loaded->repeated.at("sensors").at(0);
  EXPECT_FALSE(entry.has_errors);
  OptionProblems problems;
  problems.Add("min", "must be below 0");
  problems.Add("nothere", "is reported at the table");
  loaded->AddProblems(entry, problems.ToStatus());
  loaded->AddProblems(entry, InvalidArgumentError("no key named"));
  loaded->AddError("agent", "on", "an absent key is reported without a line");
  EXPECT_EQ(loaded->ToStatus().message(),
            "t.toml: agent.on: an absent key is reported without a line\n"
            "t.toml:1:1: sensors[0]: nothere: is reported at the table\n"
            "t.toml:1:1: sensors[0]: no key named\n"
            "t.toml:3:7: sensors[0].min: must be below 0\n"
            "t.toml:6:7: agent.max: must be at least 1, got 0");
}

TEST(ParseConfig, AnEntryWithAWrongValueIsMarkedAndAnUnknownKeyIsNot) {
  auto loaded = ParseConfig(
      "[[sensors]]\nname = \"a\"\nmin = \"x\"\n[[sensors]]\nname = \"b\"\nmin = 1\n"
      "extra = 2\n",
      "t.toml", TestSchema());
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->repeated.at("sensors").at(0).has_errors);
  EXPECT_FALSE(loaded->repeated.at("sensors").at(1).has_errors);
  EXPECT_EQ(loaded->errors.size(), 2u);
}

TEST(ParseConfig, AYamlFileIsToldApartFromATomlSyntaxError) {
  auto yaml = ParseConfig("global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: x\n",
                          "prometheus.yml", TestSchema());
  ASSERT_FALSE(yaml.ok());
  EXPECT_NE(yaml.status().message().find("prometheus.yml:1:1: this looks like YAML"),
            std::string::npos)
      << yaml.status().message();
  auto toml = ParseConfig("[agent]\nmax = 1\nmode: 2\n", "t.toml", TestSchema());
  ASSERT_FALSE(toml.ok());
  EXPECT_EQ(toml.status().message().find("YAML"), std::string::npos) << toml.status().message();
  EXPECT_EQ(toml.status().message().rfind("t.toml:3:5: ", 0), 0u) << toml.status().message();
}

TEST(LoadConfigFile, MissingFileIsNotFound) {
  EXPECT_EQ(LoadConfigFile("/nonexistent/vigil.toml", TestSchema()).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil::config

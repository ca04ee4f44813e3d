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
    if (common.String("type") != "walk") return InvalidArgumentError("unknown sensor type");
    return std::vector<OptionSpec>{OptionSpec{"min", OptionType::kFloat, "", std::nullopt}};
  };
  schema.sections.push_back(std::move(sensors));
  return schema;
}

std::string ErrorOf(std::string_view text) {
  auto loaded = ParseConfig(text, "t.toml", TestSchema());
  EXPECT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  return loaded.status().message();
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
  EXPECT_EQ(ErrorOf("[agnet]\nmax = 3\n"), "t.toml:1:2: agnet: unknown section");
  EXPECT_EQ(ErrorOf("[agent]\nmaxx = 3\n"), "t.toml:2:1: agent.maxx: unknown key");
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
  EXPECT_EQ(ErrorOf("[[sensors]]\nname = \"p\"\ntype = \"nope\"\n"),
            "t.toml:1:1: sensors[0]: unknown sensor type");
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

TEST(LoadConfigFile, MissingFileIsNotFound) {
  EXPECT_EQ(LoadConfigFile("/nonexistent/vigil.toml", TestSchema()).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil::config

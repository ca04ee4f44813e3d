#include "roles/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "pipeline/stage_types.h"
#include "roles/parts.h"
#include "sensors/registry.h"

namespace vigil::roles {
namespace {

std::string ReadSourceFile(const std::string& relative) {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/" + relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Both bundled configs run every kind of sensor a newcomer should see: the host, a probe
// of the dashboard, the simulated plant and vigil's own metrics.
TEST(VigilConfig, BundledConfigsAreValidAndRunEveryKindOfSensor) {
  for (const char* file : {"/config/vigil.toml", "/config/agent.toml"}) {
    auto config = LoadVigilConfig(std::string(VIGIL_SOURCE_DIR) + file);
    ASSERT_TRUE(config.ok()) << file << ": " << config.status().ToString();
    std::map<std::string, const sensors::SensorSpec*> by_name;
    std::set<std::string> types;
    for (const auto& spec : config->sensors) {
      by_name[spec.name] = &spec;
      types.insert(spec.type);
    }
    EXPECT_EQ(types, (std::set<std::string>{"simulated", "proc", "http", "self"})) << file;
    ASSERT_EQ(by_name.count("boiler_pressure_out"), 1u) << file;
    EXPECT_EQ(by_name["boiler_pressure_out"]->options.Float("min"), 15.0);
    EXPECT_EQ(by_name["boiler_pressure_out"]->options.Float("max"), 15.5);
    EXPECT_TRUE(ValidateVigilConfig(*config).ok()) << file;
  }
}

// The distributed roles' own configs validate and run no sensors; the coordinator's runs a
// pipeline and no alert rules (they are the ruler's).
TEST(VigilConfig, RoleConfigsValidateAndRunNoSensors) {
  for (const char* file :
       {"/config/coordinator.toml", "/config/datamanager.toml", "/config/web.toml"}) {
    auto config = LoadVigilConfig(std::string(VIGIL_SOURCE_DIR) + file);
    ASSERT_TRUE(config.ok()) << file << ": " << config.status().ToString();
    EXPECT_TRUE(config->sensors.empty()) << file;
    EXPECT_TRUE(ValidateVigilConfig(*config).ok()) << file;
  }
  auto coordinator = LoadVigilConfig(std::string(VIGIL_SOURCE_DIR) + "/config/coordinator.toml");
  ASSERT_TRUE(coordinator.ok());
  EXPECT_TRUE(coordinator->alerts.empty());
  EXPECT_FALSE(BuildPipelineStages(*coordinator)->empty());
  EXPECT_FALSE(
      LoadVigilConfig(std::string(VIGIL_SOURCE_DIR) + "/config/datamanager.toml")->sink.enabled);
}

// One row of a key table in the docs: | `key` | type | default | meaning |
struct DocumentedKey {
  std::string type;
  std::string default_value;
};

// The key tables of a doc, by heading ("[agent]", "[[sensors]]", "`filter`").
std::map<std::string, std::map<std::string, DocumentedKey>> DocumentedKeys(
    const std::string& docs) {
  std::map<std::string, std::map<std::string, DocumentedKey>> keys;
  std::istringstream in(docs);
  std::string line, heading;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) heading = line.substr(3);
    if (!line.starts_with("| `") || heading.empty()) continue;
    std::vector<std::string> cells;
    for (size_t at = 1; at < line.size();) {
      size_t bar = line.find(" | ", at);
      if (bar == std::string::npos) bar = line.size();
      std::string cell = line.substr(at, bar - at);
      while (!cell.empty() && cell.front() == ' ') cell.erase(0, 1);
      for (size_t pipe; (pipe = cell.find("\\|")) != std::string::npos;) cell.erase(pipe, 1);
      cells.push_back(cell);
      at = bar + 3;
    }
    if (cells.size() < 4) continue;
    std::string key = cells[0].substr(1, cells[0].size() - 2);  // `key`
    keys[heading][key] = {cells[1], cells[2]};
  }
  return keys;
}

// How the docs write an option's type: TypeName's words, "integer" for kInt.
std::string DocumentedType(const config::OptionSpec& option) {
  return std::string(config::TypeName(option.type));
}

// The docs' table for `where` lists exactly `options`, each with its declared type and
// default ("required" when it has none; a default computed at start, such as the host
// name, is documented in words where the declaration's is empty).
void ExpectTableDocuments(const std::string& where,
                          const std::map<std::string, DocumentedKey>& table,
                          const std::vector<config::OptionSpec>& options) {
  std::set<std::string> declared;
  for (const auto& option : options) {
    declared.insert(option.name);
    const std::string key = where + "." + option.name;
    auto row = table.find(option.name);
    if (row == table.end()) {
      ADD_FAILURE() << key << " is not documented";
      continue;
    }
    EXPECT_EQ(row->second.type, DocumentedType(option)) << key << ": type";
    if (!option.default_value) {
      EXPECT_EQ(row->second.default_value, "required") << key << ": default";
      continue;
    }
    const std::string value = config::FormatValue(*option.default_value);
    const bool computed = value == "\"\"" && !row->second.default_value.starts_with("`");
    if (!computed) {
      EXPECT_EQ(row->second.default_value, "`" + value + "`") << key << ": default";
    }
  }
  for (const auto& [name, row] : table) {
    EXPECT_TRUE(declared.count(name)) << where << "." << name << " is documented but not declared";
  }
}

// Every key of the schema is in docs/configuration.md under its section, with its type and
// its default as declared; every key the docs list exists. The same holds for each pipeline
// stage's options in docs/pipeline.md and each sensor type's in docs/sensors.md.
TEST(VigilConfig, DocsDescribeEveryKey) {
  std::string docs = ReadSourceFile("docs/configuration.md");
  ASSERT_FALSE(docs.empty());
  const auto documented = DocumentedKeys(docs);
  std::set<std::string> headings;
  for (const auto& section : VigilSchema().sections) {
    std::string heading = section.repeated ? "[[" + section.name + "]]" : "[" + section.name + "]";
    headings.insert(heading);
    auto table = documented.find(heading);
    ASSERT_NE(table, documented.end()) << heading << " has no key table in docs/configuration.md";
    ExpectTableDocuments(section.name, table->second, section.options);
  }
  for (const auto& [heading, table] : documented) {
    EXPECT_TRUE(headings.count(heading)) << heading << " is documented but is no section";
  }
  const auto stages = DocumentedKeys(ReadSourceFile("docs/pipeline.md"));
  for (const auto& type : pipeline::StageTypes()) {
    auto table = stages.find("`" + type.stage + "`");
    ASSERT_NE(table, stages.end()) << type.stage << " has no table in docs/pipeline.md";
    ExpectTableDocuments("pipeline " + type.stage, table->second, type.options);
  }
  const auto sensor_types = DocumentedKeys(ReadSourceFile("docs/sensors.md"));
  for (const auto& type : sensors::SensorTypes()) {
    auto table = sensor_types.find("`" + type.type + "`");
    ASSERT_NE(table, sensor_types.end()) << type.type << " has no table in docs/sensors.md";
    ExpectTableDocuments("sensor " + type.type, table->second, type.options);
  }
}

// docs/alerts.md documents every [alerting] and [[alerts]] key in a table row, and shows
// every rule of the bundled config as it is written there.
TEST(VigilConfig, AlertsDocsDescribeEveryKeyAndTheBundledRules) {
  std::string alerts = ReadSourceFile("docs/alerts.md");
  ASSERT_FALSE(alerts.empty());
  for (const auto& section : VigilSchema().sections) {
    if (section.name != "alerting" && section.name != "alerts") continue;
    for (const auto& option : section.options) {
      EXPECT_NE(alerts.find("| `" + option.name + "` |"), std::string::npos)
          << section.name << "." << option.name << " is not in docs/alerts.md";
    }
  }
  std::string bundled = ReadSourceFile("config/vigil.toml");
  for (size_t at = bundled.find("[[alerts]]"); at != std::string::npos;
       at = bundled.find("[[alerts]]", at + 1)) {
    size_t end = bundled.find("\n\n", at);
    std::string rule = bundled.substr(at, end == std::string::npos ? end : end - at);
    EXPECT_NE(alerts.find(rule), std::string::npos) << rule << "\nis not in docs/alerts.md";
  }
  auto config = LoadVigilConfig(std::string(VIGIL_SOURCE_DIR) + "/config/vigil.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  // The bundled rule pack (config/rules/) loads with the bundled config, and docs/alerts.md
  // names each of its files.
  EXPECT_EQ(config->rule_groups.size(), 5u);
  for (const auto& group : config->rule_groups) {
    const std::string file = std::filesystem::path(group.file).filename().string();
    EXPECT_NE(alerts.find("config/rules/" + file), std::string::npos) << file;
  }
}

TEST(VigilConfig, AlertRulesAreCheckedWithFileAndLine) {
  auto good = ParseVigilConfig(
      "[coordinator]\nworkers = 2\n[alerting]\nwebhooks = [\"http://127.0.0.1:5001/\"]\n"
      "[[alerts]]\nname = \"High\"\nexpr = \"x > 1\"\nfor = \"30s\"\nseverity = \"critical\"\n"
      "annotations = { summary = \"{{ $labels.server }} at {{ $value }}\" }\n",
      "v.toml");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->coordinator.workers, 2);
  EXPECT_EQ(good->alerting.webhooks, std::vector<std::string>{"http://127.0.0.1:5001/"});
  ASSERT_EQ(good->alerts.size(), 1u);
  EXPECT_EQ(good->alerts[0].for_ms, 30'000);
  EXPECT_EQ(good->alerts[0].labels.at("severity"), "critical");
  EXPECT_EQ(good->alerts[0].kind, vigil::rules::RuleKind::kAlert);

  // The expression is PromQL; the texts are Go templates, as in rule files.
  auto bad_expr = ParseVigilConfig("[[alerts]]\nname = \"High\"\nexpr = \"x >\"\n", "v.toml");
  ASSERT_FALSE(bad_expr.ok());
  EXPECT_EQ(bad_expr.status().message().rfind("v.toml:3:8: alerts[0].expr: ", 0), 0u)
      << bad_expr.status().message();
  EXPECT_TRUE(ParseVigilConfig("[[alerts]]\nname = \"High\"\nexpr = \"rate(x[5m]) > 1 and on() "
                               "absent(y)\"\n",
                               "v.toml")
                  .ok());
  auto bad_template = ParseVigilConfig(
      "[[alerts]]\nname = \"High\"\nexpr = \"x > 1\"\nannotations = { summary = \"{{ nosuch "
      "$value }}\" }\n",
      "v.toml");
  ASSERT_FALSE(bad_template.ok());
  EXPECT_NE(bad_template.status().message().find("v.toml:4:"), std::string::npos)
      << bad_template.status().message();
  EXPECT_NE(bad_template.status().message().find("nosuch"), std::string::npos)
      << bad_template.status().message();
  EXPECT_FALSE(ParseVigilConfig("[alerting]\nwebhooks = [\"ftp://x\"]\n", "v.toml").ok());
  EXPECT_FALSE(ParseVigilConfig("[coordinator]\nworkers = 0\n", "v.toml").ok());
}

TEST(VigilConfig, PipelineStagesAreCheckedWithFileAndLine) {
  auto good = ParseVigilConfig(
      "[[pipeline]]\nstage = \"relabel\"\naction = \"labeldrop\"\nregex = \"server\"\n\n"
      "[[pipeline]]\nstage = \"filter\"\nname = \"only_plant\"\nkeep = ['{area=~\".+\"}']\n",
      "v.toml");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  ASSERT_EQ(good->pipeline.size(), 2u);
  EXPECT_EQ(good->pipeline[0].name, "relabel_1");
  EXPECT_EQ(good->pipeline[1].name, "only_plant");
  EXPECT_EQ(BuildPipelineStages(*good)->size(), 2u);

  EXPECT_EQ(ParseVigilConfig("[[pipeline]]\nstage = \"filter\"\nkeep = ['rate(x[1m])']\n", "v.toml")
                .status()
                .message(),
            "v.toml:3:8: pipeline[0].keep: \"rate(x[1m])\": not a series selector (such as "
            "name{label=\"value\"})");
  auto bad_regex = ParseVigilConfig(
      "[[pipeline]]\nstage = \"relabel\"\nsource_labels = [\"a\"]\ntarget_label = \"b\"\n"
      "regex = \"(\"\n",
      "v.toml");
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_EQ(
      bad_regex.status().message().rfind("v.toml:5:9: pipeline[0].regex: \"(\": missing )", 0), 0u)
      << bad_regex.status().message();
  auto downsample = ParseVigilConfig(
      "[[pipeline]]\nstage = \"downsample\"\nwindow = \"10s\"\nfunctions = [\"avg\", \"max\"]\n"
      "mode = \"replace\"\nselector = 'turbine_speed'\n",
      "v.toml");
  ASSERT_TRUE(downsample.ok()) << downsample.status().ToString();
  EXPECT_EQ(BuildPipelineStages(*downsample)->size(), 1u);
  EXPECT_EQ(
      ParseVigilConfig("[[pipeline]]\nstage = \"downsample\"\nfunctions = [\"median\"]\n", "v.toml")
          .status()
          .message(),
      "v.toml:3:13: pipeline[0].functions: unknown downsample function \"median\" (avg, min, "
      "max, last, count)");
  EXPECT_NE(ParseVigilConfig("[[pipeline]]\nstage = \"sort\"\n", "v.toml")
                .status()
                .message()
                .find("must be one of filter, relabel, match, downsample"),
            std::string::npos);
}

TEST(VigilConfig, SensorErrorsNameTheSensorAndWhereItIs) {
  auto config = ParseVigilConfig(
      "[[sensors]]\nname = \"p\"\nmin = 2\nmax = 1\n\n"
      "[[sensors]]\nname = \"p\"\nmin = 0\nmax = 1\n",
      "v.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "v.toml:4:7: sensors[0].max: must be above min (2)\n"
            "v.toml:7:8: sensors[1].name: a sensor of this name exists already (sensors[0])");
}

TEST(VigilConfig, SchemaChecksUrlsAddressesAndNames) {
  EXPECT_EQ(ParseVigilConfig("[web]\nlisten = \"localhost\"\n", "v.toml").status().message(),
            "v.toml:2:10: web.listen: expected host:port, got \"localhost\"");
  EXPECT_EQ(
      ParseVigilConfig("[broker]\nurl = \"http://u:secret@h\"\n", "v.toml").status().message(),
      "v.toml:2:7: broker.url: expected a URL starting with amqp:// or amqps://, got "
      "\"http://u:***@h\"");
  EXPECT_EQ(ParseVigilConfig("[[sensors]]\nname = \"a-b\"\nmin = 0\nmax = 1\n", "v.toml")
                .status()
                .message(),
            "v.toml:2:8: sensors[0].name: invalid metric name \"a-b\" (must match "
            "[a-zA-Z_:][a-zA-Z0-9_:]*)");
  EXPECT_EQ(ParseVigilConfig("[[sensors]]\nname = \"a\"\ntype = \"sonar\"\n", "v.toml")
                .status()
                .message(),
            "v.toml:3:8: sensors[0].type: unknown sensor type \"sonar\" (known: simulated, proc, "
            "http, scrape, self)");
  EXPECT_EQ(ParseVigilConfig("[broker]\ntls_cert_file = \"c.pem\"\n", "v.toml").status().message(),
            "v.toml:2:17: broker.tls_cert_file: needs tls_key_file as well");
}

TEST(VigilConfig, TiersAreParsedAndChecked) {
  auto config = ParseVigilConfig("[storage]\ntiers = [\"5m:90d\", \"1h\"]\n", "v.toml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const tsdb::TsdbOptions options = TsdbOptionsFrom(config->storage);
  ASSERT_EQ(options.tiers.size(), 2u);
  EXPECT_EQ(options.tiers[0], (tsdb::TierOptions{300'000, 90 * 86'400'000LL}));
  EXPECT_EQ(options.tiers[1], (tsdb::TierOptions{3'600'000, 0}));
  auto defaults = ParseVigilConfig("", "v.toml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(TsdbOptionsFrom(defaults->storage).tiers,
            (std::vector<tsdb::TierOptions>{{3'600'000, 90 * 86'400'000LL}}));
  EXPECT_EQ(ParseVigilConfig("[storage]\ntiers = [\"7m:1d\"]\n", "v.toml").status().message(),
            "v.toml:2:9: storage.tiers: a tier's resolution must divide 2h and be at least 1s "
            "(1m, 5m, 10m, 15m, 30m, 1h, 2h …)");
  EXPECT_EQ(ParseVigilConfig("[storage]\ntiers = [\"1h\", \"5m\"]\n", "v.toml").status().message(),
            "v.toml:2:9: storage.tiers: tiers go from the finest resolution to the coarsest");
  EXPECT_EQ(ParseVigilConfig("[storage]\ntiers = [\"5m:often\"]\n", "v.toml").status().message(),
            "v.toml:2:9: storage.tiers: tier \"5m:often\": want <resolution>:<retention>, such as "
            "\"5m:90d\"");
}

// Quick queries are answered on the web server's I/O thread only over the embedded
// store: PostgreSQL could stall that thread on the network.
TEST(VigilConfig, QuickQueriesOnTheIoThreadOnlyWithTheEmbeddedStore) {
  VigilConfig config;
  EXPECT_TRUE(WebOptionsFrom(config, "web").quick_queries_on_io_thread);
  config.storage.url = "postgresql://vigil@127.0.0.1/vigil";
  EXPECT_FALSE(WebOptionsFrom(config, "web").quick_queries_on_io_thread);
}

TEST(VigilConfig, FlagOverridesAreValidatedToo) {
  VigilConfig config;
  config.web.listen = "127.0.0.1:99999";
  EXPECT_EQ(ValidateVigilConfig(config).message(), "--listen: invalid port in \"127.0.0.1:99999\"");
  config = VigilConfig();
  config.storage.url = "mysql://x";
  EXPECT_EQ(ValidateVigilConfig(config).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil::roles

// Runs the vigil binary as a user would: check-config, flag validation, and a standalone
// that fills its JSON-lines file and stops cleanly on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/mutex.h"
#include "testing/child_process.h"
#include "testing/http_client.h"
#include "testing/http_stub.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"

namespace {

using CommandResult = vigil::testing::ShellResult;
using vigil::testing::RunShell;

CommandResult RunVigil(const std::string& args) {
  return RunShell(std::string(VIGIL_BINARY) + " " + args);
}

std::string Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t CountLines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

const std::string kBundledConfig = std::string(VIGIL_SOURCE_DIR) + "/config/vigil.toml";

TEST(Cli, HelpAndVersionAnswer) {
  CommandResult help = RunVigil("--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* sub : {"standalone", "sensor", "coordinator", "datamanager", "web",
                          "check-config", "migrate", "version"}) {
    EXPECT_NE(help.output.find(sub), std::string::npos) << sub;
  }
  CommandResult standalone_help = RunVigil("standalone --help");
  EXPECT_NE(standalone_help.output.find("--data-dir"), std::string::npos);
  EXPECT_NE(standalone_help.output.find("--listen"), std::string::npos);
  CommandResult web_help = RunVigil("web --help");
  EXPECT_NE(web_help.output.find("--broker"), std::string::npos);
  EXPECT_NE(web_help.output.find("--store"), std::string::npos);
  CommandResult migrate_help = RunVigil("migrate --help");
  EXPECT_NE(migrate_help.output.find("--store"), std::string::npos);
  CommandResult version = RunVigil("version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.output.rfind("vigil ", 0), 0u);
}

// Without a database to migrate, or with one that cannot be reached, a clear error, and
// the password never shown.
TEST(Cli, MigrateNeedsAReachableDatabase) {
  CommandResult none = RunVigil("migrate");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.output.find("--store"), std::string::npos) << none.output;
  CommandResult away = RunVigil("migrate --store postgres://vigil:secret@127.0.0.1:1/vigil");
  EXPECT_EQ(away.exit_code, 1);
  EXPECT_NE(away.output.find("cannot connect"), std::string::npos) << away.output;
  EXPECT_EQ(away.output.find("secret"), std::string::npos) << away.output;
}

TEST(Cli, CheckConfigAcceptsTheBundledConfig) {
  CommandResult run = RunVigil("check-config " + kBundledConfig);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find(": OK (9 sensors, 5 rule groups)"), std::string::npos) << run.output;
}

// Issue #23: rule files named by [rules] are checked with the config, evaluated by the
// standalone over its store (a recorded series is queryable, an alert fires), listed by
// /api/v1/rules, and read again on SIGHUP and POST /-/reload — a broken file keeps the old
// rules and is reported with its line.
TEST(Cli, RuleFilesAreCheckedEvaluatedAndReloaded) {
  const vigil::testing::TempDir folder;
  const std::string dir = folder.path();
  std::filesystem::create_directories(dir + "/rules");
  const uint16_t port = vigil::testing::FreeLoopbackPort();
  Write(dir + "/vigil.toml", "[web]\nlisten = \"127.0.0.1:" + std::to_string(port) +
                                 "\"\n[rules]\nfiles = [\"rules/*.yml\"]\n"
                                 "[[sensors]]\nname = \"pressure\"\nmin = 1.0\nmax = 2.0\n");
  Write(dir + "/rules/a.yml",
        "groups:\n- name: a\n  interval: 1s\n  rules:\n"
        "  - record: pressure:max\n    expr: max(pressure)\n"
        "  - alert: PressureSeen\n    expr: pressure:max > 0\n"
        "    labels: {severity: info}\n"
        "    annotations: {summary: 'pressure at {{ printf \"%.1f\" $value }}'}\n");
  const std::string bad = "groups:\n- name: b\n  rules:\n  - alert: B\n    expr: rate(x[5m]\n";
  Write(dir + "/bad.yml", bad);
  CommandResult check = RunVigil("check-rules " + dir + "/rules/a.yml " + dir + "/bad.yml");
  EXPECT_EQ(check.exit_code, 2);
  EXPECT_NE(check.output.find("a.yml: OK (2 rules in 1 groups)"), std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find(dir + "/bad.yml:5:11: group \"b\", rule 1, \"B\": could not parse"),
            std::string::npos)
      << check.output;

  auto process = vigil::testing::ChildProcess::Start(
      {VIGIL_BINARY, "standalone", "--config", dir + "/vigil.toml", "--data-dir", dir + "/data"},
      dir + "/vigil.log");
  ASSERT_TRUE(process.ok()) << process.status().ToString();
  ASSERT_TRUE(vigil::testing::WaitForPort(port, 30'000));
  auto wait_for = [&](const std::string& target, const std::string& text) {
    std::string body;
    for (int i = 0; i < 100; ++i) {
      auto r = vigil::testing::HttpGet(port, target);
      if (r.ok()) body = r->body;
      if (body.find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ADD_FAILURE() << target << " never had " << text << ": " << body;
    return false;
  };
  EXPECT_TRUE(wait_for("/api/v1/query?query=pressure:max", "\"pressure:max\""));
  EXPECT_TRUE(wait_for("/api/v1/alerts", "\"alertname\":\"PressureSeen\""));
  EXPECT_TRUE(wait_for("/api/v1/alerts", "pressure at 1."));
  EXPECT_TRUE(wait_for("/api/v1/rules?type=record", "\"health\":\"ok\""));

  // A second file, then SIGHUP: both groups run.
  Write(dir + "/rules/c.yml",
        "groups:\n- name: c\n  interval: 1s\n  rules:\n  - record: pressure:min\n"
        "    expr: min(pressure)\n");
  ASSERT_EQ(kill((*process)->pid(), SIGHUP), 0);
  EXPECT_TRUE(wait_for("/api/v1/query?query=pressure:min", "\"pressure:min\""));
  // A broken file: /-/reload answers 400 with its line, and the old rules stay.
  Write(dir + "/rules/d.yml", bad);
  auto reload = vigil::testing::HttpPost(port, "/-/reload", "", "text/plain");
  ASSERT_TRUE(reload.ok());
  EXPECT_EQ(reload->status, 400);
  EXPECT_NE(reload->body.find("d.yml:5:11"), std::string::npos) << reload->body;
  // a, c and the built-in group, each listed once it has been evaluated since the reload.
  EXPECT_TRUE(wait_for("/api/v1/rules", "\"file\":\"built-in\""));
  auto rules = vigil::testing::HttpGet(port, "/api/v1/rules");
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(nlohmann::json::parse(rules->body)["data"]["groups"].size(), 3u) << rules->body;
  // check-config reports the broken rule file with the config's own errors.
  CommandResult config = RunVigil("check-config " + dir + "/vigil.toml");
  EXPECT_EQ(config.exit_code, 2);
  EXPECT_NE(config.output.find("rules/d.yml:5:11"), std::string::npos) << config.output;
  EXPECT_EQ((*process)->Stop(10'000), 0);
}

// Issue #23: the rule files' alerts reach a real Alertmanager (Debian's
// prometheus-alertmanager on loopback), which groups them into one notification and sends
// the resolution when vigil resolves them.
TEST(Cli, AlertsReachAlertmanagerGroupAndResolve) {
  ASSERT_EQ(vigil::testing::RunShell("command -v prometheus-alertmanager").exit_code, 0)
      << "prometheus-alertmanager is needed: scripts/install-deps";
  const vigil::testing::TempDir folder;
  const std::string dir = folder.path();
  vigil::Mutex mu;
  std::vector<nlohmann::json> notifications;  // what Alertmanager sent its receiver
  auto receiver = vigil::testing::HttpStub::Start([&](const vigil::testing::StubRequest& r) {
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (!body.is_discarded()) {
      vigil::MutexLock lock(mu);
      notifications.push_back(body);
    }
    return vigil::testing::StubResponse{};
  });
  ASSERT_TRUE(receiver.ok());
  const uint16_t am_port = vigil::testing::FreeLoopbackPort();
  Write(dir + "/am.yml",
        "route:\n  receiver: stub\n  group_by: [alertname]\n  group_wait: 1s\n"
        "  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n- name: stub\n"
        "  webhook_configs:\n  - url: " +
            (*receiver)->Url("/") + "\n    send_resolved: true\n");
  auto alertmanager = vigil::testing::ChildProcess::Start(
      {"prometheus-alertmanager", "--config.file=" + dir + "/am.yml",
       "--storage.path=" + dir + "/am", "--web.listen-address=127.0.0.1:" + std::to_string(am_port),
       "--cluster.listen-address="},
      dir + "/alertmanager.log");
  ASSERT_TRUE(alertmanager.ok());
  ASSERT_TRUE(vigil::testing::WaitForPort(am_port, 20'000)) << ReadFile(dir + "/alertmanager.log");

  // Two alerts of one name, on for the first 10 s of every 20 s.
  const uint16_t port = vigil::testing::FreeLoopbackPort();
  std::filesystem::create_directories(dir + "/rules");
  Write(dir + "/vigil.toml", "[web]\nlisten = \"127.0.0.1:" + std::to_string(port) +
                                 "\"\n[rules]\nfiles = [\"rules/*.yml\"]\n[alerting]\n"
                                 "alertmanagers = [\"http://127.0.0.1:" +
                                 std::to_string(am_port) + "\"]\n");
  Write(dir + "/rules/blink.yml",
        "groups:\n- name: blink\n  interval: 1s\n  rules:\n  - alert: Blink\n    expr: |\n"
        "      label_replace(vector(time() % 20), \"part\", \"a\", \"\", \"\") < 10\n"
        "      or label_replace(vector(time() % 20), \"part\", \"b\", \"\", \"\") < 10\n"
        "    labels: {severity: page}\n    annotations: {summary: 'part {{ $labels.part }}'}\n");
  auto vigil = vigil::testing::ChildProcess::Start(
      {VIGIL_BINARY, "standalone", "--config", dir + "/vigil.toml", "--data-dir", dir + "/data"},
      dir + "/vigil.log");
  ASSERT_TRUE(vigil.ok());
  ASSERT_TRUE(vigil::testing::WaitForPort(port, 30'000));

  auto find = [&](const std::string& status) -> std::optional<nlohmann::json> {
    vigil::MutexLock lock(mu);
    for (const auto& n : notifications)
      if (n.value("status", "") == status && n["alerts"].size() == 2) return n;
    return std::nullopt;
  };
  std::optional<nlohmann::json> firing, resolved;
  for (int i = 0; i < 450 && !(firing && resolved); ++i) {
    if (!firing) firing = find("firing");
    if (firing && !resolved) resolved = find("resolved");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(firing.has_value()) << ReadFile(dir + "/alertmanager.log")
                                  << ReadFile(dir + "/vigil.log");
  // One notification for the group, with both alerts, their labels and annotations.
  EXPECT_EQ((*firing)["groupLabels"]["alertname"], "Blink");
  EXPECT_EQ((*firing)["commonLabels"]["severity"], "page");
  std::set<std::string> parts;
  for (const auto& a : (*firing)["alerts"]) {
    parts.insert(a["labels"].value("part", ""));
    EXPECT_EQ(a["annotations"]["summary"], "part " + a["labels"].value("part", ""));
  }
  EXPECT_EQ(parts, (std::set<std::string>{"a", "b"}));
  ASSERT_TRUE(resolved.has_value()) << ReadFile(dir + "/vigil.log");
  for (const auto& a : (*resolved)["alerts"]) EXPECT_EQ(a["status"], "resolved");
  EXPECT_EQ((*vigil)->Stop(10'000), 0);
  EXPECT_EQ((*alertmanager)->Stop(10'000), 0);
}

TEST(Cli, BadConfigFailsWithFileLineColumnAndExitCode2) {
  const vigil::testing::TempDir folder;
  const std::string dir = folder.path();
  std::string path = Write(dir + "/bad.toml",
                           "[agent]\nflush_interval = \"fast\"\n\n[[sensors]]\nname = \"p\"\n"
                           "min = 1\nmax = 2\nlables = { unit = \"bar\" }\n");
  CommandResult run = RunVigil("check-config " + path);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find(path + ":2:18: agent.flush_interval: invalid duration \"fast\""),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find(path + ":8:1: sensors[0].lables: unknown key"), std::string::npos)
      << run.output;
  // The roles refuse to start on it the same way.
  CommandResult standalone = RunVigil("standalone --config " + path);
  EXPECT_EQ(standalone.exit_code, 2);
  EXPECT_NE(standalone.output.find("unknown key"), std::string::npos);
}

// Ten different mistakes, each found by a different check (schema, a sensor's own options
// taken together, names across sensors, a pipeline stage): one run reports every one at its
// own line, one of them with a suggestion, and the unknown type causes no further noise.
TEST(Cli, CheckConfigReportsEveryErrorAtOnceAtItsOwnLine) {
  const vigil::testing::TempDir folder;
  const std::string dir = folder.path();
  std::string path = Write(dir + "/ten.toml",
                           "[log]\n"
                           "level = \"loud\"\n"  // 2
                           "[web]\n"
                           "listen = \"127.0.0.1:99999\"\n"  // 4
                           "[storage]\n"
                           "data_dir = 5\n"  // 6
                           "[[sensors]]\n"
                           "name = \"boiler\"\n"
                           "min = 10.0\n"
                           "max = 5.0\n"                    // 10
                           "lables = { unit = \"bar\" }\n"  // 11
                           "[[sensors]]\n"
                           "name = \"boiler\"\n"  // 13
                           "min = 1.0\n"
                           "max = 2.0\n"
                           "[[sensors]]\n"
                           "name = \"probe\"\n"
                           "type = \"http\"\n"
                           "targets = [\"http://127.0.0.1:1/\",\n"
                           "           \"ftp://127.0.0.1/\"]\n"  // 20
                           "interval = \"1s\"\n"
                           "timeout = \"5s\"\n"  // 22
                           "[[sensors]]\n"
                           "name = \"s\"\n"
                           "type = \"nonsense\"\n"  // 25
                           "targets = [\"http://127.0.0.1:1/metrics\"]\n"
                           "[[pipeline]]\n"
                           "stage = \"relabel\"\n"
                           "source_labels = [\"a\"]\n"
                           "target_label = \"b\"\n"
                           "regex = \"(\"\n");  // 31
  CommandResult run = RunVigil("check-config " + path);
  EXPECT_EQ(run.exit_code, 2);
  std::vector<std::string> lines;
  std::istringstream in(run.output);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const std::vector<std::string> expected_keys = {":2:9: log.level:",
                                                  ":4:10: web.listen:",
                                                  ":6:12: storage.data_dir:",
                                                  ":10:7: sensors[0].max:",
                                                  ":11:1: sensors[0].lables:",
                                                  ":13:8: sensors[1].name:",
                                                  ":20:12: sensors[2].targets[1]:",
                                                  ":22:11: sensors[2].timeout:",
                                                  ":25:8: sensors[3].type:",
                                                  ":31:9: pipeline[0].regex:"};
  ASSERT_EQ(lines.size(), expected_keys.size()) << run.output;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].rfind(path + expected_keys[i], 0), 0u) << lines[i];
  }
  EXPECT_NE(run.output.find("unknown key; did you mean `labels`?"), std::string::npos)
      << run.output;
  EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '`'), 2) << run.output;

  // A Prometheus file given by mistake is named as such, not as a TOML syntax error.
  std::string yaml = Write(dir + "/prometheus.yml",
                           "global:\n  scrape_interval: 15s\nscrape_configs:\n"
                           "  - job_name: node\n    static_configs:\n"
                           "      - targets: ['localhost:9100']\n");
  CommandResult wrong_format = RunVigil("check-config " + yaml);
  EXPECT_EQ(wrong_format.exit_code, 2);
  EXPECT_NE(wrong_format.output.find("this looks like YAML"), std::string::npos)
      << wrong_format.output;
}

TEST(Cli, SeedSensorFlagsAreValidated) {
  CommandResult freq =
      RunVigil("sensor --name boiler_pressure_out --min 15 --max 15.5 --step 0.05 --freq 0");
  EXPECT_EQ(freq.exit_code, 2);
  EXPECT_NE(freq.output.find("--freq: must be at least 0.001"), std::string::npos) << freq.output;
  CommandResult range =
      RunVigil("sensor --name boiler_pressure_out --min 16 --max 15.5 --step 0.05");
  EXPECT_EQ(range.exit_code, 2);
  EXPECT_NE(range.output.find("max: must be above min (16)"), std::string::npos) << range.output;
  CommandResult name = RunVigil("sensor --name 9x --min 1 --max 2");
  EXPECT_EQ(name.exit_code, 2);
  CommandResult listen = RunVigil("standalone --listen nowhere");
  EXPECT_EQ(listen.exit_code, 2);
  EXPECT_NE(listen.output.find("--listen: expected host:port"), std::string::npos);
  CommandResult metrics = RunVigil("coordinator --metrics-listen nowhere --broker amqp://x/");
  EXPECT_EQ(metrics.exit_code, 2);
  EXPECT_NE(metrics.output.find("--metrics-listen: expected host:port"), std::string::npos)
      << metrics.output;
  CommandResult id = RunVigil("sensor --agent-id 'no spaces' --broker amqp://x/");
  EXPECT_EQ(id.exit_code, 2);
  EXPECT_NE(id.output.find("--agent-id"), std::string::npos) << id.output;
  CommandResult label = RunVigil("sensor --name x --min 1 --max 2 --label site");
  EXPECT_EQ(label.exit_code, 2);
  EXPECT_NE(label.output.find("--label site: expected name=value"), std::string::npos)
      << label.output;
  // --name with --config adds to the file's sensors; the same name twice is refused.
  CommandResult twice = RunVigil(std::string("sensor --config ") + kBundledConfig +
                                 " --name boiler_pressure_out --min 1 --max 2 --broker amqp://x/");
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.output.find("boiler_pressure_out"), std::string::npos) << twice.output;
}

TEST(Cli, SensorListDescribesTheTypes) {
  CommandResult run = RunVigil("sensor --list");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.output.find("simulated: "), std::string::npos);
  EXPECT_NE(run.output.find("freq (float, default 1.0)"), std::string::npos) << run.output;
}

TEST(Cli, StandaloneStoresServesTheApiAndStopsCleanlyOnSigterm) {
  const vigil::testing::TempDir folder;
  const std::string dir = folder.path();
  // The bundled config with the JSON-lines sink turned on (its one line), as a user would.
  std::ifstream bundled_in(kBundledConfig);
  std::string bundled((std::istreambuf_iterator<char>(bundled_in)),
                      std::istreambuf_iterator<char>());
  const size_t sink = bundled.find("enabled = false", bundled.find("[sink]"));
  ASSERT_NE(sink, std::string::npos);
  bundled.replace(sink, std::string("enabled = false").size(), "enabled = true");
  const std::string config = Write(dir + "/vigil.toml", bundled);
  const std::string listen = "127.0.0.1:" + std::to_string(vigil::testing::FreeLoopbackPort());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string log = dir + "/vigil.log";
    freopen(log.c_str(), "w", stderr);
    execl(VIGIL_BINARY, VIGIL_BINARY, "standalone", "--config", config.c_str(), "--data-dir",
          (dir + "/data").c_str(), "--listen", listen.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string events = dir + "/data/events.jsonl";
  // The bundled plant yields ~7 readings a second; wait for a few batches.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (CountLines(events) < 14 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(CountLines(events), 14u);

  // The same readings through the query API, on the port the log names.
  std::ifstream early_log(dir + "/vigil.log");
  std::stringstream early_text;
  early_text << early_log.rdbuf();
  std::smatch port_match;
  const std::string early = early_text.str();
  ASSERT_TRUE(std::regex_search(early, port_match, std::regex(R"(http://127\.0\.0\.1:(\d+)/)")))
      << early;
  const auto port = static_cast<uint16_t>(std::stoi(port_match[1]));
  auto query = vigil::testing::HttpGet(port, "/api/v1/query?query=boiler_pressure_out");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->status, 200) << query->body;
  auto answer = nlohmann::json::parse(query->body);
  EXPECT_EQ(answer["status"], "success");
  ASSERT_EQ(answer["data"]["result"].size(), 1u) << query->body;
  EXPECT_EQ(answer["data"]["result"][0]["metric"]["__name__"], "boiler_pressure_out");
  auto page = vigil::testing::HttpGet(port, "/");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  // Our own metrics pass Prometheus's linter.
  auto metrics = vigil::testing::HttpGet(port, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("vigil_tsdb_samples_appended_total"), std::string::npos);
  {
    std::ofstream(dir + "/metrics.txt") << metrics->body;
    CommandResult lint = RunShell("promtool check metrics < " + dir + "/metrics.txt");
    EXPECT_EQ(lint.exit_code, 0) << lint.output;
  }
  auto sensors = vigil::testing::HttpGet(port, "/api/v1/sensors");
  ASSERT_TRUE(sensors.ok());
  EXPECT_NE(sensors->body.find("\"turbine_speed\""), std::string::npos) << sensors->body;
  // The bundled probe of the dashboard follows --listen ({{listen}}), so it succeeds.
  std::string probe_success;
  for (int i = 0; i < 150 && probe_success != "1"; ++i) {
    auto probe = vigil::testing::HttpGet(
        port,
        "/api/v1/query?query=probe_success%7Btarget%3D%22http%3A%2F%2F" + listen + "%2F%22%7D");
    if (probe.ok() && probe->status == 200) {
      auto result = nlohmann::json::parse(probe->body)["data"]["result"];
      if (result.size() == 1) probe_success = result[0]["value"][1].get<std::string>();
    }
    if (probe_success != "1") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(probe_success, "1");

  // A second standalone on the same data folder is refused with the reason, not a crash.
  {
    const std::string other_listen =
        "127.0.0.1:" + std::to_string(vigil::testing::FreeLoopbackPort());
    CommandResult second = RunVigil("standalone --config " + config + " --data-dir " + dir +
                                    "/data --listen " + other_listen);
    EXPECT_EQ(second.exit_code, 1) << second.output;
    EXPECT_NE(second.output.find("in use by another vigil process"), std::string::npos)
        << second.output;
  }

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::ifstream in(events);
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    auto event = nlohmann::json::parse(line);
    names.insert(event["labels"]["__name__"].get<std::string>());
    EXPECT_TRUE(event["value"].is_number());
  }
  EXPECT_TRUE(names.count("boiler_pressure_out"));
  std::ifstream log(dir + "/vigil.log");
  std::stringstream log_text;
  log_text << log.rdbuf();
  EXPECT_NE(log_text.str().find("standalone: stopped"), std::string::npos) << log_text.str();
}

// A new user's first run: the bundled config on a port other than 8080, left alone for two
// minutes. Nothing is wrong, so no alert fires — not the probe of the dashboard (it follows
// --listen), not the plant's rules, not the agent's. Pending is allowed: the plant's
// BoilerPressureHigh may start to wait on a brief excursion.
TEST(Cli, TheDefaultStandaloneRaisesNoAlertInTwoMinutes) {
  const vigil::testing::TempDir folder;
  const std::string dir = folder.path();
  const uint16_t port = vigil::testing::FreeLoopbackPort();
  auto process = vigil::testing::ChildProcess::Start(
      {VIGIL_BINARY, "standalone", "--config", kBundledConfig, "--data-dir", dir + "/data",
       "--listen", "127.0.0.1:" + std::to_string(port)},
      dir + "/vigil.log");
  ASSERT_TRUE(process.ok()) << process.status().ToString();
  ASSERT_TRUE(vigil::testing::WaitForPort(port, 30'000));
  std::set<std::string> fired;
  const auto end = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (std::chrono::steady_clock::now() < end) {
    auto alerts = vigil::testing::HttpGet(port, "/api/v1/alerts");
    ASSERT_TRUE(alerts.ok()) << alerts.status().ToString();
    const auto body = nlohmann::json::parse(alerts->body);
    for (const auto& alert : body["data"]["alerts"]) {
      if (alert.value("state", "") == "firing") fired.insert(alert["labels"].dump());
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  EXPECT_TRUE(fired.empty()) << *fired.begin();
  // The rules were evaluated all along: the gauge of the built-in group is there, and the
  // probe and the plant's series it watches exist.
  auto metrics = vigil::testing::HttpGet(port, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("vigil_alerts{rule_group=\"built-in;vigil\",state=\"firing\"} 0"),
            std::string::npos)
      << metrics->body.substr(0, 2000);
  auto probe = vigil::testing::HttpGet(port, "/api/v1/query?query=probe_success");
  ASSERT_TRUE(probe.ok());
  EXPECT_NE(probe->body.find("\"1\"]"), std::string::npos) << probe->body;
  // The bundled rule pack ran: every rule evaluated without error, and a recording rule's
  // series is in the store.
  auto rules = vigil::testing::HttpGet(port, "/api/v1/rules");
  ASSERT_TRUE(rules.ok());
  const auto groups = nlohmann::json::parse(rules->body)["data"]["groups"];
  EXPECT_EQ(groups.size(), 6u) << rules->body.substr(0, 2000);
  for (const auto& group : groups) {
    for (const auto& rule : group["rules"]) {
      EXPECT_EQ(rule["health"], "ok") << group["file"] << " " << rule.dump();
    }
  }
  auto recorded =
      vigil::testing::HttpGet(port, "/api/v1/query?query=instance:node_memory_utilisation:ratio");
  ASSERT_TRUE(recorded.ok());
  EXPECT_NE(recorded->body.find("\"value\""), std::string::npos) << recorded->body;
  EXPECT_EQ((*process)->Stop(10'000), 0);
}

// Issue #26: credentials in a target URL, a password file and a token file reach the
// target — and nothing vigil publishes (labels, API answers, its own metrics, the log at
// debug level, any file of its data folder).
TEST(Cli, CredentialsReachTheTargetButNoLabelLogOrFile) {
  const vigil::testing::TempDir folder;
  const std::string dir = folder.path();
  const std::string kPassword = "S3cretPass";
  const std::string kToken = "T0kenSecret";
  auto stub = vigil::testing::HttpStub::Start([&](const vigil::testing::StubRequest& r) {
    vigil::testing::StubResponse response;
    const std::string auth = r.headers.count("authorization") ? r.headers.at("authorization") : "";
    if (r.target.starts_with("/health") && auth == "Basic dmlnaWx1c2VyOlMzY3JldFBhc3M=") {
      response.body = "ok";
    } else if (r.target == "/metrics" && auth == "Bearer " + kToken) {
      response.headers.push_back({"Content-Type", "text/plain; version=0.0.4"});
      response.body = "guarded_value 42\n";
    } else {
      response.status = r.target == "/fail" ? 500 : 401;
    }
    return response;
  });
  ASSERT_TRUE(stub.ok()) << stub.status().ToString();
  const std::string base = "127.0.0.1:" + std::to_string((*stub)->port());
  Write(dir + "/token", kToken + "\n");
  Write(dir + "/password", kPassword + "\n");
  const uint16_t port = vigil::testing::FreeLoopbackPort();
  std::string text = R"([log]
level = "debug"
[web]
listen = "127.0.0.1:PORT"
[storage]
data_dir = "DIR/data"
[[sensors]]
name = "guarded_probe"
type = "http"
targets = ["http://vigiluser:PASSWORD@BASE/health", "http://vigiluser:PASSWORD@BASE/fail"]
interval = "500ms"
timeout = "400ms"
[[sensors]]
name = "guarded_scrape"
type = "scrape"
targets = ["http://BASE/metrics"]
bearer_token_file = "DIR/token"
interval = "500ms"
timeout = "400ms"
[[sensors]]
name = "guarded_file"
type = "http"
targets = ["http://BASE/health2"]
basic_auth_username = "vigiluser"
basic_auth_password_file = "DIR/password"
interval = "500ms"
timeout = "400ms"
)";
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"PORT", std::to_string(port)}, {"DIR", dir}, {"PASSWORD", kPassword}, {"BASE", base}}) {
    for (size_t at; (at = text.find(name)) != std::string::npos;)
      text.replace(at, name.size(), value);
  }
  const std::string config = Write(dir + "/vigil.toml", text);
  auto vigil = vigil::testing::ChildProcess::Start({VIGIL_BINARY, "standalone", "--config", config},
                                                   dir + "/vigil.log");
  ASSERT_TRUE(vigil.ok());
  ASSERT_TRUE(vigil::testing::WaitForPort(port));
  // Every target answered its credentials: up and probe_success are 1.
  auto value = [&](const std::string& query) {
    auto r =
        vigil::testing::HttpGet(port, "/api/v1/query?query=" + vigil::testing::UrlEncode(query));
    if (!r.ok() || r->status != 200) return std::string("error");
    auto body = nlohmann::json::parse(r->body);
    auto result = body["data"]["result"];
    return result.size() == 1 ? result[0]["value"][1].get<std::string>() : std::string("none");
  };
  const std::string all_up =
      "count(probe_success{target=~\".*/health2?\"} == 1) + count(up{job=\"guarded_scrape\"} == 1)";
  for (int i = 0; i < 100 && value(all_up) != "3"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(value(all_up), "3");
  EXPECT_EQ(value("guarded_value"), "42");

  std::string published;
  for (const char* path :
       {"/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%7D", "/api/v1/sensors", "/metrics",
        "/api/v1/label/target/values", "/api/v1/label/instance/values",
        "/federate?match[]=%7B__name__%3D~%22.%2B%22%7D"}) {
    auto r = vigil::testing::HttpGet(port, path);
    ASSERT_TRUE(r.ok());
    published += r->body;
  }
  EXPECT_NE(published.find("http://" + base + "/health"), std::string::npos);
  EXPECT_EQ((*vigil)->Stop(), 0);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir + "/data")) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    published +=
        std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::ifstream log(dir + "/vigil.log");
  const std::string log_text((std::istreambuf_iterator<char>(log)),
                             std::istreambuf_iterator<char>());
  // The failing probe is logged, by its URL without the credentials.
  EXPECT_NE(log_text.find("http://" + base + "/fail"), std::string::npos) << log_text;
  for (const std::string& secret : {kPassword, kToken, std::string("vigiluser:")}) {
    EXPECT_EQ(published.find(secret), std::string::npos) << secret << " was published";
    EXPECT_EQ(log_text.find(secret), std::string::npos) << secret << " was logged";
  }
}

}  // namespace

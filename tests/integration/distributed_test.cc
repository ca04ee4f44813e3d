// The distributed roles over the real RabbitMQ of scripts/test-services.
//  - The vigil binary as a user runs it: `vigil datamanager`, `vigil coordinator` and
//    `vigil sensor` as three processes; every sample the sensor says it published is in
//    the datamanager's store exactly once.
//  - The same with PostgreSQL: the datamanager writes to it, a separate `vigil web` reads
//    it, and both agree with the sensor's count.
//  - A datamanager started with --rules evaluates the rule files over its store.
//  - A sample written to one web server passes the pipeline and reaches every web
//    server's live stream.
//  - An agent that stops is marked offline (the coordinator's alert, the web's sensor
//    list) and online again when it returns.
//  - In-process roles over AmqpBus: a coordinator started after the agents learns them
//    through a discovery request; a garbage message in a data queue goes to vigil.dead and
//    the stream goes on.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "bus/amqp/amqp_bus.h"
#include "bus/topology.h"
#include "process_stack.h"
#include "roles/agent.h"
#include "roles/coordinator.h"
#include "roles/parts.h"
#include "sensors/registry.h"
#include "testing/child_process.h"
#include "testing/http_client.h"
#include "testing/http_stub.h"
#include "testing/services.h"
#include "testing/shell.h"
#include "testing/websocket_client.h"

namespace vigil {
namespace {

TEST(Distributed, SensorCoordinatorDatamanagerProcessesStoreEverySampleOnce) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("e2e", *url);
  ASSERT_TRUE(stack.StartAll()) << stack.Log("datamanager") << stack.Log("coordinator")
                                << stack.Log("sensor");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(stack.sensor->Stop(10'000), 0) << stack.Log("sensor");

  // The sensor says how many it published; the store must end with exactly those, once.
  auto tally = ReadTally(stack.Log("sensor"));
  ASSERT_TRUE(tally.has_value()) << stack.Log("sensor");
  EXPECT_GT(tally->published, 50u);  // 24 readings a second for 3 s and more
  auto samples = stack.StoredSamples(tally->published);
  EXPECT_EQ(Total(samples), tally->published);
  for (const auto& [key, count] : samples) EXPECT_EQ(count, 1) << key.first << " @" << key.second;
  EXPECT_EQ(stack.coordinator->Stop(), 0) << stack.Log("coordinator");
  EXPECT_EQ(stack.datamanager->Stop(), 0) << stack.Log("datamanager");
  stack.ExpectCleanLogs();
}

// Scale-out's shape: the datamanager stores in PostgreSQL, and a web server of its own
// (`vigil web --store`) answers queries from it and lists the sensor it learned of.
TEST(Distributed, DatamanagerWritesPostgresAndASeparateWebServerReadsIt) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  auto db = testing::NewPostgresDatabase();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ProcessStack stack("pg", *url);
  stack.datamanager = stack.Start("datamanager", {"--data-dir", stack.dir() + "/data", "--listen",
                                                  "127.0.0.1:0", "--store", *db});
  ASSERT_TRUE(stack.WaitLog("datamanager", "running")) << stack.Log("datamanager");
  const uint16_t port = testing::FreeLoopbackPort();
  auto web = stack.Start("web", {"--listen", "127.0.0.1:" + std::to_string(port), "--store", *db});
  stack.coordinator = stack.Start("coordinator", {});
  ASSERT_TRUE(stack.WaitLog("web", "running")) << stack.Log("web");
  ASSERT_TRUE(stack.WaitLog("coordinator", "running")) << stack.Log("coordinator");
  stack.sensor = stack.Start("sensor", {"--data-dir", stack.dir() + "/sensor"});
  ASSERT_TRUE(stack.WaitLog("sensor", "running")) << stack.Log("sensor");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(stack.sensor->Stop(10'000), 0) << stack.Log("sensor");
  auto tally = ReadTally(stack.Log("sensor"));
  ASSERT_TRUE(tally.has_value()) << stack.Log("sensor");
  EXPECT_EQ(Total(stack.StoredSamples(tally->published)), tally->published);

  // Every published sample is in PostgreSQL, once (the JSON sink above is the witness).
  const std::string count_sql =
      "psql '" + *db +
      "' -qAtc \"SELECT count(*) || ' ' || count(DISTINCT (labels, t)) FROM vigil_samples "
      "WHERE labels->>'agent' LIKE 'pg-%' AND metric <> 'ALERTS' AND metric NOT LIKE "
      "'vigil_agent_%'\"";
  const std::string want =
      std::to_string(tally->published) + " " + std::to_string(tally->published);
  std::string got;
  for (int i = 0; i < 100 && got != want; ++i) {
    got = testing::RunShell(count_sql).output;
    while (!got.empty() && got.back() == '\n') got.pop_back();
    if (got != want) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(got, want);

  // The web server answers from PostgreSQL, in Prometheus's shape.
  auto query = testing::HttpGet(port, "/api/v1/query?query=count_over_time(e2e_fast%5B1h%5D)");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  auto body = nlohmann::json::parse(query->body, nullptr, false);
  ASSERT_EQ(body.value("status", ""), "success") << query->body;
  ASSERT_EQ(body["data"]["result"].size(), 1u) << query->body;
  const double fast = std::stod(body["data"]["result"][0]["value"][1].get<std::string>());
  EXPECT_GT(fast, 40);  // 20 a second for 3 s
  auto sensors = testing::HttpGet(port, "/api/v1/sensors");
  ASSERT_TRUE(sensors.ok());
  EXPECT_NE(sensors->body.find("e2e_fast"), std::string::npos) << sensors->body;
  EXPECT_EQ(web->Stop(), 0) << stack.Log("web");
  EXPECT_EQ(stack.coordinator->Stop(), 0) << stack.Log("coordinator");
  EXPECT_EQ(stack.datamanager->Stop(), 0) << stack.Log("datamanager");
  stack.ExpectCleanLogs();
  EXPECT_EQ(stack.Log("web").find("[error]"), std::string::npos) << stack.Log("web");
}

// Issue #23: two `vigil ruler`s on one RabbitMQ and PostgreSQL. One evaluates (it holds the
// lease); SIGKILLed, the other takes over with no evaluation gap over two intervals, and
// restores the firing alert's state from ALERTS_FOR_STATE: the webhook hears "firing" once
// and never "resolved". A web server started after the alert fired answers /api/v1/alerts
// and /api/v1/rules as the first one does.
// `vigil datamanager --rules`: the datamanager evaluates the rule files over its own
// (embedded) store as a ruler would, answers /api/v1/rules, and reloads on POST /-/reload.
TEST(Distributed, ADatamanagerWithRulesEvaluatesThemOverItsStoreAndReloads) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("dmrules", *url, "[rules]\nfiles = [\"rules.yml\"]\n");
  const std::string group =
      "- name: {}\n  interval: 1s\n  rules:\n  - record: {}\n    expr: vector({})\n";
  auto write_rules = [&](const std::string& text) {
    std::ofstream(stack.dir() + "/rules.yml") << "groups:\n" << text;
  };
  write_rules(fmt::format(fmt::runtime(group), "first", "dm:one", 1));
  const uint16_t port = testing::FreeLoopbackPort();
  stack.datamanager = stack.Start("datamanager", {"--data-dir", stack.dir() + "/data", "--listen",
                                                  "127.0.0.1:" + std::to_string(port), "--rules"});
  ASSERT_TRUE(stack.WaitLog("datamanager", "evaluating 2 rule groups")) << stack.Log("datamanager");
  auto data = [&](const std::string& target) {
    auto r = testing::HttpGet(port, target);
    return r.ok() ? nlohmann::json::parse(r->body, nullptr, false)["data"] : nlohmann::json();
  };
  auto eventually = [](const std::function<bool()>& check) {
    for (int i = 0; i < 100; ++i) {
      if (check()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  EXPECT_TRUE(eventually([&] {
    auto result = data("/api/v1/query?query=dm:one")["result"];
    return result.size() == 1 && result[0]["value"][1] == "1";
  })) << stack.Log("datamanager");
  write_rules(fmt::format(fmt::runtime(group), "first", "dm:one", 1) +
              fmt::format(fmt::runtime(group), "second", "dm:two", 2));
  auto reload = testing::HttpPost(port, "/-/reload", "", "text/plain");
  ASSERT_TRUE(reload.ok());
  EXPECT_EQ(reload->status, 200) << reload->body;
  EXPECT_TRUE(eventually([&] {
    // The two groups of the file, and the built-in one (VigilAgentOffline).
    auto groups = data("/api/v1/rules")["groups"];
    bool second = false;
    for (const auto& g : groups)
      second =
          second || (g.value("name", "") == "second" && g["rules"][0].value("health", "") == "ok");
    return groups.size() == 3 && second;
  })) << data("/api/v1/rules").dump();
  EXPECT_TRUE(eventually([&] {
    auto result = data("/api/v1/query?query=dm:two")["result"];
    return result.size() == 1 && result[0]["value"][1] == "2";
  })) << stack.Log("datamanager");
}

TEST(Distributed, TwoRulersOneEvaluatesAndTheOtherTakesOverWithoutAFlap) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  auto db = testing::NewPostgresDatabase();
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Mutex mu;
  std::map<std::string, int> notified;  // "firing" / "resolved" -> alerts of FastSeen
  auto stub = testing::HttpStub::Start([&](const testing::StubRequest& r) {
    auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (!body.is_discarded()) {
      MutexLock lock(mu);
      for (const auto& alert : body["alerts"])
        if (alert["labels"].value("alertname", "") == "FastSeen")
          ++notified[alert.value("status", "")];
    }
    return testing::StubResponse{};
  });
  ASSERT_TRUE(stub.ok());
  ProcessStack stack(
      "ruler", *url,
      "[rules]\nfiles = [\"rules.yml\"]\n[alerting]\nwebhooks = [\"" + (*stub)->Url("/") + "\"]\n");
  std::ofstream(stack.dir() + "/rules.yml")
      << "groups:\n- name: e2e\n  interval: 1s\n  rules:\n"
         "  - record: e2e:fast:count10s\n    expr: count_over_time(e2e_fast[10s])\n"
         "  - alert: FastSeen\n    expr: count_over_time(e2e_fast[10s]) > 0\n    for: 2s\n";
  const uint16_t port = testing::FreeLoopbackPort();
  stack.datamanager =
      stack.Start("datamanager", {"--data-dir", stack.dir() + "/data", "--listen",
                                  "127.0.0.1:" + std::to_string(port), "--store", *db});
  ASSERT_TRUE(stack.WaitLog("datamanager", "running")) << stack.Log("datamanager");
  stack.coordinator = stack.Start("coordinator", {});
  ASSERT_TRUE(stack.WaitLog("coordinator", "running")) << stack.Log("coordinator");
  stack.sensor = stack.Start("sensor", {"--data-dir", stack.dir() + "/sensor"});
  auto first = stack.Start("ruler", {"--store", *db});
  ASSERT_TRUE(stack.WaitLog("ruler", "evaluating 2 rule groups")) << stack.Log("ruler");
  const std::string second_config = stack.dir() + "/vigil.toml";
  std::vector<std::string> argv = {VIGIL_BINARY, "ruler", "--config", second_config,
                                   "--broker",   *url,    "--store",  *db};
  auto second = testing::ChildProcess::Start(argv, stack.dir() + "/ruler2.log");
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(stack.WaitLog("ruler2", "waiting for the rulers' lease")) << stack.Log("ruler2");

  auto get = [](uint16_t p, const std::string& target) {
    auto r = testing::HttpGet(p, target);
    return r.ok() ? nlohmann::json::parse(r->body, nullptr, false)["data"] : nlohmann::json();
  };
  auto firing = [&](uint16_t p) {
    const auto data = get(p, "/api/v1/alerts");
    for (const auto& a : data["alerts"])
      if (a["labels"].value("alertname", "") == "FastSeen" && a.value("state", "") == "firing")
        return true;
    return false;
  };
  bool fired = false;
  for (int i = 0; i < 150 && !fired; ++i) {
    fired = firing(port);
    if (!fired) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(fired) << get(port, "/api/v1/rules").dump() << stack.Log("ruler");

  // A web server that starts now: the same alerts and rules within an interval or two.
  const uint16_t late_port = testing::FreeLoopbackPort();
  auto late =
      stack.Start("web", {"--listen", "127.0.0.1:" + std::to_string(late_port), "--store", *db});
  ASSERT_TRUE(stack.WaitLog("web", "running")) << stack.Log("web");
  auto alert_set = [&](uint16_t p) {
    std::set<std::string> out;
    const auto data = get(p, "/api/v1/alerts");
    for (const auto& a : data["alerts"])
      out.insert(a["labels"].dump() + a.value("state", "") + a.value("activeAt", ""));
    return out;
  };
  bool same = false;
  for (int i = 0; i < 50 && !same; ++i) {
    same = !alert_set(late_port).empty() && alert_set(late_port) == alert_set(port);
    if (!same) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(same) << get(late_port, "/api/v1/alerts").dump() << " vs "
                    << get(port, "/api/v1/alerts").dump();
  // The file's group (the other is the built-in one, VigilAgentOffline).
  auto e2e_group = [](const nlohmann::json& groups) {
    if (groups.is_array())
      for (const auto& g : groups)
        if (g.value("name", "") == "e2e") return g;
    return nlohmann::json();
  };
  // Each group's state comes with its own next evaluation: within an interval.
  auto groups = get(late_port, "/api/v1/rules")["groups"];
  for (int i = 0; i < 30 && groups.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    groups = get(late_port, "/api/v1/rules")["groups"];
  }
  ASSERT_EQ(groups.size(), 2u);
  auto e2e = e2e_group(groups);
  EXPECT_EQ(e2e["rules"].size(), 2u);
  EXPECT_EQ(e2e["rules"][1]["state"], "firing");

  // SIGKILL the evaluating ruler and watch the evaluations go on.
  std::set<std::string> evaluations;
  auto watch = [&](int ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      auto g = e2e_group(get(port, "/api/v1/rules")["groups"]);
      if (g.is_object()) evaluations.insert(g.value("lastEvaluation", ""));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  watch(2000);
  ASSERT_EQ(kill(first->pid(), SIGKILL), 0);
  watch(6000);
  EXPECT_NE(stack.Log("ruler2").find("evaluating 2 rule groups"), std::string::npos)
      << stack.Log("ruler2");
  // The RFC 3339 times of the evaluations seen, in order; no two a gap over 2 s apart.
  std::vector<int64_t> times;
  for (const auto& text : evaluations) {
    std::tm tm{};
    int ms = 0;
    if (sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
      continue;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    times.push_back(static_cast<int64_t>(timegm(&tm)) * 1000 + ms);
  }
  ASSERT_GE(times.size(), 6u);
  int64_t widest = 0;
  for (size_t i = 1; i < times.size(); ++i) {
    EXPECT_LE(times[i] - times[i - 1], 2000) << "an evaluation gap at " << i;
    widest = std::max(widest, times[i] - times[i - 1]);
  }
  std::cout << "widest gap between evaluations across the failover: " << widest << " ms\n";
  EXPECT_TRUE(firing(port));
  {
    MutexLock lock(mu);
    EXPECT_EQ(notified["firing"], 1);
    EXPECT_EQ(notified["resolved"], 0);
  }
  EXPECT_EQ((*second)->Stop(10'000), 0) << stack.Log("ruler2");
  EXPECT_EQ(late->Stop(), 0);
  EXPECT_EQ(stack.sensor->Stop(10'000), 0);
  EXPECT_EQ(stack.coordinator->Stop(), 0);
  EXPECT_EQ(stack.datamanager->Stop(), 0);
}

// The seed's way: one `vigil sensor --name …` process per instrument on one host, sharing
// a data folder. Each is its own agent (<host>-<name>, its own queue and spool), and the
// unit and labels given on the command line reach the query API.
TEST(Distributed, OneSensorProcessPerInstrumentOnOneHost) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("seed", *url);
  const std::string seed_config = stack.dir() + "/seed.toml";
  std::ofstream(seed_config) << "[agent]\nflush_interval = \"200ms\"\n";
  const uint16_t port = testing::FreeLoopbackPort();
  ASSERT_TRUE(stack.StartConsumers(port)) << stack.Log("datamanager") << stack.Log("coordinator");
  std::vector<std::unique_ptr<testing::ChildProcess>> sensors;
  for (const char* name : {"boiler_pressure_out", "turbine_speed"}) {
    std::vector<std::string> argv = {VIGIL_BINARY, "sensor", "--config",   seed_config,
                                     "--broker",   *url,     "--data-dir", stack.dir() + "/sensor",
                                     "--name",     name,     "--min",      "1",
                                     "--max",      "2",      "--freq",     "10",
                                     "--unit",     "bar",    "--label",    "site=north",
                                     "--label",    "line=2"};
    auto child = testing::ChildProcess::Start(argv, stack.dir() + "/" + name + ".log");
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    sensors.push_back(std::move(child).value());
  }
  // Both instruments' readings come back through the datamanager's query API.
  nlohmann::json result;
  for (int i = 0; i < 200; ++i) {
    auto r = testing::HttpGet(
        port, "/api/v1/query?query=" + testing::UrlEncode("{site=\"north\",unit=\"bar\"}"));
    if (r.ok() && r->status == 200) {
      result = nlohmann::json::parse(r->body, nullptr, false)["data"]["result"];
      if (result.is_array() && result.size() == 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(result.is_array() && result.size() == 2)
      << result.dump() << ReadFile(stack.dir() + "/turbine_speed.log");
  std::set<std::string> agents;
  for (const auto& series : result) {
    const auto& metric = series["metric"];
    const std::string name = metric["__name__"];
    EXPECT_EQ(metric["line"], "2");
    const std::string agent = metric["agent"];
    EXPECT_TRUE(agent.ends_with("-" + name)) << agent;
    agents.insert(agent);
  }
  EXPECT_EQ(agents.size(), 2u);
  for (auto& sensor : sensors) EXPECT_EQ(sensor->Stop(10'000), 0);
  for (const char* name : {"boiler_pressure_out", "turbine_speed"}) {
    const std::string log = ReadFile(stack.dir() + "/" + name + ".log");
    EXPECT_EQ(log.find("[error]"), std::string::npos) << log;
    EXPECT_EQ(log.find("RESOURCE_LOCKED"), std::string::npos) << log;
  }
  EXPECT_EQ(stack.coordinator->Stop(), 0) << stack.Log("coordinator");
  EXPECT_EQ(stack.datamanager->Stop(), 0) << stack.Log("datamanager");
}

// The protocol is open: an agent written from docs/protocol/amqp.md with another AMQP
// client (Debian's python3-pika), announcing and publishing in JSON, is discovered, and
// every sample it had confirmed is stored.
// A sample written to one web server takes the agents' way: the coordinator's pipeline
// shapes it and it reaches the live stream of every web server (here the two
// datamanagers' own), and one of the competing datamanagers stores it, once.
TEST(Distributed, AWrittenSampleReachesEveryWebServersLiveStreamThroughThePipeline) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("push", *url,
                     "[[pipeline]]\nstage = \"match\"\nselector = '{__name__=\"pushed_level\"}'\n"
                     "add_labels = { via = \"pipeline\" }\n");
  const uint16_t ports[2] = {testing::FreeLoopbackPort(), testing::FreeLoopbackPort()};
  std::unique_ptr<testing::ChildProcess> datamanagers[2];
  for (int i = 0; i < 2; ++i) {
    const std::string name = "datamanager" + std::to_string(i);
    datamanagers[i] = stack.Start("datamanager",
                                  {"--data-dir", stack.dir() + "/" + name, "--listen",
                                   "127.0.0.1:" + std::to_string(ports[i])},
                                  "", name);
    ASSERT_TRUE(stack.WaitLog(name, "running")) << stack.Log(name);
  }
  stack.coordinator = stack.Start("coordinator", {});
  ASSERT_TRUE(stack.WaitLog("coordinator", "running")) << stack.Log("coordinator");

  std::unique_ptr<testing::WebSocketClient> streams[2];
  for (int i = 0; i < 2; ++i) {
    auto ws = testing::WebSocketClient::Connect(ports[i]);
    ASSERT_TRUE(ws.ok()) << ws.status().ToString();
    streams[i] = std::move(ws).value();
    ASSERT_TRUE(
        streams[i]->SendText(R"({"type":"subscribe","id":"p","selector":"pushed_level"})").ok());
    ASSERT_TRUE(streams[i]->ReceiveText(5000).ok());
  }
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto written = testing::HttpPost(ports[0], "/write",
                                   "pushed level=42.5 " + std::to_string(now_ns), "text/plain");
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  ASSERT_EQ(written->status, 204) << written->body;

  for (int i = 0; i < 2; ++i) {
    std::string message;
    while (message.find("pushed_level") == std::string::npos) {
      auto next = streams[i]->ReceiveText(10'000);
      ASSERT_TRUE(next.ok()) << "web server " << i << ": " << next.status().ToString();
      message = *next;
    }
    EXPECT_NE(message.find(R"("via":"pipeline")"), std::string::npos) << message;
    EXPECT_NE(message.find("42.5"), std::string::npos) << message;
  }
  // Stored by one of the two, with the pipeline's label.
  int stored = 0;
  for (int attempt = 0; attempt < 100 && stored == 0; ++attempt) {
    for (uint16_t port : ports) {
      auto r = testing::HttpGet(
          port, "/api/v1/query?query=" + testing::UrlEncode("pushed_level{via=\"pipeline\"}"));
      if (!r.ok() || r->status != 200) continue;
      auto result = nlohmann::json::parse(r->body, nullptr, false)["data"]["result"];
      if (result.is_array()) stored += static_cast<int>(result.size());
    }
    if (stored == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(stack.coordinator->Stop(), 0) << stack.Log("coordinator");
  for (auto& datamanager : datamanagers) EXPECT_EQ(datamanager->Stop(), 0);
}

TEST(Distributed, AThirdPartyAgentWrittenFromTheProtocolDocIsStored) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("pika", *url);
  const uint16_t port = testing::FreeLoopbackPort();
  ASSERT_TRUE(stack.StartConsumers(port)) << stack.Log("datamanager") << stack.Log("coordinator");
  const std::string agent = "pika-" + std::to_string(getpid());
  // Debian's python3, with its python3-pika, whatever python3 comes first in PATH.
  auto run =
      testing::RunShell("/usr/bin/python3 " + std::string(VIGIL_SOURCE_DIR) +
                        "/tests/protocol/third_party_agent.py '" + *url + "' " + agent + " 4 2>&1");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(run.output, m, std::regex(R"(published (\d+) samples)")))
      << run.output;
  const int published = std::stoi(m[1]);
  EXPECT_GT(published, 10);
  const std::string query =
      "/api/v1/query?query=" + testing::UrlEncode("count_over_time(pika_temperature{agent=\"" +
                                                  agent + "\",unit=\"celsius\"}[10m])");
  std::string stored;
  for (int i = 0; i < 100 && stored != std::to_string(published); ++i) {
    auto r = testing::HttpGet(port, query);
    if (r.ok() && r->status == 200) {
      auto result = nlohmann::json::parse(r->body, nullptr, false)["data"]["result"];
      if (result.is_array() && result.size() == 1) stored = result[0]["value"][1];
    }
    if (stored != std::to_string(published))
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(stored, std::to_string(published)) << stack.Log("coordinator");
  // Its JSON announcement was understood: the sensor is listed.
  auto sensors = testing::HttpGet(port, "/api/v1/sensors");
  ASSERT_TRUE(sensors.ok());
  EXPECT_NE(sensors->body.find("pika_temperature"), std::string::npos) << sensors->body;
  EXPECT_EQ(stack.Log("coordinator").find("invalid protobuf"), std::string::npos)
      << stack.Log("coordinator");
  EXPECT_EQ(stack.coordinator->Stop(), 0) << stack.Log("coordinator");
  EXPECT_EQ(stack.datamanager->Stop(), 0) << stack.Log("datamanager");
}

// What a newcomer deploys: `vigil sensor --config config/agent.toml` (the host's figures,
// a probe, the plant) says nothing alarming, and every reading reaches the datamanager.
TEST(Distributed, BundledAgentConfigRunsCleanlyAndItsReadingsAreStored) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("bundled", *url);
  stack.datamanager =
      stack.Start("datamanager", {"--data-dir", stack.dir() + "/data", "--listen", "127.0.0.1:0"});
  stack.coordinator = stack.Start("coordinator", {});
  ASSERT_TRUE(stack.WaitLog("datamanager", "running") && stack.WaitLog("coordinator", "running"));
  stack.sensor = stack.Start("sensor", {"--data-dir", stack.dir() + "/sensor"},
                             std::string(VIGIL_SOURCE_DIR) + "/config/agent.toml");
  ASSERT_TRUE(stack.WaitLog("sensor", "running")) << stack.Log("sensor");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(stack.sensor->Stop(10'000), 0);
  std::string log = stack.Log("sensor");
  EXPECT_EQ(log.find("warning"), std::string::npos) << log;
  EXPECT_EQ(log.find("error"), std::string::npos) << log;
  auto tally = ReadTally(log);
  ASSERT_TRUE(tally.has_value()) << log;
  auto samples = stack.StoredSamples(tally->published, roles::DefaultAgentId());
  EXPECT_EQ(samples.size(), tally->published);
  std::set<std::string> metrics;
  for (const auto& [key, count] : samples)
    metrics.insert(nlohmann::json::parse(key.first).value("__name__", ""));
  for (const char* expected : {"node_cpu_seconds_total", "node_memory_MemAvailable_bytes",
                               "probe_success", "boiler_pressure_out", "turbine_speed"})
    EXPECT_EQ(metrics.count(expected), 1u) << expected;
  EXPECT_EQ(stack.coordinator->Stop(), 0);
  EXPECT_EQ(stack.datamanager->Stop(), 0);
}

// The broker is killed (SIGKILL) for 10 s mid-stream and started again: the agent's breaker
// trips, its batches wait in the spool and are replayed; the store ends with every sample.
TEST(Distributed, BrokerKilledForTenSecondsLosesNothing) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("outage", *url);
  ASSERT_TRUE(stack.StartAll());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // The coordinator's probes (--metrics-listen): ready while it reaches the broker.
  const uint16_t ops = stack.OpsPort("coordinator");
  ASSERT_NE(ops, 0) << stack.Log("coordinator");
  auto status_of = [&](const std::string& target) {
    auto response = testing::HttpGet(ops, target);
    return response.ok() ? response->status : -1;
  };
  EXPECT_EQ(status_of("/readyz"), 200);
  auto metrics = testing::HttpGet(ops, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("vigil_amqp_connected 1"), std::string::npos) << metrics->body;
  std::string services = std::string(VIGIL_SOURCE_DIR) + "/scripts/test-services";
  std::string broker = testing::ServiceDir("rabbitmq");
  ASSERT_EQ(std::system((services + " kill rabbitmq " + broker).c_str()), 0);
  EXPECT_TRUE(stack.WaitLog("sensor", "spooling batches")) << stack.Log("sensor");
  std::this_thread::sleep_for(std::chrono::seconds(10));
  EXPECT_EQ(status_of("/readyz"), 503);   // out of a load balancer's rotation …
  EXPECT_EQ(status_of("/healthz"), 200);  // … but alive: no restart
  ASSERT_EQ(std::system((services + " restart rabbitmq " + broker + " > /dev/null").c_str()), 0);
  // Every role reconnects by itself; the agent replays its spool.
  EXPECT_TRUE(stack.WaitLog("sensor", "spool drained", 60)) << stack.Log("sensor");
  // Ready again once the coordinator's reconnect backoff (at most 5 s, with jitter) is over.
  int ready = 0;
  for (int i = 0; i < 150 && ready != 200; ++i) {
    ready = status_of("/readyz");
    if (ready != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ready, 200) << stack.Log("coordinator");
  EXPECT_EQ(stack.sensor->Stop(10'000), 0) << stack.Log("sensor");

  auto tally = ReadTally(stack.Log("sensor"));
  ASSERT_TRUE(tally.has_value()) << stack.Log("sensor");
  EXPECT_GT(tally->replayed, 10u);  // 10 s of batches every 200 ms went through the spool
  EXPECT_EQ(tally->left, 0u);
  // Every sample is stored. A batch caught in flight when the broker died may come twice
  // (at-least-once); the embedded store keeps one, and so must the count here.
  auto samples = stack.StoredSamples(tally->published);
  EXPECT_EQ(samples.size(), tally->published);
  EXPECT_EQ(stack.coordinator->Stop(), 0);
  EXPECT_EQ(stack.datamanager->Stop(), 0);
  for (const char* role : {"sensor", "coordinator", "datamanager"})
    EXPECT_NE(stack.Log(role).find("connected again"), std::string::npos) << stack.Log(role);
}

// Issue #26: roles started while the broker is down do not give up. The agent collects
// into its spool; the coordinator and the datamanager wait, alive but not ready; once the
// broker is up every role runs and every reading taken meanwhile is stored.
TEST(Distributed, RolesStartedWhileTheBrokerIsDownWaitAndLoseNothing) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("late", *url);
  std::string services = std::string(VIGIL_SOURCE_DIR) + "/scripts/test-services";
  std::string broker = testing::ServiceDir("rabbitmq");
  ASSERT_EQ(std::system((services + " kill rabbitmq " + broker).c_str()), 0);
  const uint16_t ops = testing::FreeLoopbackPort();
  stack.datamanager =
      stack.Start("datamanager", {"--data-dir", stack.dir() + "/data", "--listen", "127.0.0.1:0"});
  stack.coordinator =
      stack.Start("coordinator", {"--metrics-listen", "127.0.0.1:" + std::to_string(ops)});
  stack.sensor = stack.Start("sensor", {"--data-dir", stack.dir() + "/sensor"});
  EXPECT_TRUE(stack.WaitLog("sensor", "collecting into the spool")) << stack.Log("sensor");
  EXPECT_TRUE(stack.WaitLog("coordinator", "cannot start yet")) << stack.Log("coordinator");
  EXPECT_TRUE(stack.WaitLog("coordinator", "503 until started")) << stack.Log("coordinator");
  auto ready = testing::HttpGet(ops, "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503);
  EXPECT_NE(ready->body.find("broker"), std::string::npos) << ready->body;
  EXPECT_EQ(testing::HttpGet(ops, "/healthz")->status, 200);  // alive: no restart
  std::this_thread::sleep_for(std::chrono::seconds(3));       // readings go to the spool
  ASSERT_EQ(std::system((services + " restart rabbitmq " + broker + " > /dev/null").c_str()), 0);
  for (const char* role : {"datamanager", "coordinator", "sensor"}) {
    EXPECT_TRUE(stack.WaitLog(role, "running", 60)) << stack.Log(role);
  }
  EXPECT_TRUE(stack.WaitLog("sensor", "spool drained", 60)) << stack.Log("sensor");
  EXPECT_EQ(stack.sensor->Stop(10'000), 0) << stack.Log("sensor");
  auto tally = ReadTally(stack.Log("sensor"));
  ASSERT_TRUE(tally.has_value()) << stack.Log("sensor");
  EXPECT_GT(tally->replayed, 5u);
  EXPECT_EQ(tally->left, 0u);
  EXPECT_EQ(stack.StoredSamples(tally->published).size(), tally->published);
  EXPECT_EQ(stack.coordinator->Stop(), 0);
  EXPECT_EQ(stack.datamanager->Stop(), 0);
}

// An agent that stops announcing and sending is marked offline: VigilAgentOffline, which
// the datamanager's ruler (--rules) evaluates over the coordinator's heartbeat series,
// fires for it (3 intervals without a batch, the interval at least 1 s) and reaches the
// web tier's alerts, and /api/v1/sensors no
// longer calls it online. When the agent comes back, the alert resolves and it is online.
// An agent stopped cleanly says goodbye: no alert, listed as stopped. One that died and is
// retired with `vigil agents retire` has its firing alert resolved and is no longer listed.
TEST(Distributed, AnAgentThatStopsIsMarkedOfflineAndComesBackOnline) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("offline", *url, "[alerting]\nevaluation_interval = \"250ms\"\n");
  const uint16_t port = testing::FreeLoopbackPort();
  ASSERT_TRUE(stack.StartConsumers(port, /*rules=*/true))
      << stack.Log("datamanager") << stack.Log("coordinator");
  int started = 0;
  auto start_sensor = [&] {  // true once this start's "running" is in the (shared) log
    stack.sensor = stack.Start("sensor", {"--data-dir", stack.dir() + "/sensor"});
    ++started;
    for (int i = 0; i < 200; ++i) {
      const std::string log = stack.Log("sensor");
      int running = 0;
      for (size_t at = log.find("sensor: running"); at != std::string::npos;
           at = log.find("sensor: running", at + 1))
        ++running;
      if (running == started) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  ASSERT_TRUE(start_sensor()) << stack.Log("sensor");
  // The agent's state in /api/v1/sensors, and its VigilAgentOffline alert's ("" if none).
  auto state = [&] {
    auto r = testing::HttpGet(port, "/api/v1/sensors");
    auto body = nlohmann::json::parse(r.ok() ? r->body : "", nullptr, false);
    if (body.is_discarded() || !body["data"].is_array()) return std::string("?");
    for (const auto& s : body["data"])
      if (s.value("agent", "") == stack.agent()) return s.value("state", "");
    return std::string("unknown");
  };
  auto alert = [&] {
    auto r = testing::HttpGet(port, "/api/v1/alerts");
    auto body = nlohmann::json::parse(r.ok() ? r->body : "", nullptr, false);
    if (body.is_discarded()) return std::string("?");
    for (const auto& a : body["data"]["alerts"]) {
      if (a["labels"].value("alertname", "") == "VigilAgentOffline" &&
          a["labels"].value("agent", "") == stack.agent())
        return a.value("state", "");
    }
    return std::string();
  };
  auto wait_for = [](const std::function<bool()>& done, int seconds) {
    for (int i = 0; i < seconds * 10 && !done(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return done();
  };
  EXPECT_TRUE(wait_for([&] { return state() == "online"; }, 10)) << state();
  EXPECT_FALSE(stack.StoredSamples(10).empty());  // readings flow through the coordinator
  EXPECT_EQ(alert(), "");

  ASSERT_EQ(kill(stack.sensor->pid(), SIGKILL), 0);  // no goodbye: it just stops
  stack.sensor->Stop();
  EXPECT_TRUE(wait_for([&] { return alert() == "firing"; }, 15)) << alert();
  EXPECT_TRUE(wait_for([&] { return state() == "stale"; }, 15)) << state();

  ASSERT_TRUE(start_sensor()) << stack.Log("sensor");
  EXPECT_TRUE(wait_for([&] { return alert().empty(); }, 15)) << alert();
  EXPECT_EQ(state(), "online");

  // A clean stop (SIGTERM): the goodbye shows it stopped at once, and no alert follows,
  // though it stays silent far longer than the 3 s after which the killed one was offline.
  EXPECT_EQ(stack.sensor->Stop(10'000), 0) << stack.Log("sensor");
  EXPECT_TRUE(wait_for([&] { return state() == "stopped"; }, 5)) << state();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_EQ(alert(), "");
  EXPECT_NE(stack.Log("coordinator").find("agent " + stack.agent() + " said goodbye"),
            std::string::npos);

  // Killed again and firing; retired from the command line: resolved and unlisted.
  ASSERT_TRUE(start_sensor()) << stack.Log("sensor");
  EXPECT_TRUE(wait_for([&] { return state() == "online"; }, 10)) << state();
  ASSERT_EQ(kill(stack.sensor->pid(), SIGKILL), 0);
  stack.sensor->Stop();
  EXPECT_TRUE(wait_for([&] { return alert() == "firing"; }, 15)) << alert();
  EXPECT_TRUE(wait_for([&] { return state() == "stale"; }, 15)) << state();
  const std::string server = " --server http://127.0.0.1:" + std::to_string(port);
  auto listed = testing::RunShell(std::string(VIGIL_BINARY) + " agents list" + server);
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_EQ(listed.output.rfind(stack.agent() + "\tstale\t", 0), 0u) << listed.output;
  auto retired =
      testing::RunShell(std::string(VIGIL_BINARY) + " agents retire " + stack.agent() + server);
  EXPECT_EQ(retired.exit_code, 0) << retired.output;
  EXPECT_TRUE(wait_for([&] { return alert().empty(); }, 10)) << alert();
  EXPECT_EQ(state(), "unknown");
  auto again =
      testing::RunShell(std::string(VIGIL_BINARY) + " agents retire " + stack.agent() + server);
  EXPECT_EQ(again.exit_code, 1) << again.output;  // no longer known
  EXPECT_EQ(stack.coordinator->Stop(), 0) << stack.Log("coordinator");
  EXPECT_EQ(stack.datamanager->Stop(), 0) << stack.Log("datamanager");
  EXPECT_NE(stack.Log("datamanager").find("VigilAgentOffline"), std::string::npos)
      << stack.Log("datamanager");
}

// A coordinator is killed (SIGKILL) mid-stream: the batches it held unacked go back to the
// data queue and the other coordinator takes them; the store ends with every sample.
TEST(Distributed, KilledCoordinatorsBatchesGoToTheOther) {
  auto url = testing::RabbitMqUrl();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  ProcessStack stack("handover", *url);
  ASSERT_TRUE(stack.StartAll());
  auto second = stack.Start("coordinator", {});  // logs into the same coordinator.log
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_EQ(::kill(stack.coordinator->pid(), SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(stack.sensor->Stop(10'000), 0) << stack.Log("sensor");
  auto tally = ReadTally(stack.Log("sensor"));
  ASSERT_TRUE(tally.has_value()) << stack.Log("sensor");
  // At-least-once: a batch the killed one published but had not acked comes twice; every
  // sample comes at least once.
  auto samples = stack.StoredSamples(tally->published);
  EXPECT_EQ(samples.size(), tally->published);
  EXPECT_EQ(second->Stop(), 0);
  EXPECT_EQ(stack.datamanager->Stop(), 0);
}

class DistributedRoles : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::RabbitMqUrl();
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
  }
  std::unique_ptr<bus::AmqpBus> Connect() {
    bus::AmqpBus::Options options;
    options.url = url_;
    options.registry = &registry_;
    auto bus = bus::AmqpBus::Connect(options);
    EXPECT_TRUE(bus.ok()) << bus.status().ToString();
    return std::move(bus).value();
  }
  sensors::SensorSpec Simulated(const std::string& name) {
    const auto* d = sensors::FindSensorType("simulated");
    sensors::SensorSpec spec{name, "simulated", {}, config::Defaults(d->options)};
    spec.options.Set("min", 0.0);
    spec.options.Set("max", 1.0);
    return spec;
  }
  std::string url_;
  metrics::Registry registry_;
};

TEST_F(DistributedRoles, LateCoordinatorLearnsEveryAgentWithinFiveSeconds) {
  auto agent_bus = Connect();
  std::vector<std::unique_ptr<roles::Agent>> agents;
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    roles::Agent::Options options;
    options.id = "late-" + std::to_string(getpid()) + "-" + std::to_string(i);
    options.registry = &registry_;
    ids.insert(options.id);
    agents.push_back(
        *roles::Agent::Create(*agent_bus, SystemClock::Get(), options, {Simulated("late_sensor")}));
    ASSERT_TRUE(agents.back()->Start().ok());
  }
  // The announcements at start went nowhere: no coordinator listened yet.
  auto coordinator_bus = Connect();
  roles::Coordinator::Options options;
  options.id = "late-coordinator-" + std::to_string(getpid());
  options.registry = &registry_;
  roles::Coordinator coordinator(*coordinator_bus, SystemClock::Get(), options,
                                 pipeline::ShardedPipeline::PassThrough(registry_));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(coordinator.Start().ok());
  std::set<std::string> known;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    auto list = coordinator.KnownAgents();
    known = std::set<std::string>(list.begin(), list.end());
    if (std::includes(known.begin(), known.end(), ids.begin(), ids.end())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(std::includes(known.begin(), known.end(), ids.begin(), ids.end()));
  coordinator.Stop();
  for (auto& a : agents) a->Stop();
}

TEST_F(DistributedRoles, GarbageInADataQueueIsDeadLetteredAndTheStreamGoesOn) {
  auto bus = Connect();
  std::string agent = "garbage-" + std::to_string(getpid());
  ASSERT_TRUE(bus::DeclareTopology(*bus, {}).ok());
  ASSERT_TRUE(bus::DeclareDataQueue(*bus, agent, {}).ok());
  // Whatever waits in vigil.dead from earlier runs is not ours; look for our body.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bus::Message> dead;
  auto dead_consumer = *bus->Consume(std::string(bus::kDeadQueue), {}, [&](const bus::Delivery& d) {
    d.Ack();
    std::lock_guard lock(mu);
    dead.push_back(d.message());
    cv.notify_all();
  });
  roles::Coordinator::Options options;
  options.id = "garbage-coordinator-" + std::to_string(getpid());
  options.registry = &registry_;
  roles::Coordinator coordinator(*bus, SystemClock::Get(), options,
                                 pipeline::ShardedPipeline::PassThrough(registry_));
  ASSERT_TRUE(coordinator.Start().ok());
  roles::Agent::Options agent_options;
  agent_options.id = agent;
  agent_options.registry = &registry_;
  agent_options.flush_interval_ms = 100;
  auto real = *roles::Agent::Create(*bus, SystemClock::Get(), agent_options,
                                    {Simulated("garbage_neighbour")});
  ASSERT_TRUE(real->Start().ok());
  std::string body = "not a batch " + agent;
  ASSERT_TRUE(
      bus->Publish("", bus::DataQueueName(agent), {body, "application/x-protobuf", "", {}}).ok());
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const auto& m : dead)
        if (m.body == body) return true;
      return false;
    }));
    for (const auto& m : dead) {
      if (m.body != body) continue;
      EXPECT_EQ(m.headers.at("x-death-queue"), bus::DataQueueName(agent));
      // Why, in the words of the decoder, not only RabbitMQ's "rejected".
      EXPECT_NE(m.headers.at("x-death-reason"), "rejected");
      EXPECT_FALSE(m.headers.at("x-death-reason").empty());
    }
  }
  // The good batches after it still flow: the coordinator keeps consuming.
  auto& batches = registry_.AddCounter("vigil_coordinator_batches_total", "", {"outcome"});
  double before = batches.WithLabels({"processed"}).Value();
  for (int i = 0; i < 100 && batches.WithLabels({"processed"}).Value() < before + 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(batches.WithLabels({"processed"}).Value(), before + 2);
  EXPECT_GE(batches.WithLabels({"invalid"}).Value(), 1);
  real->Stop();
  coordinator.Stop();
}

}  // namespace
}  // namespace vigil

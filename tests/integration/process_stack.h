// ProcessStack: a datamanager, a coordinator and a sensor, each a `vigil` process on a
// test's broker, with their logs and data in a folder of the test's own; and how to read
// what they did. Shared by the distributed integration tests.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/child_process.h"
#include "testing/temp_dir.h"

namespace vigil {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Samples of `agent` in a JSON-lines file: (series, timestamp) -> how many times.
inline std::map<std::pair<std::string, int64_t>, int> SamplesOf(const std::string& path,
                                                                const std::string& agent) {
  std::map<std::pair<std::string, int64_t>, int> samples;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("kind", "") != "sample") continue;
    if (j["labels"].value("agent", "") != agent) continue;
    // ALERTS (VigilAgentOffline while the agent is cut off) and the coordinators' heartbeat
    // series carry the agent's label but are not its readings.
    const std::string name = j["labels"].value("__name__", "");
    if (name == "ALERTS" || name == "vigil_agent_last_seen_timestamp_seconds" ||
        name == "vigil_agent_interval_seconds")
      continue;
    ++samples[{j["labels"].dump(), j["timestamp_ms"].get<int64_t>()}];
  }
  return samples;
}

inline size_t Total(const std::map<std::pair<std::string, int64_t>, int>& samples) {
  size_t n = 0;
  for (const auto& [key, count] : samples) n += static_cast<size_t>(count);
  return n;
}

// A datamanager, a coordinator and a sensor, each a `vigil` process on the test's broker,
// with their logs and data in a folder of the test's own.
class ProcessStack {
  // First, so that it is removed after the processes are stopped.
  testing::TempDir folder_;

 public:
  // `extra_config`: more TOML for the three's config, e.g. a [broker] section.
  ProcessStack(const std::string& name, const std::string& url,
               const std::string& extra_config = "")
      : dir_(folder_.path()), url_(url), agent_(name + "-" + std::to_string(getpid())) {
    std::ofstream(dir_ + "/vigil.toml")
        << extra_config << "\n[agent]\nid = \"" << agent_
        << "\"\nflush_interval = \"200ms\"\nbreaker_cooldown = \"500ms\"\n\n"
           "[[sensors]]\nname = \"e2e_fast\"\nmin = 0\nmax = 1\nfreq = 20\nseed = 1\n\n"
           "[[sensors]]\nname = \"e2e_slow\"\nmin = 0\nmax = 1\nfreq = 4\nseed = 2\n";
  }
  // `config`: another config file than the stack's own. `name`: of its log, when two
  // processes of one role run (Log and WaitLog take it); empty: the role.
  std::unique_ptr<testing::ChildProcess> Start(const std::string& role,
                                               std::vector<std::string> extra,
                                               const std::string& config = "",
                                               const std::string& name = "") {
    std::vector<std::string> argv = {VIGIL_BINARY, role,
                                     "--config",   config.empty() ? dir_ + "/vigil.toml" : config,
                                     "--broker",   url_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child =
        testing::ChildProcess::Start(argv, dir_ + "/" + (name.empty() ? role : name) + ".log");
    EXPECT_TRUE(child.ok());
    return child.ok() ? std::move(child).value() : nullptr;
  }
  // Starts the three, consumers first; false when one did not come up.
  bool StartAll() {
    datamanager = Start("datamanager", {"--data-dir", dir_ + "/data", "--listen", "127.0.0.1:0"});
    coordinator = Start("coordinator", {"--metrics-listen", "127.0.0.1:0"});
    if (!WaitLog("datamanager", "running") || !WaitLog("coordinator", "running")) return false;
    sensor = Start("sensor", {"--data-dir", dir_ + "/sensor"});
    return WaitLog("sensor", "running");
  }
  // Starts the datamanager (its dashboard and query API on `port`) and the coordinator,
  // for a test that brings its own agents; false when one did not come up.
  // `rules`: the datamanager evaluates the rules too (--rules), VigilAgentOffline included.
  bool StartConsumers(uint16_t port, bool rules = false) {
    std::vector<std::string> args = {"--data-dir", dir_ + "/data", "--listen",
                                     "127.0.0.1:" + std::to_string(port)};
    if (rules) args.push_back("--rules");
    datamanager = Start("datamanager", args);
    coordinator = Start("coordinator", {});
    return WaitLog("datamanager", "running") && WaitLog("coordinator", "running");
  }
  bool WaitLog(const std::string& role, const std::string& text, int seconds = 10) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (Log(role).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string Log(const std::string& role) { return ReadFile(dir_ + "/" + role + ".log"); }
  // The port a role's log says it serves /metrics, /healthz and /readyz on; 0 when none.
  uint16_t OpsPort(const std::string& role) {
    std::smatch m;
    std::string log = Log(role);
    if (!std::regex_search(log, m, std::regex(R"(/readyz on 127\.0\.0\.1:(\d+))"))) return 0;
    return static_cast<uint16_t>(std::stoi(m[1]));
  }
  const std::string& dir() const { return dir_; }
  const std::string& agent() const { return agent_; }
  // The agent's samples in the datamanager's JSON-lines file, waiting up to `seconds` for
  // `n` distinct ones.
  std::map<std::pair<std::string, int64_t>, int> StoredSamples(size_t n,
                                                               const std::string& agent = "",
                                                               int seconds = 20) {
    std::string events = dir_ + "/data/events.jsonl";
    const std::string& who = agent.empty() ? agent_ : agent;
    auto samples = SamplesOf(events, who);
    std::set<std::pair<std::string, int64_t>> distinct;
    for (int i = 0; i < seconds * 20; ++i) {
      samples = SamplesOf(events, who);
      if (samples.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return samples;
  }
  void ExpectCleanLogs() {
    for (const char* role : {"sensor", "coordinator", "datamanager"}) {
      std::string log = Log(role);
      EXPECT_EQ(log.find("[error]"), std::string::npos) << role << ":\n" << log;
      EXPECT_EQ(log.find("guest:guest"), std::string::npos) << role << " logged the password";
    }
  }

  std::unique_ptr<testing::ChildProcess> datamanager, coordinator, sensor;

 private:
  std::string dir_, url_, agent_;
};

// "N samples published in M batches (K replayed from the spool), 0 dropped, L batches left
// in the spool" — the sensor's last words.
struct SensorTally {
  size_t published = 0, replayed = 0, left = 0;
};
inline std::optional<SensorTally> ReadTally(const std::string& log) {
  std::smatch m;
  if (!std::regex_search(log, m,
                         std::regex(R"((\d+) samples published in \d+ batches \((\d+) replayed )"
                                    R"(from the spool\), 0 dropped, (\d+) batches left)")))
    return std::nullopt;
  return SensorTally{std::stoul(m[1]), std::stoul(m[2]), std::stoul(m[3])};
}

}  // namespace vigil

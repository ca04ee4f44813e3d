// `vigil agents list` and `vigil agents retire ID`: the agents a web server knows, and a
// goodbye for one that is gone for good (its VigilAgentOffline resolves, it is no longer
// listed). Both talk to the HTTP API of a web server or standalone (--server), which
// reaches every coordinator and web server over the bus.
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cmd/commands.h"
#include "net/curl_multi.h"

namespace vigil::cmd {
namespace {

struct AgentsFlags {
  std::string server = "http://127.0.0.1:8080";
  std::string token;
  std::string agent;
};

// The reply's JSON, or the reason there is none (printed, with the exit code to return).
std::optional<nlohmann::json> Call(const AgentsFlags& flags, const std::string& method,
                                   const std::string& path, const std::string& body) {
  std::vector<std::string> headers = {"Content-Type: application/x-www-form-urlencoded"};
  std::string token = flags.token;
  if (const char* env = std::getenv("VIGIL_WRITE_TOKEN"); token.empty() && env) token = env;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  auto reply = net::Fetch(method, flags.server + path, body, headers, 10'000);
  if (!reply.ok()) {
    std::cerr << reply.status().message() << "\n";
    return std::nullopt;
  }
  auto json = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || json.is_discarded()) {
    std::string error = json.is_discarded() ? reply->body : json.value("error", reply->body);
    std::cerr << flags.server << path << ": HTTP " << reply->status << ": " << error << "\n";
    return std::nullopt;
  }
  return json;
}

void AddServerFlags(CLI::App& command, AgentsFlags& flags) {
  command.add_option("--server", flags.server, "The web server's (or standalone's) URL")
      ->capture_default_str();
  command.add_option("--token", flags.token,
                     "[web] write_token, when the server has one (default: $VIGIL_WRITE_TOKEN)");
}

}  // namespace

void AddAgentsCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<AgentsFlags>();
  CLI::App* agents = app.add_subcommand(
      "agents", "List the agents a web server knows, or retire one that is gone for good.");
  agents->require_subcommand(1);

  CLI::App* list = agents->add_subcommand(
      "list", "Print each agent with its state (online, stale, offline, stopped) and its sensors.");
  AddServerFlags(*list, *flags);
  list->callback([flags, &exit_code] {
    auto json = Call(*flags, "GET", "/api/v1/sensors", "");
    if (!json) {
      exit_code = kExitFailure;
      return;
    }
    std::map<std::string, std::pair<std::string, std::vector<std::string>>> agents;
    for (const auto& sensor : (*json)["data"]) {
      auto& [state, sensors] = agents[sensor.value("agent", "")];
      // An agent's state is its sensors' unless a target of one is down.
      if (state.empty() || sensor.value("state", "") != "down") state = sensor.value("state", "");
      sensors.push_back(sensor.value("name", ""));
    }
    for (const auto& [agent, entry] : agents) {
      std::cout << agent << "\t" << entry.first << "\t";
      for (size_t i = 0; i < entry.second.size(); ++i)
        std::cout << (i ? "," : "") << entry.second[i];
      std::cout << "\n";
    }
    exit_code = kExitOk;
  });

  CLI::App* retire = agents->add_subcommand(
      "retire",
      "Say goodbye for an agent that is gone for good: its offline alert resolves and it is no "
      "longer listed, until it announces itself again. An agent that stops cleanly does this "
      "itself.");
  retire->add_option("agent", flags->agent, "The agent's id, as `vigil agents list` shows it")
      ->required();
  AddServerFlags(*retire, *flags);
  retire->callback([flags, &exit_code] {
    for (char c : flags->agent) {
      if (!roles::IsAgentIdChar(c)) {
        std::cerr << "agent id \"" << flags->agent
                  << "\": may hold only letters, digits, '-', '_' and '.'\n";
        exit_code = kExitConfigError;
        return;
      }
    }
    auto json = Call(*flags, "POST", "/api/v1/agents/retire", "agent=" + flags->agent);
    if (!json) {
      exit_code = kExitFailure;
      return;
    }
    std::cout << "agent " << flags->agent << " retired\n";
    exit_code = kExitOk;
  });
}

}  // namespace vigil::cmd

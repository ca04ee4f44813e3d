// The subcommands of the vigil binary (CLI11): each Add*Command registers its flags on
// the app and its action, which returns the process's exit code through `exit_code`:
// 0 done, 1 failed while running, 2 bad configuration or flags.
//
// Thread safety: called from main only.
#pragma once

#include <signal.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "roles/config.h"

namespace vigil::cmd {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfigError = 2;

// Flags every role shares and the most used config keys; empty/unset means "as the
// config file says".
struct CommonFlags {
  std::string config_path;
  std::string log_level;
  std::string listen;
  std::string data_dir;
  std::string broker;
  std::string store;
  std::string metrics_listen;
  std::string agent_id;
};

// Adds --config and --log-level, and whichever of --listen, --data-dir, --broker, --store
// the role uses.
void AddCommonFlags(CLI::App& command, CommonFlags& flags, bool listen, bool data_dir, bool broker,
                    bool store);
// Adds --metrics-listen, for the roles without a dashboard (sensor, coordinator).
void AddMetricsListenFlag(CLI::App& command, CommonFlags& flags);
// Loads the file (or the defaults), adds `extra_sensors` (given on the command line) to
// its [[sensors]], applies the flags and validates. Prints errors to stderr; returns
// kExitOk or kExitConfigError.
int LoadConfig(const CommonFlags& flags, roles::VigilConfig& config,
               std::vector<sensors::SensorSpec> extra_sensors = {});

// Blocks SIGINT and SIGTERM in every thread (call before starting any), so that
// WaitForShutdownSignal receives them.
sigset_t BlockShutdownSignals();
// Waits for SIGINT or SIGTERM; returns which.
int WaitForShutdownSignal(const sigset_t& signals);

// Runs one distributed role (sensor, coordinator, datamanager) over RabbitMQ until SIGINT or
// SIGTERM; the config is loaded already. Returns the exit code.
int RunDistributedRole(const std::string& role, const roles::VigilConfig& config,
                       bool with_rules = false);

void AddStandaloneCommand(CLI::App& app, int& exit_code);
void AddSensorCommand(CLI::App& app, int& exit_code);
void AddDistributedCommands(CLI::App& app, int& exit_code);
void AddCheckConfigCommand(CLI::App& app, int& exit_code);
void AddCheckRulesCommand(CLI::App& app, int& exit_code);
void AddMigrateCommand(CLI::App& app, int& exit_code);
void AddAgentsCommand(CLI::App& app, int& exit_code);

}  // namespace vigil::cmd

#include <cstdlib>
#include <iostream>

#include "cmd/commands.h"
#include "core/logging.h"

namespace vigil::cmd {

void AddCommonFlags(CLI::App& command, CommonFlags& flags, bool listen, bool data_dir, bool broker,
                    bool store) {
  command.add_option("-c,--config", flags.config_path, "TOML config file (docs/configuration.md)")
      ->check(CLI::ExistingFile);
  command.add_option("--log-level", flags.log_level,
                     "trace, debug, info, warn, error, critical or off [log.level]");
  if (listen)
    command.add_option("--listen", flags.listen, "HTTP server address HOST:PORT [web.listen]");
  if (data_dir) {
    command.add_option("--data-dir", flags.data_dir,
                       "Folder of the embedded store, spool and file sink [storage.data_dir]");
  }
  if (broker)
    command.add_option("--broker", flags.broker, "amqp://... or amqps://... [broker.url]");
  if (store) {
    command.add_option("--store", flags.store,
                       "postgres://...; absent: the embedded store in --data-dir [storage.url]");
  }
}

void AddMetricsListenFlag(CLI::App& command, CommonFlags& flags) {
  command.add_option("--metrics-listen", flags.metrics_listen,
                     "Serve /metrics, /healthz and /readyz on HOST:PORT [web.metrics_listen]");
}

sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int WaitForShutdownSignal(const sigset_t& signals) {
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  return signal_number;
}

int LoadConfig(const CommonFlags& flags, roles::VigilConfig& config,
               std::vector<sensors::SensorSpec> extra_sensors) {
  if (!flags.config_path.empty()) {
    auto loaded = roles::LoadVigilConfig(flags.config_path);
    if (!loaded.ok()) {
      std::cerr << loaded.status().message() << "\n";
      return kExitConfigError;
    }
    config = std::move(loaded).value();
  }
  for (sensors::SensorSpec& spec : extra_sensors) config.sensors.push_back(std::move(spec));
  if (!flags.log_level.empty()) config.log.level = flags.log_level;
  if (!flags.listen.empty()) config.web.listen = flags.listen;
  if (!flags.metrics_listen.empty()) config.web.metrics_listen = flags.metrics_listen;
  if (!flags.agent_id.empty()) config.agent.id = flags.agent_id;
  if (!flags.data_dir.empty()) config.storage.data_dir = flags.data_dir;
  if (!flags.broker.empty()) config.broker.url = flags.broker;
  if (!flags.store.empty()) config.storage.url = flags.store;
  // Secrets may stay out of files and command lines (systemd EnvironmentFile, Kubernetes
  // Secrets): the environment fills what neither the flags nor the file gave.
  if (const char* url = std::getenv("VIGIL_BROKER_URL"); url && config.broker.url.empty())
    config.broker.url = url;
  if (const char* url = std::getenv("VIGIL_STORE_URL"); url && config.storage.url.empty())
    config.storage.url = url;
  // "{{listen}}" in a sensor's targets is this server's own address, so that the bundled
  // probe of the dashboard follows --listen (a wildcard host is reached on loopback).
  std::string own = config.web.listen;
  if (own.starts_with("0.0.0.0:")) own = "127.0.0.1" + own.substr(7);
  if (own.starts_with("[::]:")) own = "[::1]" + own.substr(4);
  if (own.starts_with(":")) own = "127.0.0.1" + own;
  for (auto& sensor : config.sensors) {
    const config::OptionValue* targets = sensor.options.Find("targets");
    if (targets == nullptr || !std::holds_alternative<config::StringList>(*targets)) continue;
    config::StringList resolved = std::get<config::StringList>(*targets);
    for (std::string& target : resolved) {
      for (size_t at; (at = target.find("{{listen}}")) != std::string::npos;) {
        target.replace(at, std::string_view("{{listen}}").size(), own);
      }
    }
    sensor.options.Set("targets", std::move(resolved));
  }
  Status status = roles::ValidateVigilConfig(config);
  if (!status.ok()) {
    std::cerr << "vigil: " << status.message() << "\n";
    return kExitConfigError;
  }
  InitLogging(*ParseLogLevel(config.log.level));
  return kExitOk;
}

}  // namespace vigil::cmd

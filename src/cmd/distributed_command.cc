#include <spdlog/spdlog.h>

#include "bus/amqp/amqp_bus.h"
#include "cmd/commands.h"
#include "core/env.h"
#include "roles/distributed.h"

namespace vigil::cmd {

int RunDistributedRole(const std::string& role, const roles::VigilConfig& config) {
  if (config.broker.url.empty()) {
    spdlog::error(
        "{}: no broker: give --broker amqp://user:password@host:5672/, [broker] url, or "
        "VIGIL_BROKER_URL",
        role);
    return kExitConfigError;
  }
  sigset_t signals = BlockShutdownSignals();
  bus::AmqpBus::Options options;
  options.url = config.broker.url;
  options.publish_timeout = config.bus.publish_timeout;
  options.confirm_timeout = config.broker.confirm_timeout;
  options.tls_ca_file = config.broker.tls_ca_file;
  options.tls_cert_file = config.broker.tls_cert_file;
  options.tls_key_file = config.broker.tls_key_file;
  auto bus = bus::AmqpBus::Connect(options);
  if (!bus.ok()) {
    spdlog::error("{}: {}", role, bus.status().ToString());
    return bus.status().code() == StatusCode::kInvalidArgument ? kExitConfigError : kExitFailure;
  }
  spdlog::info("{}: connected to {}", role, bus::RedactAmqpUrl(config.broker.url));
  auto process =
      roles::DistributedRole::Create(role, **bus, config, SystemClock::Get(), Env::Default());
  if (!process.ok()) {
    spdlog::error("{}: {}", role, process.status().ToString());
    return kExitFailure;
  }
  if (Status status = (*process)->Start(); !status.ok()) {
    spdlog::error("{}: {}", role, status.ToString());
    return kExitFailure;
  }
  spdlog::info("{}: running; SIGINT or SIGTERM stops", role);
  int signal_number = WaitForShutdownSignal(signals);
  spdlog::info("{}: {} received, shutting down", role, strsignal(signal_number));
  Status stopped = (*process)->Stop();
  return stopped.ok() ? kExitOk : kExitFailure;
}

namespace {

int RunRole(const std::string& role, const CommonFlags& flags) {
  roles::VigilConfig config;
  if (int code = LoadConfig(flags, config); code != kExitOk) return code;
  if (role == "web" && config.storage.url.empty()) {
    spdlog::error(
        "web: a web server of its own reads PostgreSQL: give --store postgres://..., [storage] "
        "url or VIGIL_STORE_URL (with the embedded store, the datamanager serves the dashboard and "
        "the API on --listen)");
    return kExitConfigError;
  }
  return RunDistributedRole(role, config);
}

void AddRole(CLI::App& app, int& exit_code, const std::string& role, const std::string& help,
             bool listen, bool data_dir, bool store) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* command = app.add_subcommand(role, help);
  AddCommonFlags(*command, *flags, listen, data_dir, /*broker=*/true, store);
  if (!listen) AddMetricsListenFlag(*command, *flags);
  command->callback([role, flags, &exit_code] { exit_code = RunRole(role, *flags); });
}

}  // namespace

void AddDistributedCommands(CLI::App& app, int& exit_code) {
  AddRole(app, exit_code, "coordinator",
          "Run a coordinator: discover agents, consume their data queues, run the pipeline and "
          "the alert rules, publish to vigil.events.",
          /*listen=*/false, /*data_dir=*/false, /*store=*/false);
  AddRole(app, exit_code, "datamanager",
          "Run a datamanager: consume vigil.store into the store (the embedded one in "
          "--data-dir, or PostgreSQL with --store) and the JSON-lines sink, and serve the "
          "dashboard and the query API on --listen.",
          /*listen=*/true, /*data_dir=*/true, /*store=*/true);
  AddRole(app, exit_code, "web",
          "Run a web server over PostgreSQL (--store): dashboard, WebSocket live stream, query "
          "API on --listen.",
          /*listen=*/true, /*data_dir=*/false, /*store=*/true);
}

}  // namespace vigil::cmd

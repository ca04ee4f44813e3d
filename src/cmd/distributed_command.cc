#include <spdlog/spdlog.h>

#include "cmd/commands.h"

namespace vigil::cmd {
namespace {

int RunDistributedRole(const std::string& role, const CommonFlags& flags) {
  roles::VigilConfig config;
  if (int code = LoadConfig(flags, config); code != kExitOk) return code;
  spdlog::error(
      "{}: the distributed roles need the RabbitMQ bus, which is not built yet (issue #6). "
      "`vigil standalone` runs every role in one process.",
      role);
  return kExitFailure;
}

void AddRole(CLI::App& app, int& exit_code, const std::string& role, const std::string& help,
             bool listen, bool data_dir, bool store) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* command = app.add_subcommand(role, help);
  AddCommonFlags(*command, *flags, listen, data_dir, /*broker=*/true, store);
  command->callback([role, flags, &exit_code] { exit_code = RunDistributedRole(role, *flags); });
}

}  // namespace

void AddDistributedCommands(CLI::App& app, int& exit_code) {
  AddRole(app, exit_code, "coordinator",
          "Run a coordinator: discover agents, consume their data queues, run the pipeline and "
          "the alert rules, publish to vigil.events.",
          /*listen=*/false, /*data_dir=*/false, /*store=*/false);
  AddRole(app, exit_code, "datamanager",
          "Run a datamanager: consume vigil.store into the store (embedded in --data-dir, or "
          "PostgreSQL with --store) and serve queries on --listen.",
          /*listen=*/true, /*data_dir=*/true, /*store=*/true);
  AddRole(app, exit_code, "web",
          "Run a web server: dashboard, WebSocket live stream, query API on --listen.",
          /*listen=*/true, /*data_dir=*/false, /*store=*/true);
}

}  // namespace vigil::cmd

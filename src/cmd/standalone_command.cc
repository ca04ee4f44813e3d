#include <signal.h>
#include <spdlog/spdlog.h>

#include "cmd/commands.h"
#include "core/env.h"
#include "roles/standalone.h"

namespace vigil::cmd {
namespace {

int RunStandalone(const CommonFlags& flags) {
  roles::VigilConfig config;
  if (int code = LoadConfig(flags, config); code != kExitOk) return code;
  if (config.sensors.empty()) {
    spdlog::warn(
        "standalone: no [[sensors]] configured; nothing will be collected "
        "(see config/vigil.toml)");
  }
  sigset_t signals = BlockShutdownSignals();
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto standalone = roles::Standalone::Create(config, SystemClock::Get(), Env::Default());
  if (!standalone.ok()) {
    spdlog::error("standalone: {}", standalone.status().ToString());
    return kExitFailure;
  }
  if (Status status = (*standalone)->Start(); !status.ok()) {
    spdlog::error("standalone: {}", status.ToString());
    return kExitFailure;
  }
  spdlog::info(
      "standalone: running; the dashboard is at {}; SIGHUP reloads the rule files, SIGINT or "
      "SIGTERM stops",
      (*standalone)->web().url());
  int signal_number = WaitForShutdownSignal(signals);
  while (signal_number == SIGHUP) {
    (void)(*standalone)->ReloadRules();  // logs what failed; the old rules stay
    signal_number = WaitForShutdownSignal(signals);
  }
  spdlog::info("standalone: {} received, shutting down", strsignal(signal_number));
  Status stopped = (*standalone)->Stop();
  return stopped.ok() ? kExitOk : kExitFailure;
}

}  // namespace

void AddStandaloneCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* command = app.add_subcommand(
      "standalone",
      "Run every role in one process: sensors, coordinator, datamanager, over the in-process "
      "bus. Readings go to the embedded store in --data-dir (or PostgreSQL with --store) and "
      "<data-dir>/events.jsonl.");
  AddCommonFlags(*command, *flags, /*listen=*/true, /*data_dir=*/true, /*broker=*/false,
                 /*store=*/true);
  command->callback([flags, &exit_code] { exit_code = RunStandalone(*flags); });
}

}  // namespace vigil::cmd

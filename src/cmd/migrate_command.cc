#include <spdlog/spdlog.h>

#include <iostream>

#include "cmd/commands.h"
#include "core/url.h"
#include "store/postgres/migrations.h"

namespace vigil::cmd {
namespace {

int RunMigrate(const CommonFlags& flags) {
  roles::VigilConfig config;
  if (int code = LoadConfig(flags, config); code != kExitOk) return code;
  if (config.storage.url.empty()) {
    std::cerr << "migrate: give the database: --store postgres://user@host:5432/db or "
                 "[storage] url (the password may come from PGPASSWORD or ~/.pgpass)\n";
    return kExitConfigError;
  }
  store::postgres::Pool pool({.url = config.storage.url,
                              .size = 1,
                              .statement_timeout = config.storage.statement_timeout});
  auto result = store::postgres::Migrate(pool);
  if (!result.ok()) {
    std::cerr << "migrate: " << result.status().ToString() << "\n";
    return kExitFailure;
  }
  const std::string url = RedactUrl(config.storage.url);
  if (result->applied.empty()) {
    std::cout << url << ": schema at version " << result->version << ", nothing to apply\n";
  } else {
    std::cout << url << ": applied";
    for (int v : result->applied) std::cout << " " << v;
    std::cout << "; schema at version " << result->version << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddMigrateCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* command = app.add_subcommand(
      "migrate",
      "Apply vigil's PostgreSQL schema migrations to --store (idempotent; datamanagers also "
      "apply them at start). Prints the versions applied.");
  AddCommonFlags(*command, *flags, /*listen=*/false, /*data_dir=*/false, /*broker=*/false,
                 /*store=*/true);
  command->callback([flags, &exit_code] { exit_code = RunMigrate(*flags); });
}

}  // namespace vigil::cmd

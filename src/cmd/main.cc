// vigil: one binary, every role. `vigil --help` lists the subcommands.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cmd/commands.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  CLI::App app{
      "vigil: a monitoring system for plant sensors and servers.\n"
      "Run everything in one process with `vigil standalone`, or the roles apart over\n"
      "RabbitMQ. Docs: README.md and docs/ in the source tree."};
  app.require_subcommand(1);
  int exit_code = vigil::cmd::kExitOk;
  vigil::cmd::AddStandaloneCommand(app, exit_code);
  vigil::cmd::AddSensorCommand(app, exit_code);
  vigil::cmd::AddDistributedCommands(app, exit_code);
  vigil::cmd::AddCheckConfigCommand(app, exit_code);
  vigil::cmd::AddCheckRulesCommand(app, exit_code);
  vigil::cmd::AddMigrateCommand(app, exit_code);
  vigil::cmd::AddAgentsCommand(app, exit_code);
  app.add_subcommand("version", "Print the version and exit.")->callback([] {
    std::cout << "vigil " << VIGIL_VERSION << "\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : vigil::cmd::kExitConfigError;
  }
  return exit_code;
}

// vigil: one binary, every role. `vigil --help` lists the subcommands.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cmd/commands.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  // Blocks under 32 MiB come from the heap, not mmap: a long query's buffers came back as
  // fresh pages, a fault per 4 KiB, on every query. A heap's free top is given back to the
  // kernel once it reaches 3 MiB, down to 1 MiB: malloc_trim never shrinks the top of a
  // thread's arena, so a higher threshold left each HTTP worker holding the top its last
  // 100,000-value write had freed (6-10 MiB each, 29 bytes a series at a million series,
  // bench/series-memory). At 3 MiB a query's answer of 300,000 values still keeps its
  // pages (16 faults a query, as at 64 MiB; 237 at 2 MiB). The store's maintainer gives
  // the rest of the free memory back every 5 s (malloc_trim, roles/parts.h).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 3 << 20);
  mallopt(M_TOP_PAD, 1 << 20);
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

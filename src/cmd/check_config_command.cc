#include <iostream>

#include "cmd/commands.h"

namespace vigil::cmd {

void AddCheckConfigCommand(CLI::App& app, int& exit_code) {
  auto path = std::make_shared<std::string>();
  CLI::App* command = app.add_subcommand(
      "check-config",
      "Validate a config file: print every error as file:line:column: key: reason and exit 2, "
      "or print OK and exit 0.");
  command->add_option("file", *path, "The TOML file")->required();
  command->callback([path, &exit_code] {
    auto config = roles::LoadVigilConfig(*path);
    if (!config.ok()) {
      std::cerr << config.status().message() << "\n";
      exit_code = kExitConfigError;
      return;
    }
    std::cout << *path << ": OK (" << config->sensors.size() << " sensors)\n";
    exit_code = kExitOk;
  });
}

}  // namespace vigil::cmd

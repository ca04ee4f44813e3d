#include <iostream>

#include "cmd/commands.h"
#include "rules/rule_file.h"

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
    std::cout << *path << ": OK (" << config->sensors.size() << " sensors, "
              << config->rule_groups.size() << " rule groups)\n";
    exit_code = kExitOk;
  });
}

void AddCheckRulesCommand(CLI::App& app, int& exit_code) {
  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* command = app.add_subcommand(
      "check-rules",
      "Check Prometheus rule files as `promtool check rules` does: print every error as "
      "file:line:column: reason and exit 2, or each file's rule count and exit 0.");
  command->add_option("files", *files, "The YAML rule files")->required();
  command->callback([files, &exit_code] {
    exit_code = kExitOk;
    for (const auto& file : *files) {
      rules::LoadedRules loaded = rules::LoadRuleFiles({file}, "");
      for (const auto& error : loaded.errors) std::cerr << error << "\n";
      if (!loaded.ok()) {
        exit_code = kExitConfigError;
        continue;
      }
      size_t count = 0;
      for (const auto& group : loaded.groups) count += group.rules.size();
      std::cout << file << ": OK (" << count << " rules in " << loaded.groups.size()
                << " groups)\n";
    }
  });
}

}  // namespace vigil::cmd

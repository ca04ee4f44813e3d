// Loads a TOML config file (toml++) and validates it against a schema of sections and
// OptionSpecs: unknown keys, wrong types, out-of-range values and invalid names are all
// reported, each as "file:line:column: key: reason", in one InvalidArgument status.
// The vigil schema itself (which sections, which keys) lives in roles/config.h; every
// key is documented in docs/configuration.md.
//
// Thread safety: pure functions over their arguments.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/options.h"
#include "core/status.h"

namespace vigil::config {

struct SectionSpec {
  std::string name;
  std::string help;
  std::vector<OptionSpec> options;
  // A repeated section is an array of tables ([[name]]), e.g. [[sensors]].
  bool repeated = false;
  // For repeated sections: options that depend on what the entry says so far (a sensor's
  // type selects its options). Gets the entry's values of `options`; returns the extra
  // specs, or InvalidArgument with the reason.
  std::function<Result<std::vector<OptionSpec>>(const OptionValues&)> extra_options;
};

struct Schema {
  std::vector<SectionSpec> sections;
};

// One table of a repeated section, with where it stands for later error messages.
struct ConfigEntry {
  OptionValues values;
  std::string where;  // "file:line:column"
};

struct LoadedConfig {
  // Every plain section of the schema, defaults filled in even when the file lacks it.
  std::map<std::string, OptionValues> sections;
  // Every repeated section of the schema, empty when the file has none.
  std::map<std::string, std::vector<ConfigEntry>> repeated;
};

// Parses `text`; `source_name` (usually the path) prefixes every error.
Result<LoadedConfig> ParseConfig(std::string_view text, const std::string& source_name,
                                 const Schema& schema);
// Reads and parses a file. NotFound if it does not exist.
Result<LoadedConfig> LoadConfigFile(const std::string& path, const Schema& schema);

}  // namespace vigil::config

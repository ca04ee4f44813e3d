// Loads a TOML config file (toml++) and validates it against a schema of sections and
// OptionSpecs: unknown keys, wrong types, out-of-range values and invalid names are all
// reported at once, each as "file:line:column: key: reason" with "did you mean" for a
// misspelt key, in one InvalidArgument status.
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

// Where a key stands in the file.
struct Position {
  int line = 0;
  int column = 0;
};

// One table of a repeated section, with where it and each of its keys stand for later
// error messages.
struct ConfigEntry {
  OptionValues values;
  std::string where;  // "file:line:column" of the table's header
  std::string path;   // "sensors[0]"
  Position position;  // of the table's header
  // Every key of the table, and every element of a list ("targets[1]").
  std::map<std::string, Position, std::less<>> positions;
  // Some value was wrong or missing: `values` may lack options, so the entry must not be
  // used beyond reporting; its other errors are reported already.
  bool has_errors = false;
};

// One error of a config file.
struct ConfigError {
  Position position;
  std::string key;  // "sensors[0].min"; empty for the file as a whole
  std::string reason;
};

struct LoadedConfig {
  std::string source;  // the file's name, first in every message
  // Every plain section of the schema, defaults filled in even when the file lacks it.
  std::map<std::string, OptionValues> sections;
  // Every repeated section of the schema, empty when the file has none.
  std::map<std::string, std::vector<ConfigEntry>> repeated;
  // Every key of the plain sections ("web.listen").
  std::map<std::string, Position, std::less<>> positions;
  // Every error found so far; ToStatus reports them.
  std::vector<ConfigError> errors;

  // Reports `reason` about `key` of the section ("listen"), at the key's position.
  void AddError(std::string_view section, std::string_view key, std::string reason);
  // Reports `reason` about `key` of the entry ("max", "targets[1]"), at the key's position
  // when the file has the key, else at the entry's header; an empty key is the entry.
  void AddError(const ConfigEntry& entry, std::string_view key, std::string reason);
  // Reports each problem of an InvalidArgument status made by OptionProblems
  // (core/options.h), each at its key; a line that names no key of the entry is reported
  // for the entry as a whole.
  void AddProblems(const ConfigEntry& entry, const Status& status);
  // OK, or InvalidArgument with one "file:line:column: key: reason" line per error, in file
  // order.
  Status ToStatus() const;
};

// "; did you mean `labels`?" when one of `known` is within two edits of `word`, else "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& known);

// Parses `text`; `source_name` (usually the path) prefixes every error. Fails only when
// `text` is not TOML (a YAML file given by mistake is said to be one); every other error
// is in the result's `errors`, so callers can add their own before reporting them all.
Result<LoadedConfig> ParseConfig(std::string_view text, const std::string& source_name,
                                 const Schema& schema);
// Reads and parses a file. NotFound if it does not exist.
Result<LoadedConfig> LoadConfigFile(const std::string& path, const Schema& schema);

}  // namespace vigil::config

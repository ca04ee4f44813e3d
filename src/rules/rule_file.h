// Prometheus rule files, unchanged (docs/alerts.md): YAML with `groups`, each with `name`,
// `interval`, `limit` and `rules`; a rule is `alert` (with `expr`, `for`,
// `keep_firing_for`, `labels`, `annotations`) or `record` (with `expr`, `labels`).
// LoadRuleFiles reads the files `rule_files` names (globs, relative to the config's
// folder) and checks them as `promtool check rules` (Prometheus 2.42) does: unknown keys,
// expressions that do not parse, bad names and templates are errors, every one reported as
// `file:line:column: reason` in one pass.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vigil::rules {

enum class RuleKind { kAlert, kRecord };

struct RuleSpec {
  RuleKind kind = RuleKind::kAlert;
  std::string name;  // the alert's name or the recorded metric's
  std::string expr;
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  std::map<std::string, std::string> labels;       // templates, for alerts
  std::map<std::string, std::string> annotations;  // templates
  int line = 0;                                    // of the rule in its file
};

struct GroupSpec {
  std::string file;
  std::string name;
  int64_t interval_ms = 0;  // 0: the configured default
  int64_t limit = 0;        // alerts or series a rule may produce; 0: no limit
  std::vector<RuleSpec> rules;
};

struct LoadedRules {
  std::vector<std::string> files;  // the files the patterns matched, in order
  std::vector<GroupSpec> groups;   // only when there are no errors
  std::vector<std::string> errors;
  bool ok() const { return errors.empty(); }
};

// One file's text, named `file` in errors.
LoadedRules ParseRuleFile(const std::string& file, const std::string& text);
// The files matching `patterns` (globs; relative ones under `base_dir`). A pattern without
// wildcards must name a file; a glob may match none.
LoadedRules LoadRuleFiles(const std::vector<std::string>& patterns, const std::string& base_dir);

}  // namespace vigil::rules

#include "rules/rule_file.h"

#include <fmt/format.h>
#include <glob.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/names.h"
#include "core/options.h"
#include "query/parser.h"
#include "rules/template.h"

namespace vigil::rules {
namespace {

class FileReader {
 public:
  FileReader(const std::string& file, LoadedRules& out) : file_(file), out_(out) {}

  void Read(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      Error(e.mark, "yaml: " + e.msg);
      return;
    }
    if (!root || root.IsNull()) return;  // an empty file holds no groups, as in Prometheus
    if (!root.IsMap()) return Error(root.Mark(), "the file must be a mapping with `groups`");
    size_t errors_before = out_.errors.size();
    std::vector<GroupSpec> groups;
    std::set<std::string> names;
    for (const auto& [key, value] : Fields(root, {"groups"}, "the file")) {
      if (key != "groups" || value.IsNull()) continue;
      if (!value.IsSequence()) {
        Error(value.Mark(), "`groups` must be a list");
        continue;
      }
      for (const auto& node : value) {
        GroupSpec group = ReadGroup(node);
        if (group.name.empty()) {
          Error(node.Mark(), "Groupname must not be empty");
        } else if (!names.insert(group.name).second) {
          Error(node.Mark(),
                fmt::format("groupname: \"{}\" is repeated in the same file", group.name));
        }
        groups.push_back(std::move(group));
      }
    }
    if (out_.errors.size() == errors_before)
      for (auto& group : groups) out_.groups.push_back(std::move(group));
  }

 private:
  void Error(const YAML::Mark& mark, const std::string& reason) {
    if (mark.is_null())
      out_.errors.push_back(fmt::format("{}: {}", file_, reason));
    else
      out_.errors.push_back(
          fmt::format("{}:{}:{}: {}", file_, mark.line + 1, mark.column + 1, reason));
  }

  // The (key, value) pairs of a mapping; unknown and repeated keys are errors.
  std::vector<std::pair<std::string, YAML::Node>> Fields(const YAML::Node& map,
                                                         const std::set<std::string>& known,
                                                         const std::string& what) {
    std::vector<std::pair<std::string, YAML::Node>> fields;
    if (!map.IsMap()) {
      Error(map.Mark(), what + " must be a mapping");
      return fields;
    }
    std::map<std::string, int> seen;
    for (const auto& pair : map) {
      std::string key = pair.first.Scalar();
      if (!known.contains(key)) {
        Error(pair.first.Mark(), fmt::format("field {} not found in {}", key, what));
        continue;
      }
      auto [it, fresh] = seen.emplace(key, pair.first.Mark().line + 1);
      if (!fresh) {
        Error(pair.first.Mark(),
              fmt::format("mapping key \"{}\" already defined at line {}", key, it->second));
        continue;
      }
      fields.emplace_back(key, pair.second);
    }
    return fields;
  }

  bool String(const YAML::Node& node, const std::string& key, std::string& out) {
    if (node.IsNull()) return true;
    if (!node.IsScalar()) {
      Error(node.Mark(), "`" + key + "` must be a string");
      return false;
    }
    out = node.Scalar();
    return true;
  }

  bool Duration(const YAML::Node& node, const std::string& key, int64_t& out) {
    std::string text;
    if (!String(node, key, text) || text.empty()) return false;
    auto duration = config::ParseDuration(text);
    if (!duration.ok()) {
      Error(node.Mark(), fmt::format("not a valid duration string: \"{}\"", text));
      return false;
    }
    out = duration->count();
    return true;
  }

  std::map<std::string, std::string> StringMap(const YAML::Node& node, const std::string& key) {
    std::map<std::string, std::string> out;
    if (node.IsNull()) return out;
    if (!node.IsMap()) {
      Error(node.Mark(), "`" + key + "` must be a mapping of strings");
      return out;
    }
    std::set<std::string> seen;
    for (const auto& pair : node) {
      std::string name = pair.first.Scalar();
      if (!seen.insert(name).second) {
        Error(pair.first.Mark(), fmt::format("mapping key \"{}\" already defined", name));
        continue;
      }
      std::string value;
      if (String(pair.second, key + "." + name, value)) out[name] = value;
    }
    return out;
  }

  GroupSpec ReadGroup(const YAML::Node& node) {
    GroupSpec group;
    group.file = file_;
    YAML::Node rules;
    for (const auto& [key, value] :
         Fields(node, {"name", "interval", "limit", "rules"}, "a group")) {
      if (key == "name") {
        String(value, key, group.name);
      } else if (key == "interval") {
        Duration(value, key, group.interval_ms);
      } else if (key == "limit") {
        std::string text;
        if (String(value, key, text) && !text.empty()) {
          char* end = nullptr;
          group.limit = std::strtoll(text.c_str(), &end, 10);
          if (*end != '\0' || group.limit < 0)
            Error(value.Mark(), fmt::format("cannot unmarshal `{}` into a limit", text));
        }
      } else if (key == "rules") {
        rules = value;
      }
    }
    if (!rules || rules.IsNull()) return group;
    if (!rules.IsSequence()) {
      Error(rules.Mark(), "`rules` must be a list");
      return group;
    }
    int index = 0;
    for (const auto& rule : rules) group.rules.push_back(ReadRule(rule, group.name, ++index));
    return group;
  }

  RuleSpec ReadRule(const YAML::Node& node, const std::string& group, int index) {
    RuleSpec rule;
    rule.line = node.Mark().line + 1;
    std::string alert, record;
    YAML::Node alert_node, record_node, expr_node;
    bool has_for = false, has_keep = false;
    for (const auto& [key, value] : Fields(
             node, {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"},
             "a rule")) {
      if (key == "alert")
        String(alert_node = value, key, alert);
      else if (key == "record")
        String(record_node = value, key, record);
      else if (key == "expr")
        String(expr_node = value, key, rule.expr);
      else if (key == "for")
        has_for = Duration(value, key, rule.for_ms) && rule.for_ms != 0;
      else if (key == "keep_firing_for")
        has_keep = Duration(value, key, rule.keep_firing_for_ms) && rule.keep_firing_for_ms != 0;
      else if (key == "labels")
        rule.labels = StringMap(value, key);
      else if (key == "annotations")
        rule.annotations = StringMap(value, key);
    }
    rule.kind = record.empty() ? RuleKind::kAlert : RuleKind::kRecord;
    rule.name = record.empty() ? alert : record;
    // Errors name the rule as Prometheus does: group "g", rule 2, "Name": reason.
    auto error = [&](const YAML::Node& at, const std::string& reason) {
      Error(at && !at.Mark().is_null() ? at.Mark() : node.Mark(),
            fmt::format("group \"{}\", rule {}, \"{}\": {}", group, index, rule.name, reason));
    };
    if (!alert.empty() && !record.empty())
      error(record_node, "only one of 'record' and 'alert' must be set");
    if (alert.empty() && record.empty()) error(node, "one of 'record' or 'alert' must be set");
    if (rule.expr.empty()) {
      error(expr_node, "field 'expr' must be set in rule");
    } else if (auto parsed = query::Parse(rule.expr); !parsed.ok()) {
      error(expr_node, "could not parse expression: " + parsed.status().message());
    }
    if (!record.empty()) {
      if (!rule.annotations.empty())
        error(record_node, "invalid field 'annotations' in recording rule");
      if (has_for) error(record_node, "invalid field 'for' in recording rule");
      if (has_keep) error(record_node, "invalid field 'keep_firing_for' in recording rule");
      if (!IsValidMetricName(record)) error(record_node, "invalid recording rule name: " + record);
    }
    for (const auto& [name, value] : rule.labels) {
      if (!IsValidLabelName(name) || name == "__name__") error(node, "invalid label name: " + name);
      if (!IsValidUtf8(value)) error(node, "invalid label value: " + value);
    }
    for (const auto& [name, value] : rule.annotations) {
      if (!IsValidLabelName(name)) error(node, "invalid annotation name: " + name);
    }
    if (rule.kind == RuleKind::kAlert) {
      for (const auto& [what, texts] :
           {std::pair{"label", &rule.labels}, std::pair{"annotation", &rule.annotations}}) {
        for (const auto& [name, value] : *texts) {
          auto parsed = Template::Parse(value);
          if (!parsed.ok())
            error(node, fmt::format("{} \"{}\": template: __alert_{}: {}", what, name, rule.name,
                                    parsed.status().message()));
        }
      }
    }
    return rule;
  }

  const std::string& file_;
  LoadedRules& out_;
};

}  // namespace

LoadedRules ParseRuleFile(const std::string& file, const std::string& text) {
  LoadedRules out;
  out.files.push_back(file);
  FileReader(file, out).Read(text);
  return out;
}

LoadedRules LoadRuleFiles(const std::vector<std::string>& patterns, const std::string& base_dir) {
  LoadedRules out;
  for (const auto& pattern : patterns) {
    std::filesystem::path path(pattern);
    if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
    std::vector<std::string> files;
    if (pattern.find_first_of("*?[") == std::string::npos) {
      files.push_back(path.string());
    } else {
      glob_t matches{};
      if (glob(path.c_str(), 0, nullptr, &matches) == 0)
        for (size_t i = 0; i < matches.gl_pathc; ++i) files.emplace_back(matches.gl_pathv[i]);
      globfree(&matches);
    }
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        out.errors.push_back(fmt::format("{}: cannot read the rule file", file));
        continue;
      }
      std::stringstream text;
      text << in.rdbuf();
      LoadedRules one = ParseRuleFile(file, text.str());
      out.files.push_back(file);
      for (auto& group : one.groups) out.groups.push_back(std::move(group));
      for (auto& error : one.errors) out.errors.push_back(std::move(error));
    }
  }
  if (!out.errors.empty()) out.groups.clear();
  return out;
}

}  // namespace vigil::rules

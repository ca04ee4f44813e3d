#include "core/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <tuple>

#include "core/names.h"

namespace vigil::config {
namespace {

// "an integer", "a string".
std::string WithArticle(std::string_view noun) {
  bool vowel = !noun.empty() && std::string_view("aeiou").find(noun[0]) != std::string_view::npos;
  return (vowel ? "an " : "a ") + std::string(noun);
}

Position PositionOf(const toml::source_region& region) {
  return Position{static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

std::string Where(const std::string& source, const toml::source_region& region) {
  return fmt::format("{}:{}:{}", source, region.begin.line, region.begin.column);
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<std::string> NamesOf(const std::vector<OptionSpec>& specs) {
  std::vector<std::string> names;
  for (const auto& spec : specs) names.push_back(spec.name);
  return names;
}

// "key: value", "key:" or "- key: value": a YAML mapping line.
bool IsYamlKeyLine(std::string_view line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos) return false;
  if (line.substr(i).starts_with("- ")) i = line.find_first_not_of(' ', i + 2);
  if (i == std::string_view::npos ||
      !(std::isalpha(static_cast<unsigned char>(line[i])) || line[i] == '_')) {
    return false;
  }
  while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' ||
                             line[i] == '-' || line[i] == '.')) {
    ++i;
  }
  return i < line.size() && line[i] == ':' && (i + 1 == line.size() || line[i + 1] == ' ');
}

// "[section]" or "key = value": a TOML line.
bool IsTomlLine(std::string_view line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos) return false;
  if (line[i] == '[') return true;
  size_t equals = line.find('=');
  return equals != std::string_view::npos && line.find(':') > equals;
}

// A YAML file given by mistake fails as TOML on its first "key:" line; say what it is.
bool LooksLikeYaml(std::string_view text) {
  size_t yaml_lines = 0, toml_lines = 0;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.starts_with("---") || IsYamlKeyLine(line)) ++yaml_lines;
    if (IsTomlLine(line)) ++toml_lines;
  }
  return yaml_lines > toml_lines;
}

// Collects every error of a file into `loaded`.
class Validator {
 public:
  explicit Validator(LoadedConfig& loaded) : loaded_(loaded) {}

  void Error(const toml::source_region& region, std::string_view key, std::string reason) {
    loaded_.errors.push_back(ConfigError{PositionOf(region), std::string(key), std::move(reason)});
    ++value_errors_;
  }
  // Errors that left a value unset or at its default (an unknown key does not).
  size_t value_errors() const { return value_errors_; }

  // Reads one table against `specs` into `values`, which holds the defaults already, and
  // notes where each key stands in `positions`. `path` is the dotted key of the table, for
  // messages; `position_prefix` goes before each key in `positions`.
  void ReadTable(const toml::table& table, const std::string& path,
                 const std::vector<OptionSpec>& specs, OptionValues& values,
                 std::map<std::string, Position, std::less<>>& positions,
                 const std::string& position_prefix, bool report_unknown = true) {
    for (auto&& [key, node] : table) {
      const OptionSpec* spec = Find(specs, key.str());
      std::string full_key =
          path.empty() ? std::string(key.str()) : path + "." + std::string(key.str());
      positions[position_prefix + std::string(key.str())] = PositionOf(node.source());
      if (spec == nullptr) {
        if (report_unknown) {
          loaded_.errors.push_back(
              ConfigError{PositionOf(key.source()), full_key,
                          "unknown key" + DidYouMean(key.str(), NamesOf(specs))});
        }
        continue;
      }
      if (node.is_array()) {
        size_t index = 0;
        for (auto&& element : *node.as_array()) {
          positions[fmt::format("{}{}[{}]", position_prefix, key.str(), index++)] =
              PositionOf(element.source());
        }
      }
      auto value = Convert(node, *spec, full_key);
      if (!value) continue;
      if (auto reason = CheckValue(*spec, *value)) {
        if (!spec->choices.empty() && node.is_string())
          *reason += DidYouMean(node.as_string()->get(), spec->choices);
        Error(node.source(), full_key, *reason);
        continue;
      }
      values.Set(spec->name, std::move(*value));
    }
    for (const auto& spec : specs) {
      // A key that is present but wrong was reported above.
      if (!values.Has(spec.name) && !table.contains(spec.name)) {
        Error(table.source(), path.empty() ? spec.name : path + "." + spec.name,
              "required key is missing");
      }
    }
  }

 private:
  static const OptionSpec* Find(const std::vector<OptionSpec>& specs, std::string_view name) {
    for (const auto& spec : specs) {
      if (spec.name == name) return &spec;
    }
    return nullptr;
  }

  std::optional<OptionValue> Convert(const toml::node& node, const OptionSpec& spec,
                                     const std::string& key) {
    auto wrong_type = [&] {
      Error(node.source(), key,
            fmt::format("expected {}, got {}", WithArticle(TypeName(spec.type)),
                        WithArticle(TomlTypeName(node))));
      return std::nullopt;
    };
    switch (spec.type) {
      case OptionType::kString:
        if (!node.is_string()) return wrong_type();
        return OptionValue(node.as_string()->get());
      case OptionType::kInt:
        if (!node.is_integer()) return wrong_type();
        return OptionValue(node.as_integer()->get());
      case OptionType::kFloat:
        if (node.is_integer()) return OptionValue(static_cast<double>(node.as_integer()->get()));
        if (!node.is_floating_point()) return wrong_type();
        return OptionValue(node.as_floating_point()->get());
      case OptionType::kBool:
        if (!node.is_boolean()) return wrong_type();
        return OptionValue(node.as_boolean()->get());
      case OptionType::kDuration: {
        if (node.is_integer() || node.is_floating_point()) {
          double seconds = node.value<double>().value_or(0);
          if (!(seconds >= 0 && seconds < 1e12)) {
            Error(node.source(), key, "must be a non-negative number of seconds");
            return std::nullopt;
          }
          return OptionValue(std::chrono::milliseconds(std::llround(seconds * 1000)));
        }
        if (!node.is_string()) return wrong_type();
        auto duration = ParseDuration(node.as_string()->get());
        if (!duration.ok()) {
          Error(node.source(), key, duration.status().message());
          return std::nullopt;
        }
        return OptionValue(*duration);
      }
      case OptionType::kLabels: {
        if (!node.is_table()) return wrong_type();
        LabelMap labels;
        bool ok = true;
        for (auto&& [name, label_value] : *node.as_table()) {
          std::string label_key = key + "." + std::string(name.str());
          if (!IsValidLabelName(name.str()) || name.str().substr(0, 2) == "__") {
            Error(name.source(), label_key,
                  "invalid label name (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)");
            ok = false;
          } else if (!label_value.is_string()) {
            Error(label_value.source(), label_key,
                  fmt::format("expected a string, got {}", WithArticle(TomlTypeName(label_value))));
            ok = false;
          } else {
            labels[std::string(name.str())] = label_value.as_string()->get();
          }
        }
        if (!ok) return std::nullopt;
        return OptionValue(std::move(labels));
      }
      case OptionType::kStrings: {
        if (!node.is_array()) return wrong_type();
        StringList strings;
        bool ok = true;
        size_t index = 0;
        for (auto&& element : *node.as_array()) {
          if (!element.is_string()) {
            Error(element.source(), key + "[" + std::to_string(index) + "]",
                  fmt::format("expected a string, got {}", WithArticle(TomlTypeName(element))));
            ok = false;
          } else {
            strings.push_back(element.as_string()->get());
          }
          ++index;
        }
        if (!ok) return std::nullopt;
        return OptionValue(std::move(strings));
      }
    }
    return std::nullopt;
  }

  static std::string_view TomlTypeName(const toml::node& node) {
    switch (node.type()) {
      case toml::node_type::string:
        return "string";
      case toml::node_type::integer:
        return "integer";
      case toml::node_type::floating_point:
        return "float";
      case toml::node_type::boolean:
        return "boolean";
      case toml::node_type::table:
        return "table";
      case toml::node_type::array:
        return "array";
      default:
        return "date/time";
    }
  }

  LoadedConfig& loaded_;
  size_t value_errors_ = 0;
};

}  // namespace

Result<LoadedConfig> ParseConfig(std::string_view text, const std::string& source_name,
                                 const Schema& schema) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    if (LooksLikeYaml(text)) {
      return InvalidArgumentError(fmt::format(
          "{}:1:1: this looks like YAML (a Prometheus config or rule file?); vigil's config is "
          "TOML: key = value lines under [section] headers (docs/configuration.md)",
          source_name));
    }
    return InvalidArgumentError(
        fmt::format("{}: {}", Where(source_name, error.source()), error.description()));
  }

  LoadedConfig loaded;
  loaded.source = source_name;
  Validator validator(loaded);
  std::vector<std::string> section_names;
  for (const auto& section : schema.sections) {
    section_names.push_back(section.name);
    if (section.repeated) {
      loaded.repeated[section.name];
    } else {
      loaded.sections[section.name] = Defaults(section.options);
    }
  }

  for (auto&& [key, node] : root) {
    const SectionSpec* section = nullptr;
    for (const auto& candidate : schema.sections) {
      if (candidate.name == key.str()) section = &candidate;
    }
    std::string name(key.str());
    if (section == nullptr) {
      validator.Error(key.source(), name, "unknown section" + DidYouMean(name, section_names));
      continue;
    }
    if (!section->repeated) {
      if (!node.is_table()) {
        validator.Error(node.source(), name, "expected a table ([" + name + "])");
        continue;
      }
      validator.ReadTable(*node.as_table(), name, section->options, loaded.sections[name],
                          loaded.positions, name + ".");
      continue;
    }
    if (!node.is_array_of_tables()) {
      validator.Error(node.source(), name, "expected an array of tables ([[" + name + "]])");
      continue;
    }
    const toml::array& entries = *node.as_array();
    for (size_t i = 0; i < entries.size(); ++i) {
      const toml::table& table = *entries[i].as_table();
      ConfigEntry entry;
      entry.values = Defaults(section->options);
      entry.where = Where(source_name, table.source());
      entry.path = fmt::format("{}[{}]", name, i);
      entry.position = PositionOf(table.source());
      size_t errors_before = validator.value_errors();
      if (!section->extra_options) {
        validator.ReadTable(table, entry.path, section->options, entry.values, entry.positions, "");
        entry.has_errors = validator.value_errors() != errors_before;
        loaded.repeated[name].push_back(std::move(entry));
        continue;
      }
      // The common options come first: they say (by the sensor's type, say) which further
      // options the entry has. Only when they are valid is an unknown key unknown.
      LoadedConfig scratch;
      Validator common(scratch);
      common.ReadTable(table, entry.path, section->options, entry.values, entry.positions, "",
                       false);
      if (common.value_errors() > 0) {
        validator.ReadTable(table, entry.path, section->options, entry.values, entry.positions, "",
                            false);
        entry.has_errors = true;
        loaded.repeated[name].push_back(std::move(entry));
        continue;
      }
      auto extra = section->extra_options(entry.values);
      if (!extra.ok()) {
        loaded.AddProblems(entry, extra.status());
        entry.has_errors = true;
        loaded.repeated[name].push_back(std::move(entry));
        continue;
      }
      std::vector<OptionSpec> specs = section->options;
      for (auto& spec : *extra) {
        if (spec.default_value) entry.values.Set(spec.name, *spec.default_value);
        specs.push_back(std::move(spec));
      }
      validator.ReadTable(table, entry.path, specs, entry.values, entry.positions, "");
      entry.has_errors = validator.value_errors() != errors_before;
      loaded.repeated[name].push_back(std::move(entry));
    }
  }
  return loaded;
}

void LoadedConfig::AddError(std::string_view section, std::string_view key, std::string reason) {
  std::string full_key = std::string(section) + "." + std::string(key);
  auto it = positions.find(full_key);
  errors.push_back(ConfigError{it == positions.end() ? Position{} : it->second, std::move(full_key),
                               std::move(reason)});
}

void LoadedConfig::AddError(const ConfigEntry& entry, std::string_view key, std::string reason) {
  auto it = entry.positions.find(key);
  if (it == entry.positions.end()) {
    // "targets[7]" of a list the file wrote on one line: the list's position.
    it = entry.positions.find(key.substr(0, key.find('[')));
  }
  errors.push_back(ConfigError{it == entry.positions.end() ? entry.position : it->second,
                               key.empty() ? entry.path : entry.path + "." + std::string(key),
                               std::move(reason)});
}

void LoadedConfig::AddProblems(const ConfigEntry& entry, const Status& status) {
  std::string_view text = status.message();
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t colon = line.find(": ");
    std::string_view key = colon == std::string_view::npos ? "" : line.substr(0, colon);
    bool names_a_key =
        !key.empty() && (entry.positions.contains(key) ||
                         entry.values.Has(std::string(key.substr(0, key.find('[')))));
    if (names_a_key) {
      AddError(entry, key, std::string(line.substr(colon + 2)));
    } else {
      AddError(entry, "", std::string(line));
    }
  }
}

Status LoadedConfig::ToStatus() const {
  if (errors.empty()) return OkStatus();
  std::vector<const ConfigError*> sorted;
  for (const auto& error : errors) sorted.push_back(&error);
  std::stable_sort(sorted.begin(), sorted.end(), [](const ConfigError* a, const ConfigError* b) {
    return std::tie(a->position.line, a->position.column) <
           std::tie(b->position.line, b->position.column);
  });
  std::string message;
  for (const ConfigError* error : sorted) {
    if (!message.empty()) message += '\n';
    message += error->position.line > 0
                   ? fmt::format("{}:{}:{}: ", source, error->position.line, error->position.column)
                   : source + ": ";
    if (!error->key.empty()) message += error->key + ": ";
    message += error->reason;
  }
  return InvalidArgumentError(std::move(message));
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& known) {
  const std::string* best = nullptr;
  size_t best_distance = 3;
  for (const auto& candidate : known) {
    size_t distance = EditDistance(word, candidate);
    // Two edits turn any short word into another ("max" into "min"): a suggestion needs
    // most of the word right.
    if (distance < best_distance && 2 * distance < word.size()) {
      best_distance = distance;
      best = &candidate;
    }
  }
  return best == nullptr ? "" : "; did you mean `" + *best + "`?";
}

Result<LoadedConfig> LoadConfigFile(const std::string& path, const Schema& schema) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path, schema);
}

}  // namespace vigil::config

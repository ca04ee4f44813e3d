#include "core/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "core/names.h"

namespace vigil::config {
namespace {

// "an integer", "a string".
std::string WithArticle(std::string_view noun) {
  bool vowel = !noun.empty() && std::string_view("aeiou").find(noun[0]) != std::string_view::npos;
  return (vowel ? "an " : "a ") + std::string(noun);
}

std::string Where(const std::string& source, const toml::source_region& region) {
  return fmt::format("{}:{}:{}", source, region.begin.line, region.begin.column);
}

// Collects every error of a file, in file order.
class Validator {
 public:
  Validator(const std::string& source) : source_(source) {}

  void Error(const toml::source_region& region, std::string_view key, std::string_view reason) {
    errors_.push_back(fmt::format("{}: {}: {}", Where(source_, region), key, reason));
  }
  const std::vector<std::string>& errors() const { return errors_; }

  // Reads one table against `specs` into `values`, which holds the defaults already.
  // `path` is the dotted key of the table, for messages.
  void ReadTable(const toml::table& table, const std::string& path,
                 const std::vector<OptionSpec>& specs, OptionValues& values,
                 bool report_unknown = true) {
    for (auto&& [key, node] : table) {
      const OptionSpec* spec = Find(specs, key.str());
      std::string full_key =
          path.empty() ? std::string(key.str()) : path + "." + std::string(key.str());
      if (spec == nullptr) {
        if (report_unknown) Error(key.source(), full_key, "unknown key");
        continue;
      }
      auto value = Convert(node, *spec, full_key);
      if (!value) continue;
      if (auto reason = CheckValue(*spec, *value)) {
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

  const std::string& source_;
  std::vector<std::string> errors_;
};

}  // namespace

Result<LoadedConfig> ParseConfig(std::string_view text, const std::string& source_name,
                                 const Schema& schema) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    return InvalidArgumentError(
        fmt::format("{}: {}", Where(source_name, error.source()), error.description()));
  }

  Validator validator(source_name);
  LoadedConfig loaded;
  for (const auto& section : schema.sections) {
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
      validator.Error(key.source(), name, "unknown section");
      continue;
    }
    if (!section->repeated) {
      if (!node.is_table()) {
        validator.Error(node.source(), name, "expected a table ([" + name + "])");
        continue;
      }
      validator.ReadTable(*node.as_table(), name, section->options, loaded.sections[name]);
      continue;
    }
    if (!node.is_array_of_tables()) {
      validator.Error(node.source(), name, "expected an array of tables ([[" + name + "]])");
      continue;
    }
    const toml::array& entries = *node.as_array();
    for (size_t i = 0; i < entries.size(); ++i) {
      const toml::table& table = *entries[i].as_table();
      std::string path = fmt::format("{}[{}]", name, i);
      ConfigEntry entry{Defaults(section->options), Where(source_name, table.source())};
      // The common options come first: they say (by the sensor's type, say) which further
      // options the entry has. Only when they are valid is an unknown key unknown.
      Validator common(source_name);
      common.ReadTable(table, path, section->options, entry.values, false);
      if (!section->extra_options) {
        validator.ReadTable(table, path, section->options, entry.values, true);
        loaded.repeated[name].push_back(std::move(entry));
        continue;
      }
      if (!common.errors().empty()) {
        validator.ReadTable(table, path, section->options, entry.values, false);
        continue;
      }
      auto extra = section->extra_options(entry.values);
      if (!extra.ok()) {
        validator.Error(table.source(), path, extra.status().message());
        continue;
      }
      std::vector<OptionSpec> specs = section->options;
      for (auto& spec : *extra) {
        if (spec.default_value) entry.values.Set(spec.name, *spec.default_value);
        specs.push_back(std::move(spec));
      }
      validator.ReadTable(table, path, specs, entry.values);
      loaded.repeated[name].push_back(std::move(entry));
    }
  }

  if (!validator.errors().empty()) {
    std::string message;
    for (const auto& error : validator.errors()) {
      message += (message.empty() ? "" : "\n") + error;
    }
    return InvalidArgumentError(std::move(message));
  }
  return loaded;
}

Result<LoadedConfig> LoadConfigFile(const std::string& path, const Schema& schema) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path, schema);
}

}  // namespace vigil::config

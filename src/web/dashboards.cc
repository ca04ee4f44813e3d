#include "web/dashboards.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "web/assets.h"

namespace vigil::web {
namespace {

constexpr std::string_view kBuiltinPrefix = "/dashboards/";

// The keys an object at `where` may have; "" when it has no others.
std::string UnknownKey(const nlohmann::json& object, const std::set<std::string>& known,
                       const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) return where + "unknown key \"" + key + "\"";
  }
  return "";
}

std::string NeedsString(const nlohmann::json& object, const std::string& key, bool required,
                        const std::string& where) {
  if (!object.contains(key)) return required ? where + "needs \"" + key + "\"" : "";
  return object[key].is_string() ? "" : where + "\"" + key + "\" must be a string";
}

std::string QueryError(const nlohmann::json& query, const std::string& where) {
  if (!query.is_object()) return where + "must be an object";
  if (auto e = UnknownKey(query, {"expr", "legend"}, where); !e.empty()) return e;
  if (auto e = NeedsString(query, "expr", true, where); !e.empty()) return e;
  return NeedsString(query, "legend", false, where);
}

std::string PanelError(const nlohmann::json& panel, const std::string& where) {
  static const std::set<std::string> kTypes = {"chart",   "stat",   "table",
                                               "sensors", "alerts", "targets"};
  if (!panel.is_object()) return where + "must be an object";
  if (auto e = UnknownKey(
          panel,
          {"type", "title", "unit", "rate", "queries", "columns", "by", "min", "max", "width"},
          where);
      !e.empty())
    return e;
  if (auto e = NeedsString(panel, "type", true, where); !e.empty()) return e;
  const std::string type = panel["type"];
  if (!kTypes.contains(type))
    return where + "unknown type \"" + type +
           "\": use chart, stat, table, sensors, alerts or targets";
  for (const char* key : {"title", "unit", "by"}) {
    if (auto e = NeedsString(panel, key, false, where); !e.empty()) return e;
  }
  if (panel.contains("rate") && !panel["rate"].is_boolean())
    return where + "\"rate\" must be true or false";
  for (const char* key : {"min", "max", "width"}) {
    if (panel.contains(key) && !panel[key].is_number())
      return where + "\"" + key + "\" must be a number";
  }
  if (type == "chart" || type == "stat") {
    if (!panel.contains("queries") || !panel["queries"].is_array() || panel["queries"].empty())
      return where + "a " + type + " needs \"queries\": [{\"expr\": \"…\"}, …]";
    for (size_t i = 0; i < panel["queries"].size(); ++i) {
      auto e = QueryError(panel["queries"][i], where + "queries/" + std::to_string(i) + ": ");
      if (!e.empty()) return e;
    }
  }
  if (type == "table") {
    if (!panel.contains("by")) return where + "a table needs \"by\": the label its rows are";
    if (!panel.contains("columns") || !panel["columns"].is_array() || panel["columns"].empty())
      return where + "a table needs \"columns\": [{\"title\": …, \"expr\": …}, …]";
    for (size_t i = 0; i < panel["columns"].size(); ++i) {
      const nlohmann::json& column = panel["columns"][i];
      const std::string at = where + "columns/" + std::to_string(i) + ": ";
      if (!column.is_object()) return at + "must be an object";
      if (auto e = UnknownKey(column, {"title", "expr", "unit"}, at); !e.empty()) return e;
      for (const char* key : {"title", "expr"}) {
        if (auto e = NeedsString(column, key, true, at); !e.empty()) return e;
      }
      if (auto e = NeedsString(column, "unit", false, at); !e.empty()) return e;
    }
  }
  return "";
}

}  // namespace

std::string DashboardDefinitionError(const nlohmann::json& definition) {
  if (!definition.is_object()) return "a dashboard definition is a JSON object";
  if (auto e = UnknownKey(definition, {"title", "description", "refresh", "rows"}, ""); !e.empty())
    return e;
  if (auto e = NeedsString(definition, "title", true, ""); !e.empty()) return e;
  for (const char* key : {"description", "refresh"}) {
    if (auto e = NeedsString(definition, key, false, ""); !e.empty()) return e;
  }
  if (!definition.contains("rows") || !definition["rows"].is_array())
    return "needs \"rows\": [{\"title\": …, \"panels\": […]}, …]";
  const nlohmann::json& rows = definition["rows"];
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string where = "rows/" + std::to_string(r) + ": ";
    if (!rows[r].is_object()) return where + "must be an object";
    if (auto e = UnknownKey(rows[r], {"title", "panels"}, where); !e.empty()) return e;
    if (auto e = NeedsString(rows[r], "title", false, where); !e.empty()) return e;
    if (!rows[r].contains("panels") || !rows[r]["panels"].is_array())
      return where + "needs \"panels\": […]";
    const nlohmann::json& panels = rows[r]["panels"];
    for (size_t p = 0; p < panels.size(); ++p) {
      auto e = PanelError(panels[p], where + "panels/" + std::to_string(p) + ": ");
      if (!e.empty()) return e;
    }
  }
  return "";
}

nlohmann::json ListDashboards(const std::string& user_dir) {
  std::map<std::string, nlohmann::json> by_name;
  for (const Asset& asset : AllAssets()) {
    if (!asset.path.starts_with(kBuiltinPrefix) || !asset.path.ends_with(".json")) continue;
    std::string name(asset.path.substr(kBuiltinPrefix.size()));
    name.resize(name.size() - 5);
    by_name[name] = {
        {"name", name}, {"source", "built-in"}, {"definition", nlohmann::json::parse(asset.body)}};
  }
  std::error_code error;
  if (!user_dir.empty() && std::filesystem::is_directory(user_dir, error)) {
    for (const auto& entry : std::filesystem::directory_iterator(user_dir, error)) {
      const std::filesystem::path& path = entry.path();
      if (path.extension() != ".json" || !entry.is_regular_file(error)) continue;
      const std::string name = path.stem().string();
      nlohmann::json listed = {{"name", name}, {"source", path.string()}};
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        listed["error"] = path.string() + ": cannot be read";
      } else {
        try {
          nlohmann::json definition = nlohmann::json::parse(text.str());
          if (std::string why = DashboardDefinitionError(definition); !why.empty()) {
            listed["error"] = path.string() + ": " + why;
          } else {
            listed["definition"] = std::move(definition);
          }
        } catch (const nlohmann::json::parse_error& e) {
          // "[json.exception.parse_error.101] parse error at line 2, column 12: …"
          std::string why = e.what();
          why = why.substr(why.find("] ") == std::string::npos ? 0 : why.find("] ") + 2);
          listed["error"] = path.string() + ": not JSON: " + why;
        }
      }
      by_name[name] = std::move(listed);
    }
  }
  nlohmann::json list = nlohmann::json::array();
  if (auto overview = by_name.find("overview"); overview != by_name.end()) {
    list.push_back(overview->second);
    by_name.erase(overview);
  }
  for (auto& [name, listed] : by_name) list.push_back(std::move(listed));
  return list;
}

}  // namespace vigil::web

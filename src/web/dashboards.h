// The dashboard definitions the web UI draws (docs/dashboard.md): the built-in ones in
// src/web/dashboards/*.json, compiled in, and a user's own *.json files in a folder
// ([web] dashboards_dir, by default <data_dir>/dashboards), read at every request so that
// adding a view is adding a file. A user's file replaces the built-in of the same name.
//
// Thread safety: the functions are safe to call concurrently.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vigil::web {

// Why `definition` is not a dashboard definition, naming the place
// ("rows/0/panels/2: unknown type \"gauge\" …"), or "" when it is one.
std::string DashboardDefinitionError(const nlohmann::json& definition);

// GET /api/v1/dashboards's data: an array of {name, source ("built-in" or the file),
// definition} sorted by name, "overview" first; a user file that cannot be read or is not a
// definition is listed with {name, source, error} (the line and column of bad JSON) so the
// page can say what is wrong with it.
nlohmann::json ListDashboards(const std::string& user_dir);

}  // namespace vigil::web

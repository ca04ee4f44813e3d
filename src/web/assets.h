// The dashboard's files (src/web/ui/ and uPlot from npm), compiled into the binary at
// build time (cmake/embed_assets.cmake), so vigil serves its UI with no network and no
// files at run time.
//
// Thread safety: read-only data.
#pragma once

#include <span>
#include <string_view>

namespace vigil::web {

struct Asset {
  std::string_view path;  // "/", "/app.js", "/uPlot.iife.min.js" …
  std::string_view content_type;
  std::string_view body;
};

// Every asset (generated at build time).
std::span<const Asset> AllAssets();
// The asset served at `path`, or nullptr.
const Asset* FindAsset(std::string_view path);

}  // namespace vigil::web

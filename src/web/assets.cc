#include "web/assets.h"

namespace vigil::web {

const Asset* FindAsset(std::string_view path) {
  for (const Asset& asset : AllAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace vigil::web

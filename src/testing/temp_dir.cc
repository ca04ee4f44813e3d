#include "testing/temp_dir.h"

#include <stdlib.h>

#include <filesystem>

#include "core/check.h"

namespace vigil::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "vigil-test-XXXXXX").string();
  VIGIL_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot create a temp folder");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace vigil::testing
